#include "gateway/worker.h"

#include <chrono>
#include <type_traits>
#include <websocketpp/concurrency/none.hpp>
#include <websocketpp/config/asio.hpp>
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "asio/post.hpp"
#include "asio/steady_timer.hpp"
#include "common/logging.h"
#include "common/subscription_index.h"
#include "common/token_bucket.h"
#include "gateway/broker_link.h"
#include "gateway/command.h"
#include "gateway/ws_text_frame.h"

namespace channel {
namespace {

using Clock = std::chrono::steady_clock;

// Per-connection state, stored in the websocketpp connection itself.
struct ConnectionData {
  uint64_t id = 0;
  bool closing = false;
  bool pending_counted = false;  // counted in GatewayLimits::pending_handshakes
  bool slot_counted = false;     // holds one of GatewayLimits::connections
  int refused_in_row = 0;        // messages refused by the rate limit
  TokenBucket bucket{0, 0, {}};
  Clock::time_point last_seen;
  Clock::time_point close_deadline;
};

// websocketpp over Asio for one thread: no locks, no strands. `Base` is
// websocketpp's asio (plain TCP) or asio_tls config; `Socket` its socket
// policy.
template <typename Base, typename Socket>
struct WorkerConfigT : public Base {
  typedef WorkerConfigT type;
  typedef Base base;
  typedef websocketpp::concurrency::none concurrency_type;
  typedef websocketpp::log::basic<concurrency_type, websocketpp::log::elevel>
      elog_type;
  typedef websocketpp::log::basic<concurrency_type, websocketpp::log::alevel>
      alog_type;
  struct transport_config : public Base::transport_config {
    typedef typename type::concurrency_type concurrency_type;
    typedef typename type::alog_type alog_type;
    typedef typename type::elog_type elog_type;
    typedef Socket socket_type;
    static bool const enable_multithreading = false;
  };
  typedef websocketpp::transport::asio::endpoint<transport_config>
      transport_type;
  typedef ConnectionData connection_base;
  static bool const enable_multithreading = false;
  static const long timeout_open_handshake = 5000;
  static const long timeout_close_handshake = 3000;
};

using PlainConfig =
    WorkerConfigT<websocketpp::config::asio,
                  websocketpp::transport::asio::basic_socket::endpoint>;
using TlsConfig =
    WorkerConfigT<websocketpp::config::asio_tls,
                  websocketpp::transport::asio::tls_socket::endpoint>;
namespace close_code = websocketpp::close::status;

// Longest interval between sweeps (close deadlines, pings).
constexpr std::chrono::milliseconds kMaxSweepTick{500};

}  // namespace

// The worker's interface to its implementation, one per transport.
class Worker::Impl {
 public:
  virtual ~Impl() = default;
  virtual absl::Status Listen(const std::string& host, uint16_t port,
                              uint16_t* bound) = 0;
  virtual void Run() = 0;
  virtual void Stop() = 0;
  virtual void PostDeliveries(std::vector<Delivery> batch) = 0;
  virtual void PostShutdown(std::function<void()> on_idle) = 0;

  WorkerStats stats_;
  int worker_index_ = 0;
};

namespace {

template <typename Config>
class WorkerImpl : public Worker::Impl {
 public:
  using Endpoint = websocketpp::server<Config>;
  using Connection = typename Endpoint::connection_type;
  using ConnectionPtr = typename Endpoint::connection_ptr;
  using MessagePtr = typename Endpoint::message_ptr;
  using Message = typename Config::message_type;

