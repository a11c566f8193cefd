#include "broker/history/history_replay.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "broker/codec/outgoing_event.h"

namespace channel {

void ResumeStreams(
    HistoryStore* store, Subscriber* subscriber, const v1::Subscribe& request,
    google::protobuf::RepeatedPtrField<v1::StreamPosition>* positions) {
  if (store == nullptr) return;
  // The positions asked for, by channel; a channel named twice counts once
  // (the request was validated: its size is bounded).
  absl::flat_hash_map<absl::string_view, const v1::StreamPosition*> since;
  for (const v1::StreamPosition& p : request.since()) {
    since.emplace(p.channel(), &p);
  }
  absl::flat_hash_map<absl::string_view, bool> done;
  size_t budget = store->options().max_reply_bytes;
  v1::Envelope envelope;
  for (const std::string& channel : request.channels()) {
    if (!done.emplace(channel, true).second) continue;
    if (store->RuleFor(channel) == nullptr) continue;
    auto it = since.find(channel);
    if (it == since.end()) {
      store->Position(channel, positions->Add());
      continue;
    }
    absl::StatusOr<HistoryStore::Read> read =
        store->Recover(channel, *it->second);
    if (!read.ok()) continue;  // not a history channel: checked above
    size_t bytes = 0;
    for (const HistoryEntry* e : read->entries) {
      bytes += e->payload.size() + e->meta.size();
    }
    if (bytes > budget) {
      // This request's recoveries together would exceed one reply's bound:
      // this channel is not recovered (its subscriber is told).
      read->entries.clear();
      read->position.set_recovered(false);
    }
    budget -= std::min(budget, bytes);
    const std::string epoch = read->position.epoch();
    for (const HistoryEntry* e : read->entries) {
      HistoryStore::FillEvent(channel, epoch, *e, envelope.mutable_event());
      OutgoingEvent outgoing(envelope);
      // A subscriber whose queue overflows is closed by Deliver: the rest
      // would go nowhere.
      if (!subscriber->Deliver(outgoing)) break;
    }
    *positions->Add() = std::move(read->position);
  }
}

absl::Status ReadHistory(HistoryStore* store, const v1::HistoryQuery& query,
                         size_t max_channel_name_bytes,
                         v1::HistoryReply* reply) {
  const std::string& channel = query.channel();
  if (channel.empty()) return absl::InvalidArgumentError("empty channel name");
  if (channel.size() > max_channel_name_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("channel name of ", channel.size(),
                     " bytes exceeds the limit of ", max_channel_name_bytes));
  }
  if (store == nullptr || store->RuleFor(channel) == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("channel \"", channel,
                     "\" has no history (no --history rule of the "
                     "broker matches it)"));
  }
  absl::StatusOr<HistoryStore::Read> read =
      query.has_since()
          ? store->Recover(channel, query.since(), query.max_bytes())
          : store->Last(channel, query.limit(), query.before(),
                        query.max_bytes());
  if (!read.ok()) return read.status();
  const std::string epoch = read->position.epoch();
  for (const HistoryEntry* e : read->entries) {
    HistoryStore::FillEvent(channel, epoch, *e, reply->add_events());
  }
  *reply->mutable_position() = std::move(read->position);
  reply->set_truncated(read->truncated);
  return absl::OkStatus();
}

}  // namespace channel
