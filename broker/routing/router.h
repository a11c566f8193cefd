#ifndef CHANNEL_BROKER_ROUTING_ROUTER_H_
#define CHANNEL_BROKER_ROUTING_ROUTER_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "broker/broker_options.h"
#include "broker/cluster/cluster_link.h"
#include "broker/history/history_store.h"
#include "broker/metrics/broker_stats.h"
#include "broker/routing/history_sink.h"
#include "broker/routing/kept_events.h"
#include "broker/routing/publish_observer.h"
#include "broker/routing/queue_groups.h"
#include "broker/routing/sole_interest.h"
#include "broker/routing/subscriber.h"
#include "common/subscription_index.h"
#include "proto/channel.pb.h"

namespace channel {

// Channel routing of one broker: who is subscribed to what, and fan-out of a
// publish to exactly the current subscribers. Each event is encoded once per
// codec (OutgoingEvent) and the same immutable frame is queued to every
// subscriber speaking it.
//
// Owned by the broker's io thread. Subscribers (sessions) are registered by
// pointer and must call RemoveAll before they are destroyed.
//
// Cost contract: every call is linear in the size of its request (names are
// de-duplicated through a hash set, never compared pairwise) plus the
// deliveries it makes; a request naming more than
// options.max_channels_per_request channels is refused before any work.
class Router {
 public:
  Router(const BrokerOptions& options, BrokerStats* stats);

  // Subscribes `session` to every channel of the request, or to none:
  // InvalidArgument for no channel or an empty name, ResourceExhausted for
  // an over-long name, too many names in one request, or when the
  // connection would exceed its channel limit. Subscribing twice (or naming
  // a channel twice) counts once.
  //
  // Sole interest: when the request joins channels whose grant is being
  // revoked (SoleInterest), `on_released` (if given) is kept and runs once
  // every one of them was released, and *waiting is set; the caller
  // acknowledges the request then, not now. on_released must not call back
  // into the Router synchronously (it runs inside a Router call: post).
  absl::Status Subscribe(Subscriber* session, const v1::Subscribe& request,
                         std::function<void()> on_released = nullptr,
                         bool* waiting = nullptr);

  // Unsubscribes; channels the session does not have are ignored. The same
  // validation as Subscribe (a request is bounded however it is used).
  absl::Status Unsubscribe(Subscriber* session, const v1::Unsubscribe& request);

  // Delivers one Event per distinct channel to each subscriber of it, the
  // publisher included unless the request says no_echo (then `publisher`
  // is skipped). Returns the number of events queued. Validation as
  // Subscribe, then admission, all or nothing, before anything is
  // delivered or forwarded:
  // - ResourceExhausted when the events of all its channels would exceed
  //   options.max_publish_fanout_bytes (the memory one request may cost);
  // - Aborted (BACKPRESSURE) when a link subscriber's output queue cannot
  //   take its events now: links carry many end users and are never cut
  //   for one burst; a link whose queue has not moved for
  //   options.link_stall_timeout is closed then instead.
  //
  // History channels of a cluster (set_history_sink): their events go to
  // the sink, which delivers them later, on every broker (no_echo does not
  // apply to them). With `done`, such a publish returns kDeferred and its
  // outcome comes through `done`, once, on a later turn: OK once every one
  // of them is stored (its value: the deliveries made now, to channels
  // without history), or the first error (the other channels may have
  // been delivered: said in the message). Without `done`, the outcome is
  // only counted.
  static constexpr uint64_t kDeferred = ~uint64_t{0};
  using PublishDone = std::function<void(absl::StatusOr<uint64_t>)>;
  absl::StatusOr<uint64_t> Publish(v1::Publish* request,
                                   const Subscriber* publisher = nullptr,
                                   PublishDone done = nullptr);

  // Workerman's publishLoop: per distinct channel, one event to one
  // subscriber, taking the subscribers in turn (round robin per channel).
  // Returns the number of events queued. Validation as Subscribe.
  absl::StatusOr<uint64_t> PublishLoop(v1::Publish* request);

  // The local subscribers of `channel` (a copy).
  std::vector<Subscriber*> SubscribersOf(absl::string_view channel) const {
    const auto* subs = index_.Find(channel);
    return subs == nullptr
               ? std::vector<Subscriber*>()
               : std::vector<Subscriber*>(subs->begin(), subs->end());
  }

