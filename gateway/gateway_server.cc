#include "gateway/gateway_server.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "asio/post.hpp"
#include "common/logging/log_limiter.h"
#include "common/logging/logging.h"
#include "common/ops/prometheus_text.h"
#include "common/random_id.h"
#include "gateway/tls/tls_context.h"

namespace channel {
GatewayServer::GatewayServer(asio::io_context& main_io, GatewayOptions options)
    : main_io_(main_io),
      options_(std::move(options)),
      gateway_id_(RandomId()),
      grace_timer_(main_io) {}

// Builds the wss context from --tls_cert/--tls_key; leaves *out null for ws.
static absl::Status LoadTls(const GatewayOptions& options,
                            std::unique_ptr<TlsContext>* out) {
  if (options.tls_cert.empty() && options.tls_key.empty())
    return absl::OkStatus();
  if (options.tls_cert.empty() || options.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  absl::StatusOr<std::unique_ptr<TlsContext>> tls =
      TlsContext::Load(options.tls_cert, options.tls_key);
  if (!tls.ok()) return tls.status();
  *out = *std::move(tls);
  return absl::OkStatus();
}

GatewayServer::~GatewayServer() {
  for (auto& w : workers_) w->Stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

absl::Status GatewayServer::Start() {
  if (absl::Status s = LoadTls(options_, &tls_); !s.ok()) return s;
  absl::StatusOr<TokenVerifier> verifier =
      TokenVerifier::Create(options_.tokens);
  if (!verifier.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--token_public_key: ", verifier.status().message()));
  }
  verifier_ = *std::move(verifier);
  for (int i = 0; i < options_.threads; ++i) {
    workers_.push_back(std::make_unique<Worker>(
        i, options_, gateway_id_, &limits_, &verifier_, tls_.get()));
  }
  uint16_t port = options_.port;
  for (auto& worker : workers_) {
    uint16_t bound = 0;
    if (absl::Status s = worker->Listen(options_.listen_host, port, &bound);
        !s.ok()) {
      return s;
    }
    port = bound;  // port 0: the others share the first one's port
  }
  port_ = port;
  for (auto& worker : workers_) {
    threads_.emplace_back([w = worker.get()] { w->Run(); });
  }
  return absl::OkStatus();
}

void GatewayServer::Shutdown(std::function<void()> done) {
  if (shutting_down_) return;
  shutting_down_ = true;
  on_shutdown_done_ = std::move(done);
  spdlog::info(
      "shutting down: not ready, not accepting; closing clients with 1012 "
      "over {} ms (then a grace of {} ms)",
      options_.drain.count(), options_.shutdown_grace.count());
  grace_timer_.expires_after(options_.drain + options_.shutdown_grace);
  grace_timer_.async_wait([this](const std::error_code& ec) {
    if (ec) return;
    spdlog::warn("grace period over with clients still closing; exiting");
    FinishShutdown();
  });
  for (auto& worker : workers_) {
    worker->PostShutdown([this] {
      asio::post(main_io_, [this] {
        if (++idle_workers_ == workers_.size()) FinishShutdown();
      });
    });
  }
}

void GatewayServer::FinishShutdown() {
  if (!on_shutdown_done_) return;
  uint64_t drained = 0;
  uint64_t after_close = 0;
  for (const auto& w : workers_) {
    drained += w->stats().drain_closes.load(std::memory_order_relaxed);
    after_close +=
        w->stats().messages_after_close.load(std::memory_order_relaxed);
  }
  // Tests read this line: the gateway's own account of its drain.
  spdlog::info(
      "drained {} connection(s); {} client message(s) arrived after their "
      "connection's close frame and were not answered",
      drained, after_close);
  grace_timer_.cancel();
  for (auto& w : workers_) w->Stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  auto done = std::move(on_shutdown_done_);
  on_shutdown_done_ = nullptr;
  done();
}

std::string GatewayServer::NotReadyReason() const {
  if (shutting_down_) return "shutting down";
  if (limits_.links_up.load() < static_cast<int64_t>(workers_.size())) {
    return "no broker link";
  }
  return "";
}

std::string GatewayServer::RenderMetrics() const {
  auto sum = [this](auto member) {
    double total = 0;
    for (const auto& w : workers_) {
      total += (w->stats().*member).load(std::memory_order_relaxed);
    }
    return total;
  };
  PrometheusText m;
  m.Gauge("channel_gateway_connections", "Open WebSocket connections.",
          sum(&WorkerStats::connections));
  m.Counter("channel_gateway_connections_accepted_total",
            "WebSocket connections opened.",
            sum(&WorkerStats::connections_accepted));
  m.Counter("channel_gateway_connections_closed_total",
            "WebSocket connections closed.",
            sum(&WorkerStats::connections_closed));
  const char* kRefusedHelp =
      "WebSocket handshakes refused, by reason (origin not allowed, "
      "shutting down, --max_connections, --max_pending_handshakes, "
      "--max_pending_handshakes_per_source).";
  m.Counter("channel_gateway_handshakes_refused_total", kRefusedHelp,
            sum(&WorkerStats::handshakes_refused_origin),
            {{"reason", "origin"}});
  m.Counter("channel_gateway_handshakes_refused_total", kRefusedHelp,
            sum(&WorkerStats::handshakes_refused_shutdown),
            {{"reason", "shutting_down"}});
  m.Counter("channel_gateway_handshakes_refused_total", kRefusedHelp,
            sum(&WorkerStats::handshakes_refused_full),
            {{"reason", "max_connections"}});
  m.Counter("channel_gateway_handshakes_refused_total", kRefusedHelp,
            sum(&WorkerStats::handshakes_refused_pending),
            {{"reason", "max_pending_handshakes"}});
  m.Counter("channel_gateway_handshakes_refused_total", kRefusedHelp,
            sum(&WorkerStats::handshakes_refused_pending_source),
            {{"reason", "max_pending_handshakes_per_source"}});
  m.Counter("channel_gateway_tls_handshakes_failed_total",
            "wss connections that ended before their TLS handshake "
            "completed: not TLS (plain HTTP, garbage), a TLS error, no "
            "ClientHello within --handshake_timeout_ms, the peer gone, or "
            "shed as the oldest pending handshake.",
            sum(&WorkerStats::tls_handshakes_failed));
  m.Counter("channel_gateway_handshakes_shed_total",
            "Pending handshakes ended, oldest first, to take a newcomer "
            "over --max_pending_handshakes.",
            sum(&WorkerStats::handshakes_shed_pending));
  m.Gauge("channel_gateway_pending_handshakes",
          "Connections accepted whose WebSocket upgrade is not complete.",
          static_cast<double>(limits_.pending_handshakes.load()));
  m.Gauge("channel_gateway_groups",
          "Groups with members, counted once per worker thread that has "
          "members of it (each worker subscribes on its own broker link).",
          sum(&WorkerStats::local_groups));
  m.Gauge("channel_gateway_broker_subscriptions",
          "Broker channels subscribed over all worker links (groups plus "
          "one broadcast channel per worker).",
          sum(&WorkerStats::broker_subscriptions));
  m.Counter("channel_gateway_joins_total", "Group joins.",
            sum(&WorkerStats::joins));
  m.Counter("channel_gateway_leaves_total",
            "Group leaves, explicit or by close.", sum(&WorkerStats::leaves));
  m.Counter("channel_gateway_messages_received_total",
            "WebSocket messages received from clients.",
            sum(&WorkerStats::messages_received));
  m.Counter("channel_gateway_messages_published_total",
            "send_to_group and send_to_all accepted for publishing.",
            sum(&WorkerStats::messages_published));
  m.Counter("channel_gateway_messages_delivered_total",
            "Messages written to client connections.",
            sum(&WorkerStats::deliveries));
  m.Counter("channel_gateway_direct_writes_total",
            "Fan-out writes the kernel took whole at once (nothing was "
            "queued for the connection).",
            sum(&WorkerStats::direct_writes));
  m.Counter("channel_gateway_bytes_received_total",
            "Payload bytes received from clients.",
            sum(&WorkerStats::bytes_in));
  m.Counter("channel_gateway_bytes_sent_total",
            "Bytes queued to clients (frames included).",
            sum(&WorkerStats::bytes_out));
  m.Counter("channel_gateway_log_lines_suppressed_total",
            "Log lines left out by the per-site rate limit (clients cannot "
            "flood the log).",
            static_cast<double>(LogLimiter::SuppressedTotal()));
  m.Counter("channel_gateway_recoveries_total",
            "Joins that asked to resume a history group (since), by result.",
            sum(&WorkerStats::recoveries), {{"result", "recovered"}});
  m.Counter("channel_gateway_recoveries_total",
            "Joins that asked to resume a history group (since), by result.",
            sum(&WorkerStats::recoveries_failed),
            {{"result", "not_recovered"}});
  m.Counter("channel_gateway_history_reads_total", "history commands answered.",
            sum(&WorkerStats::history_reads));
  m.Counter("channel_gateway_duplicates_dropped_total",
            "Broker events of a history group dropped because this worker "
            "had delivered their offset already.",
            sum(&WorkerStats::duplicates_dropped));
  m.Counter("channel_gateway_gap_notices_total",
            "Connections told that they may have missed messages (the "
            "worker's broker link was down).",
            sum(&WorkerStats::gap_notices));
  m.Counter("channel_gateway_member_events_total",
            "Presence member changes (member_added, member_removed) a "
            "worker told its members (once per change and worker).",
            sum(&WorkerStats::member_events));
  m.Counter("channel_gateway_app_events_total",
            "Application events published (--events).",
            sum(&WorkerStats::app_events));
  m.Counter("channel_gateway_app_events_dropped_total",
            "Application events nobody consumed (no backend) or that could "
            "not be published (no broker link).",
            sum(&WorkerStats::app_events_dropped));
  m.Counter("channel_gateway_app_events_kept_total",
            "Connection events nobody consumed that the broker keeps for "
            "the first backend (its --events_keep_bytes).",
            sum(&WorkerStats::app_events_kept));
  m.Counter("channel_gateway_app_events_held_total",
            "Connection events held while a worker's broker link was down "
            "(sent in order when it is back; --events_hold_bytes).",
            sum(&WorkerStats::app_events_held));
  m.Counter("channel_gateway_app_actions_total",
            "Application actions received on the workers' node channels.",
            sum(&WorkerStats::app_actions));
  m.Counter("channel_gateway_app_actions_invalid_total",
            "Application actions refused by the parser.",
            sum(&WorkerStats::app_actions_invalid));
  m.Counter("channel_gateway_app_actions_failed_total",
            "Application actions that could not be done (no such "
            "connection or request, a limit).",
            sum(&WorkerStats::app_actions_failed));
  m.Counter("channel_gateway_app_timeouts_total",
            "Requests to the backend answered backend_timeout.",
            sum(&WorkerStats::app_timeouts));
  m.Counter("channel_gateway_drain_closes_total",
            "Connections closed by a drain (SIGTERM; WebSocket 1012).",
            sum(&WorkerStats::drain_closes));
  m.Counter("channel_gateway_messages_after_close_total",
            "Client messages read after the gateway's close frame: not "
            "answered (the client saw the close first).",
            sum(&WorkerStats::messages_after_close));
  m.Counter("channel_gateway_slow_client_closes_total",
            "Connections closed for exceeding --max_queued_bytes.",
            sum(&WorkerStats::slow_client_closes));
  m.Counter("channel_gateway_ping_timeouts_total",
            "Connections closed for not answering pings.",
            sum(&WorkerStats::ping_timeouts));
  m.Counter("channel_gateway_rate_limit_closes_total",
            "Connections closed for exceeding the message rate limit "
            "--rate_limit_close_after times in a row.",
            sum(&WorkerStats::rate_limit_closes));
  for (size_t i = 0; i < kAuthResults.size(); ++i) {
    double total = 0;
    for (const auto& w : workers_) {
      total += w->stats().auth[i].load(std::memory_order_relaxed);
    }
    m.Counter("channel_gateway_auth_total",
              "Tokens verified (connect, auth, refresh, join), by result.",
              total, {{"result", kAuthResults[i]}});
  }
  for (size_t i = 0; i < kForbiddenCommands.size(); ++i) {
    double total = 0;
    for (const auto& w : workers_) {
      total += w->stats().forbidden[i].load(std::memory_order_relaxed);
    }
    m.Counter("channel_gateway_forbidden_total",
              "Commands refused by the token's permissions, by command.", total,
              {{"command", kForbiddenCommands[i]}});
  }
  m.Counter("channel_gateway_auth_timeouts_total",
            "Connections closed (4002) for not authenticating in time.",
            sum(&WorkerStats::auth_timeouts));
  m.Counter("channel_gateway_token_expiry_closes_total",
            "Connections closed (4003) when their token expired.",
            sum(&WorkerStats::token_expiry_closes));
  m.Counter("channel_gateway_join_expiries_total",
            "Memberships ended by their join token's expiry.",
            sum(&WorkerStats::join_expiries));
  for (size_t i = 0; i < kClientErrorCodes.size(); ++i) {
    double total = 0;
    for (const auto& w : workers_) {
      total += w->stats().errors[i].load(std::memory_order_relaxed);
    }
    m.Counter("channel_gateway_errors_total",
              "Errors reported to clients, by code.", total,
              {{"code", kClientErrorCodes[i]}});
  }
  m.Gauge(
      "channel_gateway_broker_up",
      "1 when every worker's broker link is up with its subscriptions "
      "live.",
      limits_.links_up.load() == static_cast<int64_t>(workers_.size()) ? 1 : 0);
  m.Gauge("channel_gateway_broker_links_up",
          "Worker broker links up with their subscriptions live.",
          static_cast<double>(limits_.links_up.load()));
  m.Counter("channel_gateway_broker_connects_total",
            "Broker link handshakes over all workers (the first plus every "
            "reconnect).",
            sum(&WorkerStats::broker_connects));
  m.Counter("channel_gateway_broker_disconnects_total",
            "Broker links lost, over all workers.",
            sum(&WorkerStats::broker_disconnects));
  m.Counter("channel_gateway_broker_moves_total",
            "Broker links moved to another broker because theirs drained "
            "(GoAway); each is also one disconnect and one connect.",
            sum(&WorkerStats::broker_moves));
  m.Counter("channel_gateway_broker_events_received_total",
            "Events received from the broker, over all workers.",
            sum(&WorkerStats::broker_events));
  m.Counter("channel_gateway_sole_publishes_total",
            "Publishes delivered by the worker itself without the broker: "
            "the broker told it that it alone holds the channel.",
            sum(&WorkerStats::sole_publishes));
  return m.text();
}

}  // namespace channel
