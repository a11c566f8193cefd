#include "common/lifecycle/drain_schedule.h"

#include <algorithm>
#include <cstdint>

namespace channel {

DrainSchedule::DrainSchedule(size_t total, Clock::time_point start,
                             std::chrono::milliseconds drain,
                             std::chrono::milliseconds tick)
    : total_(total), start_(start), drain_(drain) {
  if (drain_.count() <= 0 || tick.count() <= 0 || tick >= drain_) {
    max_per_tick_ = total_;
    if (drain_.count() <= 0) drain_ = std::chrono::milliseconds(0);
    return;
  }
  // ceil(total * tick / drain), twice: the share of two ticks.
  const auto share = static_cast<size_t>(
      (static_cast<unsigned long long>(total_) * tick.count() + drain_.count() -
       1) /
      drain_.count());
  max_per_tick_ = std::max<size_t>(1, 2 * share);
}

size_t DrainSchedule::Due(Clock::time_point now) {
  if (closed_ >= total_) return 0;
  size_t target = total_;
  if (drain_.count() > 0 && now < start_ + drain_) {
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::microseconds>(now - start_);
    const auto span =
        std::chrono::duration_cast<std::chrono::microseconds>(drain_);
    // Rounded up: the first connection goes at the first tick, the last
    // one at (total - 1) / total of the drain, not at its very end.
    const auto t = static_cast<uint64_t>(total_);
    const auto e = static_cast<uint64_t>(elapsed.count());
    const auto d = static_cast<uint64_t>(span.count());
    target =
        elapsed.count() <= 0 ? 0 : static_cast<size_t>((t * e + d - 1) / d);
  }
  if (target <= closed_) return 0;
  const size_t due = std::min(target - closed_, max_per_tick_);
  closed_ += due;
  return due;
}

}  // namespace channel
