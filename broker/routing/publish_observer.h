#ifndef CHANNEL_BROKER_ROUTING_PUBLISH_OBSERVER_H_
#define CHANNEL_BROKER_ROUTING_PUBLISH_OBSERVER_H_

#include <string>

#include "absl/strings/string_view.h"
#include "proto/channel.pb.h"

namespace channel {

// Sees every publish the Router routes for a local publisher (a codec's,
// the HTTP API's), whatever its codec: the one hook where a feature that
// derives publishes from publishes lives (the PHP bridge today), so that
// codecs and the API path never know of it.
class PublishObserver {
 public:
  virtual ~PublishObserver() = default;

  // `event` (payload and metadata) was delivered on `channel`, after its
  // subscribers got it. The observer may publish through the Router; those
  // publishes are not observed again.
  virtual void OnPublished(const std::string& channel,
                           const v1::Event& event) = 0;
  // True while the observer needs every publish to `channel`: the channel
  // is then never held alone by one subscriber (sole interest), since a
  // publish the broker never sees would never be observed.
  virtual bool Needs(absl::string_view channel) const = 0;
  // True when a first subscriber of `channel` may turn Needs() true for
  // channels already held alone: the Router then revokes those grants.
  virtual bool Wakes(absl::string_view channel) const = 0;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_ROUTING_PUBLISH_OBSERVER_H_
