#ifndef CHANNEL_BROKER_ROUTING_PRESENCE_TABLE_H_
#define CHANNEL_BROKER_ROUTING_PRESENCE_TABLE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
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
  absl::Status Apply(const void* reporter, const v1::Presence& presence,
                     Edges* edges = nullptr);
  void RemoveReporter(const void* reporter, Edges* edges = nullptr);
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

 private:
  struct GroupState {  // one reporter's view of one group
    int64_t connections = 0;
    absl::flat_hash_map<std::string, int64_t> users;  // user -> count
  };
  struct Reporter {
    absl::flat_hash_map<std::string, GroupState> groups;
    size_t entries = 0;  // groups + users held
  };
  struct Total {
    uint64_t connections = 0;
    absl::flat_hash_map<std::string, uint64_t> users;  // user -> reporters
  };

  bool Occupied(const std::string& group) const {
    auto it = groups_.find(group);
    return it != groups_.end() && it->second.connections > 0;
  }
  // Adds (sign +1) or removes (-1) one reporter's group state to the totals.
  void AddToTotals(const std::string& group, const GroupState& state, int sign);

  const size_t max_entries_;
  absl::flat_hash_map<const void*, Reporter> reporters_;
  absl::btree_map<std::string, Total> groups_;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_ROUTING_PRESENCE_TABLE_H_
