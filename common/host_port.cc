#include "common/host_port.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace channel {

absl::StatusOr<std::vector<std::pair<std::string, uint16_t>>> ParseHostPorts(
    absl::string_view text) {
  std::vector<std::pair<std::string, uint16_t>> out;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    item = absl::StripAsciiWhitespace(item);
    const size_t colon = item.rfind(':');
    uint32_t port = 0;
    if (colon == absl::string_view::npos || colon == 0 ||
        !absl::SimpleAtoi(item.substr(colon + 1), &port) || port == 0 ||
        port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", item, "' is not HOST:PORT"));
    }
    absl::string_view host = item.substr(0, colon);
    if (absl::ConsumePrefix(&host, "[")) absl::ConsumeSuffix(&host, "]");
    out.emplace_back(std::string(host), static_cast<uint16_t>(port));
  }
  if (out.empty()) return absl::InvalidArgumentError("no HOST:PORT given");
  return out;
}

}  // namespace channel
