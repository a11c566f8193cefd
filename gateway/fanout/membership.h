#ifndef CHANNEL_GATEWAY_FANOUT_MEMBERSHIP_H_
#define CHANNEL_GATEWAY_FANOUT_MEMBERSHIP_H_

#include <functional>
#include <string>

#include "absl/functional/function_ref.h"
#include "client/broker_client.h"
#include "common/subscription_index.h"
#include "gateway/connection_data.h"
#include "gateway/link/shard_link.h"
#include "gateway/presence/presence_reporter.h"
#include "gateway/worker_stats.h"

namespace channel {

// The membership of one worker's connections in broker channels (groups,
// "group:G", and for authenticated connections their user, "user:U"): the
// one owner of "who is in what" on this thread. Keeps the broker
// subscriptions of the worker's ShardLink in step (first member in:
// subscribe; last member out: unsubscribe) and the counters. The group
// limit per connection counts groups only; the worker's limit counts the
// distinct groups it holds, so that with one user channel per connection
// they stay within the broker's --max_channels_per_link.
//
// It is also the worker's broker link's channel set (ChannelSource): the
// link keeps no copy of its own and re-subscribes from here.
class Membership : public BrokerClient::ChannelSource {
 public:
  using Members = SubscriptionIndex<ConnectionData*>::Subscribers;
  // The broker refused the subscription of `channel` (not a link drop): no
  // member of it on this worker receives anything of it. The owner removes
  // and tells them.
  using RefusedFn =
      std::function<void(const std::string& channel, const absl::Status&)>;

  // `presence` (optional) hears every group join and leave.
  Membership(size_t max_groups_per_connection, size_t max_groups_per_worker,
             ShardLink* link, WorkerStats* stats, GatewayLimits* limits,
             PresenceReporter* presence = nullptr)
      : max_groups_(max_groups_per_connection),
        max_worker_groups_(max_groups_per_worker),
        link_(link),
        stats_(stats),
        limits_(limits),
        presence_(presence) {}

  void set_on_refused(RefusedFn fn) { on_refused_ = std::move(fn); }
  // Hears every group a connection joins or leaves by Join and Leave (not
  // LeaveAll: a close is told on its own, with the groups).
  using GroupFn = std::function<void(ConnectionData* con,
                                     const std::string& group_id, bool joined)>;
  void set_on_group(GroupFn fn) { on_group_ = std::move(fn); }
  // Hears every broker channel that lost its last member here (after its
  // unsubscribe was sent).
  using ChannelFn = std::function<void(const std::string& channel)>;
  void set_on_channel_gone(ChannelFn fn) { on_channel_gone_ = std::move(fn); }
  // A channel held for the worker's life besides the broadcast channel
  // (its application node channel, gateway/app); empty: none. Before the
  // link starts.
  void set_node_channel(std::string channel) {
    node_channel_ = std::move(channel);
  }

  enum class JoinResult {
    kJoined,
    kAlreadyMember,
    kTooManyGroups,  // the connection is at --max_groups_per_connection
    kWorkerFull,     // a new group, and the worker is at its group limit
  };

  // Adds `con` to group `group_id` unless a limit says no. `live`
  // (optional) runs once the broker subscription serving the group is
  // confirmed, or with its failure; it does not run when refused here.
  JoinResult Join(ConnectionData* con, const std::string& group_id,
                  ShardLink::Done live);
  // Removes `con` from group `group_id`; false when it was not a member.
  // Effective at once: this worker delivers nothing more of it to `con`.
  // `report` false: the broker refused the join's presence report, so the
  // leave is not reported either (PresenceReporter::Forget).
  bool Leave(ConnectionData* con, const std::string& group_id,
             bool report = true);
  bool IsMember(ConnectionData* con, const std::string& group_id) const {
    return index_.Contains(con, GroupChannel(group_id));
  }
  // Makes `con` reachable as user `user_id` (its "user:U" channel).
  void JoinUser(ConnectionData* con, const std::string& user_id);
  // Removes `con` from every channel (close).
  void LeaveAll(ConnectionData* con);
  // BrokerClient::ChannelSource: the broadcast channel (every connection
  // receives send_to_all) and every channel with a member here.
  size_t ChannelCount() const override {
    return index_.channel_count() + 1 + (node_channel_.empty() ? 0 : 1);
  }
  bool Holds(const std::string& channel) const override {
    return channel == kBroadcastChannel || index_.Find(channel) != nullptr ||
           (!node_channel_.empty() && channel == node_channel_);
  }
  void ForEachChannel(
      absl::FunctionRef<void(const std::string&)> fn) const override;

  // Calls fn(channel) for every broker channel `con` is in (groups as
  // "group:G", its user channel).
  template <typename Fn>
  void ForEachChannelOf(ConnectionData* con, Fn&& fn) const {
    index_.ForEachChannelOf(con, std::forward<Fn>(fn));
  }

  // Distinct groups with members on this worker.
  size_t group_count() const { return groups_; }

  // Members of broker channel `channel` on this worker, or nullptr.
  // Invalidated by changes.
  const Members* Find(absl::string_view channel) const {
    return index_.Find(channel);
  }

 private:
  void Added(const std::string& channel,
             SubscriptionIndex<ConnectionData*>::Change change,
             ShardLink::Done live);
  void LostLastMember(const std::string& channel);

  const size_t max_groups_;
  const size_t max_worker_groups_;
  size_t groups_ = 0;  // distinct groups with members on this worker
  RefusedFn on_refused_;
  GroupFn on_group_;
  ChannelFn on_channel_gone_;
  std::string node_channel_;
  ShardLink* const link_;
  WorkerStats* const stats_;
  GatewayLimits* const limits_;
  PresenceReporter* const presence_;
  SubscriptionIndex<ConnectionData*> index_;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_FANOUT_MEMBERSHIP_H_
