#ifndef CHANNEL_BROKER_ROUTING_KEPT_EVENTS_H_
#define CHANNEL_BROKER_ROUTING_KEPT_EVENTS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "proto/channel.pb.h"

namespace channel {

// Events nobody took, kept for their channel's first consumer
// (--events_keep_bytes; docs/PROTOCOL.md "Application events"): a
// publisher marks what may wait (Metadata.keep: a gateway's connection
// events, never its requests, which are answered no_backend at once), and
// a backend that restarts or attaches late still gets them, in order.
//
// Bounded: all kept events cost at most `max_bytes` (the event, its
// channel and bookkeeping); past it the oldest go first, over all
// channels. An event older than `max_age` is never delivered. Both are
// counted. Owned by the Router (its io thread).
class KeptEvents {
 public:
  using Clock = std::chrono::steady_clock;

  KeptEvents(size_t max_bytes, Clock::duration max_age)
      : max_bytes_(max_bytes), max_age_(max_age) {}

  bool enabled() const { return max_bytes_ > 0; }
  // Keeps a copy of `event` (of its channel) as its channel's newest.
  void Keep(const v1::Event& event, Clock::time_point now);
  // On every subscription change: no hashing while nothing is kept.
  bool Has(absl::string_view channel) const {
    return events_ > 0 && by_channel_.contains(channel);
  }
  // Takes `channel`'s kept events, oldest first, leaving out expired ones.
  std::vector<v1::Event> Take(const std::string& channel,
                              Clock::time_point now);

  // A taken event no consumer could take after all (closing meanwhile).
  void CountUndelivered() { ++undelivered_; }

  size_t events() const { return events_; }
  size_t bytes() const { return bytes_; }
  uint64_t kept_total() const { return kept_total_; }
  uint64_t taken_total() const { return taken_total_; }
  uint64_t dropped_full() const { return dropped_full_; }
  uint64_t dropped_expired() const { return dropped_expired_; }
  uint64_t undelivered() const { return undelivered_; }

 private:
  struct Kept {
    uint64_t seq = 0;
    Clock::time_point at;
    size_t cost = 0;
    v1::Event event;
  };
  // Drops the oldest kept event (of any channel); false when none is left.
  bool DropOldest();
  void Remove(std::deque<Kept>& list, const std::string& channel);

  const size_t max_bytes_;
  const Clock::duration max_age_;
  absl::flat_hash_map<std::string, std::deque<Kept>> by_channel_;
  // Every kept event's (seq, channel), oldest first; entries of events
  // taken since are skipped (and pruned when they outnumber the live).
  std::deque<std::pair<uint64_t, std::string>> order_;
  uint64_t next_seq_ = 1;
  size_t events_ = 0;
  size_t bytes_ = 0;
  uint64_t kept_total_ = 0, taken_total_ = 0;
  uint64_t dropped_full_ = 0, dropped_expired_ = 0, undelivered_ = 0;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_ROUTING_KEPT_EVENTS_H_
