#ifndef CHANNEL_BROKER_PHP_PHP_BRIDGE_H_
#define CHANNEL_BROKER_PHP_PHP_BRIDGE_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "broker/routing/publish_observer.h"
#include "broker/routing/router.h"
#include "common/php/php_serialize.h"

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
// It is the Router's PublishObserver (set when enabled): it sees every
// local publish whatever its codec or path (protobuf, PHP, the HTTP API),
// and neither direction feeds the other (the Router does not observe the
// bridge's own publishes). While the group channel has subscribers, group
// channels are never held alone (sole interest): the bridge must see them.
class PhpBridge : public PublishObserver {
 public:
  PhpBridge(Router* router, std::string group_channel, PhpLimits limits = {})
      : router_(router),
        group_channel_(std::move(group_channel)),
        limits_(limits) {}

  bool enabled() const { return !group_channel_.empty(); }
  const std::string& group_channel() const { return group_channel_; }

  // PublishObserver.
  void OnPublished(const std::string& channel, const v1::Event& event) override;
  bool Needs(absl::string_view channel) const override;
  bool Wakes(absl::string_view channel) const override {
    return enabled() && channel == group_channel_;
  }

  // A PHP value `data` was published on `channel`.
  void FromPhp(absl::string_view channel, const PhpValue& data);
  // `message` was published on broker channel `channel`.
  void FromChannel(absl::string_view channel, absl::string_view message);

  uint64_t to_groups() const { return to_groups_; }
  uint64_t to_php() const { return to_php_; }

 private:
  Router* const router_;
  const std::string group_channel_;
  const PhpLimits limits_;
  uint64_t to_groups_ = 0;
  uint64_t to_php_ = 0;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_PHP_PHP_BRIDGE_H_
