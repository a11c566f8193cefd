#ifndef CHANNEL_GATEWAY_DELIVERY_H_
#define CHANNEL_GATEWAY_DELIVERY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace channel {

// One broker event on its way from the broker link to a worker. The payload
// is shared by every worker it goes to; it is copied once per worker into a
// WebSocket frame batch, never per recipient.
struct Delivery {
  bool to_all = false;  // send_to_all: every connection of the worker
  std::string channel;  // when !to_all: "group:G" or "user:U"
  std::shared_ptr<const std::string> payload;
  // Connection ids of this gateway that must not receive it (exclude_self).
  std::vector<uint64_t> exclude;
  std::string sender;  // the sending user's id, if known (JSON framing)
};

// Exclusions read from one event at most (a gateway sends one: the sender
// of an exclude_self message).
inline constexpr int kMaxExclude = 8;

// Broker channel names used by the gateway (docs/CLIENT-PROTOCOL.md): a
// group G is "group:G", the connections of user U (authenticated with a
// token) "user:U", send_to_all "all". A worker's membership index is keyed
// by these names.
inline constexpr const char kGroupChannelPrefix[] = "group:";
inline constexpr const char kUserChannelPrefix[] = "user:";
inline constexpr const char kBroadcastChannel[] = "all";

enum class ChannelKind { kGroup, kUser, kBroadcast, kOther };

// Classifies a broker channel name; for kGroup and kUser, *id gets the
// group or user id.
inline ChannelKind ParseBrokerChannel(absl::string_view channel,
                                      std::string* id) {
  if (channel == kBroadcastChannel) return ChannelKind::kBroadcast;
  if (absl::ConsumePrefix(&channel, kGroupChannelPrefix)) {
    id->assign(channel.data(), channel.size());
    return ChannelKind::kGroup;
  }
  if (absl::ConsumePrefix(&channel, kUserChannelPrefix)) {
    id->assign(channel.data(), channel.size());
    return ChannelKind::kUser;
  }
  return ChannelKind::kOther;
}

inline std::string GroupChannel(absl::string_view group) {
  std::string out(kGroupChannelPrefix);
  out.append(group.data(), group.size());
  return out;
}
inline std::string UserChannel(absl::string_view user) {
  std::string out(kUserChannelPrefix);
  out.append(user.data(), user.size());
  return out;
}

}  // namespace channel

#endif  // CHANNEL_GATEWAY_DELIVERY_H_
