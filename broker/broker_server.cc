#include "broker/broker_server.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "asio/post.hpp"
#include "broker/api_server.h"
#include "broker/session.h"
#include "common/log_limiter.h"
#include "common/logging.h"
#include "common/prometheus_text.h"
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
      presence_(options_.max_presence_entries_per_connection),
      presence_tick_(io),
      sole_tick_(io) {
  if (php_bridge_.enabled()) router_.set_observer(&php_bridge_);
}

BrokerServer::~BrokerServer() = default;

absl::Status BrokerServer::Listen() {
  absl::StatusOr<NetworkList> allow =
      NetworkList::Parse(options_.php_allow_from);
  if (!allow.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--php_allow_from: ", allow.status().message()));
  }
  php_allow_ = *std::move(allow);
  if (!options_.nats_servers.empty()) {
    NatsLink::Options nats;
    nats.servers = options_.nats_servers;
    nats.token = options_.nats_token;
    nats.user = options_.nats_user;
    nats.password = options_.nats_password;
    nats.ping_interval_ms = options_.nats_ping_interval_ms;
    nats.max_inbox_bytes = options_.nats_max_inbox_bytes;
    nats.name = absl::StrCat("channel-broker/", broker_id_);
    NatsLink::Callbacks callbacks;
    callbacks.on_event = [this](const v1::Envelope& event) {
      router_.DeliverRemote(event);
    };
    callbacks.on_state = [this](bool up, const std::string& reason) {
      OnClusterState(up, reason);
    };
    callbacks.on_presence = [this](const std::string& bytes) {
      cluster_presence_->OnMessage(bytes, ClusterPresence::Clock::now());
    };
    callbacks.on_dropped = [this](const std::string& channel) {
      // Messages of this channel were dropped between brokers (NATS's slow
      // consumer, or NatsLink's inbox bound): its local subscribers missed
      // some. Tell them (they reconnect and re-subscribe), never stay silent.
      CHANNEL_LOG_LIMITED(
          spdlog::level::err,
          "events of channel '{}' dropped between brokers (NATS slow consumer "
          "or --nats_max_inbox_bytes): closing its {} local subscriber(s)",
          absl::CHexEscape(channel.substr(0, 64)),
          router_.SubscribersOf(channel).size());
      for (Subscriber* s : router_.SubscribersOf(channel)) {
        static_cast<Session*>(s)->Close(
            v1::Error::CLUSTER_UNAVAILABLE,
            "messages of a subscribed channel were dropped between brokers; "
            "reconnect and re-subscribe",
            false);
      }
    };
    nats_ = std::make_unique<NatsLink>(io_, std::move(nats), callbacks);
    cluster_presence_ = std::make_unique<ClusterPresence>(
        broker_id_, &presence_,
        [this](const std::string& bytes) { nats_->PublishPresence(bytes); });
    ArmPresenceTick();
    router_.set_cluster(nats_.get());
    if (absl::Status s = nats_->Start(); !s.ok()) return s;
  } else if (options_.sole_interest) {
    ArmSoleTick();
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
  acceptor_.async_accept(
      [this](const std::error_code& ec, asio::ip::tcp::socket socket) {
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
        auto session = std::make_shared<Session>(std::move(socket), id, this);
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

bool BrokerServer::LimitFramesBeforeHello(
    const asio::ip::address& address) const {
  if (options_.auth_token.empty()) return false;
  return !(options_.php_enabled && !php_allow_.empty() &&
           php_allow_.Contains(address));
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
  presence_tick_.cancel();
  sole_tick_.cancel();
  spdlog::info("shutting down: closing {} connections", sessions_.size());
  // Close() may finish a session synchronously; iterate over a copy.
  std::vector<std::shared_ptr<Session>> all;
  all.reserve(sessions_.size());
  for (const auto& [id, session] : sessions_) all.push_back(session);
  for (const auto& session : all) {
    session->Close(v1::Error::SHUTTING_DOWN, "broker shutting down", false);
  }
  MaybeDrained();
}

void BrokerServer::MaybeDrained() {
  if (shutting_down_ && sessions_.empty() && on_drained_) {
    auto done = std::move(on_drained_);
    on_drained_ = nullptr;
    done();
  }
}

void BrokerServer::NoteResumingClient() {
  // In a cluster, clients that move here come from another broker that
  // lost NATS or stopped, and publishes travel through NATS to every
  // broker's subscribers: no grace (a moved gateway tells its members).
  if (grace_ != Grace::kNotYet || options_.resubscribe_grace.count() == 0 ||
      nats_ != nullptr) {
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  const auto age = now - started_;
  // Only a young broker restarted under its clients. The window is wide
  // and the grace counts from this first resuming client, not from the
  // start: on a loaded machine the broker and its clients may be slow to
  // start, but the clients re-link within their backoff of each other.
  const auto window = std::max<std::chrono::steady_clock::duration>(
      std::chrono::seconds(30), 6 * options_.resubscribe_grace);
  if (age >= window) {
    grace_ = Grace::kOver;
    return;
  }
  grace_ = Grace::kActive;
  grace_until_ = now + options_.resubscribe_grace;
  // Nobody holds a channel alone meanwhile: its publishes would bypass the
  // broker and miss the members whose gateways re-link later.
  router_.PauseSole(true);
  spdlog::warn(
      "a client re-linked from another broker {} ms after this one started: "
      "it restarted under its clients; publishes are refused for {} ms "
      "while subscribers re-subscribe (--resubscribe_grace_ms)",
      std::chrono::duration_cast<std::chrono::milliseconds>(age).count(),
      options_.resubscribe_grace.count());
}

absl::Status BrokerServer::RestartGrace() {
  if (grace_ != Grace::kActive) return absl::OkStatus();
  const auto left = grace_until_ - std::chrono::steady_clock::now();
  if (left <= std::chrono::steady_clock::duration::zero()) {
    grace_ = Grace::kOver;
    router_.PauseSole(false);
    return absl::OkStatus();
  }
  ++stats_.publishes_refused_restarting;
  return absl::AbortedError(absl::StrCat(
      "the broker restarted moments ago and subscribers are still "
      "re-subscribing; nothing was published: retry in ",
      std::chrono::duration_cast<std::chrono::milliseconds>(left).count() + 1,
      " ms"));
}

absl::Status BrokerServer::PublishFromApi(
    const std::vector<std::string>& channels, const std::string& message,
    uint64_t* deliveries) {
  if (absl::Status s = RestartGrace(); !s.ok()) return s;
  v1::Publish publish;
  for (const std::string& c : channels) publish.add_channels(c);
  publish.set_payload(message);
  absl::StatusOr<uint64_t> receivers = router_.Publish(&publish);
  if (!receivers.ok()) return receivers.status();
  *deliveries = *receivers;
  return absl::OkStatus();
}

absl::Status BrokerServer::ApplyPresence(const Session* reporter,
                                         const v1::Presence& report) {
  absl::Status s = presence_.Apply(reporter, report);
  if (s.ok() && cluster_presence_) {
    cluster_presence_->LocalReport(reporter, reporter->id(), report);
  }
  return s;
}

void BrokerServer::PresenceGone(const Session* reporter) {
  presence_.RemoveReporter(reporter);
  if (cluster_presence_) cluster_presence_->LocalGone(reporter->id());
}

void BrokerServer::ArmPresenceTick() {
  presence_tick_.expires_after(std::chrono::seconds(1));
  presence_tick_.async_wait([this](const std::error_code& ec) {
    if (ec) return;
    cluster_presence_->Tick(ClusterPresence::Clock::now());
    ArmPresenceTick();
  });
}

void BrokerServer::ArmSoleTick() {
  sole_tick_.expires_after(std::chrono::seconds(1));
  sole_tick_.async_wait([this](const std::error_code& ec) {
    if (ec) return;
    router_.ExpireSole(SoleInterest::Clock::now());
    if (grace_ == Grace::kActive &&
        std::chrono::steady_clock::now() >= grace_until_) {
      grace_ = Grace::kOver;
      router_.PauseSole(false);
    }
    ArmSoleTick();
  });
}

void BrokerServer::OnClusterState(bool up, const std::string& reason) {
  if (up) {
    spdlog::info("NATS connected: cluster ready");
    cluster_presence_->OnConnected();
    return;
  }
  cluster_presence_->OnDisconnected();
  // Clients of a broker cut off from its cluster would see only part of the
  // traffic: send them to another broker.
  spdlog::warn(
      "NATS lost ({}): not ready; closing {} connection(s) with "
      "CLUSTER_UNAVAILABLE",
      reason, sessions_.size());
  std::vector<std::shared_ptr<Session>> all;
  for (const auto& [id, session] : sessions_) all.push_back(session);
  for (const auto& session : all) {
    session->Close(v1::Error::CLUSTER_UNAVAILABLE,
                   "this broker lost its cluster (NATS); connect to another "
                   "broker",
                   false);
  }
}

bool BrokerServer::PhpAllowedFrom(const asio::ip::address& address) const {
  if (!php_allow_.empty()) return php_allow_.Contains(address);
  return options_.auth_token.empty();
}

std::string BrokerServer::NotReadyReason() const {
  if (shutting_down_) return "shutting down";
  if (!acceptor_.is_open()) return "not listening";
  if (nats_ != nullptr && !nats_->up()) return "NATS not connected";
  return "";
}

std::string BrokerServer::RenderMetrics() const {
  PrometheusText m;
  m.Gauge("channel_broker_connections", "Open client connections.",
          static_cast<double>(sessions_.size()));
  m.Counter("channel_broker_connections_accepted_total",
            "Connections accepted.", stats_.connections_accepted);
  m.Counter("channel_broker_connections_rejected_total",
            "Connections refused over --max_connections.",
            stats_.connections_rejected);
  m.Counter("channel_broker_connections_closed_total", "Connections closed.",
            stats_.connections_closed);
  m.Counter("channel_broker_handshakes_total", "Successful Hello handshakes.",
            stats_.handshakes);
  m.Gauge("channel_broker_pending_handshakes",
          "Connections that have not said their Hello yet.",
          static_cast<double>(pending_.size()));
  m.Counter("channel_broker_pending_handshakes_shed_total",
            "Connections closed because more than --max_pending_handshakes "
            "were waiting to say Hello (the oldest first).",
            stats_.pending_handshakes_shed);
  m.Counter("channel_broker_auth_failures_total",
            "Connections refused for a missing or wrong token or no Hello.",
            stats_.auth_failures);
  m.Gauge("channel_broker_channels", "Channels with at least one subscriber.",
          static_cast<double>(router_.channel_count()));
  m.Gauge("channel_broker_subscriptions",
          "Channel subscriptions over all connections.",
          static_cast<double>(router_.subscription_count()));
  const SoleInterest& sole = router_.sole_interest();
  m.Gauge("channel_broker_sole_grants",
          "Channels held by their only subscriber (sole interest).",
          static_cast<double>(sole.grants()));
  m.Counter("channel_broker_sole_grants_total", "Sole-interest grants given.",
            sole.granted_total());
  m.Counter("channel_broker_sole_revokes_total",
            "Sole-interest grants revoked (another subscriber, or the holder "
            "left).",
            sole.revoked_total());
  m.Counter("channel_broker_frames_received_total",
            "Frames received, heartbeats included.", stats_.stream.frames_in);
  m.Counter("channel_broker_frames_sent_total",
            "Frames queued to connections, heartbeats included.",
            stats_.stream.frames_out);
  m.Counter("channel_broker_bytes_received_total", "Bytes read from clients.",
            stats_.stream.bytes_in);
  m.Counter("channel_broker_bytes_sent_total", "Bytes written to clients.",
            stats_.stream.bytes_out);
  m.Counter("channel_broker_heartbeats_received_total",
            "Heartbeat frames received.", stats_.stream.heartbeats_in);
  m.Counter("channel_broker_publishes_total", "Publish requests routed.",
            stats_.publishes);
  m.Counter("channel_broker_publishes_refused_total",
            "Publishes refused before anything was delivered, by reason.",
            stats_.publishes_refused_too_large, {{"reason", "too_large"}});
  m.Counter("channel_broker_publishes_refused_total",
            "Publishes refused before anything was delivered, by reason.",
            stats_.publishes_refused_backpressure,
            {{"reason", "backpressure"}});
  m.Counter("channel_broker_publishes_refused_total",
            "Publishes refused before anything was delivered, by reason.",
            stats_.publishes_refused_restarting, {{"reason", "restarting"}});
  m.Counter("channel_broker_events_delivered_total",
            "Event frames queued to subscribers.", stats_.events_delivered);
  m.Counter("channel_broker_slow_consumer_disconnects_total",
            "Connections closed for exceeding --max_queued_bytes.",
            stats_.slow_consumer_disconnects);
  m.Counter("channel_broker_idle_timeouts_total",
            "Connections closed for silence past --idle_timeout_ms.",
            stats_.idle_timeouts);
  for (const char* codec : {"protobuf", "php"}) {
    auto it = stats_.connections_by_codec.find(codec);
    m.Gauge("channel_broker_connections_by_codec",
            "Open connections by the codec their first frame chose.",
            it == stats_.connections_by_codec.end()
                ? 0
                : static_cast<double>(it->second),
            {{"codec", codec}});
  }
  for (size_t i = 0; i < kPhpCommandTypes.size(); ++i) {
    m.Counter("channel_broker_php_commands_total",
              "Workerman Channel (PHP) commands, by type.",
              static_cast<double>(stats_.php_commands[i]),
              {{"type", kPhpCommandTypes[i]}});
  }
  m.Counter("channel_broker_php_bad_bodies_total",
            "PHP bodies that did not parse (the connection was closed).",
            stats_.php_bad_bodies);
  m.Counter("channel_broker_php_refused_total",
            "PHP clients refused for their source address.",
            stats_.php_refused);
  if (nats_ != nullptr) {
    const NatsLink::Stats& n = nats_->stats();
    m.Gauge("channel_broker_nats_connected", "1 while NATS is connected.",
            nats_->up() ? 1 : 0);
    m.Counter("channel_broker_nats_reconnects_total", "NATS reconnects.",
              n.reconnects);
    m.Counter("channel_broker_nats_messages_total",
              "Events to and from NATS, by direction.", n.messages_out,
              {{"direction", "out"}});
    m.Counter("channel_broker_nats_messages_total",
              "Events to and from NATS, by direction.", n.messages_in,
              {{"direction", "in"}});
    m.Counter("channel_broker_nats_bytes_total",
              "Bytes to and from NATS (events and presence), by direction.",
              n.bytes_out, {{"direction", "out"}});
    m.Counter("channel_broker_nats_bytes_total",
              "Bytes to and from NATS (events and presence), by direction.",
              n.bytes_in, {{"direction", "in"}});
    m.Gauge("channel_broker_nats_subjects",
            "NATS subjects subscribed (channels with local subscribers).",
            static_cast<double>(nats_->subjects()));
    m.Counter("channel_broker_nats_dropped_total",
              "Events lost between brokers, by reason.",
              n.dropped_slow_consumer, {{"reason", "slow_consumer"}});
    m.Counter("channel_broker_nats_dropped_total",
              "Events lost between brokers, by reason.", n.dropped_undecodable,
              {{"reason", "undecodable"}});
    m.Counter("channel_broker_nats_dropped_total",
              "Events lost between brokers, by reason.", n.dropped_inbox_full,
              {{"reason", "inbox_full"}});
    m.Counter("channel_broker_nats_dropped_total",
              "Events lost between brokers, by reason.",
              stats_.cluster_forward_failures, {{"reason", "publish_failed"}});
    m.Gauge("channel_broker_cluster_presence_brokers",
            "Other brokers whose presence this broker holds.",
            static_cast<double>(cluster_presence_->remote_brokers()));
    m.Counter("channel_broker_cluster_presence_malformed_total",
              "Presence messages from other brokers that could not be "
              "applied.",
              cluster_presence_->malformed());
  }
  m.Gauge("channel_broker_presence_groups",
          "Groups with members reported by gateways (presence).",
          static_cast<double>(presence_.group_count()));
  m.Gauge("channel_broker_php_queues", "Work queues (watch/enqueue).",
          static_cast<double>(work_queues_.queue_count()));
  m.Gauge("channel_broker_php_queue_items", "Items waiting in work queues.",
          static_cast<double>(work_queues_.item_count()));
  m.Gauge("channel_broker_php_queue_bytes",
          "Bytes the items waiting in work queues cost (text and "
          "bookkeeping).",
          static_cast<double>(work_queues_.bytes()));
  m.Counter("channel_broker_php_queue_rejected_total",
            "Enqueues refused over a queue bound.", stats_.php_queue_rejected);
  m.Counter("channel_broker_php_bridged_total",
            "Messages bridged between the PHP group channel and ws-gateway "
            "groups, by direction.",
            static_cast<double>(php_bridge_.to_groups()),
            {{"direction", "to_groups"}});
  m.Counter("channel_broker_php_bridged_total",
            "Messages bridged between the PHP group channel and ws-gateway "
            "groups, by direction.",
            static_cast<double>(php_bridge_.to_php()),
            {{"direction", "to_php"}});
  m.Counter("channel_broker_log_lines_suppressed_total",
            "Log lines left out by the per-site rate limit (peers cannot "
            "flood the log).",
            static_cast<double>(LogLimiter::SuppressedTotal()));
  if (api_ != nullptr) api_->AppendMetrics(&m);
  for (const auto& [kind, count] : stats_.errors_by_kind) {
    m.Counter("channel_broker_errors_total",
              "Error frames sent to clients, by kind.", count,
              {{"kind", kind}});
  }
  return m.text();
}

}  // namespace channel
