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
    : broker_id_(broker_id),
      router_(router),
      presence_service_(presence),
      hooks_(std::move(hooks)),
      presence_tick_(io),
      window_tick_(io),
      probe_(io),
      window_(options.nats_interest_window_ms) {
  NatsLink::Options nats;
  nats.servers = options.nats_servers;
  nats.token = options.nats_token;
  nats.user = options.nats_user;
  nats.password = options.nats_password;
  nats.ping_interval_ms = options.nats_ping_interval_ms;
  nats.max_inbox_bytes = options.nats_max_inbox_bytes;
  nats.name = absl::StrCat("channel-broker/", broker_id);
  nats.broker_id = broker_id;
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
  if (window_.count() > 0) {
    callbacks.on_interest = [this](const std::string& bytes) {
      interest_->OnMessage(bytes, ClusterInterest::Clock::now());
    };
    callbacks.on_gone = [this](const std::string& broker) {
      interest_->Gone(broker, ClusterInterest::Clock::now());
    };
    callbacks.on_queue = [this](const std::string& bytes) {
      OnQueueEvent(bytes);
    };
  }
  callbacks.on_dropped = [this](const std::string& channel) {
    OnDropped(channel);
  };
  nats_ = std::make_unique<NatsLink>(io, std::move(nats), std::move(callbacks));
  presence_ = std::make_unique<ClusterPresence>(
      broker_id, &presence_service_->mutable_table(),
      [this](const std::string& bytes) { nats_->PublishPresence(bytes); });
  presence_service_->set_cluster(presence_.get());
  if (window_.count() > 0) {
    ClusterInterest::Options interest;
    interest.window = window_;
    // A broker heard sharing presence but not interest (a version without
    // it, in a rolling upgrade, or one just heard): forward everything.
    interest.brokers_heard = [this] { return presence_->remote_brokers(); };
    interest.on_queue = [this](const std::string& broker,
                               const std::string& channel,
                               const std::string& group, bool joined) {
      router_->RemoteQueue(Proxy(broker), channel, group, joined);
      if (joined) {
        ++queue_stats_.remote_groups;
      } else {
        --queue_stats_.remote_groups;
      }
    };
    interest.on_dropped = [this](const std::string& broker) {
      auto it = proxies_.find(broker);
      if (it == proxies_.end()) return;
      router_->RemoveAll(it->second.get());  // its keys' bindings too
      proxies_.erase(it);
    };
    interest_ = std::make_unique<ClusterInterest>(
        broker_id,
        [this](const std::string& bytes) { nats_->PublishInterest(bytes); },
        interest);
  }
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
  for (auto& [broker, proxy] : proxies_) router_->RemoveAll(proxy.get());
  router_->set_cluster(nullptr);
  presence_service_->set_cluster(nullptr);
  router_->set_history_sink(nullptr);
}

absl::Status ClusterNode::Start() {
  ArmPresenceTick();
  router_->set_cluster(this);
  return nats_->Start();
}

void ClusterNode::Stop() {
  if (interest_ != nullptr) {
    interest_->Leave();
    nats_->StopControl();
    nats_->Flush(500);  // so that the others drop us now, not at expiry
  }
  presence_tick_.cancel();
  window_tick_.cancel();
  probe_.cancel();
  probing_ = false;
}

void ClusterNode::Interest(const std::string& channel, bool first) {
  nats_->Interest(channel, first);
  if (interest_ != nullptr) interest_->Local(channel, first);
}

absl::Status ClusterNode::Forward(const v1::Envelope& event) {
  if (interest_ != nullptr &&
      !interest_->Wanted(event.event().channel(),
                         ClusterInterest::Clock::now())) {
    ++skipped_;  // no other broker has subscribers of it
    return absl::OkStatus();
  }
  return nats_->Forward(event);
}

void ClusterNode::QueueInterest(const std::string& channel,
                                const std::string& group, bool first) {
  if (interest_ != nullptr) interest_->LocalQueue(channel, group, first);
}

BrokerProxy* ClusterNode::Proxy(const std::string& broker) {
  auto& proxy = proxies_[broker];
  if (proxy == nullptr) {
    proxy = std::make_unique<BrokerProxy>(
        [this, broker](const std::string& group, const v1::Event& event) {
          return SendQueued(broker, group, event);
        });
  }
  return proxy.get();
}

bool ClusterNode::SendQueued(const std::string& broker,
                             const std::string& group, const v1::Event& event) {
  queue_scratch_.Clear();
  queue_scratch_.set_broker_id(broker_id_);
  queue_scratch_.set_group(group);
  *queue_scratch_.mutable_event() = event;
  queue_scratch_.SerializeToString(&queue_bytes_);
  if (!nats_->PublishQueue(broker, queue_bytes_)) return false;
  ++queue_stats_.sent;
  return true;
}

void ClusterNode::OnQueueEvent(const std::string& bytes) {
  if (!queue_in_.ParseFromString(bytes) || queue_in_.group().empty() ||
      queue_in_.event().channel().empty()) {
    ++queue_stats_.malformed;
    return;
  }
  ++queue_stats_.received;
  // The sender's stand-in is the events' publisher here (its keys'
  // bindings end when it leaves), for a broker in the view only: an
  // unknown id makes no stand-in (nothing would ever remove it).
  const std::string& origin = queue_in_.broker_id();
  const Subscriber* publisher =
      interest_->Knows(origin) ? Proxy(origin) : nullptr;
  queue_envelope_.mutable_event()->Swap(queue_in_.mutable_event());
  router_->DeliverQueued(queue_envelope_, queue_in_.group(), publisher);
}

bool ClusterNode::WaitForInterest(std::function<void()> done) {
  if (interest_ == nullptr) return false;
  if (!interest_->WaitFor(std::move(done), ClusterInterest::Clock::now())) {
    return false;
  }
  if (!probing_) ArmProbe();
  return true;
}

void ClusterNode::ArmProbe() {
  probing_ = true;
  probe_.expires_after(std::chrono::milliseconds(200));
  probe_.async_wait([this](const std::error_code& ec) {
    if (ec) return;  // cancelled: this node may be gone
    if (interest_->waiting() == 0) {
      probing_ = false;
      return;
    }
    for (const std::string& broker : interest_->Unconfirmed()) {
      nats_->Probe(broker);
    }
    ArmProbe();
  });
}

void ClusterNode::ArmWindowTick() {
  window_tick_.expires_after(window_ + std::chrono::milliseconds(1));
  window_tick_.async_wait([this](const std::error_code& ec) {
    if (!ec && interest_ != nullptr) {
      interest_->Tick(ClusterInterest::Clock::now());
    }
  });
}

void ClusterNode::ArmPresenceTick() {
  presence_tick_.expires_after(std::chrono::seconds(1));
  presence_tick_.async_wait([this](const std::error_code& ec) {
    if (ec) return;
    presence_->Tick(ClusterPresence::Clock::now());
    if (interest_ != nullptr) interest_->Tick(ClusterInterest::Clock::now());
    ArmPresenceTick();
  });
}

void ClusterNode::OnState(bool up, const std::string& reason) {
  if (up) {
    spdlog::info("NATS connected: cluster ready");
    presence_->OnConnected();
    if (interest_ != nullptr) {
      interest_->OnConnected(ClusterInterest::Clock::now());
      ArmWindowTick();
    }
    if (history_ != nullptr) history_->OnConnected(nats_->connection());
    return;
  }
  presence_->OnDisconnected();
  if (interest_ != nullptr) interest_->OnDisconnected();
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
