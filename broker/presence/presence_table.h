#ifndef CHANNEL_BROKER_PRESENCE_PRESENCE_TABLE_H_
#define CHANNEL_BROKER_PRESENCE_PRESENCE_TABLE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/presence/member_json.h"
#include "proto/channel.pb.h"

namespace channel {

// Who is in which group, summed over the reports (Presence) of every
// connection that sends them (gateway workers). Each reporter's
// contribution is kept apart so that it can be replaced (reset) or removed
// when the reporter goes away: a dead gateway's members leave with it.
//
// Bounded: a reporter holds at most `max_entries` (group, user) entries;
// past it Apply refuses with ResourceExhausted and changes nothing of that
// report. Groups are ordered, for paginated listing. Owned by the broker's
// io thread.
class PresenceTable {
 public:
  explicit PresenceTable(size_t max_entries_per_reporter)
      : max_entries_(max_entries_per_reporter) {}

  // Groups whose connection total went from 0 to some (true: occupied)
  // or back to 0 (false: vacated) in one Apply or RemoveReporter.
  using Edges = std::vector<std::pair<std::string, bool>>;
  // Members of groups with member lists (set_members_of): a user's first
  // reporter in the group (added, with its info) or its last one gone.
  struct MemberEdge {
    std::string group;
    std::string user;
    std::string info;  // as its first reporter gave it
    bool added = false;
  };
  using MemberEdges = std::vector<MemberEdge>;
  // Which groups keep member info and tell member edges (presence rules);
  // others keep user counts only. Unset: none.
  void set_members_of(std::function<bool(const std::string& group)> fn) {
    members_of_ = std::move(fn);
  }
  absl::Status Apply(const void* reporter, const v1::Presence& presence,
                     Edges* edges = nullptr,
                     MemberEdges* member_edges = nullptr);
  void RemoveReporter(const void* reporter, Edges* edges = nullptr,
                      MemberEdges* member_edges = nullptr);
  // The reporter's whole contribution as one report (reset = true) that,
  // applied elsewhere, reproduces it. Empty (reset only) when it has none.
  v1::Presence Snapshot(const void* reporter) const;

  struct Counts {
    uint64_t connections = 0;
    uint64_t users = 0;
  };
  Counts Get(absl::string_view group) const;

  // Groups with members, in order, after `after` (exclusive; "" from the
  // start), at most `limit`.
  std::vector<std::pair<std::string, Counts>> List(absl::string_view prefix,
                                                   absl::string_view after,
                                                   size_t limit) const;
  size_t group_count() const { return groups_.size(); }
  // Whether some connection is in `group`.
  bool Occupied(absl::string_view group) const {
    auto it = groups_.find(group);
    return it != groups_.end() && it->second.connections > 0;
  }
  // Whether `user` is in `group` (any reporter).
  bool HasUser(absl::string_view group, absl::string_view user) const;
  // The members of a group with member lists, user -> info, in order.
  MemberList Members(absl::string_view group) const;
  // Every group with members, in order (a restart's resync).
  template <typename Fn>
  void ForEachGroup(Fn&& fn) const {
    for (const auto& [group, total] : groups_) fn(group);
  }

 private:
  struct GroupState {  // one reporter's view of one group
    int64_t connections = 0;
    absl::flat_hash_map<std::string, int64_t> users;  // user -> count
    // Groups with member lists: user -> info, as the reporter gave it.
    absl::flat_hash_map<std::string, std::string> info;
  };
  struct Reporter {
    absl::flat_hash_map<std::string, GroupState> groups;
    size_t entries = 0;  // groups + users held
  };
  struct UserTotal {
    uint64_t reporters = 0;
    std::string info;  // its first reporter's (groups with member lists)
  };
  struct Total {
    uint64_t connections = 0;
    absl::flat_hash_map<std::string, UserTotal> users;
  };

  // Adds (sign +1) or removes (-1) one reporter's group state to the totals.
  void AddToTotals(const std::string& group, const GroupState& state, int sign);
  // Member edges: who of `users` was in `group` before a change (Note),
  // then the differences after it (Tell).
  struct UserBefore {
    std::string group;
    std::string user;
    bool was = false;
    std::string info;  // was: its info (a departure tells it)
  };
  void Note(const std::string& group, const GroupState& state,
            std::vector<UserBefore>* before) const;
  void Tell(const std::vector<UserBefore>& before, MemberEdges* out) const;

  std::function<bool(const std::string& group)> members_of_;
  const size_t max_entries_;
  absl::flat_hash_map<const void*, Reporter> reporters_;
  absl::btree_map<std::string, Total> groups_;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_PRESENCE_PRESENCE_TABLE_H_
