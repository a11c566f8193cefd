#include "gateway/membership.h"

namespace channel {

Membership::JoinResult Membership::Join(ConnectionData* con,
                                        const std::string& group,
                                        ShardLink::Done live) {
  if (!index_.Contains(con, group) && index_.CountFor(con) >= max_groups_) {
    return JoinResult::kTooManyGroups;
  }
  const auto change = index_.Add(con, group);
  if (change.changed) Bump(stats_->joins);
  if (change.channel_edge) {
    stats_->local_groups.fetch_add(1, std::memory_order_relaxed);
    limits_->groups.fetch_add(1, std::memory_order_relaxed);
  }
  link_->Join(group, change.channel_edge, std::move(live));
  return change.changed ? JoinResult::kJoined : JoinResult::kAlreadyMember;
}

bool Membership::Leave(ConnectionData* con, const std::string& group) {
  const auto change = index_.Remove(con, group);
  if (!change.changed) return false;
  Bump(stats_->leaves);
  if (change.channel_edge) LostLastMember(group);
  return true;
}

void Membership::LeaveAll(ConnectionData* con) {
  Bump(stats_->leaves, index_.CountFor(con));
  for (const std::string& group : index_.RemoveAll(con)) LostLastMember(group);
}

void Membership::LostLastMember(const std::string& group) {
  stats_->local_groups.fetch_sub(1, std::memory_order_relaxed);
  limits_->groups.fetch_sub(1, std::memory_order_relaxed);
  link_->Leave(group);
}

}  // namespace channel
