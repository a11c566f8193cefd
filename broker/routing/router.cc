#include "broker/routing/router.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/channel_names.h"

namespace channel {

Router::Router(const BrokerOptions& options, BrokerStats* stats)
    : options_(options),
      stats_(stats),
      queues_(options.max_queue_bindings),
      kept_(options.events_keep_bytes, options.events_keep_age),
      sole_(options.sole_release_timeout, std::string(kGroupChannelPrefix)) {}

bool Router::SoleEnabled() const {
  // A cluster's other brokers may have subscribers this one cannot see; a
  // restarted broker's gateways may not all have re-linked yet.
  return options_.sole_interest && cluster_ == nullptr && !sole_paused_;
}

void Router::PauseSole(bool paused) {
  if (paused == sole_paused_) return;
  sole_paused_ = paused;
  if (paused) sole_.RevokeWatched();
}

Subscriber* Router::SoleCandidate(const std::string& channel) const {
  if (!SoleEnabled()) return nullptr;
  const auto* subscribers = index_.Find(channel);
  if (subscribers == nullptr || subscribers->size() != 1) return nullptr;
  Subscriber* only = *subscribers->begin();
  if (!only->WantsSoleInterest()) return nullptr;
  // Queue group members receive the channel's events too.
  if (queues_.Has(channel)) return nullptr;
  // Every event of a history channel must reach the sequencer.
  if (history_ != nullptr && history_->RuleFor(channel) != nullptr) {
    return nullptr;
  }
  // A channel the observer needs (the PHP bridge's group channels while it
  // has subscribers) is never held alone.
  if (observer_ != nullptr && observer_->Needs(channel)) return nullptr;
  return only;
}

void Router::UpdateSole(const std::string& channel) {
  sole_.Update(channel, SoleCandidate(channel));
}

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
                               const v1::Subscribe& request,
                               std::function<void()> on_released,
                               bool* waiting) {
  if (absl::Status s = ValidateAndDedupe(request.channels()); !s.ok()) {
    return s;
  }
  if (!request.queue_group().empty()) {
    if (absl::Status s = JoinQueue(session, request); !s.ok()) return s;
    for (const std::string* channel : distinct_) {
      if (kept_.Has(*channel)) DeliverKept(*channel);
    }
    // In a cluster the Ack waits until every other broker knows this
    // member (below, as for a subscriber).
    if (cluster_ != nullptr && on_released) {
      const bool kept = cluster_->WaitForInterest(std::move(on_released));
      if (waiting != nullptr) *waiting = kept;
    }
    return absl::OkStatus();
  }
  size_t new_channels = 0;
  for (const std::string* channel : distinct_) {
    if (!index_.Contains(session, *channel)) ++new_channels;
  }
  if (absl::Status s = CheckChannelLimit(session, new_channels); !s.ok()) {
    return s;
  }
  bool woken = false;
  for (const std::string* channel : distinct_) {
    const auto change = index_.Add(session, *channel);
    if (change.channel_edge) ClusterInterest(*channel, true);
    if (!change.changed) continue;
    UpdateSole(*channel);
    if (change.channel_edge && observer_ != nullptr &&
        observer_->Wakes(*channel)) {
      woken = true;
    }
    if (kept_.Has(*channel)) DeliverKept(*channel);
  }
  // In a cluster the Ack waits until every other broker forwards what this
  // one now wants (ClusterLink::WaitForInterest), including additions other
  // Subscribes made a moment ago and still unconfirmed. Brokers share no
  // sole-interest grants, so there is nothing else to wait for.
  if (cluster_ != nullptr) {
    if (on_released) {
      const bool kept = cluster_->WaitForInterest(std::move(on_released));
      if (waiting != nullptr) *waiting = kept;
    }
    return absl::OkStatus();
  }
  // The observer now needs channels that may be held alone: revoke them.
  std::vector<std::string> revoked;
  if (woken) revoked = sole_.RevokeWatched();
  // Nothing is being revoked (the usual case): nothing to wait for.
  if (on_released && sole_.revoking() > 0) {
    std::vector<absl::string_view> names(distinct_.size() + revoked.size());
    for (size_t i = 0; i < distinct_.size(); ++i) names[i] = *distinct_[i];
    for (size_t i = 0; i < revoked.size(); ++i) {
      names[distinct_.size() + i] = revoked[i];
    }
    const bool kept = sole_.WaitFor(names, std::move(on_released));
    if (waiting != nullptr) *waiting = kept;
  }
  return absl::OkStatus();
}

absl::Status Router::CheckChannelLimit(Subscriber* session,
                                       size_t new_channels) const {
  const size_t current = index_.CountFor(session) + queues_.CountFor(session);
  const size_t limit = session->IsLink() ? options_.max_channels_per_link
                                         : options_.max_channels_per_connection;
  if (current + new_channels > limit) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "subscribing would hold ", current + new_channels, " channels; the ",
        session->IsLink() ? "limit per link" : "limit per connection", " is ",
        limit));
  }
  return absl::OkStatus();
}

