#include "broker/cluster/cluster_node.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/logging/log_limiter.h"
#include "common/logging/logging.h"

namespace channel {

ClusterNode::ClusterNode(asio::io_context& io, const BrokerOptions& options,
                         const std::string& broker_id, Router* router,
                         PresenceService* presence, HistoryStore* history,
                         Hooks hooks)
    : router_(router),
      presence_service_(presence),
      hooks_(std::move(hooks)),
      presence_tick_(io) {
  NatsLink::Options nats;
  nats.servers = options.nats_servers;
  nats.token = options.nats_token;
  nats.user = options.nats_user;
  nats.password = options.nats_password;
  nats.ping_interval_ms = options.nats_ping_interval_ms;
  nats.max_inbox_bytes = options.nats_max_inbox_bytes;
  nats.name = absl::StrCat("channel-broker/", broker_id);
  NatsLink::Callbacks callbacks;
  callbacks.on_event = [this](const v1::Envelope& event) {
    router_->DeliverRemote(event);
  };
  callbacks.on_state = [this](bool up, const std::string& reason) {
    OnState(up, reason);
  };
  callbacks.on_presence = [this](const std::string& bytes) {
    presence_->OnMessage(bytes, ClusterPresence::Clock::now());
  };
  callbacks.on_dropped = [this](const std::string& channel) {
    OnDropped(channel);
  };
  nats_ = std::make_unique<NatsLink>(io, std::move(nats), std::move(callbacks));
  presence_ = std::make_unique<ClusterPresence>(
      broker_id, &presence_service_->mutable_table(),
      [this](const std::string& bytes) { nats_->PublishPresence(bytes); });
  presence_service_->set_cluster(presence_.get());
  if (history != nullptr && !options.history.empty()) {
    JetStreamHistory::Options js;
    js.replicas = options.history_replicas;
    js.max_inbox_bytes = options.nats_max_inbox_bytes;
    history_ = std::make_unique<JetStreamHistory>(
        io, history, js,
        [this](const v1::Envelope& event) { router_->DeliverRemote(event); },
        [this, history](size_t rule) { OnOverrun(history, rule); });
    // libnats may call back into its closures until it is closed.
    nats_->KeepUntilClosed(history_->keep_alive());
    router_->set_history_sink(history_.get());
  }
}

ClusterNode::~ClusterNode() {
  presence_service_->set_cluster(nullptr);
  router_->set_history_sink(nullptr);
}

absl::Status ClusterNode::Start() {
  ArmPresenceTick();
  router_->set_cluster(nats_.get());
  return nats_->Start();
}

void ClusterNode::Stop() { presence_tick_.cancel(); }

void ClusterNode::ArmPresenceTick() {
  presence_tick_.expires_after(std::chrono::seconds(1));
  presence_tick_.async_wait([this](const std::error_code& ec) {
    if (ec) return;
    presence_->Tick(ClusterPresence::Clock::now());
    ArmPresenceTick();
  });
}

void ClusterNode::OnState(bool up, const std::string& reason) {
  if (up) {
    spdlog::info("NATS connected: cluster ready");
    presence_->OnConnected();
    if (history_ != nullptr) history_->OnConnected(nats_->connection());
    return;
  }
  presence_->OnDisconnected();
  if (history_ != nullptr) history_->OnDisconnected();
  if (hooks_.on_lost) hooks_.on_lost(reason);
}

void ClusterNode::OnOverrun(HistoryStore* history, size_t rule) {
  // The history feed lagged so far that JetStream may have dropped events
  // of these groups before this broker delivered them: their subscribers
  // re-subscribe and hear of the gap (recovery refuses positions before
  // this point), never silence.
  const std::vector<Subscriber*> subscribers =
      router_->SubscribersWhere([history, rule](const std::string& channel) {
        const HistoryRule* r = history->RuleFor(channel);
        return r != nullptr && history->RuleIndex(r) == rule;
      });
  CHANNEL_LOG_LIMITED(spdlog::level::warn,
                      "closing {} subscriber(s) of history groups whose "
                      "events may have been dropped (they re-subscribe and "
                      "are told)",
                      subscribers.size());
  for (Subscriber* s : subscribers) hooks_.close_subscriber(s);
}

void ClusterNode::OnDropped(const std::string& channel) {
  // Messages of this channel were dropped between brokers (NATS's slow
  // consumer, or NatsLink's inbox bound): its local subscribers missed
  // some. Tell them (they reconnect and re-subscribe), never stay silent.
  const std::vector<Subscriber*> subscribers = router_->SubscribersOf(channel);
  CHANNEL_LOG_LIMITED(
      spdlog::level::err,
      "events of channel '{}' dropped between brokers (NATS slow consumer "
      "or --nats_max_inbox_bytes): closing its {} local subscriber(s)",
      absl::CHexEscape(channel.substr(0, 64)), subscribers.size());
  for (Subscriber* s : subscribers) hooks_.close_subscriber(s);
}

}  // namespace channel
