#include "client/broker_client.h"

#include <algorithm>
#include <random>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "asio/ip/tcp.hpp"
#include "asio/steady_timer.hpp"
#include "client/request_tracker.h"
#include "common/backoff.h"
#include "common/framing/envelope_codec.h"
#include "common/framing/frame_encoder.h"
#include "common/ops/log_limiter.h"
#include "common/ops/logging.h"
#include "net/framed_stream.h"
#include "net/tcp_connector.h"

namespace channel {
namespace {

// The largest frame accepted from a broker before its Welcome: only a
// Welcome or an Error comes then, both small.
constexpr uint32_t kMaxFrameBytesBeforeWelcome = 64 << 10;

}  // namespace

// Shared with its own async handlers so that it outlives them; BrokerClient
// detaches the user's callbacks on destruction. Each link is one
// FramedStream (framing, bounded queue, heartbeats, idle timeout); this
// class keeps the protocol: handshake, requests and their Acks,
// re-subscription, reconnects.
class BrokerClient::Impl : public std::enable_shared_from_this<Impl>,
                           public FramedStream::Handler {
 public:
  Impl(asio::io_context& io, BrokerClientOptions options)
      : io_(io),
        options_(std::move(options)),
        connector_(io),
        retry_timer_(io),
        backoff_(options_.backoff_initial, options_.backoff_max,
                 std::random_device{}()) {}

  ~Impl() override {
    if (stream_) stream_->Detach();
  }

  void Start() {
    if (running_) return;
    running_ = true;
    Connect();
  }

  void Stop() {
    running_ = false;
    event_handler_ = nullptr;
    state_handler_ = nullptr;
    quiet_failure_handler_ = nullptr;
    retry_timer_.cancel();
    Drop("client stopped");
  }

  void Subscribe(const std::vector<std::string>& channels, Done done) {
    if (!welcomed_) {
      for (const auto& channel : channels) desired_.insert(channel);
      if (done) done(absl::UnavailableError("not connected to the broker"), 0);
      return;
    }
    v1::Envelope envelope;
    auto* request = envelope.mutable_subscribe();
    for (const auto& channel : channels) request->add_channels(channel);
    const uint64_t id = requests_.Track(std::move(done));
    request->set_request_id(id);
    if (absl::Status s = SendRequest(envelope); !s.ok()) {
      requests_.Fail(id, s);
      return;
    }
    for (const auto& channel : channels) desired_.insert(channel);
  }

  void Unsubscribe(const std::vector<std::string>& channels, Done done) {
    if (!welcomed_) {
      // Nothing to undo at the broker: the link is down, and the channel
      // will not be re-subscribed.
      for (const auto& channel : channels) desired_.erase(channel);
      if (done) done(absl::OkStatus(), 0);
      return;
    }
    v1::Envelope envelope;
    auto* request = envelope.mutable_unsubscribe();
    for (const auto& channel : channels) request->add_channels(channel);
    const uint64_t id = requests_.Track(std::move(done));
    request->set_request_id(id);
    if (absl::Status s = SendRequest(envelope); !s.ok()) {
      requests_.Fail(id, s);
      return;
    }
    for (const auto& channel : channels) {
      desired_.erase(channel);
      held_alone_.erase(channel);  // the broker revokes it; answered then
    }
  }

  absl::Status Publish(const std::vector<std::string>& channels,
                       absl::string_view payload, const v1::Metadata* meta,
                       Done done, bool no_echo) {
    if (!connected_) {
      return absl::UnavailableError("not connected to the broker");
    }
    v1::Envelope envelope;
    BuildPublish(channels, payload, meta, envelope.mutable_publish());
    envelope.mutable_publish()->set_no_echo(no_echo);
    const uint64_t id = requests_.Track(std::move(done));
    envelope.mutable_publish()->set_request_id(id);
    if (absl::Status s = SendRequest(envelope); !s.ok()) {
      requests_.Untrack(id);
      return s;
    }
    ++stats_.publishes_sent;
    return absl::OkStatus();
  }

  absl::Status PublishQuiet(const std::vector<std::string>& channels,
                            absl::string_view payload, const v1::Metadata* meta,
                            uint64_t tag, bool no_echo) {
    if (!connected_) {
      return absl::UnavailableError("not connected to the broker");
    }
    if (requests_.unconfirmed() >= options_.max_unconfirmed) {
      return absl::ResourceExhaustedError(
          absl::StrCat(requests_.unconfirmed(),
                       " publishes wait for the broker's confirmation"));
    }
    v1::Envelope envelope;
    v1::Publish* request = envelope.mutable_publish();
    BuildPublish(channels, payload, meta, request);
    const uint64_t id = requests_.NextId();
    request->set_request_id(id);
    request->set_cumulative_ack(true);
    request->set_no_echo(no_echo);
    if (absl::Status s = SendRequest(envelope); !s.ok()) return s;
    requests_.AddQuiet(id, tag);
    ++stats_.publishes_sent;
    return absl::OkStatus();
  }

  absl::Status SendPresence(const v1::Presence& presence) {
    if (!connected_)
      return absl::UnavailableError("not connected to the broker");
    v1::Envelope envelope;
    *envelope.mutable_presence() = presence;
    return SendRequest(envelope);
  }

  void QueryPresence(const std::string& group, PresenceDone done) {
    if (!connected_) {
      done(absl::UnavailableError("not connected to the broker"), 0, 0);
      return;
    }
    v1::Envelope envelope;
    envelope.mutable_presence_query()->set_group(group);
    const uint64_t id = requests_.NextId();
    envelope.mutable_presence_query()->set_request_id(id);
    if (absl::Status s = SendRequest(envelope); !s.ok()) {
      done(s, 0, 0);
      return;
    }
    requests_.TrackPresence(id, std::move(done));
  }

  bool HoldsAlone(absl::string_view channel) const {
    return connected_ && !held_alone_.empty() && held_alone_.contains(channel);
  }
  size_t held_alone_count() const { return held_alone_.size(); }
  bool connected() const { return connected_; }
  size_t subscription_count() const { return desired_.size(); }
  const BrokerClientStats& stats() const { return stats_; }

  // FramedStream::Handler.
  void OnFrame(absl::string_view body) override {
    if (ParseBody(body, &envelope_) != BodyKind::kEnvelope) {
      Fail("unparsable frame body from broker");
      return;
    }
    HandleEnvelope();
  }
  void OnInvalidFrame(absl::string_view error) override {
    Fail(absl::StrCat("bad frame from broker: ", error));
  }
  void OnTimeout(FramedStream::Timeout which) override {
    if (which == FramedStream::Timeout::kHandshake) {
      Fail(absl::StrCat("no handshake with ", host_, ":", port_, " within ",
                        options_.connect_timeout.count(), " ms"));
    } else {
      Fail(absl::StrCat("broker silent for ", idle_timeout_.count(), " ms"));
    }
  }
  void OnFinished(absl::string_view reason) override {
    Fail(reason == "peer closed" ? "broker closed the connection" : reason);
  }

  EventHandler event_handler_;
  StateHandler state_handler_;
  QuietFailureHandler quiet_failure_handler_;
  SubscriptionLostHandler lost_handler_;
  QuietConfirmedHandler quiet_confirmed_handler_;

 private:
  static void BuildPublish(const std::vector<std::string>& channels,
                           absl::string_view payload, const v1::Metadata* meta,
                           v1::Publish* request) {
    for (const auto& channel : channels) request->add_channels(channel);
    request->set_payload(payload.data(), payload.size());
    if (meta != nullptr) *request->mutable_meta() = *meta;
  }

  // Encodes and queues one request, checking the whole frame against the
  // broker's frame limit and the queue bound first.
  absl::Status SendRequest(const v1::Envelope& envelope) {
    const size_t frame_bytes = envelope.ByteSizeLong() + 4;
    if (frame_bytes > max_frame_bytes_) {
      return absl::InvalidArgumentError(absl::StrCat(
          "request frame of ", frame_bytes,
          " bytes exceeds the broker's frame limit of ", max_frame_bytes_));
    }
    switch (stream_->Send(EncodeFrame(envelope))) {
      case FramedStream::SendResult::kQueued:
        return absl::OkStatus();
      case FramedStream::SendResult::kOverflow:
        return absl::ResourceExhaustedError(
            absl::StrCat("more than ", options_.max_queued_bytes,
                         " bytes queued towards the broker"));
      case FramedStream::SendResult::kClosing:
        break;
    }
    return absl::UnavailableError("the broker link is closing");
  }

  // The broker this attempt goes to.
  const std::pair<std::string, uint16_t>& Endpoint() const {
    return options_.endpoints.empty()
               ? single_
               : options_.endpoints[endpoint_ % options_.endpoints.size()];
  }

  void Connect() {
    if (!running_) return;
    ++generation_;
    host_ = Endpoint().first;
    port_ = Endpoint().second;
    // The connector never calls back once this Impl is gone (it is a
    // member), nor after Drop cancels the attempt.
    connector_.Connect(
        host_, port_, options_.connect_timeout,
        [this](const absl::Status& status, asio::ip::tcp::socket socket) {
          if (!status.ok()) {
            Fail(status.message());
            return;
          }
          OnConnected(std::move(socket));
        });
  }

  void OnConnected(asio::ip::tcp::socket socket) {
    FramedStream::Options stream_options;
    stream_options.max_frame_bytes = options_.max_frame_bytes;
    stream_options.max_queued_bytes = options_.max_queued_bytes;
    stream_options.handshake_timeout = options_.connect_timeout;
    // Whatever answers on the broker's address cannot make the client
    // buffer a large frame before it has said Welcome.
    stream_options.max_frame_bytes_before_established =
        kMaxFrameBytesBeforeWelcome;
    max_frame_bytes_ = options_.max_frame_bytes;
    stream_ = std::make_shared<FramedStream>(std::move(socket), stream_options,
                                             this, &stats_.stream);
    handshaking_ = true;
    v1::Envelope hello;
    hello.mutable_hello()->set_client_name(options_.client_name);
    hello.mutable_hello()->set_protocol_version(kProtocolVersion);
    hello.mutable_hello()->set_auth_token(options_.auth_token);
    hello.mutable_hello()->set_sole_interest(options_.sole_interest);
    hello.mutable_hello()->set_link(options_.link);
    // A broker that hears another broker's id here while it is young knows
    // it restarted under its clients (it then holds publishes back while
    // they re-subscribe); its own id means only this link was lost.
    if (!desired_.empty()) {
      hello.mutable_hello()->set_resuming_from(last_broker_id_);
    }
    stream_->Send(EncodeFrame(hello));
    stream_->Start();
  }

  void OnWelcome(const v1::Welcome& welcome) {
    handshaking_ = false;
    welcomed_ = true;
    last_broker_id_ = welcome.broker_id();
    backoff_.Reset();
    auto heartbeat = options_.heartbeat_interval;
    idle_timeout_ = options_.idle_timeout;
    if (welcome.idle_timeout_ms() > 0) {
      idle_timeout_ = std::chrono::milliseconds(welcome.idle_timeout_ms());
      // Heartbeat well within the broker's idle timeout.
      heartbeat = std::min<std::chrono::milliseconds>(
          heartbeat, std::chrono::milliseconds(welcome.idle_timeout_ms() / 3));
    }
    if (welcome.max_frame_bytes() > 0) {
      max_frame_bytes_ = std::min(max_frame_bytes_, welcome.max_frame_bytes());
    }
    stream_->SetEstablished(heartbeat, idle_timeout_);
    spdlog::info("connected to broker {}:{} (id {}, version {})", host_, port_,
                 welcome.broker_id(), welcome.broker_version());
    // Re-subscribe everything held, in batches; the link counts as connected
    // once the broker has acknowledged them all, so that "connected" means
    // "subscriptions are live".
    std::vector<std::string> all(desired_.begin(), desired_.end());
    resubscribes_pending_ = 0;
    const size_t batch = std::max<size_t>(1, options_.resubscribe_batch);
    for (size_t i = 0; i < all.size(); i += batch) {
      v1::Envelope envelope;
      auto* request = envelope.mutable_subscribe();
      const size_t end = std::min(all.size(), i + batch);
      for (size_t j = i; j < end; ++j) request->add_channels(all[j]);
      ++resubscribes_pending_;
      const uint64_t gen = generation_;
      std::vector<std::string> names(all.begin() + i, all.begin() + end);
      request->set_request_id(
          requests_.Track([this, gen, names = std::move(names)](
                              const absl::Status& status, uint64_t) {
            if (gen != generation_) return;
            // A refused batch is subscribed to none of its channels (the
            // broker's Subscribe is all or nothing): they leave the set,
            // and the owner hears which, so that nobody stays a member of
            // a channel that no longer reaches it.
            if (!status.ok() && !absl::IsUnavailable(status)) {
              CHANNEL_LOG_LIMITED(
                  spdlog::level::err,
                  "re-subscribe of {} channel(s) refused by the broker: {}",
                  names.size(), status.message());
              for (const std::string& c : names) desired_.erase(c);
              if (lost_handler_) lost_handler_(names, status);
            }
            if (--resubscribes_pending_ == 0) MarkConnected();
          }));
      if (absl::Status s = SendRequest(envelope); !s.ok()) {
        Fail(absl::StrCat("re-subscribe: ", s.message()));
        return;
      }
    }
    if (resubscribes_pending_ == 0) MarkConnected();
  }

  void MarkConnected() {
    connected_ = true;
    ++stats_.connects;
    if (state_handler_) state_handler_(true, "");
  }

  void HandleEnvelope() {
    switch (envelope_.msg_case()) {
      case v1::Envelope::kWelcome:
        if (handshaking_) OnWelcome(envelope_.welcome());
        return;
      case v1::Envelope::kEvent:
        ++stats_.events_received;
        if (event_handler_) event_handler_(*envelope_.mutable_event());
        return;
      case v1::Envelope::kAck:
        requests_.OnAck(envelope_.ack(), [this](uint64_t tag) {
          if (quiet_confirmed_handler_) quiet_confirmed_handler_(tag);
        });
        return;
      case v1::Envelope::kPresenceInfo:
        requests_.OnPresenceInfo(envelope_.presence_info());
        return;
      case v1::Envelope::kInterest:
        OnInterest(envelope_.interest());
        return;
      case v1::Envelope::kError: {
        const v1::Error& error = envelope_.error();
        if (requests_.OnError(error.request_id(), StatusFromError(error),
                              [this](uint64_t tag, const absl::Status& s) {
                                QuietFailed(tag, s);
                              })) {
          return;
        }
        CHANNEL_LOG_LIMITED(spdlog::level::warn, "broker error {}: {}",
                            v1::Error::Code_Name(error.code()),
                            error.message());
        return;  // a fatal error is followed by the broker closing the link
      }
      default:
        return;
    }
  }

  // A grant is kept for this link only; a revoke is released at once (from
  // here on HoldsAlone is false, so every later publish goes to the broker).
  void OnInterest(const v1::Interest& interest) {
    if (!options_.sole_interest || !welcomed_) return;
    if (interest.sole()) {
      held_alone_[interest.channel()] = interest.grant();
      ++stats_.sole_grants;
      return;
    }
    held_alone_.erase(interest.channel());
    v1::Envelope release;
    release.mutable_interest()->set_channel(interest.channel());
    release.mutable_interest()->set_grant(interest.grant());
    // A full queue leaves it unanswered: the broker closes the link after
    // its release timeout, which ends the grant too.
    if (SendRequest(release).ok()) ++stats_.sole_releases;
  }

  void QuietFailed(uint64_t tag, const absl::Status& status) {
    ++stats_.quiet_failures;
    if (quiet_failure_handler_) quiet_failure_handler_(tag, status);
  }

  // Tears the current link down without scheduling a reconnect.
  void Drop(absl::string_view reason) {
    ++generation_;  // every handler of the old link becomes stale
    connector_.Cancel();
    if (stream_) {
      stream_->Detach();
      stream_.reset();
    }
    const bool was_connected = connected_;
    connected_ = false;
    welcomed_ = false;
    held_alone_.clear();  // grants belong to the link
    handshaking_ = false;
    requests_.FailAll(
        absl::UnavailableError(absl::StrCat("broker link lost: ", reason)),
        [this](uint64_t tag, const absl::Status& s) { QuietFailed(tag, s); });
    if (was_connected) {
      ++stats_.disconnects;
      if (state_handler_) state_handler_(false, reason);
    }
  }

  // Link failed: drop it and reconnect after a backoff delay.
  void Fail(absl::string_view reason) {
    if (!welcomed_) ++stats_.connect_failures;
    const bool was_connected = welcomed_;
    ++endpoint_;  // the next attempt goes to the next broker of the list
    const std::string why(reason);  // `reason` may live in the stream
    auto keep = shared_from_this();
    Drop(why);
    if (!running_) return;
    const auto delay = backoff_.Next();
    if (was_connected || backoff_.attempt() <= 1) {
      spdlog::warn("broker link to {}:{} down: {}; reconnecting in {} ms",
                   host_, port_, why, delay.count());
    } else {
      spdlog::debug("broker {}:{} unreachable: {}; retry in {} ms", host_,
                    port_, why, delay.count());
    }
    retry_timer_.expires_after(delay);
    retry_timer_.async_wait(
        [self = shared_from_this()](const std::error_code& ec) {
          if (!ec) self->Connect();
        });
  }

  asio::io_context& io_;
  const BrokerClientOptions options_;
  const std::pair<std::string, uint16_t> single_{options_.host, options_.port};
  size_t endpoint_ = 0;
  std::string host_;  // of the current attempt
  uint16_t port_ = 0;
  TcpConnector connector_;  // resolve + TCP connect, one attempt at a time
  asio::steady_timer retry_timer_;
  Backoff backoff_;
  std::shared_ptr<FramedStream> stream_;  // the current link, if any
  v1::Envelope envelope_;                 // reused for every received frame

  uint64_t generation_ = 0;
  bool running_ = false;
  bool handshaking_ = false;
  bool welcomed_ = false;       // Welcome received: requests may be sent
  std::string last_broker_id_;  // of the last link welcomed, if any
  bool connected_ = false;      // welcomed_ and every re-subscribe acknowledged
  int resubscribes_pending_ = 0;
  uint32_t max_frame_bytes_ = 0;  // ours, or the broker's if smaller
  std::chrono::milliseconds idle_timeout_{35000};

  absl::flat_hash_set<std::string> desired_;
  // Sole-interest grants of the current link: channel -> grant id.
  absl::flat_hash_map<std::string, uint64_t> held_alone_;
  RequestTracker requests_;
  BrokerClientStats stats_;
};

BrokerClient::BrokerClient(asio::io_context& io, BrokerClientOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {}

BrokerClient::~BrokerClient() { impl_->Stop(); }

void BrokerClient::set_event_handler(EventHandler handler) {
  impl_->event_handler_ = std::move(handler);
}
void BrokerClient::set_state_handler(StateHandler handler) {
  impl_->state_handler_ = std::move(handler);
}
void BrokerClient::set_quiet_failure_handler(QuietFailureHandler handler) {
  impl_->quiet_failure_handler_ = std::move(handler);
}
void BrokerClient::set_subscription_lost_handler(
    SubscriptionLostHandler handler) {
  impl_->lost_handler_ = std::move(handler);
}
void BrokerClient::set_quiet_confirmed_handler(QuietConfirmedHandler handler) {
  impl_->quiet_confirmed_handler_ = std::move(handler);
}
void BrokerClient::Start() { impl_->Start(); }
void BrokerClient::Stop() { impl_->Stop(); }
void BrokerClient::Subscribe(const std::vector<std::string>& channels,
                             Done done) {
  impl_->Subscribe(channels, std::move(done));
}
void BrokerClient::Unsubscribe(const std::vector<std::string>& channels,
                               Done done) {
  impl_->Unsubscribe(channels, std::move(done));
}
absl::Status BrokerClient::Publish(const std::vector<std::string>& channels,
                                   absl::string_view payload,
                                   const v1::Metadata* meta, Done done,
                                   bool no_echo) {
  return impl_->Publish(channels, payload, meta, std::move(done), no_echo);
}
absl::Status BrokerClient::PublishQuiet(
    const std::vector<std::string>& channels, absl::string_view payload,
    const v1::Metadata* meta, uint64_t tag, bool no_echo) {
  return impl_->PublishQuiet(channels, payload, meta, tag, no_echo);
}
absl::Status BrokerClient::SendPresence(const v1::Presence& presence) {
  return impl_->SendPresence(presence);
}
void BrokerClient::QueryPresence(const std::string& group, PresenceDone done) {
  impl_->QueryPresence(group, std::move(done));
}
bool BrokerClient::HoldsAlone(absl::string_view channel) const {
  return impl_->HoldsAlone(channel);
}
size_t BrokerClient::held_alone_count() const {
  return impl_->held_alone_count();
}
bool BrokerClient::connected() const { return impl_->connected(); }
size_t BrokerClient::subscription_count() const {
  return impl_->subscription_count();
}
const BrokerClientStats& BrokerClient::stats() const { return impl_->stats(); }

}  // namespace channel
