#ifndef CHANNEL_BROKER_PHP_BRIDGE_H_
#define CHANNEL_BROKER_PHP_BRIDGE_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "broker/router.h"
#include "common/php_serialize.h"

namespace channel {

// Bridges the seed's PHP channel and ws-gateway groups, so that the seed's
// PHP WebSocket workers and ws-gateways serve the same groups side by side
// during a migration (docs/MIGRATING.md):
//  - a PHP publish of ['group_id'=>G, 'message'=>M] on the group channel
//    (--php_group_channel, "send_to_group") is also published to the
//    gateways' channel group:G, with M as its text (a string's bytes; any
//    other value as its JSON text, as the gateway does for JSON clients);
//  - a publish to group:G (a gateway's send_to_group, a backend) is also
//    delivered to the group channel's subscribers as
//    ['group_id'=>G, 'message'=>M] (G as i: when PHP would key it so).
// Neither direction feeds the other: the bridge publishes through the
// Router directly, and only codecs call it.
class PhpBridge {
 public:
  PhpBridge(Router* router, std::string group_channel)
      : router_(router), group_channel_(std::move(group_channel)) {}

  bool enabled() const { return !group_channel_.empty(); }
  const std::string& group_channel() const { return group_channel_; }

  // A PHP client published `data` on `channel`.
  void FromPhp(absl::string_view channel, const PhpValue& data);
  // Someone published `message` on broker channel `channel`.
  void FromChannel(absl::string_view channel, absl::string_view message);

  uint64_t to_groups() const { return to_groups_; }
  uint64_t to_php() const { return to_php_; }

 private:
  Router* const router_;
  const std::string group_channel_;
  uint64_t to_groups_ = 0;
  uint64_t to_php_ = 0;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_PHP_BRIDGE_H_
