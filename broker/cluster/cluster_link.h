#ifndef CHANNEL_BROKER_CLUSTER_CLUSTER_LINK_H_
#define CHANNEL_BROKER_CLUSTER_CLUSTER_LINK_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "proto/channel.pb.h"

namespace channel {

// What the Router needs of a cluster of brokers (NatsLink, or a fake in
// tests): interest per channel, forwarding of local publishes, and whether
// the cluster is reachable. Called on the broker's io thread.
class ClusterLink {
 public:
  virtual ~ClusterLink() = default;
  // False while the cluster cannot be reached: publishes are refused
  // rather than delivered to local subscribers only.
  virtual bool up() const = 0;
  // `channel` gained its first (first=true) or lost its last local
  // subscriber.
  virtual void Interest(const std::string& channel, bool first) = 0;
  // Sends one event (Envelope{event}) published here to the other brokers
  // that want its channel.
  virtual absl::Status Forward(const v1::Envelope& event) = 0;
  // Whether another broker may have subscribers of `channel` (a publish of
  // it is forwarded): a publish nobody took here may still have reached
  // one there. True when not known.
  virtual bool WantedElsewhere(const std::string& channel) const {
    (void)channel;
    return true;
  }
  // Queue groups across brokers (docs/PROTOCOL.md "Queue groups"): false
  // when this cluster does not share them (interest sharing off).
  virtual bool SharesQueues() const { return false; }
  // `channel`'s queue group `group` gained its first member on this broker
  // (first=true) or lost its last one.
  virtual void QueueInterest(const std::string& channel,
                             const std::string& group, bool first) {
    (void)channel;
    (void)group;
    (void)first;
  }
  // Runs `done` once every other broker has applied the interest this one
  // told so far (an Ack of a Subscribe waits for it: docs/PROTOCOL.md) and
  // returns true; false (done dropped) when nothing is pending. `done`
  // runs from a later call, never synchronously.
  virtual bool WaitForInterest(std::function<void()> done) = 0;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_CLUSTER_CLUSTER_LINK_H_
