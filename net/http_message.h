#ifndef CHANNEL_NET_HTTP_MESSAGE_H_
#define CHANNEL_NET_HTTP_MESSAGE_H_

// The request and response HttpServer hands its handlers: plain values,
// so that no websocketpp header reaches the code that serves routes.
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace channel {

struct HttpRequest {
  std::string method;
  std::string target;  // as sent: path, then '?' and the query if any
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // empty in HttpHandlers::on_headers

  absl::string_view Path() const {
    absl::string_view t = target;
    return t.substr(0, t.find('?'));
  }
  // After the '?', not decoded; empty without one.
  absl::string_view Query() const {
    const size_t q = target.find('?');
    return q == std::string::npos ? absl::string_view()
                                  : absl::string_view(target).substr(q + 1);
  }
  // The first header named `name` (any case), or empty.
  absl::string_view Header(absl::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (absl::EqualsIgnoreCase(key, name)) return value;
    }
    return {};
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // more headers
  std::string body;
};

// Answers one request; call it exactly once, on the server's thread.
using HttpReply = std::function<void(HttpResponse)>;

struct HttpHandlers {
  // The request's headers are complete and its body is not read yet
  // (`head.body` is empty). Return a response to refuse the request at once
  // (the connection closes after it if a body was announced); nullopt reads
  // the body and then calls on_request.
  std::function<std::optional<HttpResponse>(const HttpRequest& head)>
      on_headers;
  // The whole request. `reply` may be called later (after work on another
  // thread), but on the server's thread.
  std::function<void(HttpRequest request, HttpReply reply)> on_request;
  // The response of the server's own refusals: 400 (malformed), 408 (the
  // request took too long), 411 (no Content-Length, or chunked), 413, 431
  // (headers over 16,000 bytes), 503 (too many connections).
  std::function<HttpResponse(int status, absl::string_view code,
                             absl::string_view message)>
      error;
};

}  // namespace channel

#endif  // CHANNEL_NET_HTTP_MESSAGE_H_
