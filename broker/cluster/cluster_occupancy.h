#ifndef CHANNEL_BROKER_CLUSTER_CLUSTER_OCCUPANCY_H_
#define CHANNEL_BROKER_CLUSTER_CLUSTER_OCCUPANCY_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "broker/presence/presence_table.h"

namespace channel {

// Occupancy of groups across a cluster (the application's `occupied` /
// `vacated` events): one broker, the teller, tells them, from its table of
// the whole cluster's presence, so that two brokers' first joins at one
// moment give one `occupied` and two last leaves one `vacated`.
//
// The teller keeps `told_`, the groups it told occupied, and announces each
// change to the other brokers, who keep a copy (the whole record comes with
// a sync, and from every new teller). It announces before it tells the
// application: a teller that dies between the two leaves the next one a
// copy with the change in it, so an edge may be told twice (or a vacated
// come without its occupied), never lost.
//
// A broker that becomes the teller (the previous one left, or a lower id
// joined), or is it again after a pause (a re-sync of a broker's dropped
// share), tells the differences between its table and that copy, so that
// nothing is missed meanwhile; an edge near such a change may be told
// twice.
//
// ClusterPresence owns it and says who tells (Judge). Broker thread only.
class ClusterOccupancy {
 public:
  // Tells the application (the PresenceService's edge handler).
  using TellFn = std::function<void(const std::string& group, bool occupied)>;
  // Sends an OCCUPANCY message to the other brokers.
  using AnnounceFn = std::function<void(const std::vector<std::string>& groups,
                                        bool occupied, bool reset)>;
  // Bytes of group names per OCCUPANCY message (more go in parts: NATS
  // refuses messages over its max_payload, 1 MiB by default).
  static constexpr size_t kMessageBytes = 256 << 10;

  ClusterOccupancy(const PresenceTable* table, AnnounceFn announce);

  void set_on_edge(TellFn fn) { tell_ = std::move(fn); }

  // Groups whose connection total crossed zero in the table (any
  // reporter's change): looked at by the next Judge.
  void Touched(const PresenceTable::Edges& edges);
  // After every change: `leads` says whether this broker is the teller now.
  // A new teller tells every difference; a teller tells those of the
  // touched groups.
  void Judge(bool leads);
  // The teller's announcement (another broker's OCCUPANCY message).
  void OnAnnounced(const std::vector<std::string>& groups, bool occupied,
                   bool reset);
  // The teller's record, to a broker that asked for a sync (every broker
  // takes it as its copy); nothing from any other broker.
  void SendSnapshot();
  // NATS lost: a copy is dropped (it would fall behind).
  void Disconnected();

  bool leads() const { return leads_; }
  size_t told() const { return told_.size(); }

 private:
  // Records `group`'s edge if the table and told_ disagree: in changed_ (to
  // announce) and telling_ (to tell).
  void Settle(const std::string& group);
  // Tells the application the edges recorded since the last call.
  void Tell();
  void Flush();
  // To the others, in parts; only the first part carries `reset`.
  void Announce(const std::vector<std::string>& groups, bool occupied,
                bool reset);

  const PresenceTable* const table_;
  const AnnounceFn announce_;
  TellFn tell_;
  bool leads_ = false;
  absl::flat_hash_set<std::string> told_;     // told occupied
  absl::flat_hash_set<std::string> touched_;  // since the last Judge
  std::vector<std::string> changed_[2];       // [occupied]: to announce
  std::vector<std::pair<std::string, bool>> telling_;  // to tell, in order
};

}  // namespace channel

#endif  // CHANNEL_BROKER_CLUSTER_CLUSTER_OCCUPANCY_H_
