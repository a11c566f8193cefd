#include "broker/broker_flags.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "broker/app/webhook_url.h"
#include "common/logging/logging.h"
#include "common/ops/flags_env.h"

ABSL_FLAG(std::string, listen, "0.0.0.0", "Address to listen on for clients.");
ABSL_FLAG(uint16_t, port, 2206, "TCP port for clients (0: any free port).");
ABSL_FLAG(std::string, admin_listen, "0.0.0.0",
          "Address of the admin HTTP port (/healthz, /readyz, /metrics).");
ABSL_FLAG(int32_t, admin_port, 2207,
          "Admin HTTP port (0: any free port; -1: disabled).");
ABSL_FLAG(std::string, auth_token, "",
          "Shared secret every client must present in its Hello. Prefer the "
          "CHANNEL_AUTH_TOKEN environment variable: arguments are visible "
          "in ps.");
ABSL_FLAG(uint32_t, max_frame_bytes, 16 << 20,
          "Largest frame accepted, 4-byte header included.");
ABSL_FLAG(uint64_t, max_queued_bytes, 32 << 20,
          "Bytes queued for one connection before it is disconnected as a "
          "slow consumer.");
ABSL_FLAG(uint32_t, max_channel_name_bytes, 256, "Longest channel name.");
ABSL_FLAG(uint32_t, max_channels_per_connection, 10000,
          "Channels one connection may subscribe to.");
ABSL_FLAG(uint32_t, max_channels_per_link, 1000000,
          "Channels one link (a ws-gateway worker, Hello.link) may hold.");
ABSL_FLAG(uint64_t, max_publish_fanout_bytes, 16 << 20,
          "Bytes of event frames one publish may create over all its "
          "channels; larger publishes are refused (LIMIT_EXCEEDED).");
ABSL_FLAG(uint32_t, link_stall_timeout_ms, 10000,
          "A link refusing publishes for backpressure whose output queue has "
          "not moved for this long is closed as a slow consumer.");
ABSL_FLAG(uint32_t, drain_ms, 5000,
          "On SIGTERM: stop accepting and ask clients to move to another "
          "broker (GoAway), spread evenly over this long (0: all at once).");
ABSL_FLAG(uint32_t, shutdown_grace_ms, 5000,
          "After the drain, clients still connected get this long to leave "
          "before they are closed (SHUTTING_DOWN).");
ABSL_FLAG(uint32_t, resubscribe_grace_ms, 5000,
          "After a restart under resuming gateways (the first re-links "
          "within 30 s of the start), publishes are refused (BACKPRESSURE) "
          "for this long, while subscribers re-subscribe. 0: never.");
ABSL_FLAG(uint32_t, max_channels_per_request, 2000,
          "Channel names one Subscribe, Unsubscribe or Publish may carry "
          "(more: LIMIT_EXCEEDED). Bounds the work one frame can cause.");
ABSL_FLAG(uint32_t, max_connections, 100000, "Open connections at most.");
ABSL_FLAG(uint32_t, max_unauthenticated_frame_bytes, 16 << 10,
          "With --auth_token: largest frame accepted before a connection's "
          "Hello (sources in --php_allow_from excepted).");
ABSL_FLAG(uint32_t, max_pending_handshakes, 1000,
          "Connections that have not said Hello yet, at most; past it the "
          "oldest of them is closed.");
ABSL_FLAG(uint32_t, hello_timeout_ms, 5000,
          "A connection must complete its Hello within this time.");
ABSL_FLAG(uint32_t, heartbeat_interval_ms, 10000,
          "Heartbeat sent to idle connections this often.");
ABSL_FLAG(uint32_t, idle_timeout_ms, 35000,
          "Close connections silent for this long (clients heartbeat).");
ABSL_FLAG(std::string, history, "",
          "History for groups whose id matches PATTERN ('*' any bytes): "
          "PATTERN:size=N[,ttl=DURATION], e.g. room-*:size=100,ttl=300s; "
          "size=1 keeps the latest value, size=0 gives offsets only. "
          "Repeatable (first match wins); in CHANNEL_HISTORY separate rules "
          "with ';'. In a cluster (--nats) history lives in NATS JetStream, "
          "one stream per rule; every broker must have the same rules "
          "(docs/PROTOCOL.md \"History\").");
