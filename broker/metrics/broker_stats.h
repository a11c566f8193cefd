#ifndef CHANNEL_BROKER_METRICS_BROKER_STATS_H_
#define CHANNEL_BROKER_METRICS_BROKER_STATS_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "net/framed_stream.h"

namespace channel {

// Workerman Channel command types, as counted in BrokerStats.
inline constexpr std::array<const char*, 9> kPhpCommandTypes = {
    "subscribe", "unsubscribe", "publish", "publishLoop", "watch",
    "unwatch",   "enqueue",     "reserve", "unknown"};

// Counters of one broker. Owned by the broker's io thread; read by the admin
// server's handlers on the same thread, so plain integers suffice.
struct BrokerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_rejected = 0;  // over --max_connections
  uint64_t connections_closed = 0;
  uint64_t handshakes = 0;
  uint64_t auth_failures = 0;
  uint64_t pending_handshakes_shed = 0;  // over --max_pending_handshakes
  // Shutdown's drain: clients asked to move (GoAway), clients closed at
  // their turn because their codec cannot be asked (PHP, no Hello yet).
  uint64_t drain_moves = 0;
  uint64_t drain_closes = 0;
  StreamCounters stream;  // bytes and frames of every session together
  uint64_t publishes = 0;
  // Publishes refused by admission (Router::Publish): over
  // --max_publish_fanout_bytes, or a link that could not take them.
  uint64_t publishes_refused_too_large = 0;
  uint64_t publishes_refused_backpressure = 0;
  uint64_t publishes_refused_history = 0;  // the history sink refused
  // Publishes refused while subscribers re-subscribe after a restart.
  uint64_t publishes_refused_restarting = 0;
  uint64_t events_delivered = 0;  // event frames queued to subscribers
  // Events of a queue group channel that no member of a group could take.
  uint64_t queue_events_dropped = 0;
  uint64_t slow_consumer_disconnects = 0;
  uint64_t idle_timeouts = 0;
  uint64_t cluster_forward_failures = 0;  // NATS publishes that failed
  // Open connections by codec ("protobuf", "php"), from their first frame.
  absl::flat_hash_map<std::string, int64_t> connections_by_codec;
  // Workerman Channel (PHP) clients.
  // By type, in the order of kPhpCommandTypes; the last is "unknown".
  std::array<uint64_t, 9> php_commands{};
  uint64_t php_bad_bodies = 0;      // malformed bodies (connection closed)
  uint64_t php_refused = 0;         // sources not allowed
  uint64_t php_queue_rejected = 0;  // enqueues over a queue bound
  // Errors sent to peers, by kind (the Error code name, lower case, or a
  // finer protocol error such as "bad_length").
  absl::flat_hash_map<std::string, uint64_t> errors_by_kind;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_METRICS_BROKER_STATS_H_
