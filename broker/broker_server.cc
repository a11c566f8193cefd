#include "broker/broker_server.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"
#include "asio/post.hpp"
#include "broker/app/occupancy_event.h"
#include "broker/metrics/broker_metrics.h"
#include "broker/session.h"
#include "common/channel_names.h"
#include "common/logging/log_limiter.h"
#include "common/logging/logging.h"
#include "common/random_id.h"
#include "net/socket_io.h"

namespace channel {

BrokerServer::BrokerServer(asio::io_context& io, BrokerOptions options)
    : io_(io),
      options_(std::move(options)),
      broker_id_(RandomId()),
      acceptor_(io),
      router_(options_, &stats_),
      work_queues_(WorkQueues::Limits{
          options_.php_max_queue_items, options_.php_max_queues,
          options_.php_max_queue_bytes, options_.php_max_queued_items}),
      php_bridge_(&router_, options_.php_group_channel, php_limits_),
      presence_(options_.max_presence_entries_per_connection,
                options_.presence),
      grace_(options_.resubscribe_grace, !options_.nats_servers.empty(),
             &router_, &stats_),
      context_{options_,  broker_id_, stats_,   router_,     work_queues_,
               presence_, grace_,     sources_, php_limits_, *this},
      sole_tick_(io),
      drain_(io),
      final_close_(io) {
  if (php_bridge_.enabled()) router_.set_observer(&php_bridge_);
  HistoryStoreOptions history;
  history.rules = options_.history;
  history.max_bytes = options_.history_max_bytes;
  history.recover_max = options_.history_recover_max;
  if (!options_.nats_servers.empty()) {
    // A cluster: JetStream sequences (ClusterNode), this store mirrors;
    // send_to_all has no stream there (gateways tell its gap instead).
    history.mirror = true;
    history.broadcast_offsets = false;
  }
  if (options_.nats_servers.empty() || !options_.history.empty()) {
    history_ = std::make_unique<HistoryStore>(std::move(history));
    router_.set_history(history_.get());
  }
}

BrokerServer::~BrokerServer() {
  // The Router outlives neither: they leave it before they go.
  if (webhook_ != nullptr) {
    webhook_->Stop();
    router_.RemoveAll(webhook_.get());
  }
}

absl::Status BrokerServer::Listen() {
  absl::StatusOr<SourcePolicy> sources = SourcePolicy::Create(options_);
  if (!sources.ok()) return sources.status();
  sources_ = *std::move(sources);
  if (!options_.nats_servers.empty()) {
    ClusterNode::Hooks hooks;
    hooks.on_lost = [this](const std::string& reason) {
      // Clients of a broker cut off from its cluster would see only part
      // of the traffic: send them to another broker.
      spdlog::warn(
          "NATS lost ({}): not ready; closing {} connection(s) with "
          "CLUSTER_UNAVAILABLE",
          reason, sessions_.size());
      CloseAll(v1::Error::CLUSTER_UNAVAILABLE,
               "this broker lost its cluster (NATS); connect to another "
               "broker");
    };
    hooks.close_subscriber = [this](Subscriber* subscriber) {
      // The Router's subscribers are this server's sessions, and its own
      // action inbox (which never holds a history channel's events).
      if (subscriber == client_actions_.get()) return;
      static_cast<Session*>(subscriber)
          ->Close(v1::Error::CLUSTER_UNAVAILABLE,
                  "messages of a subscribed channel were dropped between "
                  "brokers; reconnect and re-subscribe",
                  false);
    };
    cluster_ = std::make_unique<ClusterNode>(
        io_, options_, broker_id_, &router_, &presence_, history_.get(), hooks);
    // Member lists: each broker tells its own subscribers the changes its
    // table sees, whoever reported them (gateways' copies absorb brokers
    // that disagree for a moment); whole lists once a sync is in.
    cluster_->mutable_presence().set_on_member(
        [this](const PresenceTable::MemberEdge& e) {
          TellMembers(
              e.group, MemberEventJson(e.added, e.group, e.user, e.info),
              e.added ? kMemberAddedCodec : kMemberRemovedCodec, e.user);
        },
        [this] { asio::post(io_, [this] { ResyncMemberLists(); }); });
    if (absl::Status s = cluster_->Start(); !s.ok()) return s;
  } else {
    ArmSoleTick();
  }
  // Occupancy of groups, as this broker's gateways change it, goes to the
  // application's events.
  presence_.set_on_edge([this](const std::string& group, bool occupied) {
    v1::Publish publish;
    publish.add_channels(kAppEventsChannel);
    publish.set_payload(OccupancyEventJson(
        group, occupied,
        std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch())
            .count()));
    publish.mutable_meta()->set_key(GroupChannel(group));
    publish.mutable_meta()->set_key_end(!occupied);
    router_.Publish(&publish).IgnoreError();  // nobody listening: fine
  });
  // Members of presence groups: each arrival and departure goes to the
  // group's subscribers (gateways tell their members).
  presence_.set_on_member([this](const PresenceTable::MemberEdge& e) {
    const std::string json = MemberEventJson(e.added, e.group, e.user, e.info);
    TellMembers(e.group, json,
                e.added ? kMemberAddedCodec : kMemberRemovedCodec, e.user);
    // And to the application, with the other events (key: the group, so
    // that a queue group keeps one group's changes on one backend).
    v1::Publish publish;
    publish.add_channels(kAppEventsChannel);
    publish.set_payload(json);  // plain JSON, as every app event
    publish.mutable_meta()->set_key(GroupChannel(e.group));
    router_.Publish(&publish).IgnoreError();  // nobody listening: fine
  });
  presence_.set_partial([this] {
    return grace_.active() ||
           (cluster_ != nullptr &&
            cluster_->presence().unsettled(ClusterPresence::Clock::now()));
  });
  // After a restart's grace every gateway has reported again: the lists
  // it was sent meanwhile were partial, these are whole.
  grace_.set_on_end(
      [this] { asio::post(io_, [this] { ResyncMemberLists(); }); });
  // Results of the API's actions come back to an inbox of this process.
  client_actions_ = std::make_unique<ClientActions>(
      io_, &router_, absl::StrCat("app:reply:broker-", broker_id_),
      kClientActionTimeout);
  if (!options_.webhook.url.empty()) {
    absl::StatusOr<std::unique_ptr<WebhookPoster>> poster =
        LoadWebhookPoster(options_.webhook.url, options_.webhook.secret,
                          options_.webhook.timeout);
    if (!poster.ok()) return poster.status();
    webhook_ =
        std::make_unique<WebhookSink>(options_.webhook, *std::move(poster));
    v1::Subscribe subscribe;
    subscribe.add_channels(kAppEventsChannel);
    if (absl::Status s = router_.Subscribe(webhook_.get(), subscribe);
        !s.ok()) {
      return s;
    }
    webhook_->Start();
    spdlog::info("application events go to the webhook {}",
                 options_.webhook.url);
  }
  if (absl::Status s = OpenListener(
          &acceptor_, options_.listen_host, options_.port,
          asio::socket_base::max_listen_connections, /*reuse_port=*/false);
      !s.ok()) {
    return s;
  }
  std::error_code ec;
  port_ = acceptor_.local_endpoint(ec).port();
  DoAccept();
  return absl::OkStatus();
}

