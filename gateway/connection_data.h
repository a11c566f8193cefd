#ifndef CHANNEL_GATEWAY_CONNECTION_DATA_H_
#define CHANNEL_GATEWAY_CONNECTION_DATA_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/token_bucket.h"
#include "gateway/auth/token_verifier.h"

namespace channel {

// What the gateway keeps per WebSocket connection. WsConnection derives
// from it, so the membership index, admission and the command handlers hold
// ConnectionData* without knowing the connection. Owned by the worker
// thread of its connection.
struct ConnectionData {
  using Clock = std::chrono::steady_clock;
  uint64_t id = 0;  // worker index << 48 | per-worker counter; 0: not open
  bool json_framing = false;     // ?format=json: deliveries as JSON objects
  bool pending_counted = false;  // counted in GatewayLimits::pending_handshakes
  bool slot_counted = false;     // holds one of GatewayLimits::connections
  int refused_in_row = 0;        // messages refused by the rate limit
  // Commands whose reply waits for the broker (a join, a send or a presence
  // query with an id): a drain closes the connection only once they are
  // answered (CommandDispatcher counts them, the worker reads them).
  uint32_t awaiting_replies = 0;
  bool drain_close = false;  // drain chose it: close once nothing awaits
  // Joins resuming a history group whose live deliveries are held until
  // the recovered ones are sent (Recoveries keeps them).
  uint16_t recovering = 0;
  size_t held_bytes = 0;  // what those holds keep, together
  // History reads and resumes waiting for the broker (bounded per
  // connection: CommandDispatcher::kMaxHistoryInFlight).
  uint16_t history_in_flight = 0;
  // Requests waiting for the application's backend (AppBridge): custom
  // commands with an id and joins it decides, by request number. Bounded
  // per connection (GatewayOptions::App::max_pending_per_connection, 16).
  std::vector<uint64_t> app_requests;
  bool app_closed = false;            // its close event was published
  TokenBucket bucket{0, 0, {}};       // messages per second
  TokenBucket byte_bucket{0, 0, {}};  // message bytes per second
  Clock::time_point last_seen;
  // With token authentication (docs/CLIENT-PROTOCOL.md "Tokens"): the
  // user id once authenticated (empty before, and always without tokens),
  // and what the token grants.
  std::string user_id;
  // Its token's `info` claim as canonical JSON (member lists), or empty.
  std::string user_info;
  std::shared_ptr<const TokenClaims> claims;
  int64_t token_expires_ms = 0;  // 0: the token has no exp
  bool token_deadline_queued = false;
  // Memberships admitted by a join token with an exp (bounded by the group
  // limit): each ends when its token expires.
  struct JoinGrant {
    std::string group;
    int64_t expires_ms = 0;
    bool queued = false;  // its deadline is in the heap
    bool active = true;   // false once the group was left
  };
  std::vector<JoinGrant> join_grants;
  Clock::time_point opened;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_CONNECTION_DATA_H_
