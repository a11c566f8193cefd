#ifndef CHANNEL_BROKER_BROKER_OPTIONS_H_
#define CHANNEL_BROKER_BROKER_OPTIONS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "broker/app/webhook_sink.h"
#include "common/history/history_rules.h"
#include "common/presence/presence_rules.h"

namespace channel {

// Everything main.cc reads from flags, in one value so tests can build a
// broker without flags. Defaults match the flags' defaults.
struct BrokerOptions {
  WebhookOptions webhook;  // --webhook_url and friends
  std::string listen_host = "0.0.0.0";
  uint16_t port = 2206;
  std::string auth_token;  // empty: no authentication

  uint32_t max_frame_bytes = 16 << 20;  // total frame length
  size_t max_queued_bytes = 32 << 20;   // per connection output queue
  size_t max_channel_name_bytes = 256;
  size_t max_channels_per_connection = 10000;
  // The same for a link (Hello.link, a gateway worker), which holds every
  // group of its members: sized for what a worker holds (ws-gateway's
  // --max_groups_per_worker plus one user channel per connection).
  size_t max_channels_per_link = 1000000;
  // Keys bound to a queue group member (QueueGroups), over all groups.
  size_t max_queue_bindings = 1000000;
  // Events nobody took that their publisher marked Metadata.keep (a
  // gateway's connection events), kept for their channel's first consumer
  // (KeptEvents): bytes over all of them (0: none kept) and their age.
  size_t events_keep_bytes = 0;
  std::chrono::milliseconds events_keep_age{60000};
  // Bytes of event frames one publish may create over all its channels
  // (each channel's event carries the payload): bounds the memory one
  // request can make the broker allocate, and keeps any one publish within
  // half of a link's output queue so that flow control can admit it.
  size_t max_publish_fanout_bytes = 16 << 20;
  // A link refusing publishes for backpressure whose output queue has not
  // moved for this long (its peer stopped reading) is closed as a slow
  // consumer; its gateway re-links and tells its members (gap).
  std::chrono::milliseconds link_stall_timeout{10000};
  // When the first client resuming from another broker's id
  // (Hello.resuming_from; standalone only) comes while this broker is young
  // (30 s, or six of these), the broker restarted under its clients:
  // publishes are refused with BACKPRESSURE for this long from then, so
  // that no publish is acknowledged before the subscribers still
  // re-linking could re-subscribe. 0: never.
  std::chrono::milliseconds resubscribe_grace{5000};
  // Shutdown (SIGTERM): the broker stops accepting and asks its clients to
  // move to another broker (GoAway), spread evenly over `drain`; PHP
  // clients, which cannot be asked, are closed at their turn. Whoever is
  // still connected `shutdown_grace` after the drain is closed with
  // SHUTTING_DOWN.
  std::chrono::milliseconds drain{5000};
  std::chrono::milliseconds shutdown_grace{5000};
  // Names in one Subscribe, Unsubscribe or Publish: bounds a frame's work.
  size_t max_channels_per_request = 2000;
  size_t max_connections = 100000;
  // Presence entries (groups + users) one reporting connection may hold.
  size_t max_presence_entries_per_connection = 1000000;

  // Before a connection has said its Hello (with --auth_token set, and
  // unless its source is in php_allow_from, whose PHP clients have no
  // Hello): frames over this are refused, so that nobody unauthenticated
  // makes the broker buffer a large frame.
  uint32_t max_unauthenticated_frame_bytes = 16 << 10;
  // Connections that have not said their Hello (or first PHP frame) yet, at
  // most; past it the oldest of them is closed. With the frame bound above
  // this bounds the memory all unauthenticated connections hold together.
  size_t max_pending_handshakes = 1000;
  std::chrono::milliseconds hello_timeout{5000};
  std::chrono::milliseconds heartbeat_interval{10000};
  std::chrono::milliseconds idle_timeout{35000};

  // Sole interest (SoleInterest): tell clients that ask when they alone
  // hold a channel; standalone only.
  bool sole_interest = true;
  // A holder that has not released a revoked grant by then is closed.
  std::chrono::milliseconds sole_release_timeout{5000};

  // History (docs/PROTOCOL.md "History"; standalone): groups matching a
  // rule get offsets, an epoch and their last messages kept in memory.
  HistoryRules history;
  // Groups with member lists (docs/PROTOCOL.md "Presence members").
  PresenceRules presence;
  size_t history_max_bytes = 256 << 20;  // everything history holds
  uint32_t history_recover_max = 300;    // events per recovery or read
  // Cluster: replicas of each JetStream history stream (0: 3, or 1 when
  // NATS cannot place 3).
  int history_replicas = 0;

  // Cluster mode: NATS servers (nats://host:port); empty: standalone.
  std::vector<std::string> nats_servers;
  std::string nats_token;
  std::string nats_user;
  std::string nats_password;
  int nats_ping_interval_ms = 2000;        // NATS liveness (NatsLink::Options)
  size_t nats_max_inbox_bytes = 64 << 20;  // NatsLink::Options
  // Shared channel interest (ClusterInterest): the start-up window in ms;
  // 0 turns it off (every publish goes to NATS, as NATS routes it).
  int nats_interest_window_ms = 2000;

  // Workerman Channel (PHP serialize()) clients on the same port.
  bool php_enabled = true;
  // Source networks ("10.0.0.0/8,::1/128") allowed to speak the PHP codec.
  // Empty: any source when there is no auth_token, none when there is one
  // (the PHP protocol has no token).
  std::string php_allow_from;
  // PHP clients heartbeat every 55 s (25 s in old versions) and cannot
  // parse heartbeats: the broker sends them none and waits this long.
  std::chrono::milliseconds php_idle_timeout{130000};
  // The seed's channel bridged to ws-gateway groups (empty: no bridge).
  std::string php_group_channel = "send_to_group";
  // Work queues (enqueue/reserve): items per queue, queues, bytes in all.
  size_t php_max_queue_items = 100000;
  size_t php_max_queues = 10000;
  size_t php_max_queue_bytes = 64 << 20;  // what the items really cost
  size_t php_max_queued_items = 1000000;  // over all queues
};

}  // namespace channel

#endif  // CHANNEL_BROKER_BROKER_OPTIONS_H_
