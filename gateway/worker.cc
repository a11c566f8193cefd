#include "gateway/worker.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <random>
#include <type_traits>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "asio/post.hpp"
#include "asio/steady_timer.hpp"
#include "common/ops/log_limiter.h"
#include "common/ops/logging.h"
#include "gateway/admission.h"
#include "gateway/authenticator.h"
#include "gateway/command_dispatcher.h"
#include "gateway/connection_ops.h"
#include "gateway/drain_schedule.h"
#include "gateway/fanout_batch.h"
#include "gateway/fanout_writer.h"
#include "gateway/http_request.h"
#include "gateway/liveness_sweep.h"
#include "gateway/membership.h"
#include "gateway/shard_link.h"
#include "gateway/websocketpp_private.h"
#include "gateway/worker_config.h"
#include "gateway/ws_server.h"

namespace channel {
namespace {

using Clock = std::chrono::steady_clock;
namespace close_code = websocketpp::close::status;
// RFC 6455's registry: "Service Restart". The drain's close: reconnect now,
// to another gateway (docs/CLIENT-PROTOCOL.md).
constexpr uint16_t kCloseServiceRestart = 1012;

BrokerClientOptions LinkOptions(const GatewayOptions& options,
                                const std::string& gateway_id, int index) {
  BrokerClientOptions link = options.broker;
  // Groups no one else holds skip the broker (ShardLink::Publish).
  link.sole_interest = true;
  // Many end users ride on this link: the broker holds their groups and
  // applies flow control to it instead of cutting it for a burst.
  link.link = true;
  if (link.client_name.empty() || link.client_name == "channel-client") {
    link.client_name = absl::StrCat("ws-gateway/", gateway_id, "/", index);
  }
  return link;
}

// The bytes of a peer's address, the key of the per-source bounds; empty
// when unknown (all unknown peers share one key).
template <typename Socket>
std::string SourceKey(Socket& socket) {
  std::error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  if (ec) return std::string();
  const asio::ip::address a = endpoint.address();
  if (a.is_v4()) {
    const auto b = a.to_v4().to_bytes();
    return std::string(b.begin(), b.end());
  }
  const auto b = a.to_v6().to_bytes();
  return std::string(b.begin(), b.end());
}

}  // namespace

// The worker's interface to its implementation, one per transport.
class Worker::Impl {
 public:
  virtual ~Impl() = default;
  virtual absl::Status Listen(const std::string& host, uint16_t port,
                              uint16_t* bound) = 0;
  virtual void Run() = 0;
  virtual void Stop() = 0;
  virtual void PostShutdown(std::function<void()> on_idle) = 0;

  WorkerStats stats_;
  int worker_index_ = 0;
};

namespace {

// The two kinds of connection a worker runs: its own WsConnection for plain
// TCP (ws_connection.h says why), websocketpp's for TLS.
struct OwnNet {
  static constexpr bool kOwn = true;
  using Endpoint = WsServer;
  using Connection = WsConnection;
};
struct TlsNet {
  static constexpr bool kOwn = false;
  using Config = TlsConfig;
  using Endpoint = websocketpp::server<TlsConfig>;
  using Connection = Endpoint::connection_type;
};

template <typename Net>
class WorkerImpl : public Worker::Impl, public Authenticator::Host {
 public:
  using Endpoint = typename Net::Endpoint;
  using Connection = typename Net::Connection;
  using ConnectionPtr = std::shared_ptr<Connection>;
  using Hdl = websocketpp::connection_hdl;

