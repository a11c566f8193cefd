#ifndef CHANNEL_BROKER_ROUTING_SUBSCRIBER_H_
#define CHANNEL_BROKER_ROUTING_SUBSCRIBER_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "broker/codec/outgoing_event.h"

namespace channel {

// What the Router delivers to: a Session in the daemon, a fake in the fuzz
// target and tests.
class Subscriber {
 public:
  virtual ~Subscriber() = default;

  // Queues `event` in the subscriber's own codec (taking that codec's frame
  // from `event`, encoded once for all). False when nothing was queued
  // (closing, or closed now for exceeding its output bound). May remove the
  // subscriber from the Router's index; the Router copes.
  virtual bool Deliver(OutgoingEvent& event) = 0;

  // Queues `event` chosen for this member of queue group `group`. Members
  // on this broker deliver it as any event; another broker of the cluster,
  // standing in the group for its own members (IsBroker), sends it there.
  virtual bool DeliverQueued(OutgoingEvent& event, const std::string& group) {
    (void)group;
    return Deliver(event);
  }
  // Stands for another broker of the cluster in queue groups (its members
  // there), not for a connection to this one.
  virtual bool IsBroker() const { return false; }

  // Receives the events published through this broker only, not those a
  // cluster's other brokers forward (the webhook sink: brokers configured
  // alike then send each event once).
  virtual bool LocalOnly() const { return false; }

  // A link (Hello.link: a gateway worker carrying many end users): it may
  // hold --max_channels_per_link channels, and a publish its output queue
  // cannot take is refused to the publisher instead of cutting it
  // (Router::Publish, flow control).
  virtual bool IsLink() const { return false; }
  // Bytes its output queue can still take before its bound.
  virtual size_t QueueRoom() const { return SIZE_MAX; }
  // A link whose queue has not moved for the stall timeout: its peer stopped
  // reading. Closes it (SLOW_CONSUMER) and returns true; false otherwise.
  virtual bool CloseIfStalled() { return false; }

  // Sole interest (SoleInterest): true when this subscriber asked to be
  // told that it alone holds a channel.
  virtual bool WantsSoleInterest() const { return false; }
  // Queues an Interest frame (sole: grant `grant` of `channel`; otherwise
  // its revoke). Never closes the subscriber; false when nothing was
  // queued.
  virtual bool SendInterest(const std::string& channel, uint64_t grant,
                            bool sole) {
    (void)channel;
    (void)grant;
    (void)sole;
    return false;
  }
  // It did not release a revoked grant in time: close it, saying why.
  virtual void CloseUnreleased(absl::string_view reason) { (void)reason; }
};

}  // namespace channel

#endif  // CHANNEL_BROKER_ROUTING_SUBSCRIBER_H_
