#ifndef CHANNEL_GATEWAY_GATEWAY_OPTIONS_H_
#define CHANNEL_GATEWAY_GATEWAY_OPTIONS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "client/broker_client.h"
#include "gateway/auth/token_verifier.h"
#include "gateway/commands/command.h"

namespace channel {

// Everything ws-gateway's main.cc reads from flags.
struct GatewayOptions {
  std::string listen_host = "0.0.0.0";
  uint16_t port = 1234;
  int threads = 1;

  size_t max_message_bytes = 1 << 20;  // larger client frames: close 1009
  size_t max_queued_bytes = 1 << 20;   // per connection; past it: close 1008
  size_t max_groups_per_connection = 1000;
  // Distinct groups one worker may hold (its broker link holds them plus one
  // user channel per connection: keep the sum under the broker's
  // --max_channels_per_link, 1,000,000 by default).
  size_t max_groups_per_worker = 500000;
  CommandLimits command_limits;

  std::chrono::milliseconds ping_interval{25000};
  std::chrono::milliseconds pong_timeout{10000};
  std::chrono::milliseconds close_timeout{3000};  // closing peers get this long
  // SIGTERM: clients are closed (1012) evenly over `drain`, each once the
  // replies it awaits are sent; then those still closing get
  // `shutdown_grace` before the process exits anyway.
  std::chrono::milliseconds drain{5000};
  std::chrono::milliseconds shutdown_grace{10000};

  std::vector<std::string> allowed_origins;  // empty: any origin
  bool demo_page = true;                     // GET / and /channel-client.js

  // wss: PEM certificate chain and private key; both empty: plain ws.
  std::string tls_cert;
  std::string tls_key;

  // Floods and slow-loris clients.
  double rate_limit_per_sec = 200;  // messages per connection; 0: no limit
  double rate_limit_burst = 400;
  // Bytes of messages per connection and second (token bucket, burst twice
  // --max_message_bytes or the rate, whichever is larger): bounds the CPU
  // one connection can make its worker spend on parsing. 0: no limit.
  double rate_limit_bytes_per_sec = 2 << 20;
  int rate_limit_close_after = 100;       // refused in a row, then close 1008
  int64_t max_connections = 100000;       // per process
  int64_t max_pending_handshakes = 1000;  // accepted, not yet upgraded
  // From one address, once half of max_pending_handshakes is taken; 0: off.
  int64_t max_pending_handshakes_per_source = 64;
  std::chrono::milliseconds handshake_timeout{5000};

  // Tokens (docs/CLIENT-PROTOCOL.md "Tokens"); see TokenVerifier.
  TokenVerifier::Options tokens;
  std::chrono::milliseconds auth_timeout{10000};

  // The application's seat (gateway/app, docs/PROTOCOL.md "Application
  // events").
  struct App {
    bool events = false;  // publish connection events; custom commands
    std::chrono::milliseconds backend_timeout{1000};
    uint16_t max_pending_per_connection = 16;
    // Request headers and cookies a connect event carries, by name
    // (headers matched case-insensitively).
    std::vector<std::string> event_headers;
    std::vector<std::string> event_cookies;
    bool event_query = false;  // the query string too (it may hold a token)
    // Group id patterns ('*' = any run) whose joins the backend decides.
    std::vector<std::string> ask_backend;
    // Connection events held per worker while its broker link is down.
    size_t hold_bytes = 1 << 20;
  } app;

  BrokerClientOptions broker;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_GATEWAY_OPTIONS_H_
