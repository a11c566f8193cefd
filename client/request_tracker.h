#ifndef CHANNEL_CLIENT_REQUEST_TRACKER_H_
#define CHANNEL_CLIENT_REQUEST_TRACKER_H_

#include <cstdint>
#include <deque>
#include <functional>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "proto/channel.pb.h"

namespace channel {

// The requests one broker link has in flight, and who hears of their fate
// (BrokerClient's bookkeeping; one thread, the link's):
//  - tracked requests, answered one by one by an Ack, a PresenceInfo or an
//    Error carrying their request id;
//  - quiet publishes (cumulative_ack), confirmed by cumulative Acks in id
//    order (each reported to QuietConfirmed, in order) or failed.
// Request ids increase for the tracker's life; 0 means "no answer wanted".
// Every answer is delivered at most once: the entry is removed first.
class RequestTracker {
 public:
  using Done =
      std::function<void(const absl::Status& status, uint64_t receivers)>;
  using PresenceDone = std::function<void(
      const absl::Status& status, uint64_t connections, uint64_t users)>;
  // A HistoryReply (moved from; null with a failure).
  using HistoryDone =
      std::function<void(const absl::Status& status, v1::HistoryReply* reply)>;
  // A quiet publish that failed: its caller's tag.
  using QuietFailed =
      absl::FunctionRef<void(uint64_t tag, const absl::Status& status)>;

  // A quiet publish the broker confirmed: its caller's tag.
  using QuietConfirmed = absl::FunctionRef<void(uint64_t tag)>;

  // A fresh id, tracked by nobody (quiet publishes take theirs here).
  uint64_t NextId() { return next_id_++; }

  // Tracks `done` under a fresh id and returns it; 0 (untracked) when
  // `done` is empty.
  uint64_t Track(Done done);
  void TrackPresence(uint64_t id, PresenceDone done);
  void TrackHistory(uint64_t id, HistoryDone done);
  // Forgets a tracked request without calling it (it never left).
  void Untrack(uint64_t id);
  // Reports a tracked request that never left with `status` now.
  void Fail(uint64_t id, const absl::Status& status);

  // Quiet publishes: `id` must exceed every id added before.
  void AddQuiet(uint64_t id, uint64_t tag) {
    unconfirmed_.push_back({id, tag});
  }
  size_t unconfirmed() const { return unconfirmed_.size(); }
  // Nothing is in flight: every request was answered or failed.
  bool empty() const {
    return pending_.empty() && unconfirmed_.empty() &&
           presence_pending_.empty() && history_pending_.empty();
  }

  // Answers from the broker. Unknown ids are ignored (late answers after a
  // drop). OnError returns false when no request had that id.
  void OnAck(const v1::Ack& ack) {
    OnAck(ack, [](uint64_t) {});
  }
  void OnAck(const v1::Ack& ack, QuietConfirmed confirmed);
  void OnPresenceInfo(const v1::PresenceInfo& info);
  void OnHistoryReply(v1::HistoryReply* reply);
  bool OnError(uint64_t request_id, const absl::Status& status,
               QuietFailed quiet_failed);

  // The link is gone: every request in flight fails with `lost`, quiet ones
  // through `quiet_failed`. The tracker is empty (and reusable) before the
  // first callback runs, so callbacks may track new requests.
  void FailAll(const absl::Status& lost, QuietFailed quiet_failed);

 private:
  struct Unconfirmed {
    uint64_t request_id;
    uint64_t tag;
  };

  absl::flat_hash_map<uint64_t, Done> pending_;
  std::deque<Unconfirmed> unconfirmed_;  // ids increasing
  absl::flat_hash_map<uint64_t, PresenceDone> presence_pending_;
  absl::flat_hash_map<uint64_t, HistoryDone> history_pending_;
  uint64_t next_id_ = 1;
};

}  // namespace channel

#endif  // CHANNEL_CLIENT_REQUEST_TRACKER_H_