ABSL_FLAG(std::string, presence, "",
          "Member lists for groups whose id matches PATTERN ('*' any bytes): "
          "PATTERN[:max_members=N][,info_bytes=B] (defaults 100 and 1024), "
          "e.g. chat-*:max_members=100,info_bytes=1024. Members are token "
          "users (the gateway's `sub`, info from the token's `info` claim); "
          "every join and leave is told to every member. Repeatable (first "
          "match wins); in CHANNEL_PRESENCE separate rules with ';'. In a "
          "cluster every broker must have the same rules.");
ABSL_FLAG(uint64_t, history_max_bytes, 256ull << 20,
          "Memory all history may hold; past it the oldest events are "
          "dropped first (channel_broker_history_dropped_total).");
ABSL_FLAG(uint32_t, history_recover_max, 300,
          "Most messages one recovery or history read returns; a client "
          "further behind is told recovered:false.");
ABSL_FLAG(uint32_t, history_replicas, 0,
          "Cluster: replicas of each JetStream history stream. 0: 3, or 1 "
          "with a warning when NATS has fewer than 3 JetStream servers.");
ABSL_FLAG(std::string, nats, "",
          "Cluster mode: comma-separated NATS servers "
          "(nats://h1:4222,nats://h2:4222). Empty: a standalone broker.");
ABSL_FLAG(std::string, nats_token, "",
          "NATS token (prefer CHANNEL_NATS_TOKEN in the environment).");
ABSL_FLAG(std::string, nats_user, "", "NATS user.");
ABSL_FLAG(std::string, nats_password, "",
          "NATS password (prefer CHANNEL_NATS_PASSWORD).");
ABSL_FLAG(uint32_t, nats_ping_interval_ms, 2000,
          "Ping NATS this often; two unanswered pings mean NATS is lost "
          "(the broker then stops being ready and sends its clients away).");
ABSL_FLAG(uint32_t, nats_interest_window_ms, 2000,
          "Cluster: brokers share which channels they have subscribers of, "
          "and a publish no other broker wants never goes to NATS. After "
          "connecting, a broker takes this long to know every other broker "
          "(Acks of Subscribes wait for it). 0: off (every publish goes to "
          "NATS).");
ABSL_FLAG(uint64_t, nats_max_inbox_bytes, 64 << 20,
          "Bytes received from NATS that the broker thread has not taken "
          "yet; past it events are dropped (counted as "
          "channel_broker_nats_dropped_total{reason=\"inbox_full\"}) and "
          "their channels' subscribers are closed (CLUSTER_UNAVAILABLE) so "
          "they re-subscribe and hear of the gap.");
ABSL_FLAG(bool, sole_interest, true,
          "Tell clients that ask (ws-gateway) when they are a channel's only "
          "subscriber, so they deliver their own publishes to it without "
          "the broker (standalone only; docs/PROTOCOL.md).");
ABSL_FLAG(uint32_t, sole_release_timeout_ms, 5000,
          "A client that has not released a revoked sole-interest grant "
          "within this time is closed.");
ABSL_FLAG(bool, php_codec, true,
          "Accept Workerman Channel (PHP serialize()) clients on the same "
          "port, told apart by their first frame.");
ABSL_FLAG(std::string, php_allow_from, "",
          "Source networks allowed to speak the PHP codec, e.g. "
          "10.0.0.0/8,127.0.0.1 (the PHP protocol has no token). Empty: any "
          "source without --auth_token, none with it.");
ABSL_FLAG(uint32_t, php_idle_timeout_ms, 130000,
          "Close PHP clients silent this long (they heartbeat every 55 s; "
          "the broker sends them no heartbeats).");
ABSL_FLAG(std::string, php_group_channel, "send_to_group",
          "The seed's PHP channel bridged to ws-gateway groups "
          "(['group_id'=>G,'message'=>M] <-> group:G). Empty: no bridge.");
ABSL_FLAG(uint32_t, php_max_queue_items, 100000,
          "Items one work queue (enqueue/reserve) may hold; more are "
          "refused, counted and logged.");