void BrokerServer::DoAccept() {
  acceptor_.async_accept([this](const std::error_code& ec,
                                asio::ip::tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || shutting_down_) return;
      // EMFILE and friends: log and keep accepting; the next accept may
      // succeed once connections close.
      CHANNEL_LOG_LIMITED(spdlog::level::err, "accept failed: {}",
                          ec.message());
      DoAccept();
      return;
    }
    const uint64_t id = next_session_id_++;
    auto session = std::make_shared<Session>(std::move(socket), id, &context_);
    sessions_.emplace(id, session);
    pending_.emplace(id, session.get());
    ++stats_.connections_accepted;
    session->Start();
    if (pending_.size() > options_.max_pending_handshakes) {
      // Shed the oldest: an honest client says Hello at once, so what
      // has waited longest is the likeliest to be holding a slot.
      Session* oldest = pending_.begin()->second;
      pending_.erase(pending_.begin());
      ++stats_.pending_handshakes_shed;
      oldest->Close(v1::Error::UNAUTHENTICATED,
                    absl::StrFormat("more than %d connections are waiting "
                                    "to say Hello; the oldest is closed",
                                    options_.max_pending_handshakes),
                    false, "pending_shed");
    }
    if (sessions_.size() > options_.max_connections) {
      ++stats_.connections_rejected;
      session->Close(v1::Error::TOO_MANY_CONNECTIONS,
                     absl::StrFormat("the broker is at its limit of %d "
                                     "connections",
                                     options_.max_connections),
                     false);
    }
    DoAccept();
  });
}

void BrokerServer::ScheduleFlush(std::shared_ptr<FramedStream> stream) {
  if (flush_list_.empty()) asio::post(io_, [this] { FlushAll(); });
  flush_list_.push_back(std::move(stream));
}

