#ifndef CHANNEL_BROKER_HISTORY_HISTORY_STREAM_H_
#define CHANNEL_BROKER_HISTORY_HISTORY_STREAM_H_

#include <cstdint>
#include <deque>
#include <string>

#include "common/history/history_rules.h"

namespace channel {

// One kept event of a history channel: what an Event needs besides its
// channel, offset and epoch.
struct HistoryEntry {
  uint64_t offset = 0;
  int64_t at_ms = 0;  // when it was appended (the store's clock)
  std::string payload;
  std::string meta;  // the serialized v1::Metadata
  size_t bytes() const {
    return sizeof(HistoryEntry) + payload.capacity() + meta.capacity();
  }
};

// The stream of one history channel: its epoch, its last offset and its
// last `rule.size` events, oldest first, in increasing offsets. Offsets are
// contiguous when the store is the sequencer (Append: 1, 2, 3, ...) and
// increasing with holes when they come from elsewhere (AppendAt: a
// JetStream stream's sequence, shared by every channel of a rule).
//
// floor(): every event of the channel after this offset is kept (or was
// never published): a recovery from any offset >= floor() is exact. It
// rises as events are dropped from the front. Owned by the HistoryStore;
// one thread.
class HistoryStream {
 public:
  HistoryStream(std::string channel, uint64_t id, std::string epoch,
                const HistoryRule* rule, uint64_t floor = 0)
      : channel_(std::move(channel)),
        id_(id),
        epoch_(std::move(epoch)),
        rule_(rule),
        top_(floor),
        floor_(floor) {}

  const std::string& channel() const { return channel_; }
  uint64_t id() const { return id_; }
  const std::string& epoch() const { return epoch_; }
  const HistoryRule& rule() const { return *rule_; }
  // The last offset given (0: none yet).
  uint64_t top() const { return top_; }
  // See the class comment.
  uint64_t floor() const { return floor_; }
  // The index in entries() of the first event with an offset above
  // `offset` (entries().size(): none). O(log n).
  size_t IndexAfter(uint64_t offset) const;
  const std::deque<HistoryEntry>& entries() const { return entries_; }
  size_t bytes() const { return bytes_; }
  int64_t last_append_ms() const { return last_append_ms_; }

  // Gives the next offset; keeps the event when the rule keeps any, and
  // drops the oldest past the rule's size. Returns the bytes this changed
  // (added minus dropped); *dropped counts the events dropped.
  int64_t Append(std::string payload, std::string meta, int64_t now_ms,
                 uint64_t* offset, size_t* dropped);
  // The same with an offset given by the sequencer elsewhere, which must
  // be above top() (else nothing changes and 0 is returned).
  int64_t AppendAt(uint64_t offset, std::string payload, std::string meta,
                   int64_t now_ms, size_t* dropped);
  // Drops events older than the rule's ttl; returns the bytes freed.
  size_t Expire(int64_t now_ms, size_t* dropped);
  // Events up to `offset` may be missing (the feed was overrun): no
  // recovery from before it.
  void RaiseFloor(uint64_t offset) {
    if (offset > floor_) floor_ = offset;
  }
  // Drops the oldest kept event if its offset is `offset`; returns the
  // bytes freed (0: it was gone already).
  size_t DropFront(uint64_t offset);

 private:
  int64_t Keep(uint64_t offset, std::string payload, std::string meta,
               int64_t now_ms, size_t* dropped);
  // Pops the oldest kept event; returns its bytes.
  size_t PopFront();

  const std::string channel_;
  const uint64_t id_;
  const std::string epoch_;
  const HistoryRule* const rule_;
  uint64_t top_ = 0;
  uint64_t floor_ = 0;
  int64_t last_append_ms_ = 0;
  size_t bytes_ = 0;
  std::deque<HistoryEntry> entries_;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_HISTORY_HISTORY_STREAM_H_
