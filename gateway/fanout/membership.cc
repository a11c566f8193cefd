#include "gateway/fanout/membership.h"

#include "absl/strings/match.h"
#include "common/channel_names.h"

namespace channel {

Membership::JoinResult Membership::Join(ConnectionData* con,
                                        const std::string& group_id,
                                        ShardLink::Done live) {
  const std::string channel = GroupChannel(group_id);
  const size_t groups = index_.CountFor(con) - (con->user_id.empty() ? 0 : 1);
  if (!index_.Contains(con, channel)) {
    if (groups >= max_groups_) return JoinResult::kTooManyGroups;
    if (index_.Find(channel) == nullptr && groups_ >= max_worker_groups_) {
      return JoinResult::kWorkerFull;
    }
  }
  const auto change = index_.Add(con, channel);
  if (change.changed) {
    Bump(stats_->joins);
    if (presence_ != nullptr) {
      presence_->Joined(group_id, con->user_id, con->user_info);
    }
  }
  if (change.changed && on_group_) on_group_(con, group_id, true);
  Added(channel, change, std::move(live));
  return change.changed ? JoinResult::kJoined : JoinResult::kAlreadyMember;
}

void Membership::ForEachChannel(
    absl::FunctionRef<void(const std::string&)> fn) const {
  static const std::string kAll(kBroadcastChannel);
  fn(kAll);
  if (!node_channel_.empty()) fn(node_channel_);
  index_.ForEachChannel([&](const std::string& channel) { fn(channel); });
}

void Membership::JoinUser(ConnectionData* con, const std::string& user_id) {
  const std::string channel = UserChannel(user_id);
  Added(channel, index_.Add(con, channel), nullptr);
}

void Membership::Added(const std::string& channel,
                       SubscriptionIndex<ConnectionData*>::Change change,
                       ShardLink::Done live) {
  // The group counters count groups, not users' channels.
  if (change.channel_edge && absl::StartsWith(channel, kGroupChannelPrefix)) {
    ++groups_;
    stats_->local_groups.fetch_add(1, std::memory_order_relaxed);
    limits_->groups.fetch_add(1, std::memory_order_relaxed);
  }
  if (change.channel_edge) {
    // The first member's subscription: its refusal concerns every member
    // that joins meanwhile, with or without an id, so it is always heard.
    live = [this, channel, live = std::move(live)](const absl::Status& s) {
      if (live) live(s);
      if (!s.ok() && !absl::IsUnavailable(s) && on_refused_) {
        on_refused_(channel, s);
      }
    };
  }
  link_->Join(channel, change.channel_edge, std::move(live));
}

bool Membership::Leave(ConnectionData* con, const std::string& group_id,
                       bool report) {
  const std::string channel = GroupChannel(group_id);
  const auto change = index_.Remove(con, channel);
  if (!change.changed) return false;
  Bump(stats_->leaves);
  if (presence_ != nullptr) {
    if (report) {
      presence_->Left(group_id, con->user_id);
    } else {
      presence_->Forget(group_id, con->user_id);
    }
  }
  if (change.channel_edge) LostLastMember(channel);
  if (on_group_) on_group_(con, group_id, false);
  return true;
}

void Membership::LeaveAll(ConnectionData* con) {
  Bump(stats_->leaves, index_.CountFor(con));
  if (presence_ != nullptr) {
    index_.ForEachChannelOf(con, [&](const std::string& channel) {
      std::string group;
      if (ParseBrokerChannel(channel, &group) == ChannelKind::kGroup) {
        presence_->Left(group, con->user_id);
      }
    });
  }
  for (const std::string& channel : index_.RemoveAll(con)) {
    LostLastMember(channel);
  }
}

void Membership::LostLastMember(const std::string& channel) {
  if (absl::StartsWith(channel, kGroupChannelPrefix)) {
    --groups_;
    stats_->local_groups.fetch_sub(1, std::memory_order_relaxed);
    limits_->groups.fetch_sub(1, std::memory_order_relaxed);
  }
  link_->Leave(channel);
  if (on_channel_gone_) on_channel_gone_(channel);
}

}  // namespace channel