void BrokerServer::FlushAll() {
  flushing_.swap(flush_list_);
  for (const auto& stream : flushing_) stream->Flush();
  flushing_.clear();
}

void BrokerServer::OnSessionFinished(uint64_t id) {
  pending_.erase(id);
  auto it = sessions_.find(id);
  if (it != sessions_.end()) {
    // The session is inside its own callback: destroy it on a later turn.
    if (retired_.empty()) asio::post(io_, [this] { retired_.clear(); });
    retired_.push_back(std::move(it->second));
    sessions_.erase(it);
    ++stats_.connections_closed;
  }
  MaybeDrained();
}

void BrokerServer::Shutdown(std::function<void()> on_drained) {
  if (shutting_down_) return;
  shutting_down_ = true;
  on_drained_ = std::move(on_drained);
  std::error_code ec;
  acceptor_.close(ec);
  std::vector<uint64_t> ids;
  ids.reserve(sessions_.size());
  for (const auto& [id, session] : sessions_) ids.push_back(id);
  spdlog::info(
      "draining: asking {} connection(s) to move to another broker over {} "
      "ms; closing the rest {} ms later",
      ids.size(), options_.drain.count(), options_.shutdown_grace.count());
  final_close_at_ = std::chrono::steady_clock::now() + options_.drain +
                    options_.shutdown_grace;
  final_close_.expires_at(final_close_at_);
  final_close_.async_wait([this](const std::error_code& error) {
    if (error) return;
    if (!sessions_.empty()) {
      spdlog::info("drain over: closing {} connection(s) still open",
                   sessions_.size());
    }
    CloseAll(v1::Error::SHUTTING_DOWN, "broker shutting down");
  });
  drain_.Start(
      std::move(ids), options_.drain, std::chrono::milliseconds(10),
      [this](uint64_t id) { MoveOrClose(id); }, nullptr);
  MaybeDrained();
}

void BrokerServer::MoveOrClose(uint64_t id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  const std::shared_ptr<Session> session = it->second;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      final_close_at_ - std::chrono::steady_clock::now());
  if (session->AskToMove(
          static_cast<uint32_t>(std::max<int64_t>(left.count(), 0)),
          "broker shutting down")) {
    ++stats_.drain_moves;
    return;
  }
  ++stats_.drain_closes;
  session->Close(v1::Error::SHUTTING_DOWN, "broker shutting down", false);
}

void BrokerServer::CloseAll(v1::Error::Code code, const std::string& reason) {
  // Close() may finish a session synchronously; iterate over a copy.
  std::vector<std::shared_ptr<Session>> all;
  all.reserve(sessions_.size());
  for (const auto& [id, session] : sessions_) all.push_back(session);
  for (const auto& session : all) session->Close(code, reason, false);
}

void BrokerServer::MaybeDrained() {
  if (shutting_down_ && sessions_.empty() && on_drained_) {
    auto done = std::move(on_drained_);
    on_drained_ = nullptr;
    drain_.Cancel();
    final_close_.cancel();
    sole_tick_.cancel();
    // The last client has gone: nobody needs the cluster any more. On a
    // later turn: this may run inside one of the cluster's own callbacks.
    asio::post(io_, [this, done = std::move(done)] {
      if (cluster_ != nullptr) cluster_->Stop();
      done();
    });
  }
}

void BrokerServer::ArmSoleTick() {
  sole_tick_.expires_after(std::chrono::seconds(1));
  sole_tick_.async_wait([this](const std::error_code& ec) {
    if (ec) return;
    router_.ExpireSole(SoleInterest::Clock::now());
    grace_.Tick();
    if (history_ != nullptr) history_->Tick();
    ArmSoleTick();
  });
}

std::string BrokerServer::NotReadyReason() const {
  if (shutting_down_) return "shutting down";
  if (!acceptor_.is_open()) return "not listening";
  if (cluster_ != nullptr && !cluster_->up()) return "NATS not connected";
  if (cluster_ != nullptr) return cluster_->HistoryNotReadyReason();
  return "";
}

std::string BrokerServer::RenderMetrics() const {
  PrometheusText m;
  AppendBrokerMetrics(
      BrokerMetricsInputs{stats_, sessions_.size(), pending_.size(), router_,
                          work_queues_, php_bridge_, presence_.table(),
                          cluster_.get(), webhook_.get()},
      &m);
  if (extra_metrics_) extra_metrics_(&m);
  return m.text();
}

}  // namespace channel
