// ws-gateway: flags, logging and wiring only. See README.md.
#include <csignal>
#include <cstdio>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "asio/io_context.hpp"
#include "asio/ip/address.hpp"
#include "common/admin/serve_until_signal.h"
#include "common/host_port.h"
#include "common/logging/logging.h"
#include "common/ops/flags_env.h"
#include "common/ops/read_file.h"
#include "common/version.h"
#include "gateway/gateway_server.h"

ABSL_FLAG(std::string, listen, "0.0.0.0", "Address for WebSocket clients.");
ABSL_FLAG(uint16_t, port, 1234, "WebSocket port (0: any free port).");
ABSL_FLAG(std::string, admin_listen, "0.0.0.0",
          "Address of the admin HTTP port (/healthz, /readyz, /metrics).");
ABSL_FLAG(int32_t, admin_port, 9234,
          "Admin HTTP port (0: any free port; -1: disabled).");
ABSL_FLAG(std::string, broker, "127.0.0.1:2206",
          "channel-broker address, HOST:PORT; several (a cluster) as "
          "HOST:PORT,HOST:PORT: a lost broker is replaced by the next. A "
          "name that resolves to several addresses works too.");
ABSL_FLAG(std::string, auth_token, "",
          "The broker's shared secret. Prefer the CHANNEL_AUTH_TOKEN "
          "environment variable: arguments are visible in ps.");
ABSL_FLAG(int32_t, threads, 0,
          "Worker threads, each with its own connections (0: one per core; "
          "at most 64).");
ABSL_FLAG(uint64_t, max_message_bytes, 1 << 20,
          "Largest client message; a larger one closes the connection with "
          "1009.");
ABSL_FLAG(uint64_t, max_queued_bytes, 1 << 20,
          "Bytes queued for one client before it is closed as slow (1008).");
ABSL_FLAG(uint32_t, max_group_id_bytes, 128, "Longest group id.");
ABSL_FLAG(uint32_t, max_groups_per_connection, 1000,
          "Groups one connection may join.");
ABSL_FLAG(uint32_t, max_groups_per_worker, 500000,
          "Distinct groups one worker thread may hold (joins of new groups "
          "past it get gateway_full); with one user channel per connection, "
          "keep it under the broker's --max_channels_per_link.");
ABSL_FLAG(uint32_t, ping_interval_ms, 25000,
          "WebSocket ping to every client this often.");
ABSL_FLAG(uint32_t, pong_timeout_ms, 10000,
          "Close clients silent for ping_interval + this.");
ABSL_FLAG(uint32_t, drain_ms, 5000,
          "On SIGTERM, close clients (WebSocket 1012, reconnect elsewhere) "
          "spread evenly over this long, so their reconnects do not reach "
          "the other gateways at once. 0: all at once.");
ABSL_FLAG(uint32_t, shutdown_grace_ms, 10000,
          "On SIGTERM, after the drain, wait this long for clients to "
          "close before exiting.");
ABSL_FLAG(std::string, allowed_origins, "",
          "Comma-separated Origin values allowed to connect (empty: any).");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain for wss on the WebSocket port (with "
          "--tls_key). Empty: plain ws.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert.");
ABSL_FLAG(double, rate_limit_per_sec, 200,
          "Messages per second one connection may send (token bucket; 0: no "
          "limit). Over it, messages are refused with rate_limited.");
ABSL_FLAG(double, rate_limit_burst, 400, "Token bucket size.");
ABSL_FLAG(double, rate_limit_bytes_per_sec, 2 << 20,
          "Bytes of messages per connection and second (burst: twice "
          "--max_message_bytes); over it messages are refused with "
          "rate_limited. Bounds the CPU one connection takes. 0: no limit.");
ABSL_FLAG(int32_t, rate_limit_close_after, 100,
          "Close a connection (1008) after this many refused messages in a "
          "row.");
