#ifndef CHANNEL_GATEWAY_WORKER_STATS_H_
#define CHANNEL_GATEWAY_WORKER_STATS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace channel {

// Error codes a client can receive, in reply or as the reason of a close.
inline constexpr std::array<absl::string_view, 22> kClientErrorCodes = {
    "invalid_json",       "not_an_object",
    "unknown_cmd",        "missing_field",
    "invalid_field",      "group_id_too_long",
    "too_many_groups",    "binary_not_supported",
    "broker_unavailable", "message_too_big",
    "publish_failed",     "rate_limited",
    "unauthorized",       "forbidden",
    "auth_disabled",      "join_expired",
    "join_refused",       "gateway_full",
    "backpressure",       "history_not_enabled",
    "no_backend",         "backend_timeout"};

// Token verification outcomes counted per reason (TokenVerifier).
inline constexpr std::array<absl::string_view, 10> kAuthResults = {
    "ok",           "malformed",     "bad_signature", "alg_not_allowed",
    "expired",      "not_yet_valid", "missing_sub",   "bad_issuer",
    "bad_audience", "bad_claims"};

// Commands that can be refused as forbidden.
inline constexpr std::array<absl::string_view, 5> kForbiddenCommands = {
    "add_group", "send_to_group", "send_to_all", "presence", "history"};

// Process-wide admission counters shared by all workers. Touched once per
// connection (accept, open, close), never per message.
struct GatewayLimits {
  std::atomic<int64_t> connections{0};         // open WebSocket connections
  std::atomic<int64_t> pending_handshakes{0};  // accepted, not yet open
  std::atomic<int64_t> links_up{0};  // workers whose broker link is up
  std::atomic<int64_t> groups{0};    // local groups, summed over workers

  // Pending handshakes by source address (its bytes), over all workers.
  // Adds `delta` and returns the new count; an entry at zero is removed.
  int64_t AddPendingFrom(const std::string& source, int64_t delta) {
    std::lock_guard<std::mutex> lock(pending_mu);
    int64_t& n = pending_by_source[source];
    n += delta;
    const int64_t now = n;
    if (now <= 0) pending_by_source.erase(source);
    return now;
  }
  std::mutex pending_mu;  // std::mutex: tools/lint.sh says why
  absl::flat_hash_map<std::string, int64_t> pending_by_source
      ABSL_GUARDED_BY(pending_mu);
};

// Counters of one worker thread. Written only by that thread (relaxed
// atomics: no lock, no ordering cost on x86), read by the admin thread.
struct WorkerStats {
  using Counter = std::atomic<uint64_t>;
  std::atomic<int64_t> connections{0};
  std::atomic<int64_t> local_groups{0};
  Counter connections_accepted{0};
  Counter connections_closed{0};
  Counter handshakes_refused_origin{0};    // not in --allowed_origins
  Counter handshakes_refused_shutdown{0};  // arrived while shutting down
  Counter joins{0};
  Counter leaves{0};
  Counter messages_received{0};   // client frames
  Counter messages_published{0};  // send_to_group / send_to_all accepted
  Counter deliveries{0};          // messages written to client sockets
  Counter direct_writes{0};       // fan-out writes the kernel took whole
  Counter bytes_in{0};
  Counter bytes_out{0};
  Counter slow_client_closes{0};
  Counter gap_notices{0};    // connections told of a broker link loss
  Counter member_events{0};  // member changes told (per change)
  // History (docs/CLIENT-PROTOCOL.md "History"): joins that asked to resume
  // (add_group with since), by result; history reads; events dropped as
  // already delivered (same epoch, offset not newer).
  Counter recoveries{0};
  Counter recoveries_failed{0};
  Counter history_reads{0};
  Counter duplicates_dropped{0};
  Counter drain_closes{0};  // connections a drain closed (1012)
  // Client messages read after the gateway's close frame (no reply may
  // follow it): the client sees the close before any answer.
  Counter messages_after_close{0};
  Counter ping_timeouts{0};
  Counter rate_limit_closes{0};
  Counter handshakes_refused_pending{0};  // over --max_pending_handshakes
  Counter handshakes_refused_pending_source{0};  // over the per-source bound
  Counter handshakes_shed_pending{0};  // oldest pending ended for a newcomer
  Counter handshakes_refused_full{0};  // over --max_connections
  Counter tls_handshakes_failed{0};    // wss: ended before TLS completed
  // The worker's broker link (ShardLink).
  std::atomic<int64_t> broker_up{0};
  std::atomic<int64_t> broker_subscriptions{0};
  Counter broker_connects{0};
  Counter broker_disconnects{0};
  // Links moved off a draining broker (its GoAway), not lost.
  Counter broker_moves{0};
  Counter broker_events{0};
  // Publishes delivered here only: this worker held the channel alone.
  Counter sole_publishes{0};
  std::array<Counter, kClientErrorCodes.size()> errors{};
  std::array<Counter, kAuthResults.size()> auth{};  // tokens verified
  std::array<Counter, kForbiddenCommands.size()> forbidden{};
  Counter auth_timeouts{0};        // closed 4002
  Counter token_expiry_closes{0};  // closed 4003
  Counter join_expiries{0};        // memberships ended by a join token
  // The application's seat (gateway/app).
  Counter app_events{0};           // events published
  Counter app_events_dropped{0};   // nobody consumed them, or not published
  Counter app_events_kept{0};      // nobody consumed them: the broker kept
                                   // them (--events_keep_bytes)
  Counter app_events_held{0};      // held while the broker link was down
  Counter app_actions{0};          // actions received on the node channel
  Counter app_actions_invalid{0};  // refused by the parser
  Counter app_actions_failed{0};   // parsed, not done (not_found, ...)
  Counter app_timeouts{0};         // requests answered backend_timeout

  void CountAuth(absl::string_view result) {
    for (size_t i = 0; i < kAuthResults.size(); ++i) {
      if (kAuthResults[i] == result) {
        auth[i].fetch_add(1, std::memory_order_relaxed);
        return;
      }
    }
  }
  void CountForbidden(absl::string_view command) {
    for (size_t i = 0; i < kForbiddenCommands.size(); ++i) {
      if (kForbiddenCommands[i] == command) {
        forbidden[i].fetch_add(1, std::memory_order_relaxed);
        return;
      }
    }
  }

  void CountError(absl::string_view code) {
    for (size_t i = 0; i < kClientErrorCodes.size(); ++i) {
      if (kClientErrorCodes[i] == code) {
        errors[i].fetch_add(1, std::memory_order_relaxed);
        return;
      }
    }
  }
};

inline void Bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
  c.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace channel

#endif  // CHANNEL_GATEWAY_WORKER_STATS_H_
