#ifndef CHANNEL_GATEWAY_CONNECTION_DATA_H_
#define CHANNEL_GATEWAY_CONNECTION_DATA_H_

#include <chrono>
#include <cstdint>

#include "common/token_bucket.h"

namespace channel {

// What the gateway keeps per WebSocket connection. websocketpp's connection
// derives from it (the config's connection_base), so the membership index
// and the fan-out hold ConnectionData* without knowing websocketpp. Owned
// by the worker thread of its connection.
struct ConnectionData {
  using Clock = std::chrono::steady_clock;
  uint64_t id = 0;  // worker index << 48 | per-worker counter; 0: not open
  bool closing = false;
  bool pending_counted = false;  // counted in GatewayLimits::pending_handshakes
  bool slot_counted = false;     // holds one of GatewayLimits::connections
  int refused_in_row = 0;        // messages refused by the rate limit
  TokenBucket bucket{0, 0, {}};
  Clock::time_point last_seen;
  Clock::time_point close_deadline;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_CONNECTION_DATA_H_
