#include "broker/api/api_metrics.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace channel {

void ApiMetrics::Count(absl::string_view route, int status,
                       std::chrono::steady_clock::duration latency) {
  const double seconds = std::chrono::duration<double>(latency).count();
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[absl::StrCat(route, "|", status)];
  size_t i = 0;
  while (i < kBuckets.size() && seconds > kBuckets[i]) ++i;
  ++latency_[i];
  latency_sum_ += seconds;
  ++latency_count_;
}

void ApiMetrics::AppendTo(PrometheusText* m) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, count] : requests_) {
    const std::vector<absl::string_view> parts = absl::StrSplit(key, '|');
    m->Counter("channel_broker_api_requests_total",
               "HTTP API requests, by route and status.",
               static_cast<double>(count),
               {{"route", parts[0]}, {"status", parts[1]}});
  }
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= kBuckets.size(); ++i) {
    cumulative += latency_[i];
    const std::string le =
        i < kBuckets.size() ? absl::StrCat(kBuckets[i]) : "+Inf";
    m->Histogram("channel_broker_api_request_seconds",
                 "HTTP API request latency (handled requests).", "_bucket",
                 static_cast<double>(cumulative), {{"le", le}});
  }
  m->Histogram("channel_broker_api_request_seconds", "", "_sum", latency_sum_,
               {});
  m->Histogram("channel_broker_api_request_seconds", "", "_count",
               static_cast<double>(latency_count_), {});
}

}  // namespace channel
