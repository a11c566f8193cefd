#include "client/broker_client_impl.h"

#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/framing/envelope_codec.h"
#include "common/framing/frame_encoder.h"
#include "common/logging/log_limiter.h"
#include "common/logging/logging.h"

namespace channel {

BrokerClient::Impl::Impl(asio::io_context& io, BrokerClientOptions options)
    : options_(std::move(options)),
      dialer_(io,
              LinkDialer::Options{
                  options_.connect_timeout, options_.max_frame_bytes,
                  options_.max_queued_bytes, options_.heartbeat_interval,
                  options_.idle_timeout},
              &stats_.stream),
      retry_timer_(io),
      backoff_(options_.backoff_initial, options_.backoff_max,
               std::random_device{}()),
      move_timer_(io) {}

BrokerClient::Impl::~Impl() {
  dialer_.Cancel();
  if (stream_) stream_->Detach();
  if (next_) next_->Detach();
}

void BrokerClient::Impl::Subscribe(const std::vector<std::string>& channels,
                                   Done done) {
  if (stream_ == nullptr) {
    Hold(channels);
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
  Hold(channels);
}

void BrokerClient::Impl::Unsubscribe(const std::vector<std::string>& channels,
                                     Done done) {
  if (stream_ == nullptr) {
    // Nothing to undo at the broker: the link is down, and the channel
    // will not be re-subscribed.
    for (const auto& channel : channels) Release(channel);
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
    Release(channel);
    held_alone_.erase(channel);  // the broker revokes it; answered then
  }
}

void BrokerClient::Impl::SubscribeQueue(
    const std::string& group, const std::vector<std::string>& channels,
    Done done) {
  queues_[group].insert(channels.begin(), channels.end());
  if (stream_ == nullptr) {
    if (done) done(absl::UnavailableError("not connected to the broker"), 0);
    return;
  }
  v1::Envelope envelope;
  auto* request = envelope.mutable_subscribe();
  for (const auto& channel : channels) request->add_channels(channel);
  request->set_queue_group(group);
  // A refused membership is not held (the broker would refuse it again).
  const uint64_t id =
      requests_.Track([this, group, channels, done = std::move(done)](
                          const absl::Status& status, uint64_t receivers) {
        if (!status.ok() && !absl::IsUnavailable(status)) {
          if (auto it = queues_.find(group); it != queues_.end()) {
            for (const auto& channel : channels) it->second.erase(channel);
            if (it->second.empty()) queues_.erase(it);
          }
        }
        if (done) done(status, receivers);
      });
  request->set_request_id(id);
  if (absl::Status s = SendRequest(envelope); !s.ok()) requests_.Fail(id, s);
}

void BrokerClient::Impl::UnsubscribeQueue(
    const std::string& group, const std::vector<std::string>& channels,
    Done done) {
  if (auto it = queues_.find(group); it != queues_.end()) {
    for (const auto& channel : channels) it->second.erase(channel);
    if (it->second.empty()) queues_.erase(it);
  }
  if (stream_ == nullptr) {
    if (done) done(absl::OkStatus(), 0);
    return;
  }
  v1::Envelope envelope;
  auto* request = envelope.mutable_unsubscribe();
  for (const auto& channel : channels) request->add_channels(channel);
  request->set_queue_group(group);
  const uint64_t id = requests_.Track(std::move(done));
  request->set_request_id(id);
  if (absl::Status s = SendRequest(envelope); !s.ok()) requests_.Fail(id, s);
}

absl::Status BrokerClient::Impl::CheckCanStart() const {
  if (!connected_) return absl::UnavailableError("not connected to the broker");
  if (moving_) {
    return absl::UnavailableError(
        "the broker is draining; moving to another broker");
  }
  return absl::OkStatus();
}

absl::Status BrokerClient::Impl::Publish(
    const std::vector<std::string>& channels, absl::string_view payload,
    const v1::Metadata* meta, Done done, bool no_echo) {
  if (absl::Status s = CheckCanStart(); !s.ok()) return s;
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

absl::Status BrokerClient::Impl::PublishQuiet(
    const std::vector<std::string>& channels, absl::string_view payload,
    const v1::Metadata* meta, uint64_t tag, bool no_echo) {
  if (absl::Status s = CheckCanStart(); !s.ok()) return s;
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

absl::Status BrokerClient::Impl::SendPresence(const v1::Presence& presence) {
  if (absl::Status s = CheckCanStart(); !s.ok()) return s;
  v1::Envelope envelope;
  *envelope.mutable_presence() = presence;
  return SendRequest(envelope);
}

void BrokerClient::Impl::SendPresence(v1::Presence presence, Done done) {
  if (absl::Status s = CheckCanStart(); !s.ok()) {
    done(s, 0);
    return;
  }
  v1::Envelope envelope;
  *envelope.mutable_presence() = std::move(presence);
  const uint64_t id = requests_.Track(std::move(done));
  envelope.mutable_presence()->set_request_id(id);
  if (absl::Status s = SendRequest(envelope); !s.ok()) requests_.Fail(id, s);
}

void BrokerClient::Impl::QueryPresence(const std::string& group,
                                       PresenceDone done) {
  if (absl::Status s = CheckCanStart(); !s.ok()) {
    done(s, 0, 0);
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

void BrokerClient::Impl::QueryHistory(const v1::HistoryQuery& query,
                                      HistoryDone done) {
  if (absl::Status s = CheckCanStart(); !s.ok()) {
    done(s, nullptr);
    return;
  }
  v1::Envelope envelope;
  *envelope.mutable_history_query() = query;
  const uint64_t id = requests_.NextId();
  envelope.mutable_history_query()->set_request_id(id);
  if (absl::Status s = SendRequest(envelope); !s.ok()) {
    done(s, nullptr);
    return;
  }
  requests_.TrackHistory(id, std::move(done));
}

void BrokerClient::Impl::BuildPublish(const std::vector<std::string>& channels,
                                      absl::string_view payload,
                                      const v1::Metadata* meta,
                                      v1::Publish* request) {
  for (const auto& channel : channels) request->add_channels(channel);
  request->set_payload(payload.data(), payload.size());
  if (meta != nullptr) *request->mutable_meta() = *meta;
}

absl::Status BrokerClient::Impl::SendRequest(const v1::Envelope& envelope) {
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

void BrokerClient::Impl::OnFrame(absl::string_view body) {
  if (ParseBody(body, &envelope_) != BodyKind::kEnvelope) {
    Fail("unparsable frame body from broker");
    return;
  }
  HandleEnvelope();
}

void BrokerClient::Impl::OnInvalidFrame(absl::string_view error) {
  Fail(absl::StrCat("bad frame from broker: ", error));
}

void BrokerClient::Impl::OnTimeout(FramedStream::Timeout) {
  // Only the idle timeout: the handshake's belongs to the dialer.
  Fail(absl::StrCat("broker silent for ", idle_timeout_.count(), " ms"));
}

void BrokerClient::Impl::OnFinished(absl::string_view reason) {
  Fail(reason == "peer closed" ? "broker closed the connection" : reason);
}

void BrokerClient::Impl::HandleEnvelope() {
  switch (envelope_.msg_case()) {
    case v1::Envelope::kEvent:
      ++stats_.events_received;
      if (event_handler_) event_handler_(*envelope_.mutable_event());
      return;
    case v1::Envelope::kAck:
      if (stream_handler_) {
        for (const v1::StreamPosition& p : envelope_.ack().streams()) {
          stream_handler_(p);
        }
      }
      requests_.OnAck(envelope_.ack(), [this](uint64_t tag) {
        if (quiet_confirmed_handler_) quiet_confirmed_handler_(tag);
      });
      if (moving_) MaybeSwitch();
      return;
    case v1::Envelope::kHistoryReply:
      requests_.OnHistoryReply(envelope_.mutable_history_reply());
      if (moving_) MaybeSwitch();
      return;
    case v1::Envelope::kPresenceInfo:
      requests_.OnPresenceInfo(envelope_.presence_info());
      if (moving_) MaybeSwitch();
      return;
    case v1::Envelope::kInterest:
      OnInterest(envelope_.interest());
      return;
    case v1::Envelope::kGoAway:
      OnGoAway(envelope_.go_away());
      return;
    case v1::Envelope::kError: {
      const v1::Error& error = envelope_.error();
      if (requests_.OnError(error.request_id(), StatusFromError(error),
                            [this](uint64_t tag, const absl::Status& s) {
                              QuietFailed(tag, s);
                            })) {
        if (moving_) MaybeSwitch();
        return;
      }
      CHANNEL_LOG_LIMITED(spdlog::level::warn, "broker error {}: {}",
                          v1::Error::Code_Name(error.code()), error.message());
      return;  // a fatal error is followed by the broker closing the link
    }
    default:
      return;
  }
}

// A grant is kept for this link only; a revoke is released at once (from
// here on HoldsAlone is false, so every later publish goes to the broker).
void BrokerClient::Impl::OnInterest(const v1::Interest& interest) {
  if (!options_.sole_interest) return;
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

void BrokerClient::Impl::Hold(const std::vector<std::string>& channels) {
  if (source_ != nullptr) return;
  for (const auto& channel : channels) desired_.insert(channel);
}

void BrokerClient::Impl::Release(const std::string& channel) {
  if (source_ == nullptr) desired_.erase(channel);
}

std::vector<std::string> BrokerClient::Impl::HeldChannels() const {
  std::vector<std::string> all;
  if (source_ == nullptr) {
    all.assign(desired_.begin(), desired_.end());
    return all;
  }
  all.reserve(source_->ChannelCount());
  source_->ForEachChannel([&](const std::string& c) { all.push_back(c); });
  return all;
}

void BrokerClient::Impl::QuietFailed(uint64_t tag, const absl::Status& status) {
  ++stats_.quiet_failures;
  if (quiet_failure_handler_) quiet_failure_handler_(tag, status);
}

}  // namespace channel