  WorkerImpl(int index, const GatewayOptions& options, BrokerLink* link,
             asio::io_context& link_io, GatewayLimits* limits,
             std::shared_ptr<asio::ssl::context> tls)
      : options_(options),
        link_(link),
        link_io_(link_io),
        limits_(limits),
        sweep_(io_) {
    worker_index_ = index;
    // websocketpp 0.8.2's _htonll lazily sets a plain function-local static
    // on first use; every worker thread building its first extended frame
    // header (a ping, say) at once is a data race (ThreadSanitizer found
    // it). Worker objects are built on the main thread before any worker
    // thread starts, so settling it here orders it before all of them.
    websocketpp::lib::net::_htonll(0);
    if constexpr (std::is_same_v<Config, TlsConfig>) {
      endpoint_.set_tls_init_handler(
          [tls](websocketpp::connection_hdl) { return tls; });
    }
    endpoint_.clear_access_channels(websocketpp::log::alevel::all);
    endpoint_.clear_error_channels(websocketpp::log::elevel::all);
    std::error_code ec;
    endpoint_.init_asio(&io_, ec);
    endpoint_.set_reuse_addr(true);
    endpoint_.set_max_message_size(options_.max_message_bytes);
    endpoint_.set_open_handshake_timeout(options_.handshake_timeout.count());
    // Slow-loris defence: a connection counts as pending from accept until
    // its upgrade completes or fails; past the cap, new ones are dropped at
    // once.
    endpoint_.set_tcp_post_init_handler(
        [this](websocketpp::connection_hdl hdl) { OnAccepted(hdl); });
    endpoint_.set_fail_handler([this](websocketpp::connection_hdl hdl) {
      auto con = Lock(hdl);
      if (!con) return;
      EndPending(con);
      ReleaseSlot(con);
      spdlog::debug("handshake failed: {}", con->get_ec().message());
    });
    endpoint_.set_listen_backlog(1024);
    endpoint_.set_tcp_pre_bind_handler([](auto acceptor) {
      std::error_code ec;
      acceptor->set_option(
          asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true),
          ec);
      return ec;
    });
    endpoint_.set_validate_handler(
        [this](websocketpp::connection_hdl hdl) { return Validate(hdl); });
    endpoint_.set_open_handler(
        [this](websocketpp::connection_hdl hdl) { OnOpen(hdl); });
    endpoint_.set_close_handler(
        [this](websocketpp::connection_hdl hdl) { OnClose(hdl); });
    endpoint_.set_message_handler(
        [this](websocketpp::connection_hdl hdl, MessagePtr msg) {
          OnMessage(hdl, std::move(msg));
        });
    endpoint_.set_pong_handler(
        [this](websocketpp::connection_hdl hdl, std::string) {
          if (auto con = Lock(hdl)) con->last_seen = Clock::now();
          return;
        });
    endpoint_.set_http_handler([this](websocketpp::connection_hdl hdl) {
      auto con = Lock(hdl);
      if (!con) return;
      con->set_status(websocketpp::http::status_code::upgrade_required);
      con->set_body("ws-gateway: connect with a WebSocket client\n");
    });
  }

