#ifndef CHANNEL_BROKER_ADMISSION_NETWORK_LIST_H_
#define CHANNEL_BROKER_ADMISSION_NETWORK_LIST_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asio/ip/address.hpp"
#include "asio/ip/network_v4.hpp"
#include "asio/ip/network_v6.hpp"

namespace channel {

// A list of source networks, "10.0.0.0/8,127.0.0.1,::1/128" (an address
// without a prefix is one host). Parsed by Asio; an IPv4-mapped IPv6 peer
// matches the IPv4 networks.
class NetworkList {
 public:
  static absl::StatusOr<NetworkList> Parse(absl::string_view text);

  bool empty() const { return v4_.empty() && v6_.empty(); }
  bool Contains(const asio::ip::address& address) const;

 private:
  std::vector<asio::ip::network_v4> v4_;
  std::vector<asio::ip::network_v6> v6_;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_ADMISSION_NETWORK_LIST_H_
