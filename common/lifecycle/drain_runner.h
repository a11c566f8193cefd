#ifndef CHANNEL_COMMON_LIFECYCLE_DRAIN_RUNNER_H_
#define CHANNEL_COMMON_LIFECYCLE_DRAIN_RUNNER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"
#include "common/lifecycle/drain_schedule.h"

namespace channel {

// Runs one drain on an io_context's thread: visits every id of a list once,
// in random order, spread evenly over `drain` as DrainSchedule paces it
// (one timer tick every `tick`), then calls `done`. The daemons use it to
// send their clients elsewhere a few at a time (a gateway closing its
// WebSocket clients with 1012, a broker asking its clients to move), so
// that the reconnects reach their neighbours spread out.
//
// `visit` may find its id gone (closed meanwhile): it decides. Neither
// callback runs after Cancel() or destruction. Thread: the io_context's.
class DrainRunner {
 public:
  using Visit = std::function<void(uint64_t id)>;

  explicit DrainRunner(asio::io_context& io) : timer_(io) {}
  DrainRunner(const DrainRunner&) = delete;
  DrainRunner& operator=(const DrainRunner&) = delete;

  // Starts the drain of `ids` (shuffled here). The first visits happen on
  // this call's first tick, synchronously. A running drain is replaced.
  // Not from inside `visit` (Cancel may be).
  void Start(std::vector<uint64_t> ids, std::chrono::milliseconds drain,
             std::chrono::milliseconds tick, Visit visit,
             std::function<void()> done);
  void Cancel();
  bool running() const { return running_; }
  // Ids visited so far by the current (or last) drain.
  size_t visited() const { return schedule_ ? schedule_->closed() : 0; }
  size_t max_per_tick() const {
    return schedule_ ? schedule_->max_per_tick() : 0;
  }

 private:
  void Tick();

  asio::steady_timer timer_;
  std::vector<uint64_t> order_;
  size_t next_ = 0;
  std::chrono::milliseconds tick_{10};
  std::optional<DrainSchedule> schedule_;
  Visit visit_;
  std::function<void()> done_;
  bool running_ = false;
  uint64_t generation_ = 0;  // stale timer callbacks do nothing
};

}  // namespace channel

#endif  // CHANNEL_COMMON_LIFECYCLE_DRAIN_RUNNER_H_
