#ifndef CHANNEL_COMMON_LIFECYCLE_DRAIN_SCHEDULE_H_
#define CHANNEL_COMMON_LIFECYCLE_DRAIN_SCHEDULE_H_

#include <chrono>
#include <cstddef>

namespace channel {

// How many of a worker's connections a drain closes at each tick, so that
// `total` connections are closed evenly over `drain` (docs/DEPLOY.md
// "Draining"): their reconnects reach the other gateways spread out, not in
// one second.
//
// Contract: Due(now) returns how many more to close now: by time t into
// the drain, ceil(total * t / drain) in all (the first at the first tick).
// The sum of all answers never exceeds `total`; by `start + drain` (with
// ticks at least every `tick`) it reaches `total`. One answer is never more
// than two ticks' share (2 * ceil(total * tick / drain)): a tick that comes
// late (a loaded machine) does not turn into a burst, the drain runs a little
// longer instead. With drain <= 0 everything is due at once.
// Plain value type, no clock of its own: tests give the times.
class DrainSchedule {
 public:
  using Clock = std::chrono::steady_clock;

  DrainSchedule(size_t total, Clock::time_point start,
                std::chrono::milliseconds drain,
                std::chrono::milliseconds tick);

  size_t Due(Clock::time_point now);
  bool done() const { return closed_ >= total_; }
  size_t closed() const { return closed_; }
  // The most one Due() returns.
  size_t max_per_tick() const { return max_per_tick_; }

 private:
  size_t total_;
  Clock::time_point start_;
  std::chrono::milliseconds drain_;
  size_t max_per_tick_;
  size_t closed_ = 0;
};

}  // namespace channel

#endif  // CHANNEL_COMMON_LIFECYCLE_DRAIN_SCHEDULE_H_
