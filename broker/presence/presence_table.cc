#include "broker/presence/presence_table.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace channel {

void PresenceTable::AddToTotals(const std::string& group,
                                const GroupState& state, int sign) {
  if (state.connections == 0 && state.users.empty()) return;
  Total& total = groups_[group];
  if (sign > 0) {
    total.connections += static_cast<uint64_t>(state.connections);
    for (const auto& [user, count] : state.users) {
      UserTotal& u = total.users[user];
      if (u.reporters++ == 0) {
        auto info = state.info.find(user);
        if (info != state.info.end()) u.info = info->second;
      }
    }
  } else {
    total.connections -= static_cast<uint64_t>(state.connections);
    for (const auto& [user, count] : state.users) {
      auto it = total.users.find(user);
      if (it != total.users.end() && --it->second.reporters == 0) {
        total.users.erase(it);
      }
    }
  }
  if (total.connections == 0 && total.users.empty()) groups_.erase(group);
}

absl::Status PresenceTable::Apply(const void* reporter,
                                  const v1::Presence& presence, Edges* edges,
                                  MemberEdges* member_edges) {
  Reporter& r = reporters_[reporter];
  // Work on a copy of the touched groups so a refused report changes
  // nothing; the report's size is bounded by the frame limit.
  absl::flat_hash_map<std::string, GroupState> next;
  auto state_of = [&](const std::string& group) -> GroupState& {
    auto it = next.find(group);
    if (it != next.end()) return it->second;
    GroupState& s = next[group];
    if (!presence.reset()) {
      auto old = r.groups.find(group);
      if (old != r.groups.end()) s = old->second;
    }
    return s;
  };
  for (const v1::PresenceDelta& d : presence.deltas()) {
    if (d.group().empty()) continue;
    GroupState& s = state_of(d.group());
    s.connections += d.connections();
    if (s.connections < 0) {
      if (r.groups.empty()) reporters_.erase(reporter);
      return absl::InvalidArgumentError(absl::StrCat(
          "presence of group ", d.group().substr(0, 64), " went negative"));
    }
    const bool members = members_of_ && members_of_(d.group());
    for (int i = 0; i < d.users_joined_size(); ++i) {
      const std::string& user = d.users_joined(i);
      if (++s.users[user] == 1 && members) {
        s.info[user] = i < d.infos_size() ? d.infos(i) : std::string();
      }
    }
    for (const std::string& user : d.users_left()) {
      auto it = s.users.find(user);
      if (it == s.users.end()) continue;
      if (--it->second <= 0) {
        s.users.erase(it);
        s.info.erase(user);
      }
    }
  }
  // The reporter's entries after this report, exactly: its current count
  // (none on reset), less the touched groups' old entries, plus their new
  // ones. Linear in the report, not in the reporter's state.
  size_t after = presence.reset() ? 0 : r.entries;
  for (const auto& [group, state] : next) {
    if (!presence.reset()) {
      auto old = r.groups.find(group);
      if (old != r.groups.end()) after -= 1 + old->second.users.size();
    }
    if (state.connections != 0 || !state.users.empty()) {
      after += 1 + state.users.size();
    }
  }
  if (after > max_entries_) {
    if (r.groups.empty()) reporters_.erase(reporter);
    return absl::ResourceExhaustedError(
        absl::StrCat("presence report would hold ", after,
                     " entries; the limit per connection is ", max_entries_));
  }
  // The touched groups' occupancy before, for the edges.
  std::vector<std::pair<std::string, bool>> before;
  if (edges != nullptr) {
    if (presence.reset()) {
      for (const auto& [group, state] : r.groups) {
        if (!next.contains(group)) before.emplace_back(group, Occupied(group));
      }
    }
    for (const auto& [group, state] : next) {
      before.emplace_back(group, Occupied(group));
    }
  }
  // Who of the touched groups' users was a member before, for the
  // member edges.
  std::vector<UserBefore> users_before;
  if (member_edges != nullptr && members_of_) {
    if (presence.reset()) {
      for (const auto& [group, state] : r.groups) {
        if (!next.contains(group)) Note(group, state, &users_before);
      }
    }
    for (const auto& [group, state] : next) {
      auto old = r.groups.find(group);
      if (old != r.groups.end()) Note(group, old->second, &users_before);
      Note(group, state, &users_before);
    }
  }
  // Commit: take the old states of the touched groups (or all, on reset)
  // out of the totals, and the new ones in.
  if (presence.reset()) {
    for (const auto& [group, state] : r.groups) AddToTotals(group, state, -1);
    r.groups.clear();
  }
  for (auto& [group, state] : next) {
    auto old = r.groups.find(group);
    if (old != r.groups.end()) {
      AddToTotals(group, old->second, -1);
      r.groups.erase(old);
    }
    if (state.connections != 0 || !state.users.empty()) {
      AddToTotals(group, state, +1);
      r.groups.emplace(group, std::move(state));
    }
  }
  r.entries = after;
  if (r.groups.empty()) reporters_.erase(reporter);
  for (const auto& [group, was] : before) {
    if (Occupied(group) != was) edges->emplace_back(group, !was);
  }
  if (member_edges != nullptr) Tell(users_before, member_edges);
  return absl::OkStatus();
}