  // The local subscribers of every channel `pred` accepts, each once.
  // O(channels).
  std::vector<Subscriber*> SubscribersWhere(
      const std::function<bool(const std::string& channel)>& pred) const {
    absl::flat_hash_set<Subscriber*> seen;
    std::vector<Subscriber*> out;
    index_.ForEachChannel([&](const std::string& channel) {
      if (!pred(channel)) return;
      for (Subscriber* s : *index_.Find(channel)) {
        if (seen.insert(s).second) out.push_back(s);
      }
    });
    return out;
  }

  // Calls fn(channel) for every channel with a local subscriber.
  // O(channels).
  template <typename Fn>
  void ForEachChannel(Fn&& fn) const {
    index_.ForEachChannel([&](const std::string& channel) { fn(channel); });
  }

  bool HasSubscribers(absl::string_view channel) const {
    return index_.Find(channel) != nullptr || queues_.Has(channel);
  }
  const QueueGroups& queue_groups() const { return queues_; }
  // Events nobody took, kept for their channel's first consumer: a
  // publish marked Metadata.keep that reaches nobody (here, in a queue
  // group anywhere, or on a broker that wants the channel) is kept, and
  // delivered, in order, in the turn its channel gains a subscriber or a
  // queue group member here or a queue group member on another broker.
  const KeptEvents& kept_events() const { return kept_; }

  // Cluster mode (--nats): interest goes to `cluster`, local publishes are
  // forwarded to it, and refused while it is down. Null: standalone.
  void set_cluster(ClusterLink* cluster) { cluster_ = cluster; }
  bool clustered() const { return cluster_ != nullptr; }
  // Whether another broker may have subscribers of `channel` (true when
  // its view is incomplete); false standalone.
  bool WantedElsewhere(const std::string& channel) const {
    return cluster_ != nullptr && cluster_->WantedElsewhere(channel);
  }
  // History (standalone): every event of a history channel published here
  // gets its offset and epoch from `history` (and is kept there) before it
  // is delivered; such channels are never held alone (sole interest), so
  // that every publish reaches the sequencer. Null: no history. Not owned.
  void set_history(HistoryStore* history) { history_ = history; }
  HistoryStore* history() const { return history_; }
  // History in a cluster: every event of a channel `sink` handles is
  // stored there instead of delivered and forwarded here, and such
  // channels need no interest of their own in the cluster (the sink's
  // feed brings them). Null: none. Not owned.
  void set_history_sink(HistorySink* sink) { sink_ = sink; }
  HistorySink* history_sink() const { return sink_; }
  // Sees every local publish after its delivery (the PHP bridge); null:
  // none. Not owned.
  void set_observer(PublishObserver* observer) { observer_ = observer; }
  // An event published on another broker: local subscribers only (its
  // queue groups were served by the broker it was published through).
  uint64_t DeliverRemote(const v1::Envelope& envelope);
  // An event another broker (`origin`, its stand-in here) chose this one
  // for, for queue group `group`: one local member of it, sticky per key
  // (QueueGroups::PickLocal); false (counted) when none can take it.
  bool DeliverQueued(const v1::Envelope& envelope, const std::string& group,
                     const Subscriber* origin);

  // Cluster: another broker (`broker`, its stand-in here: IsBroker) has
  // members of `channel`'s queue group `group` (joined) or no longer has.
  // Router::RemoveAll(broker) ends all of them and its keys' bindings.
  void RemoteQueue(Subscriber* broker, const std::string& channel,
                   const std::string& group, bool joined);

  // Leaves every channel (connection closed); its grants end.
  void RemoveAll(Subscriber* session);

  // `holder` answered a revoke: grant `grant` of `channel` is released.
  void ReleaseSole(Subscriber* holder, const std::string& channel,
                   uint64_t grant);
  // While paused (a restart's grace: not every subscriber has re-linked
  // yet, so nobody may be told that it holds a channel alone), no grant is
  // given, and group grants given before are revoked. Unpaused, channels
  // get grants again as their subscribers change.
  void PauseSole(bool paused);
  // Closes holders that did not release a revoked grant by its deadline.
  void ExpireSole(SoleInterest::Clock::time_point now);
  const SoleInterest& sole_interest() const { return sole_; }