  absl::Status Listen(const std::string& host, uint16_t port,
                      uint16_t* bound) override {
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

  void Run() override {
    next_ping_ = Clock::now() + options_.ping_interval;
    ArmSweep();
    auto guard = asio::make_work_guard(io_);
    io_.run();
  }

  void Stop() override { io_.stop(); }

  void PostDeliveries(std::vector<Delivery> batch) override {
    asio::post(io_,
               [this, batch = std::move(batch)]() mutable { Deliver(batch); });
  }

  void PostShutdown(std::function<void()> on_idle) override {
    asio::post(io_, [this, on_idle = std::move(on_idle)]() mutable {
      shutting_down_ = true;
      on_idle_ = std::move(on_idle);
      std::error_code ec;
      if (endpoint_.is_listening()) endpoint_.stop_listening(ec);
      std::vector<ConnectionPtr> all;
      for (auto& [id, con] : conns_) all.push_back(con);
      for (auto& con : all) {
        Close(con, close_code::going_away, "server shutting down");
      }
      MaybeIdle();
    });
  }

 private:
  ConnectionPtr Lock(websocketpp::connection_hdl hdl) {
    std::error_code ec;
    auto con = endpoint_.get_con_from_hdl(hdl, ec);
    return ec ? nullptr : con;
  }

  void OnAccepted(websocketpp::connection_hdl hdl) {
    auto con = Lock(hdl);
    if (!con) return;
    con->pending_counted = true;
    const int64_t pending = limits_->pending_handshakes.fetch_add(1) + 1;
    if (pending > options_.max_pending_handshakes) {
      Bump(stats_.handshakes_refused_pending);
      std::error_code ec;
      con->get_raw_socket().close(ec);  // the handshake then fails: EndPending
    }
  }

  void ReleaseSlot(const ConnectionPtr& con) {
    if (con && con->slot_counted) {
      con->slot_counted = false;
      limits_->connections.fetch_sub(1);
    }
  }

  void EndPending(const ConnectionPtr& con) {
    if (con && con->pending_counted) {
      con->pending_counted = false;
      limits_->pending_handshakes.fetch_sub(1);
    }
  }

  bool Validate(websocketpp::connection_hdl hdl) {
    auto con = Lock(hdl);
    if (!con) return false;
    if (shutting_down_) {
      con->set_status(websocketpp::http::status_code::service_unavailable);
      Bump(stats_.handshakes_refused_shutdown);
      return false;
    }
    // Reserve the connection's slot before the 101 goes out, so a client
    // that sees its upgrade complete is already counted.
    if (limits_->connections.fetch_add(1) >= options_.max_connections) {
      limits_->connections.fetch_sub(1);
      Bump(stats_.handshakes_refused_full);
      con->set_status(websocketpp::http::status_code::service_unavailable);
      con->set_body("too many connections\n");
      return false;
    }
    con->slot_counted = true;
    if (!options_.allowed_origins.empty()) {
      const std::string origin = con->get_origin();
      bool allowed = false;
      for (const auto& o : options_.allowed_origins) allowed |= o == origin;
      if (!allowed) {
        Bump(stats_.handshakes_refused_origin);
        con->set_status(websocketpp::http::status_code::forbidden);
        con->set_body("origin not allowed\n");
        ReleaseSlot(con);
        spdlog::info("refused handshake from origin '{}'",
                     origin.substr(0, 128));
        return false;
      }
    }
    return true;
  }

  void OnOpen(websocketpp::connection_hdl hdl) {
    auto con = Lock(hdl);
    if (!con) return;
    EndPending(con);
    con->bucket = TokenBucket(options_.rate_limit_per_sec,
                              options_.rate_limit_burst, Clock::now());
    con->id = (uint64_t(worker_index_) << 48) | next_conn_++;
    // Messages are small and latency matters: no Nagle delay. (websocketpp's
    // socket_init_handler runs before the socket is open, too early.)
    std::error_code ec;
    con->get_raw_socket().set_option(asio::ip::tcp::no_delay(true), ec);
    con->last_seen = Clock::now();
    conns_.emplace(con->id, con);
    stats_.connections.fetch_add(1, std::memory_order_relaxed);
    Bump(stats_.connections_accepted);
    spdlog::debug("conn {} opened from {}", con->id,
                  con->get_remote_endpoint());
  }

  void OnClose(websocketpp::connection_hdl hdl) {
    auto con = Lock(hdl);
    if (!con || con->id == 0) return;
    if (conns_.erase(con->id) == 0) return;
    LeaveAll(con.get());
    ReleaseSlot(con);
    stats_.connections.fetch_sub(1, std::memory_order_relaxed);
    Bump(stats_.connections_closed);
    if (con->get_remote_close_code() == close_code::message_too_big ||
        con->get_local_close_code() == close_code::message_too_big) {
      stats_.CountError("message_too_big");
    }
    // Logged after the bookkeeping: tests read /metrics once they see it.
    spdlog::debug("conn {} closed (local code {}, remote code {})", con->id,
                  con->get_local_close_code(), con->get_remote_close_code());
    MaybeIdle();
  }

  void MaybeIdle() {
    if (shutting_down_ && conns_.empty() && on_idle_) {
      auto done = std::move(on_idle_);
      on_idle_ = nullptr;
      done();
    }
  }

  void LeaveAll(Connection* con) {
    Bump(stats_.leaves, groups_.CountFor(con));
    for (const std::string& group : groups_.RemoveAll(con)) {
      stats_.local_groups.fetch_sub(1, std::memory_order_relaxed);
      asio::post(link_io(), [link = link_, w = worker_index_, group] {
        link->RemoveInterest(w, group);
      });
    }
  }

  asio::io_context& link_io() { return link_io_; }

  void Reply(const ConnectionPtr& con, const std::string& text) {
    if (con->closing) return;
    std::error_code ec = con->send(text, websocketpp::frame::opcode::text);
    if (!ec) Bump(stats_.bytes_out, text.size());
  }

  void ReplyError(const ConnectionPtr& con, const std::string& id_json,
                  absl::string_view code, absl::string_view message) {
    stats_.CountError(code);
    Reply(con, ErrorReply(id_json, code, message));
  }

  // Completion of a request that went through the link thread: hops back to
  // this worker and answers the connection, if it is still there.
  BrokerLink::Done ReplyLater(uint64_t conn_id, std::string id_json,
                              absl::string_view failure_code) {
    return [this, conn_id, id_json = std::move(id_json),
            failure_code](const absl::Status& status) {
      asio::post(io_, [this, conn_id, id_json, failure_code, status] {
        auto it = conns_.find(conn_id);
        if (it == conns_.end()) return;
        if (status.ok()) {
          Reply(it->second, OkReply(id_json));
        } else {
          ReplyError(
              it->second, id_json,
              absl::IsUnavailable(status) ? "broker_unavailable" : failure_code,
              status.message());
        }
      });
    };
  }

  void OnMessage(websocketpp::connection_hdl hdl, MessagePtr msg) {
    auto con = Lock(hdl);
    if (!con || con->closing) return;
    const auto now = Clock::now();
    con->last_seen = now;
    Bump(stats_.messages_received);
    Bump(stats_.bytes_in, msg->get_payload().size());
    if (!con->bucket.TryTake(now)) {
      if (++con->refused_in_row > options_.rate_limit_close_after) {
        Bump(stats_.rate_limit_closes);
        Close(con, close_code::policy_violation, "rate limit exceeded");
        return;
      }
      ReplyError(con, "", "rate_limited",
                 absl::StrCat("more than ", options_.rate_limit_per_sec,
                              " messages per second; this one was dropped"));
      return;
    }
    con->refused_in_row = 0;
    if (msg->get_opcode() != websocketpp::frame::opcode::text) {
      ReplyError(con, "", "binary_not_supported",
                 "binary frames are not supported; send JSON text frames");
      return;
    }
    Command command;
    CommandError error;
    if (!ParseCommand(msg->get_payload(), options_.command_limits, &command,
                      &error)) {
      ReplyError(con, error.id_json, error.code, error.message);
      return;
    }
    switch (command.type) {
      case Command::Type::kAddGroup:
        AddGroup(con, command);
        return;
      case Command::Type::kLeaveGroup:
        LeaveGroup(con, command);
        return;
      case Command::Type::kSendToGroup:
      case Command::Type::kSendToAll:
        Send(con, command);
        return;
    }
  }

  void AddGroup(const ConnectionPtr& con, const Command& command) {
    if (!link_->up()) {
      ReplyError(con, command.id_json, "broker_unavailable",
                 "the gateway has no broker link; retry later");
      return;
    }
    if (!groups_.Contains(con.get(), command.group_id) &&
        groups_.CountFor(con.get()) >= options_.max_groups_per_connection) {
      ReplyError(con, command.id_json, "too_many_groups",
                 absl::StrCat("a connection may join at most ",
                              options_.max_groups_per_connection, " groups"));
      return;
    }
    const auto change = groups_.Add(con.get(), command.group_id);
    if (change.changed) Bump(stats_.joins);
    BrokerLink::Done done;
    if (!command.id_json.empty()) {
      done = ReplyLater(con->id, command.id_json, "broker_unavailable");
    }
    if (change.channel_edge) {
      stats_.local_groups.fetch_add(1, std::memory_order_relaxed);
      asio::post(link_io(),
                 [link = link_, w = worker_index_, group = command.group_id,
                  done = std::move(done)]() mutable {
                   link->AddInterest(w, group, std::move(done));
                 });
    } else if (done) {
      asio::post(link_io(), [link = link_, group = command.group_id,
                             done = std::move(done)]() mutable {
        link->WhenLive(group, std::move(done));
      });
    }
  }

  void LeaveGroup(const ConnectionPtr& con, const Command& command) {
    const auto change = groups_.Remove(con.get(), command.group_id);
    if (change.changed) Bump(stats_.leaves);
    if (change.channel_edge) {
      stats_.local_groups.fetch_sub(1, std::memory_order_relaxed);
      asio::post(link_io(),
                 [link = link_, w = worker_index_, group = command.group_id] {
                   link->RemoveInterest(w, group);
                 });
    }
    // Effective at once: this worker delivers nothing more of the group to
    // the connection.
    if (!command.id_json.empty()) Reply(con, OkReply(command.id_json));
  }

  void Send(const ConnectionPtr& con, Command& command) {
    if (!link_->up()) {
      ReplyError(con, command.id_json, "broker_unavailable",
                 "the gateway has no broker link; the message was not sent");
      return;
    }
    Bump(stats_.messages_published);
    BrokerLink::Done done;
    if (!command.id_json.empty()) {
      done = ReplyLater(con->id, command.id_json, "publish_failed");
    } else {
      // Even without an id, a message that could not be published is
      // reported, never lost silently.
      done = ReplyLater(con->id, "", "publish_failed");
      done = [inner = std::move(done)](const absl::Status& status) {
        if (!status.ok()) inner(status);
      };
    }
    std::vector<uint64_t> exclude;
    if (command.exclude_self) exclude.push_back(con->id);
    const bool to_all = command.type == Command::Type::kSendToAll;
    asio::post(
        link_io(),
        [link = link_, to_all, group = std::move(command.group_id),
         message = std::move(command.message), exclude = std::move(exclude),
         done = std::move(done)]() mutable {
          link->Publish(to_all ? nullptr : &group, std::move(message),
                        std::move(exclude), std::move(done));
        });
  }

  // One segment: consecutive frames for one target that share exclusions.
  struct Segment {
    std::string frames;
    uint64_t count = 0;
    std::vector<uint64_t> exclude;
  };

  void Deliver(std::vector<Delivery>& batch) {
    // Group the deliveries of this post per target, preserving order within
    // each group (the broker's per-channel order).
    targets_.clear();
    for (Delivery& d : batch) {
      if (!d.to_all && groups_.Find(d.group) == nullptr) continue;
      auto& segments = targets_[d.to_all ? std::string() : d.group];
      if (segments.empty() || segments.back().exclude != d.exclude) {
        segments.push_back(Segment{{}, 0, std::move(d.exclude)});
      }
      AppendTextFrame(*d.payload, &segments.back().frames);
      ++segments.back().count;
    }
    for (auto& [group, segments] : targets_) {
      recipients_.clear();
      if (group.empty()) {
        for (auto& [id, con] : conns_) recipients_.push_back(con.get());
      } else if (const auto* members = groups_.Find(group)) {
        recipients_.assign(members->begin(), members->end());
      }
      for (Segment& segment : segments) {
        auto msg = std::make_shared<Message>(
            typename Config::con_msg_manager_type::ptr(),
            websocketpp::frame::opcode::text, 0);
        msg->get_raw_payload().swap(segment.frames);
        msg->set_prepared(true);
        const size_t size = msg->get_payload().size();
        for (Connection* con : recipients_) {
          if (!segment.exclude.empty() &&
              std::find(segment.exclude.begin(), segment.exclude.end(),
                        con->id) != segment.exclude.end()) {
            continue;
          }
          SendPrepared(con, msg, size, segment.count);
        }
      }
    }
  }

  void SendPrepared(Connection* con, const MessagePtr& msg, size_t size,
                    uint64_t count) {
    if (con->closing) return;
    // Past the bound already: this client has not read what it was sent.
    // (Checked before adding, so one batch larger than the bound still goes
    // to a client that keeps up; the queue peaks at bound + one batch.)
    if (con->get_buffered_amount() > options_.max_queued_bytes) {
      Bump(stats_.slow_client_closes);
      spdlog::info("closing slow client {}: more than {} bytes queued", con->id,
                   options_.max_queued_bytes);
      Close(con->get_shared(), close_code::policy_violation,
            absl::StrCat("slow client: more than ", options_.max_queued_bytes,
                         " bytes queued"));
      return;
    }
    if (!con->send(msg)) {
      Bump(stats_.deliveries, count);
      Bump(stats_.bytes_out, size);
    }
  }

  // Starts a close handshake and leaves every group at once; the sweep
  // drops the socket if the peer does not complete it in time.
  void Close(const ConnectionPtr& con, close_code::value code,
             const std::string& reason) {
    if (con->closing) return;
    con->closing = true;
    con->close_deadline = Clock::now() + options_.close_timeout;
    LeaveAll(con.get());
    closing_.push_back(con);
    std::error_code ec;
    con->close(code, reason, ec);
  }

  void ArmSweep() {
    // Fine enough that pings go out close to every ping_interval and a
    // missing pong is noticed close to pong_timeout after it was due.
    const auto tick =
        std::max(std::chrono::milliseconds(1),
                 std::min({kMaxSweepTick, options_.ping_interval / 4,
                           options_.pong_timeout / 4}));
    sweep_.expires_after(tick);
    sweep_.async_wait([this](const std::error_code& ec) {
      if (!ec) Sweep();
    });
  }

  void Sweep() {
    const auto now = Clock::now();
    // Peers that never completed a close: cut the socket.
    for (size_t i = 0; i < closing_.size();) {
      auto& con = closing_[i];
      if (!conns_.contains(con->id)) {
        closing_[i] = std::move(closing_.back());
        closing_.pop_back();
        continue;
      }
      if (now >= con->close_deadline) {
        std::error_code ec;
        con->get_raw_socket().close(ec);
      }
      ++i;
    }
    if (now >= next_ping_) {
      next_ping_ = now + options_.ping_interval;
      const auto dead_after = options_.ping_interval + options_.pong_timeout;
      std::vector<ConnectionPtr> dead;
      for (auto& [id, con] : conns_) {
        if (con->closing) continue;
        if (now - con->last_seen > dead_after) {
          dead.push_back(con);
        } else {
          std::error_code ec;
          con->ping("", ec);
        }
      }
      for (auto& con : dead) {
        Bump(stats_.ping_timeouts);
        Close(con, close_code::policy_violation, "ping timeout");
      }
    }
    ArmSweep();
  }

  const GatewayOptions& options_;
  BrokerLink* const link_;
  asio::io_context& link_io_;
  GatewayLimits* const limits_;
  asio::io_context io_{1};
  Endpoint endpoint_;
  asio::steady_timer sweep_;
  Clock::time_point next_ping_;
  uint64_t next_conn_ = 1;
  absl::flat_hash_map<uint64_t, ConnectionPtr> conns_;
  SubscriptionIndex<Connection*> groups_;
  std::vector<ConnectionPtr> closing_;
  bool shutting_down_ = false;
  std::function<void()> on_idle_;
  // Scratch, reused across deliveries.
  absl::flat_hash_map<std::string, std::vector<Segment>> targets_;
  std::vector<Connection*> recipients_;
};

}  // namespace

Worker::Worker(int index, const GatewayOptions& options, BrokerLink* link,
               asio::io_context& link_io, GatewayLimits* limits,
               std::shared_ptr<asio::ssl::context> tls) {
  if (tls) {
    impl_ = std::make_unique<WorkerImpl<TlsConfig>>(index, options, link,
                                                    link_io, limits, tls);
  } else {
    impl_ = std::make_unique<WorkerImpl<PlainConfig>>(index, options, link,
                                                      link_io, limits, nullptr);
  }
}
Worker::~Worker() = default;

absl::Status Worker::Listen(const std::string& host, uint16_t port,
                            uint16_t* bound) {
  return impl_->Listen(host, port, bound);
}
void Worker::Run() { impl_->Run(); }
void Worker::PostDeliveries(std::vector<Delivery> batch) {
  impl_->PostDeliveries(std::move(batch));
}
void Worker::PostShutdown(std::function<void()> on_idle) {
  impl_->PostShutdown(std::move(on_idle));
}
void Worker::Stop() { impl_->Stop(); }
WorkerStats& Worker::stats() { return impl_->stats_; }
int Worker::index() const { return impl_->worker_index_; }

}  // namespace channel
