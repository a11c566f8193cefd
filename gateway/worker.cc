#include "gateway/worker.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <random>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "asio/post.hpp"
#include "asio/steady_timer.hpp"
#include "common/lifecycle/drain_schedule.h"
#include "common/ops/log_limiter.h"
#include "common/ops/logging.h"
#include "gateway/auth/admission.h"
#include "gateway/auth/authenticator.h"
#include "gateway/commands/command_dispatcher.h"
#include "gateway/fanout/fanout_batch.h"
#include "gateway/fanout/fanout_writer.h"
#include "gateway/fanout/membership.h"
#include "gateway/lifecycle/heap_trimmer.h"
#include "gateway/lifecycle/liveness_sweep.h"
#include "gateway/link/shard_link.h"
#include "gateway/ws/http_request.h"
#include "gateway/ws/ws_server.h"

namespace channel {
namespace {

using Clock = std::chrono::steady_clock;
using ConnectionPtr = std::shared_ptr<WsConnection>;
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
std::string SourceKey(const WsConnection::Socket& socket) {
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

// One plain class for ws and wss: the connections are WsConnections either
// way (wss ones run TLS underneath, ws_connection.h).
class Worker::Impl : public Authenticator::Host {
 public:
  // Read through Worker (stats(), index()). Declared first: the members
  // below hold pointers to stats_ from their construction on.
  WorkerStats stats_;
  int worker_index_ = 0;

  Impl(int index, const GatewayOptions& options, const std::string& gateway_id,
       GatewayLimits* limits, const TokenVerifier* verifier,
       const TlsContext* tls)
      : options_(options),
        tls_(tls),
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
                [this](WsConnection* con) { CloseSlow(con); }),
        liveness_(options, [this](const ConnectionPtr& con) {
          Bump(stats_.ping_timeouts);
          Close(con, ws_close::kPolicyViolation, "ping timeout");
        }) {
    worker_index_ = index;
    // Worker objects are built on the main thread before any worker
    // thread starts: what WsConnection shares between threads is settled
    // here, before all of them.
    WsConnection::SettleSharedState();
    link_.set_deliver([this](std::vector<Delivery>& batch) { Deliver(batch); });
    link_.set_failure([this](uint64_t conn_id, const absl::Status& status) {
      dispatcher_.OnPublishFailure(conn_id, status);
    });
    membership_.set_on_refused(
        [this](const std::string& channel, const absl::Status& status) {
          dispatcher_.OnChannelRefused(channel, status);
        });
    link_.set_channel_source(&membership_);
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
  }

  // Binds host:port (0: any) with SO_REUSEPORT; *bound gets the port.
  absl::Status Listen(const std::string& host, uint16_t port, uint16_t* bound) {
    return endpoint_.Listen(host, port, bound);
  }

  void Run() {
    ArmSweep();
    link_.Start();
    auto guard = asio::make_work_guard(io_);
    io_.run();
  }

  void Stop() {
    asio::post(io_, [this] {
      link_.Stop();
      io_.stop();
    });
  }

  void PostShutdown(std::function<void()> on_idle) {
    asio::post(io_, [this, on_idle = std::move(on_idle)]() mutable {
      shutting_down_ = true;
      on_idle_ = std::move(on_idle);
      endpoint_.StopListening();
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
      if (it == conns_.end() || !it->second->is_open()) continue;
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

  // The server's events call the lifecycle below directly.
  WsServer NewEndpoint() {
    WsServer::Options server;
    server.max_message_bytes = options_.max_message_bytes;
    server.handshake_timeout = options_.handshake_timeout;
    server.close_timeout = options_.close_timeout;
    server.max_queued_bytes = options_.max_queued_bytes;
    server.tls = tls_;
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
    events.open = [this](WsConnection& con) { OnOpen(con.shared_from_this()); };
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
  }

  // ---- Connection lifecycle -------------------------------------------

  void OnFailed(WsConnection& con, absl::string_view why) {
    admission_.EndPending(&con);
    admission_.ReleaseSlot(&con);
    if (tls_ != nullptr) trimmer_.Handshake();
    if (tls_ != nullptr && !con.tls_established()) {
      // Garbage or plain HTTP on the wss port, a client that never sent
      // its ClientHello, a peer gone mid-handshake: counted, logged
      // rate-limited (a peer can trigger it at will).
      Bump(stats_.tls_handshakes_failed);
      CHANNEL_LOG_LIMITED(spdlog::level::info, "TLS handshake failed: {}", why);
      return;
    }
    spdlog::debug("handshake failed: {}", why);
  }

  void OnOpen(const ConnectionPtr& con) {
    admission_.EndPending(con.get());
    if (tls_ != nullptr) trimmer_.Handshake();
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
    spdlog::debug("conn {} opened from {}", con->id, con->remote_endpoint());
    const std::string resource(con->resource());
    if (QueryParam(resource, "format") == "json") {
      con->json_framing = true;
      ++json_connections_;
    }
    auth_.OnOpen(con.get(), QueryParam(resource, "token"));
  }

  void OnClose(WsConnection& con) {
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
    if (con.remote_close_code() == ws_close::kMessageTooBig ||
        con.local_close_code() == ws_close::kMessageTooBig) {
      stats_.CountError("message_too_big");
    }
    // Logged after the bookkeeping: tests read /metrics once they see it.
    spdlog::debug("conn {} closed (local code {}, remote code {})", con.id,
                  con.local_close_code(), con.remote_close_code());
    MaybeIdle();
  }

  void MaybeIdle() {
    // Idle once every connection is closed and the drain has ended: a
    // connection opened meanwhile (its handshake began before the drain)
    // is closed at the drain's end.
    if (shutting_down_ && drain_ && drain_->done() && !conns_.empty()) {
      std::vector<ConnectionPtr> late;
      for (auto& [id, con] : conns_) {
        if (con->is_open() && !con->drain_close) late.push_back(con);
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

  // Starts a close handshake and leaves every group at once; the
  // connection cuts its socket if the peer does not complete it within
  // close_timeout (WsConnection::Close).
  void Close(const ConnectionPtr& con, uint16_t code,
             const std::string& reason) {
    if (!con->is_open()) return;
    membership_.LeaveAll(con.get());
    con->Close(code, reason);  // the connection owns its close deadline
  }

  // ---- Replies ----------------------------------------------------------

  // Open connections only: a closing one has left its groups and may be
  // sent nothing more.
  ConnectionData* Find(uint64_t conn_id) override {
    auto it = conns_.find(conn_id);
    return it == conns_.end() || !it->second->is_open() ? nullptr
                                                        : it->second.get();
  }

  void CloseConnection(uint64_t conn_id, uint16_t code,
                       const std::string& reason) override {
    auto it = conns_.find(conn_id);
    if (it != conns_.end()) Close(it->second, code, reason);
  }

  void Reply(uint64_t conn_id, const std::string& text) override {
    auto it = conns_.find(conn_id);
    if (it == conns_.end() || !it->second->is_open()) return;
    if (it->second->SendText(text)) Bump(stats_.bytes_out, text.size());
    if (it->second->drain_close && it->second->awaiting_replies == 0) {
      DrainClose(it->second);
    }
  }

  void OnMessage(const ConnectionPtr& con, const std::string& payload,
                 bool is_text) {
    // Only open connections deliver messages (WsConnection); one read after
    // our close frame is counted by events.message_after_close instead.
    if (dispatcher_.OnMessage(con.get(), payload, is_text, Clock::now()) ==
        CommandDispatcher::Verdict::kCloseRateLimited) {
      Close(con, ws_close::kPolicyViolation, "rate limit exceeded");
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
      if (!con->is_open()) continue;
      const std::string& text = con->json_framing ? json : plain;
      if (con->SendText(text)) {
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

  void CloseSlow(WsConnection* con) {
    Bump(stats_.slow_client_closes);
    CHANNEL_LOG_LIMITED(spdlog::level::info,
                        "closing slow client {}: more than {} bytes queued",
                        con->id, options_.max_queued_bytes);
    Close(con->shared_from_this(), ws_close::kPolicyViolation,
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
    trimmer_.Sweep();
    ArmSweep();
  }

  const GatewayOptions& options_;
  const TlsContext* const tls_;  // null: ws
  GatewayLimits* const limits_;
  asio::io_context io_{1};
  ShardLink link_;
  PresenceReporter presence_;
  Membership membership_;
  Admission admission_;
  Authenticator auth_;
  CommandDispatcher dispatcher_;
  WsServer endpoint_{NewEndpoint()};
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
  FanoutWriter writer_;
  LivenessSweep liveness_;
  HeapTrimmer trimmer_;  // wss only
};

Worker::Worker(int index, const GatewayOptions& options,
               const std::string& gateway_id, GatewayLimits* limits,
               const TokenVerifier* verifier, const TlsContext* tls)
    : impl_(std::make_unique<Impl>(index, options, gateway_id, limits, verifier,
                                   tls)) {}
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