  size_t channel_count() const { return index_.channel_count(); }
  size_t subscription_count() const { return index_.subscription_count(); }

 private:
  using Names = google::protobuf::RepeatedPtrField<std::string>;

  // Over the connection's (or link's) channel limit with `new_channels`
  // more? Queue group memberships count as channels.
  absl::Status CheckChannelLimit(Subscriber* session,
                                 size_t new_channels) const;
  // Subscribe with a queue group (distinct_ holds the channels).
  absl::Status JoinQueue(Subscriber* session, const v1::Subscribe& request);
  // One member of each of `channel`'s queue groups gets `outgoing`;
  // returns how many did.
  uint64_t DeliverToQueues(const std::string& channel, const v1::Event& event,
                           const Subscriber* publisher,
                           OutgoingEvent& outgoing);
  // Delivers `envelope`'s event of `channel` to its subscribers here (but
  // `skip`) and its queue groups (`publisher` as DeliverToQueues), copying
  // the subscriber list into *recipients first (a delivery may change it);
  // how many took it.
  uint64_t DeliverHere(const std::string& channel, const v1::Envelope& envelope,
                       const Subscriber* skip, const Subscriber* publisher,
                       std::vector<Subscriber*>* recipients);
  // Delivers `channel`'s kept events (KeptEvents) to its subscribers and
  // queue groups now, oldest first.
  void DeliverKept(const std::string& channel);
  // Gives `outgoing` to `member` of `channel`'s `group`, or, when it cannot
  // take it, to the group's next member (with local_only, on this broker);
  // false (counted as dropped) when none could.
  bool DeliverToMember(const std::string& channel, const std::string& group,
                       Subscriber* member, absl::string_view key, bool key_end,
                       const Subscriber* publisher, OutgoingEvent& outgoing,
                       bool local_only);
  // Publish's admission over distinct_ (see Publish).
  absl::Status Admit(const v1::Publish& request, const Subscriber* skip);
  // Checks the request's names and fills distinct_ with them, each once, in
  // request order.
  absl::Status ValidateAndDedupe(const Names& channels);
  // Tells the cluster of `channel`'s first or last local subscriber,
  // unless the history sink brings its events.
  void ClusterInterest(const std::string& channel, bool first) {
    if (cluster_ == nullptr) return;
    if (sink_ != nullptr && sink_->Handles(channel)) return;
    cluster_->Interest(channel, first);
  }
  // `channel`'s subscribers changed: grant, keep or revoke its grant.
  void UpdateSole(const std::string& channel);
  // Grants are possible at all (standalone, --sole_interest).
  bool SoleEnabled() const;
  // The subscriber that may hold `channel` alone, or null.
  Subscriber* SoleCandidate(const std::string& channel) const;

  const BrokerOptions& options_;
  BrokerStats* stats_;
  SubscriptionIndex<Subscriber*> index_;
  QueueGroups queues_;
  KeptEvents kept_;
  std::vector<std::pair<std::string, Subscriber*>> picked_;  // scratch
  std::vector<Subscriber*> tried_;                           // scratch
  // Scratch, reused across requests (no allocation per request once warm).
  absl::flat_hash_set<absl::string_view> seen_;
  std::vector<const std::string*> distinct_;
  // A fan-out's recipients: a slow consumer closed during a fan-out leaves
  // the index, which must not change under the iteration.
  std::vector<Subscriber*> recipients_;
  // Admission scratch: bytes a multi-channel publish adds per link, and the
  // links that cannot take it.
  absl::flat_hash_map<Subscriber*, size_t> link_need_;
  std::vector<Subscriber*> full_;
  // publishLoop's turn per channel. Entries of channels that lost every
  // subscriber are pruned when the map outgrows the index.
  absl::flat_hash_map<std::string, uint64_t> loop_turns_;
  ClusterLink* cluster_ = nullptr;
  PublishObserver* observer_ = nullptr;
  HistoryStore* history_ = nullptr;
  HistorySink* sink_ = nullptr;
  bool observing_ = false;  // inside observer_->OnPublished
  // Scratch: the channels to observe (the request's own names; distinct_
  // is reused by the observer's publishes).
  std::vector<const std::string*> observed_;
  SoleInterest sole_;
  bool sole_paused_ = false;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_ROUTING_ROUTER_H_
