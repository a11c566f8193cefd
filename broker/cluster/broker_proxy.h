#ifndef CHANNEL_BROKER_CLUSTER_BROKER_PROXY_H_
#define CHANNEL_BROKER_CLUSTER_BROKER_PROXY_H_

#include <functional>
#include <string>
#include <utility>

#include "broker/routing/subscriber.h"
#include "proto/channel.pb.h"

namespace channel {

// Another broker of the cluster as one member of the queue groups it has
// members of (QueueGroups, docs/PROTOCOL.md "Queue groups"): what the
// Router chooses it for goes to that broker, which gives it to one of its
// own members. Also the publisher of the events that broker sends here,
// so that their keys' bindings end when it leaves the cluster. Never in a
// channel's subscriber index. Owned by ClusterNode; broker thread.
class BrokerProxy : public Subscriber {
 public:
  // Sends `event` for queue group `group` to the broker; false when it
  // could not be sent (NATS down).
  using Send =
      std::function<bool(const std::string& group, const v1::Event& event)>;

  explicit BrokerProxy(Send send) : send_(std::move(send)) {}

  // Only queue events are for another broker.
  bool Deliver(OutgoingEvent& event) override {
    (void)event;
    return false;
  }
  bool DeliverQueued(OutgoingEvent& event, const std::string& group) override {
    return send_(group, event.event());
  }
  bool IsBroker() const override { return true; }

 private:
  const Send send_;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_CLUSTER_BROKER_PROXY_H_
