#include "broker/history/history_stream.h"

namespace channel {

int64_t HistoryStream::Append(std::string payload, std::string meta,
                              int64_t now_ms, uint64_t* offset,
                              size_t* dropped) {
  *offset = ++top_;
  last_append_ms_ = now_ms;
  if (rule_->size == 0) return 0;
  int64_t delta = 0;
  entries_.push_back(
      HistoryEntry{top_, now_ms, std::move(payload), std::move(meta)});
  const size_t added = entries_.back().bytes();
  bytes_ += added;
  delta += static_cast<int64_t>(added);
  while (entries_.size() > rule_->size) {
    const size_t freed = entries_.front().bytes();
    entries_.pop_front();
    bytes_ -= freed;
    delta -= static_cast<int64_t>(freed);
    ++*dropped;
  }
  return delta;
}

size_t HistoryStream::Expire(int64_t now_ms, size_t* dropped) {
  if (rule_->ttl.count() <= 0) return 0;
  size_t freed = 0;
  const int64_t cutoff = now_ms - rule_->ttl.count();
  while (!entries_.empty() && entries_.front().at_ms <= cutoff) {
    freed += entries_.front().bytes();
    entries_.pop_front();
    ++*dropped;
  }
  bytes_ -= freed;
  return freed;
}

size_t HistoryStream::DropFront(uint64_t offset) {
  if (entries_.empty() || entries_.front().offset != offset) return 0;
  const size_t freed = entries_.front().bytes();
  entries_.pop_front();
  bytes_ -= freed;
  return freed;
}

}  // namespace channel
