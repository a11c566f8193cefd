#ifndef CHANNEL_COMMON_LIFECYCLE_DRAIN_SPREAD_H_
#define CHANNEL_COMMON_LIFECYCLE_DRAIN_SPREAD_H_

#include <chrono>
#include <cstdint>
#include <vector>

namespace channel {

// How a drain's closes were spread in time, by the closing process's own
// clock: the first and last close and the most closes in any one second
// (sliding, in 100 ms steps). What the drain's log line reports, so an
// operator (and the drain test) sees the spread the server achieved,
// whatever its clients' own scheduling did to their reconnects.
class DrainSpread {
 public:
  using Clock = std::chrono::steady_clock;

  void Start(Clock::time_point now) {
    start_ = now;
    buckets_.clear();
    closes_ = 0;
  }
  void Record(Clock::time_point now) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - start_)
            .count();
    const size_t bucket = ms < 0 ? 0 : static_cast<size_t>(ms / 100);
    // Bounded: a drain lasts --drain_ms plus the shutdown grace.
    if (bucket >= kMaxBuckets) return;
    if (buckets_.size() <= bucket) buckets_.resize(bucket + 1, 0);
    ++buckets_[bucket];
    if (closes_++ == 0) first_ = bucket;
    last_ = bucket;
  }

  uint64_t closes() const { return closes_; }
  // From the first close's 100 ms step to the last's (0: one step).
  int64_t span_ms() const {
    return closes_ == 0 ? 0 : static_cast<int64_t>(last_ - first_) * 100;
  }
  uint64_t busiest_second() const {
    uint64_t best = 0, window = 0;
    for (size_t i = 0; i < buckets_.size(); ++i) {
      window += buckets_[i];
      if (i >= 10) window -= buckets_[i - 10];
      if (window > best) best = window;
    }
    return best;
  }

 private:
  static constexpr size_t kMaxBuckets = 36000;  // an hour
  Clock::time_point start_{};
  std::vector<uint32_t> buckets_;
  uint64_t closes_ = 0;
  size_t first_ = 0, last_ = 0;
};

}  // namespace channel

#endif  // CHANNEL_COMMON_LIFECYCLE_DRAIN_SPREAD_H_