ABSL_FLAG(uint32_t, php_max_queues, 10000, "Work queues at most.");
ABSL_FLAG(uint64_t, php_max_queue_bytes, 64 << 20,
          "Bytes all work queues may hold together, counting what each item "
          "really costs (its text plus ~40-60 bytes of bookkeeping) and each "
          "queue (~1.7 KiB).");
ABSL_FLAG(uint32_t, php_max_queued_items, 1000000,
          "Items all work queues may hold together.");
ABSL_FLAG(std::string, api_listen, "127.0.0.1",
          "Address of the HTTP API for backends (docs/API.md). Beyond "
          "loopback only with --api_key.");
ABSL_FLAG(int32_t, api_port, -1,
          "HTTP API port (0: any free port; -1: no API). Not the admin port.");
ABSL_FLAG(std::string, api_key, "",
          "Key every API request must send as 'Authorization: Bearer KEY'. "
          "Prefer CHANNEL_API_KEY in the environment.");
ABSL_FLAG(uint64_t, events_keep_bytes, 0,
          "Memory for application events no backend took (a backend "
          "restarting or attaching late): kept, oldest dropped first past "
          "it, and delivered in order to the first consumer of app:events "
          "on this broker or in its queue groups anywhere. 0: not kept "
          "(counted as dropped).");
ABSL_FLAG(uint32_t, events_keep_ms, 60000,
          "Kept application events older than this are dropped, never "
          "delivered.");
ABSL_FLAG(std::string, webhook_url, "",
          "POST application events (ws-gateway --events) to this http(s) URL "
          "in signed batches (docs/API.md \"Webhooks\"). Empty: none.");
ABSL_FLAG(std::string, webhook_secret, "",
          "HMAC-SHA256 key of the webhook's X-Channel-Signature. Prefer "
          "CHANNEL_WEBHOOK_SECRET in the environment.");
ABSL_FLAG(uint32_t, webhook_batch_max, 100, "Most events in one webhook POST.");
ABSL_FLAG(uint32_t, webhook_batch_ms, 100,
          "A webhook batch goes once its oldest event waited this long.");
ABSL_FLAG(uint32_t, webhook_timeout_ms, 5000, "Timeout of one webhook POST.");
ABSL_FLAG(uint32_t, webhook_retry_ms, 60000,
          "A batch without a 2xx answer is retried (backoff 100 ms to 5 s) "
          "this long, then dropped (counted).");
ABSL_FLAG(uint64_t, webhook_max_queue_bytes, 16 << 20,
          "Events waiting for the webhook, in bytes; past it new ones are "
          "dropped (counted).");
ABSL_FLAG(uint64_t, api_max_body_bytes, 1 << 20,
          "Largest API request body (413 past it).");
ABSL_FLAG(double, api_max_requests_per_sec, 0,
          "API requests per second over all clients (429 past it; 0: no "
          "limit).");
ABSL_FLAG(int32_t, api_threads, 0,
          "Ignored (kept so old command lines start): the API is served by "
          "one event-driven thread.");
ABSL_FLAG(uint32_t, api_read_timeout_ms, 5000,
          "Drop API clients that send nothing for this long (inside a "
          "request: 408; idle keep-alive: closed).");
ABSL_FLAG(uint32_t, api_request_timeout_ms, 10000,
          "An API request's first byte to its last: past it, 408 and closed.");
ABSL_FLAG(uint32_t, api_max_connections, 1024,
          "Open API connections in all; at the cap a newcomer closes the one "
          "waiting longest without a complete request (503 if none).");
ABSL_FLAG(uint32_t, api_max_connections_per_source, 32,
          "Open API connections from one address; more are refused (503).");
ABSL_FLAG(std::string, log_level, "info",
          "trace, debug, info, warn, error, critical or off.");

