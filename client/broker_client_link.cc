// The life of BrokerClient's link: dial, adopt, fail and reconnect, and
// move to another broker when the current one drains (GoAway).
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/broker_client_impl.h"
#include "common/framing/envelope_codec.h"
#include "common/logging/log_limiter.h"
#include "common/logging/logging.h"

namespace channel {

void BrokerClient::Impl::Start() {
  if (running_) return;
  running_ = true;
  Dial();
}

void BrokerClient::Impl::Stop() {
  running_ = false;
  event_handler_ = nullptr;
  state_handler_ = nullptr;
  quiet_failure_handler_ = nullptr;
  stream_handler_ = nullptr;
  retry_timer_.cancel();
  Drop("client stopped");
}

const std::pair<std::string, uint16_t>& BrokerClient::Impl::Endpoint() const {
  return options_.endpoints.empty()
             ? single_
             : options_.endpoints[endpoint_ % options_.endpoints.size()];
}

v1::Envelope BrokerClient::Impl::MakeHello() const {
  v1::Envelope hello;
  hello.mutable_hello()->set_client_name(options_.client_name);
  hello.mutable_hello()->set_protocol_version(kProtocolVersion);
  hello.mutable_hello()->set_auth_token(options_.auth_token);
  hello.mutable_hello()->set_sole_interest(options_.sole_interest);
  hello.mutable_hello()->set_link(options_.link);
  // A broker that hears another broker's id here while it is young knows
  // it restarted under its clients (it then holds publishes back while
  // they re-subscribe); its own id means only this link was lost.
  if (subscription_count() > 0) {
    hello.mutable_hello()->set_resuming_from(last_broker_id_);
  }
  return hello;
}

void BrokerClient::Impl::Dial() {
  if (!running_) return;
  host_ = Endpoint().first;
  port_ = Endpoint().second;
  dialer_.Dial(
      host_, port_, MakeHello(),
      [this](const absl::Status& status, std::shared_ptr<FramedStream> stream,
             const v1::Welcome& welcome) {
        if (!status.ok()) {
          ++stats_.connect_failures;
          Fail(status.message());
          return;
        }
        Adopt(std::move(stream), welcome);
      });
}

void BrokerClient::Impl::Adopt(std::shared_ptr<FramedStream> stream,
                               const v1::Welcome& welcome) {
  ++generation_;
  stream_ = std::move(stream);
  stream_->set_handler(this);
  last_broker_id_ = welcome.broker_id();
  backoff_.Reset();
  max_frame_bytes_ = options_.max_frame_bytes;
  idle_timeout_ = welcome.idle_timeout_ms() > 0
                      ? std::chrono::milliseconds(welcome.idle_timeout_ms())
                      : options_.idle_timeout;
  if (welcome.max_frame_bytes() > 0) {
    max_frame_bytes_ = std::min(max_frame_bytes_, welcome.max_frame_bytes());
  }
  history_rules_ = HistoryRules::FromProto(welcome.history());
  presence_rules_ = PresenceRules::FromProto(welcome.presence());
  keeps_events_ = welcome.keeps_events();
  spdlog::info("connected to broker {}:{} (id {}, version {})", host_, port_,
               welcome.broker_id(), welcome.broker_version());
  if (welcomed_handler_) {
    for (const v1::Presence& report : welcomed_handler_()) {
      v1::Envelope envelope;
      *envelope.mutable_presence() = report;
      if (absl::Status s = SendRequest(envelope); !s.ok()) {
        Fail(absl::StrCat("presence snapshot: ", s.message()));
        return;
      }
    }
  }
  // Re-subscribe everything held, in batches; the link counts as connected
  // once the broker has acknowledged them all, so that "connected" means
  // "subscriptions are live".
  std::vector<std::string> all = HeldChannels();
  resubscribes_pending_ = 0;
  const size_t batch = std::max<size_t>(1, options_.resubscribe_batch);
  for (size_t i = 0; i < all.size(); i += batch) {
    v1::Envelope envelope;
    auto* request = envelope.mutable_subscribe();
    const size_t end = std::min(all.size(), i + batch);
    for (size_t j = i; j < end; ++j) {
      request->add_channels(all[j]);
      // Resume where the owner stands (history channels it knows).
      v1::StreamPosition since;
      if (source_ != nullptr && source_->Since(all[j], &since)) {
        since.set_channel(all[j]);
        *request->add_since() = std::move(since);
      }
    }
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
            for (const std::string& c : names) Release(c);
            if (lost_handler_) lost_handler_(names, status);
          }
          if (--resubscribes_pending_ == 0) MarkConnected();
        }));
    if (absl::Status s = SendRequest(envelope); !s.ok()) {
      Fail(absl::StrCat("re-subscribe: ", s.message()));
      return;
    }
  }
  // Queue group memberships: one request per group. A refused one is
  // logged and dropped from the set (the broker's answer stays the same).
  for (const auto& [group, channels] : queues_) {
    v1::Envelope envelope;
    auto* request = envelope.mutable_subscribe();
    for (const auto& channel : channels) request->add_channels(channel);
    request->set_queue_group(group);
    ++resubscribes_pending_;
    const uint64_t gen = generation_;
    request->set_request_id(requests_.Track(
        [this, gen, group = group](const absl::Status& status, uint64_t) {
          if (gen != generation_) return;
          if (!status.ok() && !absl::IsUnavailable(status)) {
            CHANNEL_LOG_LIMITED(spdlog::level::err,
                                "queue group {} re-join refused by the "
                                "broker: {}",
                                group, status.message());
            queues_.erase(group);
          }
          if (--resubscribes_pending_ == 0) MarkConnected();
        }));
    if (absl::Status s = SendRequest(envelope); !s.ok()) {
      Fail(absl::StrCat("re-join of queue group ", group, ": ", s.message()));
      return;
    }
  }
  if (resubscribes_pending_ == 0) MarkConnected();
}

