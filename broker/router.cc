#include "broker/router.h"

#include "absl/strings/str_cat.h"

namespace channel {

Router::Router(const BrokerOptions& options, BrokerStats* stats)
    : options_(options), stats_(stats) {}

absl::Status Router::ValidateAndDedupe(const Names& channels) {
  distinct_.clear();
  if (channels.empty()) {
    return absl::InvalidArgumentError("no channels given");
  }
  // Checked first, so that a request's cost is bounded by the flag whatever
  // it holds.
  if (static_cast<size_t>(channels.size()) >
      options_.max_channels_per_request) {
    return absl::ResourceExhaustedError(
        absl::StrCat("request names ", channels.size(),
                     " channels; the limit per request is ",
                     options_.max_channels_per_request));
  }
  seen_.clear();
  for (const std::string& channel : channels) {
    if (channel.empty()) {
      return absl::InvalidArgumentError("empty channel name");
    }
    if (channel.size() > options_.max_channel_name_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "channel name of ", channel.size(), " bytes exceeds the limit of ",
          options_.max_channel_name_bytes));
    }
    if (seen_.insert(channel).second) distinct_.push_back(&channel);
  }
  return absl::OkStatus();
}

absl::Status Router::Subscribe(Subscriber* session,
                               const v1::Subscribe& request) {
  if (absl::Status s = ValidateAndDedupe(request.channels()); !s.ok()) {
    return s;
  }
  size_t new_channels = 0;
  for (const std::string* channel : distinct_) {
    if (!index_.Contains(session, *channel)) ++new_channels;
  }
  const size_t current = index_.CountFor(session);
  if (current + new_channels > options_.max_channels_per_connection) {
    return absl::ResourceExhaustedError(
        absl::StrCat("subscribing would hold ", current + new_channels,
                     " channels; the limit per connection is ",
                     options_.max_channels_per_connection));
  }
  for (const std::string* channel : distinct_) {
    if (index_.Add(session, *channel).channel_edge && cluster_ != nullptr) {
      cluster_->Interest(*channel, true);
    }
  }
  return absl::OkStatus();
}

absl::Status Router::Unsubscribe(Subscriber* session,
                                 const v1::Unsubscribe& request) {
  if (absl::Status s = ValidateAndDedupe(request.channels()); !s.ok()) {
    return s;
  }
  for (const std::string* channel : distinct_) {
    if (index_.Remove(session, *channel).channel_edge && cluster_ != nullptr) {
      cluster_->Interest(*channel, false);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Router::Publish(v1::Publish* request,
                                         const Subscriber* publisher) {
  if (absl::Status s = ValidateAndDedupe(request->channels()); !s.ok()) {
    return s;
  }
  if (cluster_ != nullptr && !cluster_->up()) {
    // Local subscribers only would be a partial delivery reported as a
    // success: refuse the whole publish.
    return absl::UnavailableError(
        "this broker has lost its cluster (NATS); publish through another "
        "broker");
  }
  ++stats_->publishes;
  const Subscriber* skip = request->no_echo() ? publisher : nullptr;
  uint64_t receivers = 0;
  v1::Envelope envelope;
  v1::Event* event = envelope.mutable_event();
  // The payload and metadata move into the event once, not per channel.
  event->mutable_payload()->swap(*request->mutable_payload());
  if (request->has_meta()) event->mutable_meta()->Swap(request->mutable_meta());

  for (const std::string* channel : distinct_) {
    event->set_channel(*channel);
    if (cluster_ != nullptr) {
      // Other brokers' subscribers, whether or not this one has any.
      if (absl::Status s = cluster_->Forward(envelope); !s.ok()) {
        ++stats_->cluster_forward_failures;
      }
    }
    const auto* subscribers = index_.Find(*channel);
    if (subscribers == nullptr) continue;
    OutgoingEvent outgoing(envelope);
    recipients_.assign(subscribers->begin(), subscribers->end());
    for (Subscriber* session : recipients_) {
      if (session != skip && session->Deliver(outgoing)) ++receivers;
    }
  }
  recipients_.clear();
  stats_->events_delivered += receivers;
  return receivers;
}

uint64_t Router::DeliverRemote(const v1::Envelope& envelope) {
  const auto* subscribers = index_.Find(envelope.event().channel());
  if (subscribers == nullptr) return 0;
  uint64_t receivers = 0;
  OutgoingEvent outgoing(envelope);
  recipients_.assign(subscribers->begin(), subscribers->end());
  for (Subscriber* session : recipients_) {
    if (session->Deliver(outgoing)) ++receivers;
  }
  recipients_.clear();
  stats_->events_delivered += receivers;
  return receivers;
}

absl::StatusOr<uint64_t> Router::PublishLoop(v1::Publish* request) {
  if (absl::Status s = ValidateAndDedupe(request->channels()); !s.ok()) {
    return s;
  }
  ++stats_->publishes;
  uint64_t receivers = 0;
  v1::Envelope envelope;
  v1::Event* event = envelope.mutable_event();
  event->mutable_payload()->swap(*request->mutable_payload());
  if (request->has_meta()) event->mutable_meta()->Swap(request->mutable_meta());
  if (loop_turns_.size() > 2 * index_.channel_count() + 1024) {
    absl::erase_if(loop_turns_, [this](const auto& entry) {
      return index_.Find(entry.first) == nullptr;
    });
  }
  for (const std::string* channel : distinct_) {
    const auto* subscribers = index_.Find(*channel);
    if (subscribers == nullptr) continue;
    // The k-th subscriber in the set's order: linear in the subscribers,
    // like a publish's fan-out, which costs as much.
    uint64_t& turn = loop_turns_[*channel];
    auto it = subscribers->begin();
    std::advance(it, turn++ % subscribers->size());
    event->set_channel(*channel);
    OutgoingEvent outgoing(envelope);
    if ((*it)->Deliver(outgoing)) ++receivers;
  }
  stats_->events_delivered += receivers;
  return receivers;
}

void Router::RemoveAll(Subscriber* session) {
  for (const std::string& channel : index_.RemoveAll(session)) {
    if (cluster_ != nullptr) cluster_->Interest(channel, false);
  }
}

}  // namespace channel
