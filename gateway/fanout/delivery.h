#ifndef CHANNEL_GATEWAY_FANOUT_DELIVERY_H_
#define CHANNEL_GATEWAY_FANOUT_DELIVERY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/channel_names.h"  // the channel names a Delivery carries

namespace channel {

// One broker event on its way from a worker's broker link (ShardLink) to
// that worker's connections. The payload is shared by the recipients of the
// worker: copied once into a WebSocket frame batch, never per recipient.
struct Delivery {
  bool to_all = false;  // send_to_all: every connection of the worker
  std::string channel;  // when !to_all: "group:G" or "user:U"
  std::shared_ptr<const std::string> payload;
  // Connection ids of this gateway that must not receive it (exclude_self).
  std::vector<uint64_t> exclude;
  std::string sender;  // the sending user's id, if known (JSON framing)
  // History channels: the event's offset in its stream and the stream's
  // epoch (docs/CLIENT-PROTOCOL.md "History"); 0 otherwise.
  uint64_t offset = 0;
  std::string epoch;
  // A presence member change (member_added / member_removed): `payload` is
  // the JSON object itself, sent as it is to JSON-framing members only and
  // not to the connections of `skip_user` (the member itself).
  bool member_event = false;
  std::string skip_user;
};

// Exclusions read from one event at most (a gateway sends one: the sender
// of an exclude_self message).
inline constexpr int kMaxExclude = 8;

}  // namespace channel

#endif  // CHANNEL_GATEWAY_FANOUT_DELIVERY_H_
