#include "common/logging/log_limiter.h"

namespace channel {

std::atomic<uint64_t> LogLimiter::total_suppressed_{0};

bool LogLimiter::Allow(int64_t now_ms, uint64_t* suppressed) {
  const int64_t second = now_ms / 1000;
  int64_t window = window_.load(std::memory_order_relaxed);
  if (window != second && window_.compare_exchange_strong(
                              window, second, std::memory_order_relaxed)) {
    written_.store(0, std::memory_order_relaxed);
  }
  if (written_.fetch_add(1, std::memory_order_relaxed) < kLinesPerSecond) {
    *suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
    return true;
  }
  suppressed_.fetch_add(1, std::memory_order_relaxed);
  total_suppressed_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

}  // namespace channel
