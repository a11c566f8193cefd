#ifndef CHANNEL_GATEWAY_LINK_SHARD_LINK_H_
#define CHANNEL_GATEWAY_LINK_SHARD_LINK_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "asio/io_context.hpp"
#include "client/broker_client.h"
#include "gateway/fanout/delivery.h"
#include "gateway/worker_stats.h"

namespace channel {

// One worker thread's own connection to the broker. A gateway process is N
// independent shards sharing the WebSocket port through SO_REUSEPORT: each
// worker owns its connections, their membership and this link, all on its
// io_context, so nothing on the data path crosses threads (no link thread,
// no locks; the posts it makes go to its own io_context: the batch flush
// and the completion of a publish it did not send). The broker holds one
// subscription per worker that has members of a group; a group spread over
// several workers costs one event per worker, which the broker's encode-once
// fan-out makes cheap.
//
// Own publishes are delivered locally: the link publishes with no_echo (the
// broker does not send them back on this link) and, once the broker has
// accepted them (its Ack, or the cumulative one of quiet publishes, which
// the broker sends a link without delay), hands them to this worker's
// members in the per-turn batch with the broker's events. A publish the
// broker refuses (backpressure, a restart, a limit) reaches nobody, here
// included, so a client that retries it never duplicates it. Other workers
// and gateways get them from the broker. When the broker told this
// link that it alone holds the channel (sole interest, docs/PROTOCOL.md),
// the publish is not sent at all: nobody else would receive it, and the
// broker's revoke is answered before any later publish, so a subscriber the
// broker has acknowledged is never skipped. Channels with offsets (history,
// docs/CLIENT-PROTOCOL.md) are the exception: their own publishes come back
// from the broker like any event, carrying the offset the broker gave them,
// and are never delivered locally or skipped. Per publisher and group,
// order is kept everywhere; messages of different publishers may be seen
// in a different order on different workers (as with NATS or Redis
// Cluster), never lost or duplicated.
//
// Interest: the worker calls Join when a group gains its first local member
// and Leave when it loses its last, so the broker subscription exists
// exactly while the worker has members. Frames on one broker connection are
// handled in order, so a join followed by a send from this worker is
// subscribed before the send is published.
//
// Membership has one owner, the worker's index of connections per group.
// The BrokerClient's channel set is the library's copy of "what to
// re-subscribe after a reconnect" (channel names, not connections): the
// only other copy, kept so that reconnects need no help from the worker.
//
// Everything here runs on the worker's thread.
class ShardLink {
 public:
  // Runs once the broker has answered (OK: the subscription is live, or the
  // publish routed), or with the failure.
  using Done = std::function<void(const absl::Status&)>;
  // Everything received from the broker in one loop turn.
  using DeliverFn = std::function<void(std::vector<Delivery>& batch)>;
  // A send without an id that the broker refused or may not have routed
  // (the link dropped first): `conn_id` is the sender.
  using FailureFn =
      std::function<void(uint64_t conn_id, const absl::Status& status)>;

  // `origin` tags this link's publishes so its own events can honour
  // exclude_self. `limits` is process-wide (links up, for readiness).
  ShardLink(asio::io_context& io, int index, int workers,
            BrokerClientOptions options, std::string origin, WorkerStats* stats,
            GatewayLimits* limits);

  void set_deliver(DeliverFn fn) { deliver_ = std::move(fn); }
  // Runs each time the link is up (again) with its subscriptions live;
  // `down` > 0 after a loss: how long this worker had no link, during which
  // its members may have missed messages, except in the channels of
  // `recovered`: history channels the broker resumed from this worker's
  // last offset (the worker tells the others' members: gap).
  using Recovered = absl::flat_hash_set<std::string>;
  using UpFn = std::function<void(std::chrono::milliseconds down,
                                  const Recovered& recovered)>;
  void set_on_up(UpFn fn) { on_up_ = std::move(fn); }
  // Channels whose re-subscription after a reconnect the broker refused.
  using LostFn = std::function<void(const std::string& channel,
                                    const absl::Status& status)>;
  void set_on_lost(LostFn fn) { on_lost_ = std::move(fn); }
  void set_failure(FailureFn fn) { failure_ = std::move(fn); }
  // Application actions (gateway/app): events of `channel` (the worker's
  // node channel, held for its life through the channel source) go to
  // `fn`, not to the fan-out. Before Start.
  using ActionFn = std::function<void(const std::string& payload)>;
  void set_node_channel(std::string channel, ActionFn fn) {
    node_channel_ = std::move(channel);
    on_action_ = std::move(fn);
  }

