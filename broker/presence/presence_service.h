#ifndef CHANNEL_BROKER_PRESENCE_PRESENCE_SERVICE_H_
#define CHANNEL_BROKER_PRESENCE_PRESENCE_SERVICE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "broker/cluster/cluster_presence.h"
#include "broker/presence/presence_table.h"
#include "common/presence/presence_rules.h"

namespace channel {

// The broker's presence: gateways' reports applied to its PresenceTable
// and, in a cluster, shared with the other brokers (ClusterPresence), whose
// reports the table also holds. Queries read the table. Groups matching a
// presence rule (--presence) also keep who is there, with each member's
// info: a report's infos are checked against the rule, a report that
// would take a group past its max_members is refused whole (presence_full),
// and every member's arrival and departure is told (set_on_member).
// Broker thread only.
class PresenceService {
 public:
  explicit PresenceService(size_t max_entries_per_reporter,
                           PresenceRules rules = {});

  // A connection's report (`reporter` with id `id`), and its going away.
  // ResourceExhausted "presence_full ...": a group would pass its
  // max_members (a reset never is: it restores what was admitted).
  absl::Status Apply(const void* reporter, uint64_t id,
                     const v1::Presence& report);
  void Gone(const void* reporter, uint64_t id);

  const PresenceTable& table() const { return table_; }
  PresenceTable& mutable_table() { return table_; }
  const PresenceRules& rules() const { return rules_; }
  // Hears a group's first connection anywhere (occupied) and its last one
  // gone (vacated). In a cluster, one broker tells them for all, from every
  // broker's reports (ClusterOccupancy).
  using EdgeFn = std::function<void(const std::string& group, bool occupied)>;
  void set_on_edge(EdgeFn fn);
  // Hears each member of a presence group arriving (its first connection
  // anywhere; `info` canonical JSON) or leaving (its last gone).
  using MemberFn = std::function<void(const PresenceTable::MemberEdge& edge)>;
  void set_on_member(MemberFn fn) { on_member_ = std::move(fn); }
  // Whether member lists sent now may lack members (a restart's grace, a
  // cluster not yet in sync): they are then marked partial.
  void set_partial(std::function<bool()> fn) { partial_ = std::move(fn); }
  bool partial() const { return partial_ && partial_(); }
  // Cluster mode: reports are shared through `cluster` (not owned), which
  // tells occupancy.
  void set_cluster(ClusterPresence* cluster);

 private:
  // The report with its presence groups' infos canonical, or why not.
  absl::Status Check(const v1::Presence& report, v1::Presence* checked,
                     bool* rewritten) const;
  void Tell();

  const PresenceRules rules_;
  PresenceTable table_;
  ClusterPresence* cluster_ = nullptr;
  EdgeFn on_edge_;
  MemberFn on_member_;
  std::function<bool()> partial_;
  PresenceTable::Edges edges_;               // scratch
  PresenceTable::MemberEdges member_edges_;  // scratch
};

}  // namespace channel

#endif  // CHANNEL_BROKER_PRESENCE_PRESENCE_SERVICE_H_
