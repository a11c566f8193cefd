#include "broker/cluster/cluster_occupancy.h"

#include <utility>

#include "common/logging/logging.h"

namespace channel {

ClusterOccupancy::ClusterOccupancy(const PresenceTable* table,
                                   AnnounceFn announce)
    : table_(table), announce_(std::move(announce)) {}

void ClusterOccupancy::Touched(const PresenceTable::Edges& edges) {
  for (const auto& [group, occupied] : edges) touched_.insert(group);
}

void ClusterOccupancy::Settle(const std::string& group) {
  const bool occupied = table_->Occupied(group);
  if (occupied == told_.contains(group)) return;
  if (occupied) {
    told_.insert(group);
  } else {
    told_.erase(group);
  }
  changed_[occupied].push_back(group);
  telling_.emplace_back(group, occupied);
}

void ClusterOccupancy::Tell() {
  // Telling may reach code that changes the table and judges again: the
  // list is taken first.
  const std::vector<std::pair<std::string, bool>> edges = std::move(telling_);
  telling_.clear();
  if (!tell_) return;
  for (const auto& [group, occupied] : edges) tell_(group, occupied);
}

void ClusterOccupancy::Judge(bool leads) {
  const bool took_over = leads && !leads_;
  if (leads != leads_) {
    spdlog::info(leads ? "this broker now tells the cluster's occupied/"
                         "vacated events ({} groups told occupied before)"
                       : "this broker no longer tells the cluster's "
                         "occupied/vacated events ({} groups told occupied)",
                 told_.size());
  }
  leads_ = leads;
  if (!leads) {
    touched_.clear();
    return;
  }
  if (took_over) {
    // What the previous teller told (our copy) against what the table
    // holds now: the differences were missed, or happened meanwhile. The
    // groups are listed first: telling may reach code that changes the
    // table.
    touched_.clear();
    std::vector<std::string> differ;
    for (const std::string& group : told_) {
      if (!table_->Occupied(group)) differ.push_back(group);
    }
    table_->ForEachGroup([this, &differ](const std::string& group) {
      if (table_->Occupied(group) && !told_.contains(group)) {
        differ.push_back(group);
      }
    });
    for (const std::string& group : differ) Settle(group);
    // Every copy becomes this record, before the application hears.
    changed_[0].clear();
    changed_[1].clear();
    SendSnapshot();
    Tell();
    return;
  }
  const absl::flat_hash_set<std::string> touched = std::move(touched_);
  touched_.clear();
  for (const std::string& group : touched) Settle(group);
  Flush();
  Tell();
}

void ClusterOccupancy::Announce(const std::vector<std::string>& groups,
                                bool occupied, bool reset) {
  std::vector<std::string> part;
  size_t bytes = 0;
  for (const std::string& group : groups) {
    if (!part.empty() && bytes + group.size() + 8 > kMessageBytes) {
      announce_(part, occupied, reset);
      reset = false;
      part.clear();
      bytes = 0;
    }
    part.push_back(group);
    bytes += group.size() + 8;
  }
  if (reset || !part.empty()) announce_(part, occupied, reset);
}

void ClusterOccupancy::Flush() {
  for (bool occupied : {false, true}) {
    if (changed_[occupied].empty()) continue;
    Announce(changed_[occupied], occupied, false);
    changed_[occupied].clear();
  }
}

void ClusterOccupancy::OnAnnounced(const std::vector<std::string>& groups,
                                   bool occupied, bool reset) {
  // The teller's own record is what it told; another teller's words (two
  // at once, for a moment) would only blur it.
  if (leads_) return;
  if (reset) told_.clear();
  for (const std::string& group : groups) {
    if (occupied) {
      told_.insert(group);
    } else {
      told_.erase(group);
    }
  }
}

void ClusterOccupancy::SendSnapshot() {
  if (!leads_) return;  // a copy may be behind: only the record is sent
  Announce(std::vector<std::string>(told_.begin(), told_.end()), true, true);
}

void ClusterOccupancy::Disconnected() {
  // Cut off, a copy falls behind: the teller's snapshot on the re-sync
  // replaces it. The teller's own record stays true (if another broker
  // took over meanwhile, its snapshot replaces this one too).
  if (!leads_) told_.clear();
}

}  // namespace channel
