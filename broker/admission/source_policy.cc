#include "broker/admission/source_policy.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace channel {

absl::StatusOr<SourcePolicy> SourcePolicy::Create(
    const BrokerOptions& options) {
  absl::StatusOr<NetworkList> allow =
      NetworkList::Parse(options.php_allow_from);
  if (!allow.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--php_allow_from: ", allow.status().message()));
  }
  return SourcePolicy(!options.auth_token.empty(), options.php_enabled,
                      *std::move(allow));
}

bool SourcePolicy::PhpAllowedFrom(const asio::ip::address& address) const {
  if (!php_allow_.empty()) return php_allow_.Contains(address);
  return !token_;
}

bool SourcePolicy::LimitFramesBeforeHello(
    const asio::ip::address& address) const {
  if (!token_) return false;
  return !(php_enabled_ && !php_allow_.empty() && php_allow_.Contains(address));
}

}  // namespace channel