absl::Status Router::JoinQueue(Subscriber* session,
                               const v1::Subscribe& request) {
  const std::string& group = request.queue_group();
  if (group.size() > options_.max_channel_name_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "queue group name of ", group.size(), " bytes exceeds the limit of ",
        options_.max_channel_name_bytes));
  }
  if (request.since_size() > 0) {
    return absl::InvalidArgumentError(
        "a queue group subscription cannot resume (since)");
  }
  if (cluster_ != nullptr) {
    if (!cluster_->SharesQueues()) {
      return absl::InvalidArgumentError(
          "queue groups in a cluster need shared interest (this broker runs "
          "with --nats_interest_window_ms=0)");
    }
    for (const std::string* channel : distinct_) {
      if (sink_ != nullptr && sink_->Handles(*channel)) {
        // Its events come from the history feed on every broker, which
        // cannot choose one member for the whole cluster.
        return absl::InvalidArgumentError(absl::StrCat(
            "a history channel cannot have queue groups in a cluster: '",
            absl::CHexEscape(channel->substr(0, 64)), "'"));
      }
    }
  }
  size_t new_channels = 0;
  for (const std::string* channel : distinct_) {
    if (!queues_.Contains(session, *channel, group)) ++new_channels;
  }
  if (absl::Status s = CheckChannelLimit(session, new_channels); !s.ok()) {
    return s;
  }
  for (const std::string* channel : distinct_) {
    const QueueGroups::Change change = queues_.Join(session, *channel, group);
    if (change.channel_edge) UpdateSole(*channel);  // nobody holds it alone
    if (change.local_edge && cluster_ != nullptr) {
      cluster_->QueueInterest(*channel, group, true);
    }
  }
  return absl::OkStatus();
}

void Router::RemoteQueue(Subscriber* broker, const std::string& channel,
                         const std::string& group, bool joined) {
  const QueueGroups::Change change =
      joined ? queues_.Join(broker, channel, group)
             : queues_.Leave(broker, channel, group);
  if (change.channel_edge) UpdateSole(channel);
  if (joined && kept_.Has(channel)) DeliverKept(channel);
}

absl::Status Router::Unsubscribe(Subscriber* session,
                                 const v1::Unsubscribe& request) {
  if (absl::Status s = ValidateAndDedupe(request.channels()); !s.ok()) {
    return s;
  }
  if (!request.queue_group().empty()) {
    for (const std::string* channel : distinct_) {
      const QueueGroups::Change change =
          queues_.Leave(session, *channel, request.queue_group());
      if (change.channel_edge) UpdateSole(*channel);
      if (change.local_edge && cluster_ != nullptr) {
        cluster_->QueueInterest(*channel, request.queue_group(), false);
      }
    }
    return absl::OkStatus();
  }
  for (const std::string* channel : distinct_) {
    const auto change = index_.Remove(session, *channel);
    if (change.channel_edge) ClusterInterest(*channel, false);
    if (change.changed) UpdateSole(*channel);
  }
  return absl::OkStatus();
}

void Router::RemoveAll(Subscriber* session) {
  // The channels it leaves, for the grants below; not copied when grants
  // cannot exist.
  std::vector<std::string> left;
  if (SoleEnabled()) {
    index_.ForEachChannelOf(session, [&left](const std::string& channel) {
      left.push_back(channel);
    });
  }
  for (const std::string& channel : index_.RemoveAll(session)) {
    ClusterInterest(channel, false);
  }
  std::vector<QueueGroups::GroupName> local_left;
  for (const std::string& channel : queues_.RemoveAll(session, &local_left)) {
    UpdateSole(channel);
  }
  if (cluster_ != nullptr) {
    for (const auto& [channel, group] : local_left) {
      cluster_->QueueInterest(channel, group, false);
    }
  }
  queues_.ForgetPublisher(session);
  // Its own grants end at once; the channels it left may now have one
  // subscriber (grant) or lose theirs (revoke).
  for (const std::string& channel : sole_.HolderGone(session)) {
    UpdateSole(channel);
  }
  for (const std::string& channel : left) UpdateSole(channel);
}

void Router::ReleaseSole(Subscriber* holder, const std::string& channel,
                         uint64_t grant) {
  if (sole_.Released(holder, channel, grant)) UpdateSole(channel);
}

void Router::ExpireSole(SoleInterest::Clock::time_point now) {
  for (Subscriber* holder : sole_.Overdue(now)) {
    holder->CloseUnreleased(
        absl::StrCat("a revoked sole-interest grant was not released within ",
                     std::chrono::duration_cast<std::chrono::milliseconds>(
                         options_.sole_release_timeout)
                         .count(),
                     " ms"));
  }
}

}  // namespace channel
