#ifndef CHANNEL_BROKER_ADMISSION_SOURCE_POLICY_H_
#define CHANNEL_BROKER_ADMISSION_SOURCE_POLICY_H_

#include "absl/status/statusor.h"
#include "asio/ip/address.hpp"
#include "broker/admission/network_list.h"
#include "broker/broker_options.h"

namespace channel {

// What a connection may do by where it comes from, decided before it says
// anything: the PHP protocol has no token, so --php_allow_from names the
// sources that may speak it; with --auth_token everyone else gets a small
// frame bound until its Hello (--max_unauthenticated_frame_bytes).
class SourcePolicy {
 public:
  SourcePolicy() = default;  // no token, no PHP: nothing limited
  // InvalidArgument for a malformed --php_allow_from.
  static absl::StatusOr<SourcePolicy> Create(const BrokerOptions& options);

  // A PHP client may connect from `address`: listed in --php_allow_from,
  // or any source when neither that nor --auth_token is set.
  bool PhpAllowedFrom(const asio::ip::address& address) const;
  // A connection from `address` gets the small frame bound before its
  // Hello: with --auth_token, unless the source may speak PHP.
  bool LimitFramesBeforeHello(const asio::ip::address& address) const;

 private:
  SourcePolicy(bool token, bool php_enabled, NetworkList php_allow)
      : token_(token), php_enabled_(php_enabled), php_allow_(php_allow) {}

  bool token_ = false;
  bool php_enabled_ = false;
  NetworkList php_allow_;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_ADMISSION_SOURCE_POLICY_H_
