#ifndef CHANNEL_TESTS_SUPPORT_SOCKETS_HTTP_GET_H_
#define CHANNEL_TESTS_SUPPORT_SOCKETS_HTTP_GET_H_

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

}  // namespace channel::testing

#endif  // CHANNEL_TESTS_SUPPORT_SOCKETS_HTTP_GET_H_
