#ifndef CHANNEL_BROKER_API_API_METRICS_H_
#define CHANNEL_BROKER_API_API_METRICS_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "common/ops/prometheus_text.h"

namespace channel {

// The HTTP API's request counters and latency histogram, rendered into the
// broker's /metrics. Thread-safe: the API thread counts, the admin thread
// renders (one std::mutex; a request costs one short critical section).
// Bounded: one counter per route and status seen, and ApiServer counts
// its three routes only.
class ApiMetrics {
 public:
  // One answered request of `route` with HTTP `status`, `latency` after
  // it was taken up (zero for refusals at the headers).
  void Count(absl::string_view route, int status,
             std::chrono::steady_clock::duration latency);

  // channel_broker_api_requests_total{route,status} and the
  // channel_broker_api_request_seconds histogram.
  void AppendTo(PrometheusText* m) const;

 private:
  static constexpr std::array<double, 11> kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};

  mutable std::mutex mu_;
  // Keyed "route|status".
  absl::flat_hash_map<std::string, uint64_t> requests_ ABSL_GUARDED_BY(mu_);
  std::array<uint64_t, kBuckets.size() + 1> latency_ ABSL_GUARDED_BY(mu_){};
  double latency_sum_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t latency_count_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_API_API_METRICS_H_