namespace channel {

void ParseBrokerFlags(int argc, char** argv) {
  // --history and --presence may be given several times: absl keeps a
  // flag's last value, so their occurrences are joined first.
  std::vector<std::string> history_args =
      JoinRepeatedFlag(argc, argv, "history", ';');
  std::vector<char*> history_ptrs;
  for (std::string& a : history_args) history_ptrs.push_back(a.data());
  std::vector<std::string> args =
      JoinRepeatedFlag(static_cast<int>(history_ptrs.size()),
                       history_ptrs.data(), "presence", ';');
  std::vector<char*> arg_ptrs;
  for (std::string& a : args) arg_ptrs.push_back(a.data());
  ParseFlagsWithEnvironment(
      static_cast<int>(arg_ptrs.size()), arg_ptrs.data(),
      "pub/sub broker for ws-gateway and backend services.\n"
      "Every flag can also be set as CHANNEL_<FLAG_NAME> in the environment,\n"
      "e.g. CHANNEL_AUTH_TOKEN. Flags may be written --auth-token or "
      "--auth_token.");
}

std::string BrokerLogLevel() { return absl::GetFlag(FLAGS_log_level); }

absl::StatusOr<BrokerOptions> BrokerOptionsFromFlags() {
  BrokerOptions options;
  options.listen_host = absl::GetFlag(FLAGS_listen);
  options.port = absl::GetFlag(FLAGS_port);
  options.auth_token = absl::GetFlag(FLAGS_auth_token);
  options.max_frame_bytes = absl::GetFlag(FLAGS_max_frame_bytes);
  options.max_queued_bytes = absl::GetFlag(FLAGS_max_queued_bytes);
  options.max_channel_name_bytes = absl::GetFlag(FLAGS_max_channel_name_bytes);
  options.max_channels_per_connection =
      absl::GetFlag(FLAGS_max_channels_per_connection);
  options.max_channels_per_request =
      absl::GetFlag(FLAGS_max_channels_per_request);
  options.max_channels_per_link = absl::GetFlag(FLAGS_max_channels_per_link);
  options.max_publish_fanout_bytes =
      absl::GetFlag(FLAGS_max_publish_fanout_bytes);
  options.link_stall_timeout =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_link_stall_timeout_ms));
  options.drain = std::chrono::milliseconds(absl::GetFlag(FLAGS_drain_ms));
  options.shutdown_grace =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_shutdown_grace_ms));
  options.resubscribe_grace =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_resubscribe_grace_ms));
  options.max_connections = absl::GetFlag(FLAGS_max_connections);
  options.hello_timeout =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_hello_timeout_ms));
  options.max_unauthenticated_frame_bytes = std::max<uint32_t>(
      64, absl::GetFlag(FLAGS_max_unauthenticated_frame_bytes));
  options.max_pending_handshakes =
      std::max<uint32_t>(1, absl::GetFlag(FLAGS_max_pending_handshakes));
  options.heartbeat_interval =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_heartbeat_interval_ms));
  options.idle_timeout =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_idle_timeout_ms));
  options.nats_servers = CommaList(absl::GetFlag(FLAGS_nats));
  absl::StatusOr<HistoryRules> history =
      HistoryRules::Parse({absl::GetFlag(FLAGS_history)});
  if (!history.ok()) return history.status();
  options.history = *std::move(history);
  absl::StatusOr<PresenceRules> presence =
      PresenceRules::Parse({absl::GetFlag(FLAGS_presence)});
  if (!presence.ok()) return presence.status();
  options.presence = *std::move(presence);
  options.history_max_bytes = absl::GetFlag(FLAGS_history_max_bytes);
  options.history_recover_max =
      std::clamp<uint32_t>(absl::GetFlag(FLAGS_history_recover_max), 1, 100000);
  options.nats_token = absl::GetFlag(FLAGS_nats_token);
  options.nats_user = absl::GetFlag(FLAGS_nats_user);
  options.nats_password = absl::GetFlag(FLAGS_nats_password);
  options.nats_ping_interval_ms = static_cast<int>(std::clamp<uint32_t>(
      absl::GetFlag(FLAGS_nats_ping_interval_ms), 100, 3600000));
  options.nats_max_inbox_bytes = absl::GetFlag(FLAGS_nats_max_inbox_bytes);
  options.nats_interest_window_ms = static_cast<int>(
      std::min<uint32_t>(absl::GetFlag(FLAGS_nats_interest_window_ms), 600000));
  options.history_replicas = static_cast<int>(
      std::min<uint32_t>(absl::GetFlag(FLAGS_history_replicas), 5));
  options.sole_interest = absl::GetFlag(FLAGS_sole_interest);
  options.sole_release_timeout = std::chrono::milliseconds(std::clamp<uint32_t>(
      absl::GetFlag(FLAGS_sole_release_timeout_ms), 10, 3600000));
  options.events_keep_bytes = absl::GetFlag(FLAGS_events_keep_bytes);
  options.events_keep_age = std::chrono::milliseconds(
      std::max<uint32_t>(1, absl::GetFlag(FLAGS_events_keep_ms)));
  options.webhook.url = absl::GetFlag(FLAGS_webhook_url);
  options.webhook.secret = absl::GetFlag(FLAGS_webhook_secret);
  options.webhook.batch_max_events =
      std::max<uint32_t>(1, absl::GetFlag(FLAGS_webhook_batch_max));
  options.webhook.batch_delay =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_webhook_batch_ms));
  options.webhook.timeout =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_webhook_timeout_ms));
  options.webhook.retry_for =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_webhook_retry_ms));
  options.webhook.max_queued_bytes =
      absl::GetFlag(FLAGS_webhook_max_queue_bytes);
  if (!options.webhook.url.empty()) {
    absl::StatusOr<WebhookUrl> url = ParseWebhookUrl(options.webhook.url);
    if (!url.ok()) return url.status();
    options.webhook.url = url->Normalized();
  }
  options.php_enabled = absl::GetFlag(FLAGS_php_codec);
  options.php_allow_from = absl::GetFlag(FLAGS_php_allow_from);
  options.php_idle_timeout =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_php_idle_timeout_ms));
  options.php_group_channel = absl::GetFlag(FLAGS_php_group_channel);
  options.php_max_queue_items = absl::GetFlag(FLAGS_php_max_queue_items);
  options.php_max_queues = absl::GetFlag(FLAGS_php_max_queues);
  options.php_max_queue_bytes = absl::GetFlag(FLAGS_php_max_queue_bytes);
  options.php_max_queued_items = absl::GetFlag(FLAGS_php_max_queued_items);
  if (options.max_frame_bytes < 64 || options.max_channels_per_request == 0 ||
      options.heartbeat_interval.count() == 0 ||
      options.idle_timeout <= options.heartbeat_interval) {
    return absl::InvalidArgumentError(
        "invalid limits: --max_frame_bytes must be >= 64, "
        "--max_channels_per_request > 0, "
        "--heartbeat_interval_ms > 0 and --idle_timeout_ms > "
        "--heartbeat_interval_ms");
  }
  return options;
}