void PresenceTable::Note(const std::string& group, const GroupState& state,
                         std::vector<UserBefore>* before) const {
  if (state.users.empty() || !members_of_(group)) return;
  auto total = groups_.find(group);
  for (const auto& [user, count] : state.users) {
    UserBefore b{group, user, false, ""};
    if (total != groups_.end()) {
      auto it = total->second.users.find(user);
      if (it != total->second.users.end()) {
        b.was = true;
        b.info = it->second.info;
      }
    }
    before->push_back(std::move(b));
  }
}

void PresenceTable::Tell(const std::vector<UserBefore>& before,
                         MemberEdges* out) const {
  // A user noted twice (in a group's old and new state) is told once.
  absl::flat_hash_set<std::pair<absl::string_view, absl::string_view>> told;
  for (const UserBefore& b : before) {
    if (!told.insert({b.group, b.user}).second) continue;
    auto group = groups_.find(b.group);
    const UserTotal* now = nullptr;
    if (group != groups_.end()) {
      auto it = group->second.users.find(b.user);
      if (it != group->second.users.end()) now = &it->second;
    }
    if ((now != nullptr) == b.was) continue;
    out->push_back(
        {b.group, b.user, now != nullptr ? now->info : b.info, !b.was});
  }
}

bool PresenceTable::HasUser(absl::string_view group,
                            absl::string_view user) const {
  auto it = groups_.find(group);
  return it != groups_.end() && it->second.users.contains(user);
}

MemberList PresenceTable::Members(absl::string_view group) const {
  MemberList out;
  auto it = groups_.find(group);
  if (it == groups_.end()) return out;
  for (const auto& [user, total] : it->second.users) {
    out.emplace(user, total.info.empty() ? "{}" : total.info);
  }
  return out;
}

void PresenceTable::RemoveReporter(const void* reporter, Edges* edges,
                                   MemberEdges* member_edges) {
  auto it = reporters_.find(reporter);
  if (it == reporters_.end()) return;
  std::vector<UserBefore> users_before;
  for (const auto& [group, state] : it->second.groups) {
    const bool was = edges != nullptr && Occupied(group);
    if (member_edges != nullptr && members_of_) {
      Note(group, state, &users_before);
    }
    AddToTotals(group, state, -1);
    if (was && !Occupied(group)) edges->emplace_back(group, false);
  }
  if (member_edges != nullptr) Tell(users_before, member_edges);
  reporters_.erase(it);
}

v1::Presence PresenceTable::Snapshot(const void* reporter) const {
  v1::Presence out;
  out.set_reset(true);
  auto it = reporters_.find(reporter);
  if (it == reporters_.end()) return out;
  for (const auto& [group, state] : it->second.groups) {
    v1::PresenceDelta* d = out.add_deltas();
    d->set_group(group);
    d->set_connections(state.connections);
    for (const auto& [user, count] : state.users) {
      auto info = state.info.find(user);
      for (int64_t i = 0; i < count; ++i) {
        d->add_users_joined(user);
        if (!state.info.empty()) {
          d->add_infos(info != state.info.end() ? info->second : "");
        }
      }
    }
  }
  return out;
}

PresenceTable::Counts PresenceTable::Get(absl::string_view group) const {
  auto it = groups_.find(group);
  if (it == groups_.end()) return {};
  return {it->second.connections, it->second.users.size()};
}

std::vector<std::pair<std::string, PresenceTable::Counts>> PresenceTable::List(
    absl::string_view prefix, absl::string_view after, size_t limit) const {
  std::vector<std::pair<std::string, Counts>> out;
  auto it = after.empty() || after < prefix ? groups_.lower_bound(prefix)
                                            : groups_.upper_bound(after);
  for (; it != groups_.end() && out.size() < limit; ++it) {
    if (!absl::StartsWith(it->first, prefix)) break;
    out.push_back(
        {it->first, {it->second.connections, it->second.users.size()}});
  }
  return out;
}

}  // namespace channel
