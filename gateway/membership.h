#ifndef CHANNEL_GATEWAY_MEMBERSHIP_H_
#define CHANNEL_GATEWAY_MEMBERSHIP_H_

#include <string>

#include "common/subscription_index.h"
#include "gateway/connection_data.h"
#include "gateway/shard_link.h"
#include "gateway/worker_stats.h"

namespace channel {

// The group membership of one worker's connections: the one owner of
// "who is in which group" on this thread. Keeps the broker subscription of
// the worker's ShardLink in step (first member in: subscribe; last member
// out: unsubscribe) and the counters.
class Membership {
 public:
  using Members = SubscriptionIndex<ConnectionData*>::Subscribers;

  Membership(size_t max_groups_per_connection, ShardLink* link,
             WorkerStats* stats, GatewayLimits* limits)
      : max_groups_(max_groups_per_connection),
        link_(link),
        stats_(stats),
        limits_(limits) {}

  enum class JoinResult { kJoined, kAlreadyMember, kTooManyGroups };

  // Adds `con` to `group` unless it is at its group limit. `live`
  // (optional) runs once the broker subscription serving the group is
  // confirmed; it does not run for kTooManyGroups.
  JoinResult Join(ConnectionData* con, const std::string& group,
                  ShardLink::Done live);
  // Removes `con` from `group`; false when it was not a member. Effective
  // at once: this worker delivers nothing more of the group to it.
  bool Leave(ConnectionData* con, const std::string& group);
  // Removes `con` from every group (close).
  void LeaveAll(ConnectionData* con);

  // Members of `group` on this worker, or nullptr. Invalidated by changes.
  const Members* Find(absl::string_view group) const {
    return index_.Find(group);
  }

 private:
  void LostLastMember(const std::string& group);

  const size_t max_groups_;
  ShardLink* const link_;
  WorkerStats* const stats_;
  GatewayLimits* const limits_;
  SubscriptionIndex<ConnectionData*> index_;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_MEMBERSHIP_H_
