#include <utility>

#include "absl/strings/str_cat.h"
#include "broker/routing/router.h"
#include "common/channel_names.h"

// The publish side of the Router: admission, fan-out to subscribers and
// queue groups, the cluster's remote deliveries, history channels.
namespace channel {
namespace {

// A publish waiting for its history channels to be stored (Router::Publish
// with a sink): the outcome once the last one is answered.
struct Deferred {
  Router::PublishDone done;
  size_t waiting = 0;
  size_t channels = 0;
  uint64_t receivers = 0;
  absl::Status first_error;
  void Answer(absl::Status status) {
    if (!status.ok() && first_error.ok()) first_error = std::move(status);
    if (--waiting > 0) return;
    if (!done) return;
    if (first_error.ok()) {
      done(receivers);
    } else {
      done(absl::Status(
          first_error.code(),
          channels > 1 ? absl::StrCat(first_error.message(),
                                      " (a history channel of this publish; "
                                      "its other channels may have been "
                                      "delivered)")
                       : std::string(first_error.message())));
    }
  }
};

// The request's payload and metadata move into the envelope's event once,
// not per channel; the caller sets the channel.
v1::Event* MoveIntoEvent(v1::Publish* request, v1::Envelope* envelope) {
  v1::Event* event = envelope->mutable_event();
  event->mutable_payload()->swap(*request->mutable_payload());
  if (request->has_meta()) event->mutable_meta()->Swap(request->mutable_meta());
  return event;
}

}  // namespace

absl::StatusOr<uint64_t> Router::Publish(v1::Publish* request,
                                         const Subscriber* publisher,
                                         PublishDone done) {
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
  const Subscriber* skip = request->no_echo() ? publisher : nullptr;
  if (absl::Status s = Admit(*request, skip); !s.ok()) return s;
  ++stats_->publishes;
  uint64_t receivers = 0;
  v1::Envelope envelope;
  v1::Event* event = MoveIntoEvent(request, &envelope);
  std::shared_ptr<Deferred> deferred;
  absl::Status refused;  // a history channel's store refused at once

  for (const std::string* channel : distinct_) {
    event->set_channel(*channel);
    if (sink_ != nullptr && sink_->Handles(*channel)) {
      // Sequenced by the cluster: delivered here (and everywhere) when the
      // sink's feed brings it back with its offset.
      event->clear_offset();
      event->clear_epoch();
      if (deferred == nullptr) {
        deferred = std::make_shared<Deferred>();
        deferred->waiting = 1;  // this call's own, released below
        deferred->channels = distinct_.size();
      }
      ++deferred->waiting;
      absl::Status s = sink_->Store(
          *event, [deferred](absl::Status st) { deferred->Answer(st); });
      if (!s.ok()) {
        --deferred->waiting;
        if (refused.ok()) refused = std::move(s);
      }
      continue;
    }
    // A history channel's event gets its offset here, once, whoever
    // published it; the others carry none.
    if (history_ == nullptr || !history_->Append(event)) {
      event->clear_offset();
      event->clear_epoch();
    }
    if (cluster_ != nullptr) {
      // Other brokers' subscribers, whether or not this one has any.
      if (absl::Status s = cluster_->Forward(envelope); !s.ok()) {
        ++stats_->cluster_forward_failures;
      }
    }
    const uint64_t here =
        DeliverHere(*channel, envelope, skip, publisher, &recipients_);
    receivers += here;
    if (here == 0 && event->meta().keep() && kept_.enabled() &&
        !WantedElsewhere(*channel)) {
      kept_.Keep(*event, KeptEvents::Clock::now());
    }
  }
  recipients_.clear();
  stats_->events_delivered += receivers;
  if (observer_ != nullptr && !observing_) {
    // The names point into the request, which outlives this call; the
    // list is copied because the observer may publish, reusing distinct_.
    observed_.assign(distinct_.begin(), distinct_.end());
    observing_ = true;
    for (const std::string* channel : observed_) {
      observer_->OnPublished(*channel, *event);
    }
    observing_ = false;
  }
  if (deferred != nullptr) {
    if (!refused.ok()) {
      // Nothing of it reached the sink, or only part: said now.
      deferred->done = nullptr;
      deferred->Answer(absl::OkStatus());
      ++stats_->publishes_refused_history;
      return absl::Status(
          refused.code(),
          distinct_.size() > 1
              ? absl::StrCat(refused.message(),
                             " (a history channel of this publish; its "
                             "other channels may have been delivered)")
              : std::string(refused.message()));
    }
    deferred->receivers = receivers;
    deferred->done = std::move(done);
    const bool later = static_cast<bool>(deferred->done);
    deferred->Answer(absl::OkStatus());  // this call's own share
    return later ? kDeferred : receivers;
  }
  return receivers;
}

absl::Status Router::Admit(const v1::Publish& request, const Subscriber* skip) {
  // What one channel's event frame costs, in any codec: the payload and
  // metadata, the channel name, and the codecs' framing (the PHP one is the
  // larger, under 100 bytes). An estimate from above, never an encode.
  const size_t base = request.payload().size() +
                      (request.has_meta() ? request.meta().ByteSizeLong() : 0) +
                      96;
  size_t total = 0;
  link_need_.clear();
  full_.clear();
  for (const std::string* channel : distinct_) {
    const auto* subscribers = index_.Find(*channel);
    // In a cluster every channel is forwarded, subscribed here or not.
    if (subscribers == nullptr && cluster_ == nullptr &&
        !queues_.Has(*channel)) {
      continue;
    }
    const size_t frame = base + channel->size();
    total += frame;
    if (subscribers == nullptr) continue;
    for (Subscriber* s : *subscribers) {
      if (s == skip || !s->IsLink()) continue;
      if (distinct_.size() == 1) {
        if (s->QueueRoom() < frame) full_.push_back(s);
      } else {
        link_need_[s] += frame;
      }
    }
  }
  if (total > options_.max_publish_fanout_bytes) {
    ++stats_->publishes_refused_too_large;
    return absl::ResourceExhaustedError(absl::StrCat(
        "this publish would queue ", total, " bytes of events over its ",
        distinct_.size(), " channels; the limit is ",
        options_.max_publish_fanout_bytes,
        " (--max_publish_fanout_bytes): send a smaller message or fewer "
        "channels per publish"));
  }
  for (const auto& [s, need] : link_need_) {
    if (s->QueueRoom() < need) full_.push_back(s);
  }
  if (full_.empty()) return absl::OkStatus();
  ++stats_->publishes_refused_backpressure;
  // A link that stopped reading altogether would refuse its channels'
  // publishes for ever: close it (its gateway re-links and tells its
  // members). Closing changes the index: only now, after the iteration.
  size_t closed = 0;
  for (Subscriber* s : full_) closed += s->CloseIfStalled() ? 1 : 0;
  full_.clear();
  return absl::AbortedError(absl::StrCat(
      "a gateway link with subscribers of this publish cannot take it now "
      "(its output queue is full",
      closed > 0 ? "; a link that stopped reading was closed" : "",
      "); nothing was published: retry shortly"));
}

uint64_t Router::DeliverToQueues(const std::string& channel,
                                 const v1::Event& event,
                                 const Subscriber* publisher,
                                 OutgoingEvent& outgoing) {
  const std::string& key = event.meta().key();
  const bool key_end = event.meta().key_end();
  picked_.clear();
  queues_.Pick(channel, key, key_end, publisher, &picked_);
  uint64_t receivers = 0;
  for (auto& [group, member] : picked_) {
    // A member that cannot take it (closing, or closed now as a slow
    // consumer) hands it to the group's next one: an event is lost only
    // when no member of the group can take it (counted).
    if (DeliverToMember(channel, group, member, key, key_end, publisher,
                        outgoing, /*local_only=*/false)) {
      ++receivers;
    }
  }
  picked_.clear();
  return receivers;
}

bool Router::DeliverToMember(const std::string& channel,
                             const std::string& group, Subscriber* member,
                             absl::string_view key, bool key_end,
                             const Subscriber* publisher,
                             OutgoingEvent& outgoing, bool local_only) {
  tried_.clear();
  Subscriber* s = member;
  while (s != nullptr && !s->DeliverQueued(outgoing, group)) {
    tried_.push_back(s);
    s = queues_.Retry(channel, group, key, key_end, publisher, tried_,
                      local_only);
  }
  if (s == nullptr) ++stats_->queue_events_dropped;
  return s != nullptr;
}

bool Router::DeliverQueued(const v1::Envelope& envelope,
                           const std::string& group, const Subscriber* origin) {
  const v1::Event& event = envelope.event();
  Subscriber* member =
      queues_.PickLocal(event.channel(), group, event.meta().key(),
                        event.meta().key_end(), origin);
  if (member == nullptr) {
    // Its last member here left while the event was on its way.
    ++stats_->queue_events_dropped;
    return false;
  }
  OutgoingEvent outgoing(envelope);
  if (!DeliverToMember(event.channel(), group, member, event.meta().key(),
                       event.meta().key_end(), origin, outgoing,
                       /*local_only=*/true)) {
    return false;
  }
  ++stats_->events_delivered;
  return true;
}

uint64_t Router::DeliverHere(const std::string& channel,
                             const v1::Envelope& envelope,
                             const Subscriber* skip,
                             const Subscriber* publisher,
                             std::vector<Subscriber*>* recipients) {
  const auto* subscribers = index_.Find(channel);
  const bool queued = queues_.Has(channel);
  if (subscribers == nullptr && !queued) return 0;
  OutgoingEvent outgoing(envelope);
  uint64_t here = 0;
  if (subscribers != nullptr) {
    recipients->assign(subscribers->begin(), subscribers->end());
    for (Subscriber* session : *recipients) {
      if (session != skip && session->Deliver(outgoing)) ++here;
    }
  }
  if (queued) {
    here += DeliverToQueues(channel, envelope.event(), publisher, outgoing);
  }
  return here;
}

void Router::DeliverKept(const std::string& channel) {
  std::vector<v1::Event> events = kept_.Take(channel, KeptEvents::Clock::now());
  v1::Envelope envelope;
  std::vector<Subscriber*> recipients;  // a rare path: Publish's scratch
  for (v1::Event& event : events) {     // stays Publish's
    envelope.mutable_event()->Swap(&event);
    const uint64_t here =
        DeliverHere(channel, envelope, nullptr, nullptr, &recipients);
    stats_->events_delivered += here;
    if (here == 0) kept_.CountUndelivered();
  }
}

uint64_t Router::DeliverRemote(const v1::Envelope& envelope) {
  const auto* subscribers = index_.Find(envelope.event().channel());
  if (subscribers == nullptr) return 0;
  uint64_t receivers = 0;
  OutgoingEvent outgoing(envelope);
  recipients_.assign(subscribers->begin(), subscribers->end());
  for (Subscriber* session : recipients_) {
    if (!session->LocalOnly() && session->Deliver(outgoing)) ++receivers;
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
  v1::Event* event = MoveIntoEvent(request, &envelope);
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

}  // namespace channel
