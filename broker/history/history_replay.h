#ifndef CHANNEL_BROKER_HISTORY_HISTORY_REPLAY_H_
#define CHANNEL_BROKER_HISTORY_HISTORY_REPLAY_H_

#include <cstddef>

#include "absl/status/status.h"
#include "broker/history/history_store.h"
#include "broker/routing/subscriber.h"
#include "proto/channel.pb.h"

namespace channel {

// The history side of a Subscribe, run right after the Router subscribed
// `subscriber` to the request's channels, on the same turn: for each
// history channel named in request.since, the events after that position
// are delivered to the subscriber now, before any live event can be (one
// thread), so the seam has no gap and no duplicate. Appends to `positions`
// one StreamPosition per history channel of the request (recovered set
// for those with a since). All recoveries of one request together stay
// within the store's max_reply_bytes; past it, recovered is false.
// `store` may be null (no history: nothing appended).
void ResumeStreams(
    HistoryStore* store, Subscriber* subscriber, const v1::Subscribe& request,
    google::protobuf::RepeatedPtrField<v1::StreamPosition>* positions);

// Answers a HistoryQuery into `reply` (request_id set by the caller).
// FailedPrecondition: the channel has no history (or there is no store);
// InvalidArgument: an empty or over-long channel name.
absl::Status ReadHistory(HistoryStore* store, const v1::HistoryQuery& query,
                         size_t max_channel_name_bytes,
                         v1::HistoryReply* reply);

}  // namespace channel

#endif  // CHANNEL_BROKER_HISTORY_HISTORY_REPLAY_H_