  WorkerImpl(int index, const GatewayOptions& options,
             const std::string& gateway_id, GatewayLimits* limits,
             const TokenVerifier* verifier,
             std::shared_ptr<asio::ssl::context> tls)
      : options_(options),
        limits_(limits),
        link_(io_, index, options.threads,
              LinkOptions(options, gateway_id, index),
              absl::StrCat(gateway_id, "/", index), &stats_, limits),
        membership_(options.max_groups_per_connection,
                    options.max_groups_per_worker, &link_, &stats_, limits,
                    &presence_),
        admission_(options, limits, &stats_),
        auth_(options, verifier, &membership_, &stats_, this),
        dispatcher_(options, &link_, &membership_, &auth_, &stats_, this),
        sweep_(io_),
        writer_(options.max_queued_bytes, &stats_,
                [this](Connection* con) { CloseSlow(con); }),
        liveness_(options, [this](const ConnectionPtr& con) {
          Bump(stats_.ping_timeouts);
          Close(con, close_code::policy_violation, "ping timeout");
        }) {
    worker_index_ = index;
    // websocketpp 0.8.2's _htonll lazily sets a plain function-local static
    // on first use; every worker thread building its first extended frame
    // header (a ping, say) at once is a data race (ThreadSanitizer found
    // it). Worker objects are built on the main thread before any worker
    // thread starts, so settling it here orders it before all of them.
    websocketpp::lib::net::_htonll(0);
    link_.set_deliver([this](std::vector<Delivery>& batch) { Deliver(batch); });
    link_.set_failure([this](uint64_t conn_id, const absl::Status& status) {
      dispatcher_.OnPublishFailure(conn_id, status);
    });
    membership_.set_on_refused(
        [this](const std::string& channel, const absl::Status& status) {
          dispatcher_.OnChannelRefused(channel, status);
        });
    link_.set_on_lost(
        [this](const std::string& channel, const absl::Status& status) {
          dispatcher_.OnChannelRefused(channel, status);
        });
    // After every (re)connect the broker gets this worker's whole presence,
    // and after a loss every connection hears that it may have missed
    // messages: never a silent gap.
    link_.set_on_up([this](std::chrono::milliseconds down) {
      for (const v1::Presence& p : presence_.Snapshot(1 << 20)) {
        link_.SendPresence(p).IgnoreError();  // a failure drops the link
      }
      if (down.count() > 0) SendGap(down);
    });
    if constexpr (!Net::kOwn) SetUpWebsocketpp(std::move(tls));
  }

  absl::Status Listen(const std::string& host, uint16_t port,
                      uint16_t* bound) override {
    if constexpr (Net::kOwn) {
      return endpoint_.Listen(host, port, bound);
    } else {
      if (init_error_) {
        return absl::InternalError(
            absl::StrCat("WebSocket endpoint: ", init_error_.message()));
      }
      std::error_code ec;
      const auto address = asio::ip::make_address(host, ec);
      if (ec) {
        return absl::InvalidArgumentError(
            absl::StrCat("listen address '", host, "': ", ec.message()));
      }
      endpoint_.listen(asio::ip::tcp::endpoint(address, port), ec);
      if (ec) {
        return absl::UnavailableError(
            absl::StrCat("listen on ", host, ":", port, ": ", ec.message()));
      }
      endpoint_.start_accept(ec);
      if (ec) return absl::InternalError(ec.message());
      *bound = endpoint_.get_local_endpoint(ec).port();
      return absl::OkStatus();
    }
  }

  void Run() override {
    ArmSweep();
    link_.Start();
    auto guard = asio::make_work_guard(io_);
    io_.run();
  }

  void Stop() override {
    asio::post(io_, [this] {
      link_.Stop();
      io_.stop();
    });
  }

  void PostShutdown(std::function<void()> on_idle) override {
    asio::post(io_, [this, on_idle = std::move(on_idle)]() mutable {
      shutting_down_ = true;
      on_idle_ = std::move(on_idle);
      if constexpr (Net::kOwn) {
        endpoint_.StopListening();
      } else {
        std::error_code ec;
        if (endpoint_.is_listening()) endpoint_.stop_listening(ec);
      }
      // The drain: every connection open now, in random order (groups and
      // users spread over the whole drain), closed evenly over --drain_ms.
      drain_order_.reserve(conns_.size());
      for (auto& [id, con] : conns_) drain_order_.push_back(id);
      std::shuffle(drain_order_.begin(), drain_order_.end(),
                   std::mt19937_64(std::random_device{}()));
      drain_.emplace(drain_order_.size(), Clock::now(), options_.drain,
                     kDrainTick);
      spdlog::info("worker {}: draining {} connection(s) over {} ms",
                   worker_index_, drain_order_.size(), options_.drain.count());
      DrainTick();
    });
  }