void BrokerClient::Impl::MarkConnected() {
  connected_ = true;
  ++stats_.connects;
  if (state_handler_) state_handler_(true, "");
}

void BrokerClient::Impl::Drop(absl::string_view reason) {
  ++generation_;  // every handler of the old link becomes stale
  dialer_.Cancel();
  if (moving_ || next_) {
    moving_ = false;
    move_timer_.cancel();
    if (next_) next_->Detach();
    next_.reset();
  }
  if (stream_) {
    stream_->Detach();
    stream_.reset();
  }
  const bool was_connected = connected_;
  connected_ = false;
  held_alone_.clear();  // grants belong to the link
  requests_.FailAll(
      absl::UnavailableError(absl::StrCat("broker link lost: ", reason)),
      [this](uint64_t tag, const absl::Status& s) { QuietFailed(tag, s); });
  if (was_connected) {
    ++stats_.disconnects;
    if (state_handler_) state_handler_(false, reason);
  }
}

void BrokerClient::Impl::Fail(absl::string_view reason) {
  const std::string why(reason);  // `reason` may live in the stream
  auto keep = shared_from_this();
  if (moving_ && next_ && stream_) {
    // The draining broker closed first; the next link is ready.
    spdlog::info("broker link to {}:{} ended while moving: {}", host_, port_,
                 why);
    Switch();
    return;
  }
  const bool was_linked = stream_ != nullptr;
  ++endpoint_;  // the next attempt goes to the next broker of the list
  Drop(why);
  if (!running_) return;
  const auto delay = backoff_.Next();
  if (was_linked || backoff_.attempt() <= 1) {
    spdlog::warn("broker link to {}:{} down: {}; reconnecting in {} ms", host_,
                 port_, why, delay.count());
  } else {
    spdlog::debug("broker {}:{} unreachable: {}; retry in {} ms", host_, port_,
                  why, delay.count());
  }
  retry_timer_.expires_after(delay);
  retry_timer_.async_wait([weak = weak_from_this()](const std::error_code& ec) {
    if (auto self = weak.lock(); self && !ec) self->Dial();
  });
}

// ---- Moving --------------------------------------------------------------
//
// A draining broker sends GoAway and closes the link close_in_ms later.
// The link keeps working meanwhile; no new publish or presence request is
// started on it (they get Unavailable: nothing was sent, a retry is safe),
// so its requests in flight settle. Meanwhile the next broker of the list
// is dialled (the same address when there is one: a Service in front of
// several brokers, or the broker back after a restart). Once the next link
// is welcomed and the current one has no request in flight (or half of
// close_in_ms has passed), the client switches: the old link is closed
// after writing what it holds, then every channel is subscribed on the new
// one. Between the two, the client is not connected (the state handler
// hears it, and a gateway tells its members `gap`): what was published
// meanwhile is not received, and nothing is received twice, because the
// old link is gone before the new one subscribes. When no other broker
// answers, the client stays on the draining one until it closes, then
// reconnects as after any lost link.