  // Presence events of a held group (payload_codec one of the member
  // codecs, docs/PROTOCOL.md "Presence members") go to `fn`, in the order
  // received; the deliveries it appends (member events to tell) join this
  // turn's batch in that place. Before Start.
  using MemberFn = std::function<void(
      const std::string& group_id, const v1::Metadata& meta,
      const std::string& payload, std::vector<Delivery>* tell)>;
  void set_on_member(MemberFn fn) { on_member_ = std::move(fn); }
  // Which groups have member lists: the broker's policy (its Welcome).
  const PresenceRules& presence_rules() const {
    return client_.presence_rules();
  }
  // Sends a presence report: `welcomed` (a reconnect's snapshot) goes
  // before the re-subscribes.
  void set_presence_snapshot(BrokerClient::WelcomedHandler welcomed) {
    client_.set_welcomed_handler(std::move(welcomed));
  }
  void SendPresence(v1::Presence report, BrokerClient::Done done) {
    client_.SendPresence(std::move(report), std::move(done));
  }

  // The channels the link holds are `source`'s (the worker's Membership),
  // not a copy. Before Start.
  void set_channel_source(const BrokerClient::ChannelSource* source) {
    source_.owner = source;
    client_.set_channel_source(&source_);
  }
  void Start();
  void Stop();

  // The link is up and every held subscription is live.
  bool up() const { return client_.connected(); }

  // Broker `channel` ("group:G", "user:U") gained its first member on this
  // worker (first = true), or a member joined a channel already held and
  // wants to know it is live. `done` (optional) runs once the broker
  // confirmed the subscription. A join while the channel's Subscribe is in
  // flight waits for that one's Ack (a storm of joins to one group is one
  // round trip, not one per joiner); a first join always subscribes anew.
  void Join(const std::string& channel, bool first, Done done);
  // `channel` lost its last member on this worker.
  void Leave(const std::string& channel);

  // History (docs/CLIENT-PROTOCOL.md "History"). A channel has offsets when
  // the broker's policy (its Welcome) gives it history, or it reported a
  // stream position for it (the broadcast channel's offsets-only stream).
  bool HasOffsets(const std::string& channel) const {
    return positions_.contains(channel) ||
           client_.history_rules().ForChannel(channel) != nullptr;
  }
  // The last offset this worker delivered of `channel` (or where its
  // subscription started), if known.
  bool PositionOf(const std::string& channel, uint64_t* offset,
                  std::string* epoch) const {
    auto it = positions_.find(channel);
    if (it == positions_.end()) return false;
    *offset = it->second.offset;
    *epoch = it->second.epoch;
    return true;
  }
  // `done` runs after every event received before the reply was handed
  // to the worker (so a resume's seam and a join's position see them).
  void QueryHistory(const v1::HistoryQuery& query,
                    BrokerClient::HistoryDone done);

  // Presence report and query (PresenceReporter; the presence command).
  absl::Status SendPresence(const v1::Presence& presence) {
    return client_.SendPresence(presence);
  }
  void QueryPresence(const std::string& group_id,
                     BrokerClient::PresenceDone done) {
    client_.QueryPresence(group_id, std::move(done));
  }

  // Publishes `payload` to `channel` as it is (application events and
  // action results: never delivered here). `key` and `key_end` are the
  // event's Metadata (queue groups route by them); `keep`: the broker may
  // keep it when nobody takes it (Metadata.keep). `done` (optional) gets
  // the broker's answer and its receivers.
  absl::Status PublishRaw(const std::string& channel, absl::string_view payload,
                          absl::string_view key, bool key_end, bool keep,
                          BrokerClient::Done done);
  // The broker keeps what is marked `keep` (its Welcome said so).
  bool keeps_events() const { return client_.keeps_events(); }

