#ifndef CHANNEL_BROKER_APP_WEBHOOK_URL_H_
#define CHANNEL_BROKER_APP_WEBHOOK_URL_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace channel {

// --webhook_url, checked whole at start so that a typo is a clear error
// there rather than a crash (an out-of-range port) or a webhook that fails
// every POST. http:// or https://, a host name or address ([IPv6] in
// brackets), an optional port 1-65535, a path (with its query) of visible
// ASCII; no credentials, no fragment, at most kMaxBytes.
struct WebhookUrl {
  static constexpr size_t kMaxBytes = 2048;

  bool https = false;
  std::string host;  // brackets kept around an IPv6 address
  uint16_t port = 0;
  std::string path;  // "/" at least

  // "scheme://host:port": what cpp-httplib's client is made for.
  std::string Origin() const;
  // Origin() + path.
  std::string Normalized() const;
};

// InvalidArgument naming what is wrong.
absl::StatusOr<WebhookUrl> ParseWebhookUrl(absl::string_view url);

}  // namespace channel

#endif  // CHANNEL_BROKER_APP_WEBHOOK_URL_H_
