#ifndef CHANNEL_COMMON_LOGGING_LOG_LIMITER_H_
#define CHANNEL_COMMON_LOGGING_LOG_LIMITER_H_

#include <atomic>
#include <chrono>
#include <cstdint>

#include "common/logging/logging.h"

namespace channel {

// One log call site that peers can trigger (a refused request, a closed
// connection): at most kLinesPerSecond lines per second, the rest counted
// and not written, so that no client can flood the log (issue 19 item 11).
// The first line written after a suppressed run says how many were left
// out; SuppressedTotal() counts them all for the daemons' /metrics.
//
// Thread-safe and lock-free (a gateway's workers share a site); the window
// is approximate under races, never unbounded.
class LogLimiter {
 public:
  static constexpr int kLinesPerSecond = 20;

  // True when a line may be written at `now_ms` (any monotonic
  // milliseconds); *suppressed then holds the lines left out since the
  // last one written.
  bool Allow(int64_t now_ms, uint64_t* suppressed);
  bool Allow(uint64_t* suppressed) {
    return Allow(std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now().time_since_epoch())
                     .count(),
                 suppressed);
  }

  // Lines left out by every site of the process.
  static uint64_t SuppressedTotal() {
    return total_suppressed_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<int64_t> window_{-1};  // the second being counted
  std::atomic<int> written_{0};      // lines written in it
  std::atomic<uint64_t> suppressed_{0};
  static std::atomic<uint64_t> total_suppressed_;
};

}  // namespace channel

// spdlog::log(level, ...) through a LogLimiter of this call site.
#define CHANNEL_LOG_LIMITED(level, ...)                              \
  do {                                                               \
    static ::channel::LogLimiter channel_log_site;                   \
    uint64_t channel_log_suppressed = 0;                             \
    if (channel_log_site.Allow(&channel_log_suppressed)) {           \
      if (channel_log_suppressed > 0) {                              \
        spdlog::log(level,                                           \
                    "({} similar line(s) suppressed in the last "    \
                    "second; channel_*_log_lines_suppressed_total)", \
                    channel_log_suppressed);                         \
      }                                                              \
      spdlog::log(level, __VA_ARGS__);                               \
    }                                                                \
  } while (0)

#endif  // CHANNEL_COMMON_LOGGING_LOG_LIMITER_H_
