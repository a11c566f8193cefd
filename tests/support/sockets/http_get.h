#ifndef CHANNEL_TESTS_SUPPORT_SOCKETS_HTTP_GET_H_
#define CHANNEL_TESTS_SUPPORT_SOCKETS_HTTP_GET_H_

#include <chrono>
#include <string>

namespace channel::testing {

struct HttpResponse {
  int status = 0;  // 0: no connection or no response
  std::string body;
};

// Blocking GET http://127.0.0.1:port/path over HTTP/1.0 (the server closes
// after the response, so the body is everything after the blank line).
HttpResponse HttpGet(int port, const std::string& path);

// The value of the first sample named `series` (exactly, labels included,
// e.g. `x_total{kind="bad_length"}`) in a Prometheus text body; -1 if absent.
double MetricValue(const std::string& text, const std::string& series);

// Reads `series` from http://127.0.0.1:admin_port/metrics until it is
// `want` or `timeout` passes; returns the last value read. A bounded poll
// (every 50 ms) of state that has no event to wait on, not a sleep
// standing in for one.
double WaitMetricValue(int admin_port, const std::string& series, double want,
                       std::chrono::milliseconds timeout);

}  // namespace channel::testing

#endif  // CHANNEL_TESTS_SUPPORT_SOCKETS_HTTP_GET_H_
