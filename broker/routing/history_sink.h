#ifndef CHANNEL_BROKER_ROUTING_HISTORY_SINK_H_
#define CHANNEL_BROKER_ROUTING_HISTORY_SINK_H_

#include <functional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/channel.pb.h"

namespace channel {

// Where a cluster's history channels are sequenced (JetStreamHistory, or a
// fake in tests): the Router hands it every event of such a channel
// published here instead of delivering and forwarding it; the sink's feed
// delivers it later, with its offset, on every broker (this one too).
// Broker thread.
class HistorySink {
 public:
  using Done = std::function<void(absl::Status)>;
  virtual ~HistorySink() = default;
  // True for the channels this sink sequences.
  virtual bool Handles(absl::string_view channel) const = 0;
  // Stores `event` (channel, payload, meta). Not OK: nothing was sent and
  // `done` never runs. OK: `done` runs exactly once, later, on the broker
  // thread, with OK once the event is stored (it has an offset and will
  // be delivered) or why it may not be.
  virtual absl::Status Store(const v1::Event& event, Done done) = 0;
  // A reader's position may be ahead of what this broker's feed has
  // delivered (another broker's feed delivered it first). True: `fn` runs
  // once, later, when the feed has delivered everything up to `position`
  // of `channel` (or after a bounded wait); false: nothing to wait for,
  // `fn` is dropped.
  virtual bool WaitApplied(absl::string_view /*channel*/,
                           const v1::StreamPosition& /*position*/,
                           std::function<void()> /*fn*/) {
    return false;
  }
};

}  // namespace channel

#endif  // CHANNEL_BROKER_ROUTING_HISTORY_SINK_H_