 private:
  static constexpr std::chrono::milliseconds kDrainTick{10};

  // ---- Drain --------------------------------------------------------------

  // Closes the connections the schedule says are due, then waits a tick.
  // A connection awaiting replies from the broker is closed when the last
  // one is sent (Reply), so no command read before its close goes
  // unanswered; the shutdown grace bounds how long that may take.
  void DrainTick() {
    for (size_t due = drain_->Due(Clock::now()); due > 0; --due) {
      const uint64_t id = drain_order_[drain_next_++];
      auto it = conns_.find(id);
      if (it == conns_.end() || it->second->closing) continue;
      Bump(stats_.drain_closes);
      if (it->second->awaiting_replies > 0) {
        it->second->drain_close = true;
      } else {
        DrainClose(it->second);
      }
    }
    if (drain_->done()) {
      drain_order_ = {};
      MaybeIdle();
      return;
    }
    drain_timer_.expires_after(kDrainTick);
    drain_timer_.async_wait([this](const std::error_code& ec) {
      if (!ec) DrainTick();
    });
  }

  void DrainClose(const ConnectionPtr& con) {
    Close(con, kCloseServiceRestart, "draining: reconnect now");
  }

  // ---- Transport glue -------------------------------------------------

  // The own server's events call the lifecycle below directly.
  Endpoint NewEndpoint() {
    if constexpr (Net::kOwn) {
      WsServer::Options server;
      server.max_message_bytes = options_.max_message_bytes;
      server.handshake_timeout = options_.handshake_timeout;
      server.close_timeout = options_.close_timeout;
      server.max_queued_bytes = options_.max_queued_bytes;
      WsServer::Events events;
      events.accepted = [this](WsConnection& con) {
        switch (admission_.OnAccepted(&con, SourceKey(con.socket()))) {
          case Admission::Accept::kAdmit:
            return true;
          case Admission::Accept::kRefuse:
            return false;
          case Admission::Accept::kShedOldest:
            // Counted before the shed closes the oldest: whoever sees that
            // close finds it counted.
            Bump(stats_.handshakes_shed_pending);
            if (endpoint_.ShedOldestPending(
                    "too many pending handshakes: the oldest is ended")) {
              return true;
            }
            stats_.handshakes_shed_pending.fetch_sub(1,
                                                     std::memory_order_relaxed);
            Bump(stats_.handshakes_refused_pending);
            return false;
        }
        return false;
      };
      events.validate = [this](WsConnection& con) {
        return admission_.Validate(&con, con.origin(), shutting_down_);
      };
      events.open = [this](WsConnection& con) {
        OnOpen(con.shared_from_this());
      };
      events.close = [this](WsConnection& con) { OnClose(con); };
      events.fail = [this](WsConnection& con, absl::string_view why) {
        OnFailed(con, why);
      };
      events.message = [this](WsConnection& con, const std::string& payload,
                              bool is_text) {
        OnMessage(con.shared_from_this(), payload, is_text);
      };
      events.message_after_close = [this](WsConnection&) {
        Bump(stats_.messages_after_close);
      };
      events.pong = [](WsConnection& con) { con.last_seen = Clock::now(); };
      events.http = [this](absl::string_view resource) {
        return PlainHttpResponse(resource, options_.demo_page);
      };
      return WsServer(io_, server, std::move(events));
    } else {
      return Endpoint();
    }
  }

