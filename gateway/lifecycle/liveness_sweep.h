#ifndef CHANNEL_GATEWAY_LIFECYCLE_LIVENESS_SWEEP_H_
#define CHANNEL_GATEWAY_LIFECYCLE_LIVENESS_SWEEP_H_

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "gateway/gateway_options.h"
#include "gateway/ws/ws_connection.h"

namespace channel {

// The worker's periodic checks of its connections' liveness.
//
// Contracts, per Run (the worker calls it every Tick()):
//  - pings are spread over the interval: each run takes one phase of the
//    connections (ids are sequential, so a phase holds 1/phases of them),
//    so a worker with many connections never pings them all at once, nor
//    gets all their pongs at once (with 100,000 clients that burst stalled
//    delivery for seconds). Each open connection is pinged, and checked for
//    silence past ping_interval + pong_timeout, once every `phases` runs
//    (about one ping_interval); a silent one goes to `on_dead`.
// Worker thread only.
class LivenessSweep {
 public:
  using Clock = std::chrono::steady_clock;
  using ConnectionPtr = std::shared_ptr<WsConnection>;
  using Connections = absl::flat_hash_map<uint64_t, ConnectionPtr>;

  // `options` outlives the sweep; `on_dead` closes a silent connection.
  LivenessSweep(const GatewayOptions& options,
                std::function<void(const ConnectionPtr&)> on_dead)
      : options_(options), on_dead_(std::move(on_dead)) {}

  // Fine enough that pings go out close to every ping_interval and a
  // missing pong is noticed close to pong_timeout after it was due.
  std::chrono::milliseconds Tick() const {
    return std::max(std::chrono::milliseconds(1),
                    std::min({kMaxTick, options_.ping_interval / 4,
                              options_.pong_timeout / 4}));
  }

  // `open`: the worker's connections (closed ones already removed).
  void Run(const Connections& open, Clock::time_point now);

 private:
  static constexpr std::chrono::milliseconds kMaxTick{500};

  const GatewayOptions& options_;
  const std::function<void(const ConnectionPtr&)> on_dead_;
  std::vector<ConnectionPtr> dead_;  // scratch
  uint64_t phase_ = 0;               // the phase the last run pinged
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_LIFECYCLE_LIVENESS_SWEEP_H_
