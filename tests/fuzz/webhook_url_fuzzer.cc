// --webhook_url's parser: never crashes, and what it accepts normalizes to
// a URL it accepts again, unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "broker/app/webhook_url.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<channel::WebhookUrl> url = channel::ParseWebhookUrl(input);
  if (!url.ok()) return 0;
  const std::string normalized = url->Normalized();
  absl::StatusOr<channel::WebhookUrl> again =
      channel::ParseWebhookUrl(normalized);
  if (!again.ok() || again->Normalized() != normalized || url->port == 0 ||
      url->path.empty() || url->path[0] != '/') {
    std::abort();
  }
  return 0;
}