  // websocketpp's handlers (wss) find the connection by handle and call
  // the same lifecycle.
  void SetUpWebsocketpp(std::shared_ptr<asio::ssl::context> tls) {
    endpoint_.set_tls_init_handler([tls](Hdl) { return tls; });
    endpoint_.clear_access_channels(websocketpp::log::alevel::all);
    endpoint_.clear_error_channels(websocketpp::log::elevel::all);
    endpoint_.init_asio(&io_, init_error_);
    endpoint_.set_reuse_addr(true);
    endpoint_.set_max_message_size(options_.max_message_bytes);
    endpoint_.set_open_handshake_timeout(options_.handshake_timeout.count());
    endpoint_.set_listen_backlog(1024);
    endpoint_.set_tcp_pre_bind_handler([](auto acceptor) {
      std::error_code ec;
      acceptor->set_option(
          asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true),
          ec);
      return ec;
    });
    endpoint_.set_tcp_post_init_handler([this](Hdl hdl) {
      auto con = Lock(hdl);
      if (!con) return;
      // wss does not shed (websocketpp keeps no accept order): over the
      // process-wide bound a newcomer is refused.
      const auto verdict =
          admission_.OnAccepted(con.get(), SourceKey(con->get_raw_socket()));
      if (verdict != Admission::Accept::kAdmit) {
        if (verdict == Admission::Accept::kShedOldest) {
          Bump(stats_.handshakes_refused_pending);
        }
        std::error_code ec;
        con->get_raw_socket().close(ec);  // the handshake then fails
      }
    });
    endpoint_.set_fail_handler([this](Hdl hdl) {
      if (auto con = Lock(hdl)) OnFailed(*con, con->get_ec().message());
    });
    endpoint_.set_validate_handler([this](Hdl hdl) {
      auto con = Lock(hdl);
      if (!con) return false;
      const Admission::Verdict verdict =
          admission_.Validate(con.get(), con->get_origin(), shutting_down_);
      if (!verdict.allowed) {
        con->set_status(static_cast<websocketpp::http::status_code::value>(
            verdict.http_status));
        if (!verdict.body.empty()) con->set_body(verdict.body);
      }
      return verdict.allowed;
    });
    endpoint_.set_open_handler([this](Hdl hdl) {
      auto con = Lock(hdl);
      if (!con) return;
      // No Nagle delay (websocketpp's socket_init_handler runs before the
      // socket is open, too early).
      std::error_code ec;
      con->get_raw_socket().set_option(asio::ip::tcp::no_delay(true), ec);
      OnOpen(con);
      ReleaseHandshake(*con);  // nothing reads the request after this
    });
    endpoint_.set_close_handler([this](Hdl hdl) {
      if (auto con = Lock(hdl)) OnClose(*con);
    });
    endpoint_.set_message_handler(
        [this](Hdl hdl, typename Endpoint::message_ptr msg) {
          if (auto con = Lock(hdl)) {
            OnMessage(con, msg->get_payload(),
                      msg->get_opcode() == websocketpp::frame::opcode::text);
          }
        });
    endpoint_.set_pong_handler([this](Hdl hdl, std::string) {
      if (auto con = Lock(hdl)) con->last_seen = Clock::now();
    });
    endpoint_.set_http_handler([this](Hdl hdl) {
      auto con = Lock(hdl);
      if (!con) return;
      const PlainHttpReply reply =
          PlainHttpResponse(con->get_resource(), options_.demo_page);
      con->set_status(
          static_cast<websocketpp::http::status_code::value>(reply.status));
      if (!reply.content_type.empty()) {
        con->append_header("Content-Type", std::string(reply.content_type));
      }
      con->set_body(std::string(reply.body));
    });
  }

  ConnectionPtr Lock(Hdl hdl) {
    std::error_code ec;
    auto con = endpoint_.get_con_from_hdl(hdl, ec);
    return ec ? nullptr : con;
  }

  // ---- Connection lifecycle -------------------------------------------

  void OnFailed(Connection& con, absl::string_view why) {
    admission_.EndPending(&con);
    admission_.ReleaseSlot(&con);
    spdlog::debug("handshake failed: {}", why);
  }

  void OnOpen(const ConnectionPtr& con) {
    admission_.EndPending(con.get());
    con->bucket = TokenBucket(options_.rate_limit_per_sec,
                              options_.rate_limit_burst, Clock::now());
    con->byte_bucket = TokenBucket(
        options_.rate_limit_bytes_per_sec,
        std::max(2.0 * static_cast<double>(options_.max_message_bytes),
                 options_.rate_limit_bytes_per_sec),
        Clock::now());
    con->id = (uint64_t(worker_index_) << 48) | next_conn_++;
    con->last_seen = con->opened = Clock::now();
    conns_.emplace(con->id, con);
    stats_.connections.fetch_add(1, std::memory_order_relaxed);
    Bump(stats_.connections_accepted);
    // Never log the resource: it may carry ?token=.
    spdlog::debug("conn {} opened from {}", con->id, RemoteEndpoint(*con));
    const std::string resource = Resource(*con);
    if (QueryParam(resource, "format") == "json") {
      con->json_framing = true;
      ++json_connections_;
    }
    auth_.OnOpen(con.get(), QueryParam(resource, "token"));
  }

