#ifndef CHANNEL_BROKER_ROUTING_PRESENCE_SERVICE_H_
#define CHANNEL_BROKER_ROUTING_PRESENCE_SERVICE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "broker/cluster/cluster_presence.h"
#include "broker/routing/presence_table.h"

namespace channel {

// The broker's presence: gateways' reports applied to its PresenceTable
// and, in a cluster, shared with the other brokers (ClusterPresence), whose
// reports the table also holds. Queries read the table. Broker thread only.
class PresenceService {
 public:
  explicit PresenceService(size_t max_entries_per_reporter)
      : table_(max_entries_per_reporter) {}

  // A connection's report (`reporter` with id `id`), and its going away.
  absl::Status Apply(const void* reporter, uint64_t id,
                     const v1::Presence& report);
  void Gone(const void* reporter, uint64_t id);

  const PresenceTable& table() const { return table_; }
  PresenceTable& mutable_table() { return table_; }
  // Hears a group's first connection anywhere (occupied) and its last one
  // gone (vacated), as this broker's own reporters cause them (in a
  // cluster, the broker whose gateway made the change tells it).
  using EdgeFn = std::function<void(const std::string& group, bool occupied)>;
  void set_on_edge(EdgeFn fn) { on_edge_ = std::move(fn); }
  // Cluster mode: reports are shared through `cluster` (not owned).
  void set_cluster(ClusterPresence* cluster) { cluster_ = cluster; }

 private:
  void Tell();

  PresenceTable table_;
  ClusterPresence* cluster_ = nullptr;
  EdgeFn on_edge_;
  PresenceTable::Edges edges_;  // scratch
};

}  // namespace channel

#endif  // CHANNEL_BROKER_ROUTING_PRESENCE_SERVICE_H_