  // Publishes to a group (or to everyone when group is null) and delivers
  // it to this worker's own members. With `done` the broker acknowledges
  // this message; without it the publish is confirmed cumulatively and only
  // a failure is reported (FailureFn with `sender`). Errors known at once
  // are returned, and then nobody received it.
  // `user`: the sender's user id (empty without tokens).
  absl::Status Publish(const std::string* group, absl::string_view message,
                       uint64_t sender, bool exclude_sender,
                       const std::string& user, Done done);

 private:
  // Where this worker stands in a history channel: the last offset it
  // delivered (or where its subscription started). `resuming`: the link
  // was lost since; the next Subscribe Ack says whether the broker resumed
  // it (recovered_).
  struct Position {
    uint64_t offset = 0;
    std::string epoch;
    bool resuming = false;
  };
  // The worker's channel set as the client sees it: the owner's channels,
  // with this link's positions for the re-subscribe.
  class Source : public BrokerClient::ChannelSource {
   public:
    explicit Source(const ShardLink* link) : link_(link) {}
    size_t ChannelCount() const override { return owner->ChannelCount(); }
    void ForEachChannel(
        absl::FunctionRef<void(const std::string&)> fn) const override {
      owner->ForEachChannel(fn);
    }
    bool Since(const std::string& channel,
               v1::StreamPosition* out) const override;
    bool Holds(const std::string& channel) const override {
      return owner->Holds(channel);
    }
    const BrokerClient::ChannelSource* owner = nullptr;

   private:
    const ShardLink* const link_;
  };
  void OnStream(const v1::StreamPosition& position);
  void OnEvent(v1::Event& event);
  // A publish waiting for the broker's verdict before its local delivery.
  struct Awaiting {
    uint64_t sender = 0;
    Delivery local;
    bool deliver = true;  // false: the broker echoes it (history channels)
  };
  void OnState(bool connected, absl::string_view reason);
  // Queues one delivery for this turn's batch.
  void Enqueue(Delivery delivery);
  void FlushDeliveries();
  // Hands this turn's deliveries to the worker now: an answer about to be
  // given must come after the events that preceded it on the link.
  void FlushNow();

  asio::io_context& io_;
  const int index_;
  const int workers_;
  BrokerClient client_;
  const std::string origin_;
  WorkerStats* const stats_;
  GatewayLimits* const limits_;
  DeliverFn deliver_;
  FailureFn failure_;
  UpFn on_up_;
  LostFn on_lost_;
  std::string node_channel_;
  ActionFn on_action_;
  MemberFn on_member_;
  bool counted_up_ = false;  // counted in limits_->links_up
  bool was_up_ = false;      // some earlier link was up
  bool was_down_ = false;    // lost since the last time it was up
  std::chrono::steady_clock::time_point down_since_;
  Source source_{this};
  absl::flat_hash_map<std::string, Position> positions_;
  Recovered recovered_;  // since the link was lost
  // Joins waiting for a channel's in-flight Subscribe, by channel (the
  // newest Subscribe's; an older one's Ack still answers its own).
  struct Joining {
    std::vector<Done> waiters;
  };
  absl::flat_hash_map<std::string, std::shared_ptr<Joining>> joining_;
  std::vector<Delivery> pending_;
  // Quiet publishes by tag, until confirmed (delivered here) or failed
  // (reported). Bounded by the client's max_unconfirmed.
  absl::flat_hash_map<uint64_t, Awaiting> awaiting_;
  uint64_t next_tag_ = 1;
  bool flush_posted_ = false;
  size_t pending_at_post_ = 0;  // pending_.size() when the flush was posted
  int flush_hops_ = 0;          // re-posts of the current flush
  // Scratch for one publish (no allocation per message once warm).
  std::vector<std::string> channels_;
  v1::Metadata meta_;
  std::vector<std::string> raw_channels_;
  v1::Metadata raw_meta_;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_LINK_SHARD_LINK_H_