  void OnClose(Connection& con) {
    if (con.id == 0) return;
    // Keeps the connection alive through the bookkeeping below.
    auto it = conns_.find(con.id);
    if (it == conns_.end()) return;
    const ConnectionPtr keep = std::move(it->second);
    conns_.erase(it);
    if (con.json_framing) --json_connections_;
    membership_.LeaveAll(&con);
    admission_.ReleaseSlot(&con);
    stats_.connections.fetch_sub(1, std::memory_order_relaxed);
    Bump(stats_.connections_closed);
    if (RemoteCloseCode(con) == close_code::message_too_big ||
        LocalCloseCode(con) == close_code::message_too_big) {
      stats_.CountError("message_too_big");
    }
    // Logged after the bookkeeping: tests read /metrics once they see it.
    spdlog::debug("conn {} closed (local code {}, remote code {})", con.id,
                  LocalCloseCode(con), RemoteCloseCode(con));
    MaybeIdle();
  }

  void MaybeIdle() {
    // Idle once every connection is closed and the drain has ended: a
    // connection opened meanwhile (its handshake began before the drain)
    // is closed at the drain's end.
    if (shutting_down_ && drain_ && drain_->done() && !conns_.empty()) {
      std::vector<ConnectionPtr> late;
      for (auto& [id, con] : conns_) {
        if (!con->closing && !con->drain_close) late.push_back(con);
      }
      for (auto& con : late) DrainClose(con);
    }
    if (shutting_down_ && drain_ && drain_->done() && conns_.empty() &&
        on_idle_) {
      auto done = std::move(on_idle_);
      on_idle_ = nullptr;
      done();
    }
  }

  // Starts a close handshake and leaves every group at once; the sweep
  // drops the socket if the peer does not complete it in time.
  void Close(const ConnectionPtr& con, uint16_t code,
             const std::string& reason) {
    if (con->closing) return;
    con->closing = true;
    con->close_deadline = Clock::now() + options_.close_timeout;
    membership_.LeaveAll(con.get());
    liveness_.Closing(con);
    StartClose(*con, code, reason);
  }

  // ---- Replies ----------------------------------------------------------

  ConnectionData* Find(uint64_t conn_id) override {
    auto it = conns_.find(conn_id);
    return it == conns_.end() ? nullptr : it->second.get();
  }

  void CloseConnection(uint64_t conn_id, uint16_t code,
                       const std::string& reason) override {
    auto it = conns_.find(conn_id);
    if (it != conns_.end()) Close(it->second, code, reason);
  }

  void Reply(uint64_t conn_id, const std::string& text) override {
    auto it = conns_.find(conn_id);
    if (it == conns_.end() || it->second->closing) return;
    if (SendText(*it->second, text)) Bump(stats_.bytes_out, text.size());
    if (it->second->drain_close && it->second->awaiting_replies == 0) {
      DrainClose(it->second);
    }
  }

  void OnMessage(const ConnectionPtr& con, const std::string& payload,
                 bool is_text) {
    if (con->closing) {
      // Read after our close frame: no reply may follow it (RFC 6455 5.5.1).
      Bump(stats_.messages_after_close);
      return;
    }
    if (dispatcher_.OnMessage(con.get(), payload, is_text, Clock::now()) ==
        CommandDispatcher::Verdict::kCloseRateLimited) {
      Close(con, close_code::policy_violation, "rate limit exceeded");
    }
  }

  // ---- Fan-out ----------------------------------------------------------

  void Deliver(std::vector<Delivery>& batch) {
    batch_.Build(
        batch,
        [this](absl::string_view channel) {
          return membership_.Find(channel) != nullptr;
        },
        json_connections_ > 0);
    writer_.Write(batch_, membership_, conns_);
  }

