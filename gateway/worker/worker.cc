// Worker: construction, the loop, the transport glue (the WsServer's
// events), fan-out and the periodic sweep. Connection lifecycle and replies
// are in worker_connections.cc, the shutdown drain in worker_drain.cc.
#include "gateway/worker/worker.h"

#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asio/post.hpp"
#include "common/logging/log_limiter.h"
#include "common/logging/logging.h"
#include "gateway/commands/replies.h"
#include "gateway/worker/worker_impl.h"
#include "gateway/ws/http_request.h"

namespace channel {
namespace {

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

Worker::Impl::Impl(int index, const GatewayOptions& options,
                   const std::string& gateway_id, GatewayLimits* limits,
                   const TokenVerifier* verifier, const TlsContext* tls)
    : options_(options),
      tls_(tls),
      link_(io_, index, options.threads,
            LinkOptions(options, gateway_id, index),
            absl::StrCat(gateway_id, "/", index), &stats_, limits),
      membership_(options.max_groups_per_connection,
                  options.max_groups_per_worker, &link_, &stats_, limits,
                  &presence_),
      recoveries_(options.max_queued_bytes),
      admission_(options, limits, &stats_),
      auth_(options, verifier, &membership_, &stats_, this),
      app_(io_, options, absl::StrCat(gateway_id, "-", index), index, &link_,
           &membership_, &stats_, this),
      dispatcher_(options, &link_, &membership_, &recoveries_, &auth_, &app_,
                  &stats_, this, &presence_, &members_),
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
  // The application's actions on this worker's connections arrive on its
  // node channel, held for the worker's life.
  membership_.set_node_channel(AppNodeChannel(app_.node()));
  link_.set_node_channel(
      AppNodeChannel(app_.node()),
      [this](const std::string& payload) { app_.OnAction(payload); });
  membership_.set_on_group(
      [this](ConnectionData* con, const std::string& group, bool joined) {
        app_.OnGroup(con, group, joined);
      });
  link_.set_channel_source(&membership_);
  link_.set_on_lost(
      [this](const std::string& channel, const absl::Status& status) {
        dispatcher_.OnChannelRefused(channel, status);
      });
  // After every (re)connect the broker gets this worker's whole presence,
  // and after a loss every connection hears of the channels in which it
  // may have missed messages: never a silent gap. History channels the
  // broker resumed from this worker's offsets lost nothing.
  // The snapshot goes before the re-subscribes: the member lists the
  // broker sends with them then hold this worker's own members.
  link_.set_presence_snapshot([this] { return presence_.Snapshot(1 << 20); });
  link_.set_on_up([this](std::chrono::milliseconds down,
                         const ShardLink::Recovered& recovered) {
    if (down.count() > 0) SendGap(down, recovered);
    app_.OnLinkUp();
  });
  // Member lists (presence groups): changes go out within the turn, and
  // the broker's presence events become what members are told.
  presence_.set_urgent(
      [this](const std::string& group) {
        return link_.presence_rules().ForGroup(group) != nullptr;
      },
      [this] { asio::post(io_, [this] { dispatcher_.FlushPresence(); }); });
  link_.set_on_member([this](const std::string& group, const v1::Metadata& meta,
                             const std::string& payload,
                             std::vector<Delivery>* tell) {
    tells_.clear();
    if (!members_.OnEvent(group, meta, payload, &tells_)) {
      CHANNEL_LOG_LIMITED(spdlog::level::err,
                          "worker {}: a malformed presence event ({}) of "
                          "group '{}' was dropped",
                          worker_index_, meta.payload_codec(),
                          group.substr(0, 64));
      return;
    }
    for (MemberMirror::Tell& t : tells_) {
      Delivery d;
      d.channel = GroupChannel(t.group);
      d.payload = std::make_shared<const std::string>(std::move(t.json));
      d.member_event = true;
      d.mutable_rare().skip_user = std::move(t.user);
      tell->push_back(std::move(d));
    }
    Bump(stats_.member_events, tells_.size());
  });
  membership_.set_on_channel_gone([this](const std::string& channel) {
    std::string group;
    if (ParseBrokerChannel(channel, &group) == ChannelKind::kGroup) {
      members_.Drop(group);
    }
  });
}

void Worker::Impl::Run() {
  ArmSweep();
  link_.Start();
  auto guard = asio::make_work_guard(io_);
  io_.run();
}

void Worker::Impl::Stop() {
  asio::post(io_, [this] {
    link_.Stop();
    io_.stop();
  });
}

WsServer Worker::Impl::NewEndpoint() {
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
        stats_.handshakes_shed_pending.fetch_sub(1, std::memory_order_relaxed);
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

void Worker::Impl::Deliver(std::vector<Delivery>& batch) {
  // Before Build, which takes the exclusions.
  if (!recoveries_.empty()) recoveries_.Capture(batch);
  batch_.Build(
      batch,
      [this](absl::string_view channel) {
        return membership_.Find(channel) != nullptr;
      },
      json_connections_ > 0);
  writer_.Write(batch_, membership_, conns_, recoveries_);
}

void Worker::Impl::SendGap(std::chrono::milliseconds down,
                           const ShardLink::Recovered& recovered) {
  const bool all_lost = !recovered.contains(kBroadcastChannel);
  size_t told = 0;
  GapInfo gap;
  gap.down_ms = down.count();
  std::string id;
  for (auto& [conn_id, con] : conns_) {
    if (!con->is_open()) continue;
    gap.groups.clear();
    gap.all = all_lost;
    gap.user = false;
    membership_.ForEachChannelOf(con.get(), [&](const std::string& channel) {
      if (recovered.contains(channel)) return;
      switch (ParseBrokerChannel(channel, &id)) {
        case ChannelKind::kGroup:
          gap.groups.push_back(
              absl::string_view(channel).substr(strlen(kGroupChannelPrefix)));
          break;
        case ChannelKind::kUser:
          gap.user = true;
          break;
        default:
          break;
      }
    });
    if (gap.groups.empty() && !gap.all && !gap.user) continue;
    const std::string text = GapNotice(con->json_framing, gap);
    if (con->SendText(text)) {
      Bump(stats_.bytes_out, text.size());
      ++told;
    }
  }
  Bump(stats_.gap_notices, told);
  spdlog::warn(
      "worker {}: broker link back after {} ms: {} history channel(s) "
      "resumed; told {} connection(s) that they may have missed messages "
      "(gap)",
      worker_index_, down.count(), recovered.size(), told);
}

void Worker::Impl::CloseSlow(WsConnection* con) {
  Bump(stats_.slow_client_closes);
  CHANNEL_LOG_LIMITED(spdlog::level::info,
                      "closing slow client {}: more than {} bytes queued",
                      con->id, options_.max_queued_bytes);
  Close(con->shared_from_this(), ws_close::kPolicyViolation,
        absl::StrCat("slow client: more than ", options_.max_queued_bytes,
                     " bytes queued"));
}

void Worker::Impl::ArmSweep() {
  sweep_.expires_after(liveness_.Tick());
  sweep_.async_wait([this](const std::error_code& ec) {
    if (!ec) Sweep();
  });
}

void Worker::Impl::Sweep() {
  auth_.Sweep();
  // Presence changes go out batched, once per sweep; while the link is
  // down they wait: the snapshot after the reconnect replaces them.
  if (v1::Presence delta; link_.up() && presence_.TakeDelta(&delta)) {
    link_.SendPresence(delta).IgnoreError();
  }
  // Changes of presence groups made while the link was coming up wait
  // for it (their flush found it down): they go now.
  dispatcher_.FlushPresence();
  liveness_.Run(conns_, Clock::now());
  trimmer_.Sweep();
  ArmSweep();
}

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