std::optional<ApiOptions> ApiOptionsFromFlags() {
  const int32_t api_port = absl::GetFlag(FLAGS_api_port);
  if (api_port < 0) return std::nullopt;
  ApiOptions api_options;
  api_options.listen_host = absl::GetFlag(FLAGS_api_listen);
  api_options.port = static_cast<uint16_t>(api_port);
  api_options.api_key = absl::GetFlag(FLAGS_api_key);
  api_options.max_body_bytes = absl::GetFlag(FLAGS_api_max_body_bytes);
  api_options.max_requests_per_sec =
      absl::GetFlag(FLAGS_api_max_requests_per_sec);
  if (absl::GetFlag(FLAGS_api_threads) != 0) {
    spdlog::warn(
        "--api_threads is ignored: the API has one event-driven "
        "thread");
  }
  api_options.read_timeout =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_api_read_timeout_ms));
  api_options.request_timeout =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_api_request_timeout_ms));
  api_options.max_connections =
      std::max<uint32_t>(1, absl::GetFlag(FLAGS_api_max_connections));
  api_options.max_connections_per_source = std::max<uint32_t>(
      1, absl::GetFlag(FLAGS_api_max_connections_per_source));
  return api_options;
}

AdminAddress AdminAddressFromFlags() {
  return {absl::GetFlag(FLAGS_admin_listen), absl::GetFlag(FLAGS_admin_port)};
}

}  // namespace channel
