#ifndef CHANNEL_BROKER_SUBSCRIBER_H_
#define CHANNEL_BROKER_SUBSCRIBER_H_

#include "broker/outgoing_event.h"

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
};

}  // namespace channel

#endif  // CHANNEL_BROKER_SUBSCRIBER_H_