ABSL_FLAG(int64_t, max_connections, 100000,
          "WebSocket connections per process; more are refused with 503.");
ABSL_FLAG(
    int64_t, max_pending_handshakes_per_source, 64,
    "Once half of --max_pending_handshakes is taken: connections from one "
    "source address that may be in their opening handshake at once; "
    "more are dropped at accept. 0: no such bound (e.g. every client "
    "behind one proxy).");
ABSL_FLAG(int64_t, max_pending_handshakes, 1000,
          "Connections accepted but not yet upgraded; past it each newcomer "
          "ends its worker's oldest pending one (slow-loris defence).");
ABSL_FLAG(uint32_t, handshake_timeout_ms, 5000,
          "A connection must complete its WebSocket upgrade within this time.");
ABSL_FLAG(uint32_t, broker_heartbeat_ms, 10000,
          "Heartbeat to the broker when idle this long.");
ABSL_FLAG(uint32_t, broker_backoff_max_ms, 2000,
          "Ceiling of the broker reconnect backoff (keep it under the "
          "broker's --resubscribe_grace_ms).");
ABSL_FLAG(std::string, token_hmac_secret, "",
          "Verify client tokens (JWT HS256/384/512) with this secret; "
          "connections must then authenticate. Prefer the environment "
          "(CHANNEL_TOKEN_HMAC_SECRET) or --token_hmac_secret_file.");
ABSL_FLAG(std::string, token_hmac_secret_file, "",
          "File holding the HMAC secret (trailing newline ignored).");
ABSL_FLAG(std::string, token_public_key, "",
          "PEM public key file (RSA: RS256/384/512, EC: ES256/384/512) to "
          "verify client tokens; connections must then authenticate.");
ABSL_FLAG(std::string, token_issuer, "",
          "When set, tokens must carry this iss.");
ABSL_FLAG(std::string, token_audience, "",
          "When set, tokens must carry this aud.");
ABSL_FLAG(uint32_t, auth_timeout_ms, 10000,
          "With tokens: close (4002) connections not authenticated by then.");
ABSL_FLAG(bool, events, false,
          "Publish every connection's events (connect, message, join, leave, "
          "close) to the broker's app:events channel for the application's "
          "backends, and pass commands other than the built-ins to them "
          "(docs/PROTOCOL.md \"Application events\"). Off: such commands "
          "get unknown_cmd.");
ABSL_FLAG(uint32_t, backend_timeout_ms, 1000,
          "A custom command with an id (or a join the backend decides) "
          "gets backend_timeout when no backend answered within this long.");
ABSL_FLAG(uint64_t, events_hold_bytes, 1 << 20,
          "Connection events (connect, join, leave, close) each worker "
          "holds while its broker link is down, sent in order when it is "
          "back; past it they are dropped and counted. 0: none held.");
ABSL_FLAG(std::string, event_headers, "",
          "Comma-separated request headers a connect event carries (e.g. "
          "User-Agent,X-Forwarded-For).");
ABSL_FLAG(std::string, event_cookies, "",
          "Comma-separated cookie names a connect event carries.");
ABSL_FLAG(bool, event_query, false,
          "A connect event carries the request's query string (which may "
          "hold a token).");
ABSL_FLAG(std::string, ask_backend, "",
          "Comma-separated group id patterns ('*' = any run of bytes) whose "
          "joins the backend decides (a join_request event; refused on "
          "timeout). Needs --events.");
ABSL_FLAG(bool, demo_page, true,
          "Serve the demo chat at GET / and the browser client at "
          "/channel-client.js on the WebSocket port.");
ABSL_FLAG(std::string, log_level, "info",
          "trace, debug, info, warn, error, critical or off.");

