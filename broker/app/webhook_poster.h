#ifndef CHANNEL_BROKER_APP_WEBHOOK_POSTER_H_
#define CHANNEL_BROKER_APP_WEBHOOK_POSTER_H_

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace channel {

// Sends one webhook batch: signs it (X-Channel-Signature, HMAC-SHA256 of
// "<unix seconds>.<body>" under the secret, when there is one) and POSTs it.
// The implementation (webhook_poster_httplib.cc: cpp-httplib's client and
// OpenSSL's HMAC) is a module of its own, loaded only when --webhook_url is
// set, so that a broker without webhooks maps neither library (about 2 MB
// of resident memory).
class WebhookPoster {
 public:
  virtual ~WebhookPoster() = default;
  // Empty on a 2xx answer; otherwise what went wrong ("HTTP 500",
  // "Connection", ...). Blocking: call it from the sender thread.
  virtual std::string Post(const std::string& body) = 0;
};

// The module's one entry point (extern "C", so that dlsym finds it): the
// URL in parts (WebhookUrl), host as the URL has it.
using CreateWebhookPosterFn = WebhookPoster* (*)(int https, const char* host,
                                                 int port, const char* path,
                                                 const char* secret,
                                                 int timeout_ms);
inline constexpr char kCreateWebhookPosterSymbol[] =
    "channel_create_webhook_poster_v2";
inline constexpr char kWebhookModuleName[] = "libchannel-webhook-http.so";

// Loads the module (next to the running binary, then in ../lib/channel
// from it) and makes a poster for `url` (a --webhook_url, checked by
// ParseWebhookUrl: InvalidArgument otherwise). FailedPrecondition with the
// paths tried when the module is missing.
absl::StatusOr<std::unique_ptr<WebhookPoster>> LoadWebhookPoster(
    const std::string& url, const std::string& secret,
    std::chrono::milliseconds timeout);

}  // namespace channel

#endif  // CHANNEL_BROKER_APP_WEBHOOK_POSTER_H_
