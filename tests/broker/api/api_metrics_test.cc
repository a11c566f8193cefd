// ApiMetrics: what /metrics shows of the API's requests, counted per route
// and status, latency in cumulative buckets.
#include "broker/api/api_metrics.h"

#include <chrono>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace channel {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

std::string Render(const ApiMetrics& metrics) {
  PrometheusText m;
  metrics.AppendTo(&m);
  return m.text();
}

TEST(ApiMetricsTest, EmptyHasOnlyTheHistogram) {
  const std::string text = Render(ApiMetrics());
  EXPECT_FALSE(absl::StrContains(text, "channel_broker_api_requests_total"));
  EXPECT_TRUE(absl::StrContains(
      text, "channel_broker_api_request_seconds_bucket{le=\"+Inf\"} 0"))
      << text;
  EXPECT_TRUE(
      absl::StrContains(text, "channel_broker_api_request_seconds_count 0"))
      << text;
}

TEST(ApiMetricsTest, CountsByRouteAndStatusWithCumulativeBuckets) {
  ApiMetrics metrics;
  metrics.Count("publish", 200, microseconds(100));   // le 0.0005
  metrics.Count("publish", 200, milliseconds(3));     // le 0.005
  metrics.Count("publish", 503, milliseconds(2000));  // +Inf only
  metrics.Count("groups", 400, milliseconds(0));
  const std::string text = Render(metrics);
  struct Line {
    const char* text;
  } lines[] = {
      {"channel_broker_api_requests_total{route=\"publish\",status=\"200\"} 2"},
      {"channel_broker_api_requests_total{route=\"publish\",status=\"503\"} 1"},
      {"channel_broker_api_requests_total{route=\"groups\",status=\"400\"} 1"},
      {"channel_broker_api_request_seconds_bucket{le=\"0.0005\"} 2"},
      {"channel_broker_api_request_seconds_bucket{le=\"0.0025\"} 2"},
      {"channel_broker_api_request_seconds_bucket{le=\"0.005\"} 3"},
      {"channel_broker_api_request_seconds_bucket{le=\"1\"} 3"},
      {"channel_broker_api_request_seconds_bucket{le=\"+Inf\"} 4"},
      {"channel_broker_api_request_seconds_count 4"},
  };
  for (const Line& line : lines) {
    EXPECT_TRUE(absl::StrContains(text, line.text)) << line.text << "\n"
                                                    << text;
  }
}

}  // namespace
}  // namespace channel