int main(int argc, char** argv) {
  channel::ParseFlagsWithEnvironment(
      argc, argv,
      "WebSocket gateway: group messaging across gateways through "
      "channel-broker.\n"
      "Every flag can also be set as CHANNEL_<FLAG_NAME> in the environment,\n"
      "e.g. CHANNEL_AUTH_TOKEN. Flags may be written --auth-token or "
      "--auth_token.");
  if (absl::Status s =
          channel::InitLogging("gateway", absl::GetFlag(FLAGS_log_level));
      !s.ok()) {
    std::fprintf(stderr, "ws-gateway: %s\n", std::string(s.message()).c_str());
    return 1;
  }

  channel::GatewayOptions options;
  options.listen_host = absl::GetFlag(FLAGS_listen);
  options.port = absl::GetFlag(FLAGS_port);
  int threads = absl::GetFlag(FLAGS_threads);
  if (threads <= 0) threads = std::max(1u, std::thread::hardware_concurrency());
  if (threads > 64) {
    spdlog::critical("--threads must be at most 64, got {}", threads);
    return 1;
  }
  options.threads = threads;
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  options.max_queued_bytes = absl::GetFlag(FLAGS_max_queued_bytes);
  options.max_groups_per_connection =
      absl::GetFlag(FLAGS_max_groups_per_connection);
  options.max_groups_per_worker = absl::GetFlag(FLAGS_max_groups_per_worker);
  options.command_limits.max_group_id_bytes =
      absl::GetFlag(FLAGS_max_group_id_bytes);
  options.ping_interval =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_ping_interval_ms));
  options.pong_timeout =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_pong_timeout_ms));
  options.drain = std::chrono::milliseconds(absl::GetFlag(FLAGS_drain_ms));
  options.shutdown_grace =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_shutdown_grace_ms));
  options.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key = absl::GetFlag(FLAGS_tls_key);
  options.rate_limit_per_sec = absl::GetFlag(FLAGS_rate_limit_per_sec);
  options.rate_limit_burst = absl::GetFlag(FLAGS_rate_limit_burst);
  options.rate_limit_bytes_per_sec =
      absl::GetFlag(FLAGS_rate_limit_bytes_per_sec);
  options.rate_limit_close_after = absl::GetFlag(FLAGS_rate_limit_close_after);
  options.max_connections = absl::GetFlag(FLAGS_max_connections);
  options.max_pending_handshakes = absl::GetFlag(FLAGS_max_pending_handshakes);
  options.max_pending_handshakes_per_source =
      absl::GetFlag(FLAGS_max_pending_handshakes_per_source);
  options.handshake_timeout =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_handshake_timeout_ms));
  if (options.rate_limit_per_sec > 0 && options.rate_limit_burst < 1) {
    spdlog::critical("--rate_limit_burst must be >= 1 when a rate is set");
    return 1;
  }
  for (absl::string_view origin : absl::StrSplit(
           absl::GetFlag(FLAGS_allowed_origins), ',', absl::SkipWhitespace())) {
    options.allowed_origins.emplace_back(origin);
  }
  options.demo_page = absl::GetFlag(FLAGS_demo_page);
  options.app.events = absl::GetFlag(FLAGS_events);
  options.command_limits.custom_commands = options.app.events;
  options.app.backend_timeout =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_backend_timeout_ms));
  options.app.event_query = absl::GetFlag(FLAGS_event_query);
  options.app.hold_bytes = absl::GetFlag(FLAGS_events_hold_bytes);
  options.app.event_headers =
      channel::CommaList(absl::GetFlag(FLAGS_event_headers));
  options.app.event_cookies =
      channel::CommaList(absl::GetFlag(FLAGS_event_cookies));
  options.app.ask_backend =
      channel::CommaList(absl::GetFlag(FLAGS_ask_backend));
  if (!options.app.ask_backend.empty() && !options.app.events) {
    spdlog::error(
        "--ask_backend needs --events: no backend would hear the "
        "join requests");
    return 2;
  }
  options.tokens.hmac_secret = absl::GetFlag(FLAGS_token_hmac_secret);
  if (const std::string file = absl::GetFlag(FLAGS_token_hmac_secret_file);
      !file.empty()) {
    absl::StatusOr<std::string> secret = channel::ReadSmallFile(file);
    if (!secret.ok()) {
      spdlog::critical("--token_hmac_secret_file: {}",
                       secret.status().message());
      return 1;
    }
    options.tokens.hmac_secret =
        std::string(absl::StripTrailingAsciiWhitespace(*secret));
  }
  if (const std::string file = absl::GetFlag(FLAGS_token_public_key);
      !file.empty()) {
    absl::StatusOr<std::string> pem = channel::ReadSmallFile(file);
    if (!pem.ok()) {
      spdlog::critical("--token_public_key: {}", pem.status().message());
      return 1;
    }
    options.tokens.public_key_pem = *std::move(pem);
  }
  if (!options.tokens.hmac_secret.empty() &&
      options.tokens.hmac_secret.size() < 32) {
    spdlog::warn("the token HMAC secret has {} bytes; use at least 32",
                 options.tokens.hmac_secret.size());
  }
  options.tokens.issuer = absl::GetFlag(FLAGS_token_issuer);
  options.tokens.audience = absl::GetFlag(FLAGS_token_audience);
  options.auth_timeout =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_auth_timeout_ms));
  if (options.ping_interval.count() == 0 || options.max_message_bytes == 0) {
    spdlog::critical("--ping_interval_ms and --max_message_bytes must be > 0");
    return 1;
  }

  const std::string broker = absl::GetFlag(FLAGS_broker);
  absl::StatusOr<std::vector<std::pair<std::string, uint16_t>>> brokers =
      channel::ParseHostPorts(broker);
  if (!brokers.ok()) {
    spdlog::critical("--broker must be HOST:PORT[,HOST:PORT...]: {}",
                     brokers.status().message());
    return 1;
  }
  options.broker.host = (*brokers)[0].first;
  options.broker.port = (*brokers)[0].second;
  if (brokers->size() > 1) options.broker.endpoints = *std::move(brokers);
  options.broker.auth_token = absl::GetFlag(FLAGS_auth_token);
  options.broker.heartbeat_interval =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_broker_heartbeat_ms));
  options.broker.backoff_max =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_broker_backoff_max_ms));
  // The broker link accepts any frame the broker does (16 MiB by default):
  // backend services may publish larger messages than clients may send, and
  // refusing one would drop the link for every group.

  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context main_io(1);
  channel::GatewayServer gateway(main_io, options);
  spdlog::info("ws-gateway {} starting (id {}, {} threads, broker {})",
               channel::kVersion, gateway.gateway_id(), threads, broker);
  if (absl::Status s = gateway.Start(); !s.ok()) {
    spdlog::critical("{}", s.message());
    return 1;
  }
  spdlog::info("listening on {}:{} ({})", options.listen_host, gateway.port(),
               options.tls_cert.empty() ? "ws" : "wss");
  const bool tokens = !options.tokens.hmac_secret.empty() ||
                      !options.tokens.public_key_pem.empty();
  std::error_code ec;
  const auto listen_address = asio::ip::make_address(options.listen_host, ec);
  if (!tokens && (ec || !listen_address.is_loopback())) {
    spdlog::warn(
        "no --token_hmac_secret or --token_public_key: any client that "
        "reaches {}:{} may join and send to any group",
        options.listen_host, gateway.port());
  }

  const int rc = channel::ServeUntilSignal(
      main_io,
      {[&gateway] { return gateway.NotReadyReason(); },
       [&gateway] { return gateway.RenderMetrics(); }},
      absl::GetFlag(FLAGS_admin_listen), absl::GetFlag(FLAGS_admin_port),
      [&gateway](std::function<void()> done) {
        gateway.Shutdown(std::move(done));
      });
  if (rc != 0) return rc;
  spdlog::info("ws-gateway stopped");
  return 0;
}
