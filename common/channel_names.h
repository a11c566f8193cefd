#ifndef CHANNEL_COMMON_CHANNEL_NAMES_H_
#define CHANNEL_COMMON_CHANNEL_NAMES_H_

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace channel {

// The broker channel names that carry the client protocol
// (docs/CLIENT-PROTOCOL.md, docs/PROTOCOL.md): a group G is "group:G", the
// connections of user U (authenticated with a token) "user:U", send_to_all
// "all". Gateways key their membership by these names; the broker's API,
// its PHP bridge and channel-cli publish on them. This header is their one
// owner: nothing else spells them.
inline constexpr char kGroupChannelPrefix[] = "group:";
inline constexpr char kUserChannelPrefix[] = "user:";
inline constexpr char kBroadcastChannel[] = "all";

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

// The application's seat (docs/PROTOCOL.md "Application events"): gateways
// publish their connections' events on kAppEventsChannel (keyed by client
// id, for queue groups), and each gateway worker ("node") takes actions on
// its connections from its own channel, kAppNodePrefix + node. A client id
// is "<node>.<n>": node "<gateway id>-<worker index>", n the connection's
// number on that worker. Clients of the WebSocket protocol can reach none
// of these channels (they publish to group:, user: and all only).
inline constexpr char kAppEventsChannel[] = "app:events";
inline constexpr char kAppNodePrefix[] = "app:node:";

inline std::string AppNodeChannel(absl::string_view node) {
  std::string out(kAppNodePrefix);
  out.append(node.data(), node.size());
  return out;
}
// The node of client id `client` (what precedes its last '.'), or empty
// when it is not a client id.
inline absl::string_view ClientNode(absl::string_view client) {
  const size_t dot = client.rfind('.');
  if (dot == absl::string_view::npos || dot == 0 || dot + 1 == client.size()) {
    return absl::string_view();
  }
  return client.substr(0, dot);
}

inline bool IsGroupChannel(absl::string_view channel) {
  return absl::StartsWith(channel, kGroupChannelPrefix);
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

#endif  // CHANNEL_COMMON_CHANNEL_NAMES_H_
