#include "broker/history/history_stream.h"

#include <algorithm>

namespace channel {

size_t HistoryStream::IndexAfter(uint64_t offset) const {
  const auto it = std::upper_bound(
      entries_.begin(), entries_.end(), offset,
      [](uint64_t o, const HistoryEntry& e) { return o < e.offset; });
  return static_cast<size_t>(it - entries_.begin());
}

int64_t HistoryStream::Append(std::string payload, std::string meta,
                              int64_t now_ms, uint64_t* offset,
                              size_t* dropped) {
  *offset = top_ + 1;
  return Keep(*offset, std::move(payload), std::move(meta), now_ms, dropped);
}

int64_t HistoryStream::AppendAt(uint64_t offset, std::string payload,
                                std::string meta, int64_t now_ms,
                                size_t* dropped) {
  if (offset <= top_) return 0;
  return Keep(offset, std::move(payload), std::move(meta), now_ms, dropped);
}

int64_t HistoryStream::Keep(uint64_t offset, std::string payload,
                            std::string meta, int64_t now_ms, size_t* dropped) {
  top_ = offset;
  last_append_ms_ = now_ms;
  if (rule_->size == 0) {
    floor_ = top_;  // nothing kept: only "nothing after the top" is known
    return 0;
  }
  entries_.push_back(
      HistoryEntry{offset, now_ms, std::move(payload), std::move(meta)});
  const size_t added = entries_.back().bytes();
  bytes_ += added;
  int64_t delta = static_cast<int64_t>(added);
  while (entries_.size() > rule_->size) {
    delta -= static_cast<int64_t>(PopFront());
    ++*dropped;
  }
  return delta;
}

size_t HistoryStream::PopFront() {
  const size_t freed = entries_.front().bytes();
  floor_ = entries_.front().offset;
  entries_.pop_front();
  bytes_ -= freed;
  return freed;
}

size_t HistoryStream::Expire(int64_t now_ms, size_t* dropped) {
  if (rule_->ttl.count() <= 0) return 0;
  size_t freed = 0;
  const int64_t cutoff = now_ms - rule_->ttl.count();
  while (!entries_.empty() && entries_.front().at_ms <= cutoff) {
    freed += PopFront();
    ++*dropped;
  }
  return freed;
}

size_t HistoryStream::DropFront(uint64_t offset) {
  if (entries_.empty() || entries_.front().offset != offset) return 0;
  return PopFront();
}

}  // namespace channel
