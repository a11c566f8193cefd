#ifndef CHANNEL_BROKER_ROUTER_H_
#define CHANNEL_BROKER_ROUTER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "broker/broker_options.h"
#include "broker/broker_stats.h"
#include "broker/subscriber.h"
#include "common/subscription_index.h"
#include "proto/channel.pb.h"

namespace channel {

// Channel routing of one broker: who is subscribed to what, and fan-out of a
// publish to exactly the current subscribers. Each event is encoded once and
// the same immutable frame is queued to every subscriber.
//
// Owned by the broker's io thread. Subscribers (sessions) are registered by
// pointer and must call RemoveAll before they are destroyed.
class Router {
 public:
  Router(const BrokerOptions& options, BrokerStats* stats);

  // Subscribes `session` to every channel of the request, or to none:
  // InvalidArgument for an empty or over-long name, ResourceExhausted when
  // the connection would exceed its channel limit. Subscribing twice counts
  // once.
  absl::Status Subscribe(Subscriber* session, const v1::Subscribe& request);

  // Unsubscribes; channels the session does not have are ignored.
  absl::Status Unsubscribe(Subscriber* session, const v1::Unsubscribe& request);

  // Delivers one Event per distinct channel to each subscriber of it, the
  // publisher included. Returns the number of events queued.
  absl::StatusOr<uint64_t> Publish(v1::Publish* request);

  // Leaves every channel (connection closed).
  void RemoveAll(Subscriber* session);

  size_t channel_count() const { return index_.channel_count(); }
  size_t subscription_count() const { return index_.subscription_count(); }

 private:
  absl::Status ValidateChannels(
      const google::protobuf::RepeatedPtrField<std::string>& channels) const;

  const BrokerOptions& options_;
  BrokerStats* stats_;
  SubscriptionIndex<Subscriber*> index_;
  // Scratch list of a fan-out's recipients: a slow consumer closed during a
  // fan-out leaves the index, which must not change under the iteration.
  std::vector<Subscriber*> recipients_;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_ROUTER_H_
