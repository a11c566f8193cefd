#ifndef CHANNEL_GATEWAY_FANOUT_RECOVERIES_H_
#define CHANNEL_GATEWAY_FANOUT_RECOVERIES_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "gateway/connection_data.h"
#include "gateway/fanout/delivery.h"

namespace channel {

// Joins that resume a history group from a position (add_group with
// since, docs/CLIENT-PROTOCOL.md "History"). The member is in the group
// (Membership) from the join on, but until the broker's answer to its
// history read arrives, its live deliveries of the group are held here
// instead of written: the reply and the recovered messages go first, then
// the held ones newer than what was recovered, so nothing is missed or
// sent twice at the seam.
//
// Bounded: the holds of one connection keep at most `max_held_bytes` of
// payload together; past it a hold is marked overflowed and drops what it
// gets (the join then answers recovered:false, and the client reloads).
// Worker thread only.
class Recoveries {
 public:
  explicit Recoveries(size_t max_held_bytes)
      : max_held_bytes_(max_held_bytes) {}

  bool empty() const { return by_channel_.empty(); }
  // Starts holding `con`'s deliveries of `channel` (a second Begin for the
  // same pair starts over).
  void Begin(ConnectionData* con, const std::string& channel);
  // True while `con`'s deliveries of `channel` are held: the fan-out skips
  // it. Cheap for connections without a recovery (a counter).
  bool Holds(const ConnectionData* con, absl::string_view channel) const {
    if (con->recovering == 0) return false;
    auto it = by_channel_.find(channel);
    return it != by_channel_.end() &&
           it->second.contains(const_cast<ConnectionData*>(con));
  }
  // Takes copies of this turn's deliveries for the holds (before the
  // batch is built: exclusions are read here).
  void Capture(const std::vector<Delivery>& batch);

  struct Held {
    std::vector<Delivery> deliveries;  // in the broker's order
    bool overflowed = false;
  };
  // Ends the recovery of (`con`, `channel`): false when none was running.
  bool End(ConnectionData* con, const std::string& channel, Held* out);
  // `con` closes: its recoveries end with nothing.
  void Forget(ConnectionData* con);

 private:
  struct Hold {
    std::vector<Delivery> deliveries;
    size_t bytes = 0;
    bool overflowed = false;
  };
  const size_t max_held_bytes_;
  absl::flat_hash_map<std::string, absl::flat_hash_map<ConnectionData*, Hold>>
      by_channel_;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_FANOUT_RECOVERIES_H_