  // One notice per open connection (each framing's text built once).
  void SendGap(std::chrono::milliseconds down) {
    const std::string plain = GapNotice(false, down.count());
    const std::string json = GapNotice(true, down.count());
    size_t told = 0;
    for (auto& [id, con] : conns_) {
      if (con->closing) continue;
      const std::string& text = con->json_framing ? json : plain;
      if (SendText(*con, text)) {
        Bump(stats_.bytes_out, text.size());
        ++told;
      }
    }
    Bump(stats_.gap_notices, told);
    spdlog::warn(
        "worker {}: broker link back after {} ms: told {} connection(s) "
        "that they may have missed messages (gap)",
        worker_index_, down.count(), told);
  }

  void CloseSlow(Connection* con) {
    Bump(stats_.slow_client_closes);
    CHANNEL_LOG_LIMITED(spdlog::level::info,
                        "closing slow client {}: more than {} bytes queued",
                        con->id, options_.max_queued_bytes);
    Close(SharedOf(*con), close_code::policy_violation,
          absl::StrCat("slow client: more than ", options_.max_queued_bytes,
                       " bytes queued"));
  }

  // ---- Sweep: tokens, presence, liveness -------------------------------

  void ArmSweep() {
    sweep_.expires_after(liveness_.Tick());
    sweep_.async_wait([this](const std::error_code& ec) {
      if (!ec) Sweep();
    });
  }

  void Sweep() {
    auth_.Sweep();
    // Presence changes go out batched, once per sweep; while the link is
    // down they are dropped: the snapshot after the reconnect has them.
    if (v1::Presence delta; presence_.TakeDelta(&delta) && link_.up()) {
      link_.SendPresence(delta).IgnoreError();
    }
    liveness_.Run(conns_, Clock::now());
    ArmSweep();
  }

  const GatewayOptions& options_;
  GatewayLimits* const limits_;
  asio::io_context io_{1};
  ShardLink link_;
  PresenceReporter presence_;
  Membership membership_;
  Admission admission_;
  Authenticator auth_;
  CommandDispatcher dispatcher_;
  Endpoint endpoint_{NewEndpoint()};
  std::error_code init_error_;  // websocketpp's init_asio
  asio::steady_timer sweep_;
  uint64_t next_conn_ = 1;
  int64_t json_connections_ = 0;  // open connections with ?format=json
  absl::flat_hash_map<uint64_t, ConnectionPtr> conns_;
  bool shutting_down_ = false;
  std::function<void()> on_idle_;
  std::optional<DrainSchedule> drain_;
  std::vector<uint64_t> drain_order_;  // connection ids, shuffled
  size_t drain_next_ = 0;
  asio::steady_timer drain_timer_{io_};
  FanoutBatch batch_;  // scratch, reused across deliveries
  FanoutWriter<Connection> writer_;
  LivenessSweep<Connection> liveness_;
};

}  // namespace

Worker::Worker(int index, const GatewayOptions& options,
               const std::string& gateway_id, GatewayLimits* limits,
               const TokenVerifier* verifier,
               std::shared_ptr<asio::ssl::context> tls) {
  if (tls) {
    impl_ = std::make_unique<WorkerImpl<TlsNet>>(index, options, gateway_id,
                                                 limits, verifier, tls);
  } else {
    impl_ = std::make_unique<WorkerImpl<OwnNet>>(index, options, gateway_id,
                                                 limits, verifier, nullptr);
  }
}
Worker::~Worker() = default;

absl::Status Worker::Listen(const std::string& host, uint16_t port,
                            uint16_t* bound) {
  return impl_->Listen(host, port, bound);
}
void Worker::Run() { impl_->Run(); }
void Worker::PostShutdown(std::function<void()> on_idle) {
  impl_->PostShutdown(std::move(on_idle));
}
void Worker::Stop() { impl_->Stop(); }
WorkerStats& Worker::stats() { return impl_->stats_; }
int Worker::index() const { return impl_->worker_index_; }

}  // namespace channel