void BrokerClient::Impl::OnGoAway(const v1::GoAway& go_away) {
  if (moving_ || stream_ == nullptr) return;
  moving_ = true;
  move_overdue_ = false;
  ++stats_.moves;
  spdlog::info("broker {}:{} drains ({}): moving to another broker", host_,
               port_, go_away.reason());
  const auto wait = std::chrono::milliseconds(
      std::max<uint32_t>(go_away.close_in_ms() / 2, 100));
  move_timer_.expires_after(wait);
  const uint64_t gen = generation_;
  move_timer_.async_wait(
      [weak = weak_from_this(), gen](const std::error_code& ec) {
        auto self = weak.lock();
        if (!self || ec || gen != self->generation_ || !self->moving_) return;
        self->move_overdue_ = true;
        self->MaybeSwitch();
      });
  DialNext();
}

void BrokerClient::Impl::DialNext() {
  ++endpoint_;
  next_host_ = Endpoint().first;
  next_port_ = Endpoint().second;
  const uint64_t gen = generation_;
  dialer_.Dial(next_host_, next_port_, MakeHello(),
               [this, gen](const absl::Status& status,
                           std::shared_ptr<FramedStream> stream,
                           const v1::Welcome& welcome) {
                 if (gen != generation_ || !moving_) {
                   if (stream) stream->Detach();
                   return;
                 }
                 if (!status.ok()) {
                   ++stats_.connect_failures;
                   ParkedLost(status.message());
                   return;
                 }
                 next_ = std::move(stream);
                 next_->set_handler(&parked_);
                 next_welcome_ = welcome;
                 MaybeSwitch();
               });
}

void BrokerClient::Impl::ParkedLost(absl::string_view reason) {
  CHANNEL_LOG_LIMITED(spdlog::level::info,
                      "moving: broker {}:{} not available ({}); staying on "
                      "{}:{} meanwhile",
                      next_host_, next_port_, reason, host_, port_);
  if (next_) {
    next_->Detach();
    next_.reset();
  }
  const auto delay = backoff_.Next();
  const uint64_t gen = generation_;
  retry_timer_.expires_after(delay);
  retry_timer_.async_wait(
      [weak = weak_from_this(), gen](const std::error_code& ec) {
        auto self = weak.lock();
        if (self && !ec && gen == self->generation_ && self->moving_) {
          self->DialNext();
        }
      });
}

void BrokerClient::Impl::MaybeSwitch() {
  if (!moving_ || next_ == nullptr) return;
  if (!requests_.empty() && !move_overdue_) return;
  Switch();
}

void BrokerClient::Impl::Switch() {
  std::shared_ptr<FramedStream> next = std::move(next_);
  next_.reset();
  const v1::Welcome welcome = next_welcome_;
  std::shared_ptr<FramedStream> old = std::move(stream_);
  stream_.reset();
  const std::string old_host = host_;
  const uint16_t old_port = port_;
  // What the old link still queues (releases, unconfirmed publishes'
  // frames) is written before it closes; no callback comes from it again.
  if (old && old->finished()) {
    old->Detach();
  } else if (old) {
    old->set_handler(nullptr);
    old->CloseAfterFlush(nullptr, false, std::chrono::milliseconds(1000),
                         "moved to another broker");
  }
  Drop(absl::StrCat("moved from draining broker ", old_host, ":", old_port));
  host_ = next_host_;
  port_ = next_port_;
  Adopt(std::move(next), welcome);
}

void BrokerClient::Impl::ParkedLink::OnFrame(absl::string_view) {
  // Nothing is subscribed on it: only an Error (then its close) can come.
}
void BrokerClient::Impl::ParkedLink::OnInvalidFrame(absl::string_view error) {
  impl_->ParkedLost(error);
}
void BrokerClient::Impl::ParkedLink::OnTimeout(FramedStream::Timeout) {
  impl_->ParkedLost("silent for its idle timeout");
}
void BrokerClient::Impl::ParkedLink::OnFinished(absl::string_view reason) {
  impl_->ParkedLost(reason);
}

}  // namespace channel
