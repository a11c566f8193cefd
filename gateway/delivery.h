#ifndef CHANNEL_GATEWAY_DELIVERY_H_
#define CHANNEL_GATEWAY_DELIVERY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace channel {

// One broker event on its way from the broker link to a worker. The payload
// is shared by every worker it goes to; it is copied once per worker into a
// WebSocket frame batch, never per recipient.
struct Delivery {
  bool to_all = false;  // send_to_all: every connection of the worker
  std::string group;    // when !to_all
  std::shared_ptr<const std::string> payload;
  // Connection ids of this gateway that must not receive it (exclude_self).
  std::vector<uint64_t> exclude;
};

// Broker channel names used by the gateway (docs/CLIENT-PROTOCOL.md).
inline constexpr const char kGroupChannelPrefix[] = "group:";
inline constexpr const char kBroadcastChannel[] = "all";

}  // namespace channel

#endif  // CHANNEL_GATEWAY_DELIVERY_H_
