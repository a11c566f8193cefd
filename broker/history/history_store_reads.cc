#include "absl/strings/str_cat.h"
#include "broker/history/history_store.h"

// HistoryStore's reads: positions, recovery after an offset, the last N.
namespace channel {

bool HistoryStore::Position(const std::string& channel,
                            v1::StreamPosition* out) {
  const HistoryRule* rule = RuleFor(channel);
  if (rule == nullptr) return false;
  out->set_channel(channel);
  if (options_.mirror) {
    const size_t index = RuleIndex(rule);
    const Mirror* m = index < mirrors_.size() ? &mirrors_[index] : nullptr;
    const HistoryStream* s = Find(channel);
    // A joiner hears every event after the rule's applied offset live.
    out->set_offset(s != nullptr   ? s->top()
                    : m != nullptr ? std::max(m->applied, m->complete_from)
                                   : 0);
    out->set_epoch(m != nullptr ? m->epoch : std::string());
    return true;
  }
  // A channel without a stream has had no event since this store began:
  // offset 0 of the store's own epoch. Nothing is created (joins and reads
  // must not grow the store; only events do).
  const HistoryStream* s = Find(channel);
  out->set_offset(s == nullptr ? 0 : s->top());
  out->set_epoch(s == nullptr ? store_epoch_ : s->epoch());
  return true;
}

absl::StatusOr<HistoryStore::Read> HistoryStore::Recover(
    const std::string& channel, const v1::StreamPosition& since,
    size_t max_bytes) {
  const size_t bound = ReplyBound(max_bytes);
  const HistoryRule* rule = RuleFor(channel);
  if (rule == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("\"", channel, "\" has no history"));
  }
  Read read;
  read.position.set_channel(channel);
  HistoryStream* s = Find(channel);
  if (options_.mirror) return RecoverMirror(*rule, channel, s, since, bound);
  // "Nothing yet, in this store" (a position given before the channel's
  // first event): everything of the stream is what was missed.
  const bool from_start = since.epoch() == store_epoch_ && since.offset() == 0;
  if (s == nullptr) {
    read.position.set_offset(0);
    read.position.set_epoch(store_epoch_);
    read.position.set_recovered(from_start);
    ++(from_start ? stats_.recoveries : stats_.recoveries_failed);
    return read;
  }
  size_t dropped = 0;
  const size_t freed = s->Expire(Now(), &dropped);
  bytes_ -= freed;
  entries_ -= dropped;
  stats_.expired += dropped;
  read.position.set_offset(s->top());
  read.position.set_epoch(s->epoch());
  const uint64_t after = from_start ? 0 : since.offset();
  // Everything after `after` must still be kept (first_offset <= after+1),
  // in this epoch, and within the bounds of one recovery.
  const bool ok = (from_start || since.epoch() == s->epoch()) &&
                  after <= s->top() && CollectAfter(*s, after, bound, &read);
  read.position.set_recovered(ok);
  ++(ok ? stats_.recoveries : stats_.recoveries_failed);
  return read;
}

bool HistoryStore::CollectAfter(const HistoryStream& s, uint64_t after,
                                size_t bound, Read* read) {
  // Everything after `after` must still be kept, and fit one recovery.
  if (after < s.floor()) return false;
  const auto& entries = s.entries();
  const size_t first = s.IndexAfter(after);
  if (entries.size() - first > options_.recover_max) return false;
  size_t bytes = 0;
  for (size_t i = first; i < entries.size(); ++i) {
    bytes += entries[i].payload.size() + entries[i].meta.size();
    if (bytes > bound) {
      read->entries.clear();
      return false;
    }
    read->entries.push_back(&entries[i]);
  }
  return true;
}

HistoryStore::Read HistoryStore::RecoverMirror(const HistoryRule& rule,
                                               const std::string& channel,
                                               HistoryStream* s,
                                               const v1::StreamPosition& since,
                                               size_t bound) {
  Read read;
  read.position.set_channel(channel);
  const size_t index = RuleIndex(&rule);
  const Mirror& m = mirrors_[index];
  read.position.set_epoch(m.epoch);
  // A position ahead of what this broker applied (its consumer lags the
  // one that delivered it) is exact too: what follows it will arrive here
  // live, in order, after this turn.
  bool ok = !m.epoch.empty() && since.epoch() == m.epoch;
  if (s == nullptr) {
    read.position.set_offset(std::max(m.applied, m.complete_from));
    ok = ok && since.offset() >= m.floor();
  } else {
    size_t dropped = 0;
    const size_t freed = s->Expire(Now(), &dropped);
    bytes_ -= freed;
    entries_ -= dropped;
    stats_.expired += dropped;
    read.position.set_offset(std::max(s->top(), since.offset()));
    ok = ok && CollectAfter(*s, since.offset(), bound, &read);
  }
  read.position.set_recovered(ok);
  ++(ok ? stats_.recoveries : stats_.recoveries_failed);
  return read;
}

absl::StatusOr<HistoryStore::Read> HistoryStore::Last(
    const std::string& channel, uint64_t limit, uint64_t before,
    size_t max_bytes) {
  const size_t bound = ReplyBound(max_bytes);
  const HistoryRule* rule = RuleFor(channel);
  if (rule == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("\"", channel, "\" has no history"));
  }
  ++stats_.reads;
  Read read;
  HistoryStream* s = Find(channel);
  if (s == nullptr) {
    // Nothing was ever kept: report a position without creating a stream
    // (a read must not grow the store).
    read.position.set_channel(channel);
    read.position.set_epoch(store_epoch_);
    return read;
  }
  size_t dropped = 0;
  const size_t freed = s->Expire(Now(), &dropped);
  bytes_ -= freed;
  entries_ -= dropped;
  stats_.expired += dropped;
  read.position.set_channel(channel);
  read.position.set_offset(s->top());
  read.position.set_epoch(s->epoch());
  limit = std::min<uint64_t>(limit, options_.recover_max);
  const auto& entries = s->entries();
  if (entries.empty() || limit == 0) return read;
  // The newest wanted: offset before-1 (or the top), as an index.
  uint64_t end = entries.size();  // one past the newest wanted
  if (before != 0) end = s->IndexAfter(before - 1);
  uint64_t begin = end > limit ? end - limit : 0;
  // Cut at the byte bound, keeping the newest (the ones a chat shows).
  size_t bytes = 0;
  uint64_t i = end;
  while (i > begin) {
    const HistoryEntry& e = entries[i - 1];
    if (bytes + e.payload.size() + e.meta.size() > bound) {
      read.truncated = true;
      break;
    }
    bytes += e.payload.size() + e.meta.size();
    --i;
  }
  for (uint64_t j = i; j < end; ++j) read.entries.push_back(&entries[j]);
  return read;
}

void HistoryStore::FillEvent(const std::string& channel,
                             const std::string& epoch,
                             const HistoryEntry& entry, v1::Event* out) {
  out->set_channel(channel);
  out->set_payload(entry.payload);
  if (!entry.meta.empty()) {
    // Written by Append from a parsed Metadata: it parses.
    out->mutable_meta()->ParseFromString(entry.meta);
  } else {
    out->clear_meta();
  }
  out->set_offset(entry.offset);
  out->set_epoch(epoch);
}

}  // namespace channel
