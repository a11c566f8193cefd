#include "broker/admission/network_list.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace channel {

absl::StatusOr<NetworkList> NetworkList::Parse(absl::string_view text) {
  NetworkList list;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    item = absl::StripAsciiWhitespace(item);
    if (item.empty()) continue;
    std::string spec(item);
    const bool v6 = spec.find(':') != std::string::npos;
    if (spec.find('/') == std::string::npos) spec += v6 ? "/128" : "/32";
    std::error_code ec;
    if (v6) {
      auto network = asio::ip::make_network_v6(spec, ec);
      if (!ec) list.v6_.push_back(network.canonical());
    } else {
      auto network = asio::ip::make_network_v4(spec, ec);
      if (!ec) list.v4_.push_back(network.canonical());
    }
    if (ec) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", item, "' is not an address or network: ", ec.message()));
    }
  }
  return list;
}

bool NetworkList::Contains(const asio::ip::address& address) const {
  asio::ip::address_v4 v4;
  bool is_v4 = address.is_v4();
  if (is_v4) {
    v4 = address.to_v4();
  } else if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    v4 = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
    is_v4 = true;
  }
  if (is_v4) {
    for (const auto& n : v4_) {
      if ((v4.to_uint() & n.netmask().to_uint()) == n.address().to_uint()) {
        return true;
      }
    }
    return false;
  }
  if (!address.is_v6()) return false;
  const auto bytes = address.to_v6().to_bytes();
  for (const auto& n : v6_) {
    const auto net = n.address().to_bytes();
    const unsigned prefix = n.prefix_length();
    bool match = true;
    for (unsigned bit = 0; bit < prefix && match; bit += 8) {
      const unsigned take = std::min(8u, prefix - bit);
      const uint8_t mask = static_cast<uint8_t>(0xFF << (8 - take));
      match = (bytes[bit / 8] & mask) == (net[bit / 8] & mask);
    }
    if (match) return true;
  }
  return false;
}

}  // namespace channel
