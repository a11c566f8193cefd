#ifndef CHANNEL_BROKER_CLUSTER_CLUSTER_PRESENCE_H_
#define CHANNEL_BROKER_CLUSTER_CLUSTER_PRESENCE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "broker/cluster/cluster_occupancy.h"
#include "broker/presence/presence_table.h"
#include "proto/channel.pb.h"

namespace channel {

// Presence across a cluster of brokers (--nats): each broker shares what
// its own clients report (ClusterPresence messages on one NATS subject) and
// applies the other brokers' reports to its PresenceTable, so that a
// presence query on any broker counts the whole cluster; distinct users
// are counted once however many brokers see them.
//
// Eventual, with bounds: a broker's messages reach the others in order
// (one NATS connection) and are numbered; a receiver hearing a broker for
// the first time, or missing one of its messages, drops what it holds of
// that broker and asks it for snapshots (repeated every `expiry` / 2 until
// that broker says the sync is done; reports meanwhile wait for it). A
// broker that falls silent (crashed, cut off) for `expiry` has its
// reporters dropped. While a broker is cut off, its gateways move and
// report elsewhere, so counts can be high by their share for up to
// `expiry`.
//
// Occupancy (the application's occupied/vacated events) is told by one
// broker for the whole cluster: the lowest broker id among those settled
// (connected for `expiry`, synced with every broker heard, for `expiry` / 2
// more); see ClusterOccupancy.
//
// Owned by the broker thread; `publish` sends one message to the subject
// (dropped silently when NATS is down: the rejoin resynchronises).
class ClusterPresence {
 public:
  using Clock = std::chrono::steady_clock;
  using Publish = std::function<void(const std::string& bytes)>;
  // A report larger than this goes out in parts (NATS refuses messages
  // over its max_payload, 1 MiB by default).
  static constexpr size_t kMaxReportBytes = 256 << 10;

  ClusterPresence(std::string broker_id, PresenceTable* table, Publish publish,
                  Clock::duration expiry = std::chrono::seconds(5));
  ~ClusterPresence();

  // A local reporter's report, already applied to the table.
  void LocalReport(const void* reporter, uint64_t id,
                   const v1::Presence& report);
  // A local reporter went away (already removed from the table).
  void LocalGone(uint64_t id);
  // Groups a local report or departure took across zero connections.
  void LocalEdges(const PresenceTable::Edges& edges, Clock::time_point now);
  // Tells the application's occupancy events, when this broker is the
  // cluster's teller.
  void set_on_edge(ClusterOccupancy::TellFn fn) {
    occupancy_.set_on_edge(std::move(fn));
  }
  const ClusterOccupancy& occupancy() const { return occupancy_; }

  // A message from the subject (another broker's; never our own).
  // Malformed messages are counted and ignored.
  void OnMessage(absl::string_view bytes, Clock::time_point now);
  // NATS (re)connected: a heartbeat at once, so the others notice us (and
  // we them, by theirs).
  void OnConnected(Clock::time_point now = Clock::now());
  // NATS lost: what others reported is stale; drop it.
  void OnDisconnected();
  // Every second or so: heartbeat, and expiry of silent brokers.
  void Tick(Clock::time_point now);

  // Member lists (groups the table keeps members of): the changes other
  // brokers' reports make, as this broker's table sees them. Changes made
  // while a broker's state is being re-synchronised (a first contact, a
  // lost message) are not told one by one: once its sync is in,
  // `on_settled` runs, and the whole lists go out (their receivers tell
  // the differences). A broker that falls silent: its members' departures
  // are told.
  void set_on_member(
      std::function<void(const PresenceTable::MemberEdge&)> on_member,
      std::function<void()> on_settled) {
    on_member_ = std::move(on_member);
    on_settled_ = std::move(on_settled);
  }
  // Whether what this broker holds of the others may be incomplete: a
  // broker not synced yet, or less than `expiry` since this one started
  // (a broker not heard yet). Member lists sent meanwhile are partial.
  bool unsettled(Clock::time_point now) const;

  size_t remote_brokers() const { return remote_.size(); }
  uint64_t malformed() const { return malformed_; }
  uint64_t syncs_requested() const { return syncs_requested_; }

 private:
  struct Remote {
    Clock::time_point last_heard;
    uint64_t last_seq = 0;
    bool synced = false;      // its snapshots since our last drop are all in
    bool was_synced = false;  // once, since we first heard it
    bool settled = false;     // as its last message said
    Clock::time_point sync_requested;
    // Reporter id -> a unique address, the table's key for it.
    absl::flat_hash_map<uint64_t, std::unique_ptr<char>> reporters;
  };

  void Send(v1::ClusterPresence::Kind kind, uint64_t reporter = 0,
            const v1::Presence* report = nullptr,
            const std::string& target = "",
            v1::ClusterPresence* with = nullptr);  // fields set already
  void SendReport(uint64_t id, const v1::Presence& report);
  void SendSnapshots();
  void DropRemote(const std::string& broker);
  // Forgets what `remote` reported and asks it for a sync.
  void Resync(const std::string& broker, Remote& remote, Clock::time_point now);
  // Applies, telling member edges when `tell`.
  absl::Status ApplyRemote(const void* key, const v1::Presence& report,
                           bool tell);
  void RemoveRemote(const void* key, bool tell);
  // One message of a known broker.
  void Handle(const v1::ClusterPresence& message, Remote& remote,
              Clock::time_point now);
  // Who tells occupancy, after any change.
  void Judge(Clock::time_point now);

  const std::string broker_id_;
  PresenceTable* const table_;
  const Publish publish_;
  const Clock::duration expiry_;
  absl::flat_hash_map<uint64_t, const void*> local_;  // id -> table key
  absl::flat_hash_map<std::string, Remote> remote_;
  uint64_t seq_ = 0;  // of our last message
  uint64_t malformed_ = 0;
  uint64_t syncs_requested_ = 0;
  std::string scratch_;
  std::function<void(const PresenceTable::MemberEdge&)> on_member_;
  std::function<void()> on_settled_;
  const Clock::time_point started_ = Clock::now();
  bool startup_told_ = false;  // on_settled ran once the startup window ended
  PresenceTable::MemberEdges edges_;      // scratch
  PresenceTable::Edges occupancy_edges_;  // scratch
  ClusterOccupancy occupancy_;
  bool connected_ = false;
  Clock::time_point connected_at_;
  // Since when this broker has been settled (occupancy), if it is.
  std::optional<Clock::time_point> settled_since_;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_CLUSTER_CLUSTER_PRESENCE_H_
