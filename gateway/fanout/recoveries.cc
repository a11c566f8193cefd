#include "gateway/fanout/recoveries.h"

#include <algorithm>

namespace channel {

void Recoveries::Begin(ConnectionData* con, const std::string& channel) {
  auto& holds = by_channel_[channel];
  auto [it, added] = holds.try_emplace(con);
  if (added) {
    ++con->recovering;
  } else {
    con->held_bytes -= it->second.bytes;
    it->second = Hold();
  }
}

void Recoveries::Capture(const std::vector<Delivery>& batch) {
  for (const Delivery& d : batch) {
    // Member events are not held: a resumed join's reply carries the list.
    if (d.to_all || d.member_event) continue;
    auto it = by_channel_.find(d.channel);
    if (it == by_channel_.end()) continue;
    for (auto& [con, hold] : it->second) {
      if (hold.overflowed) continue;
      const std::vector<uint64_t>& exclude = d.exclude();
      if (std::find(exclude.begin(), exclude.end(), con->id) != exclude.end()) {
        continue;
      }
      const size_t add = d.bytes();
      if (con->held_bytes + add > max_held_bytes_) {
        hold.overflowed = true;
        con->held_bytes -= hold.bytes;
        hold.bytes = 0;
        hold.deliveries.clear();
        hold.deliveries.shrink_to_fit();
        continue;
      }
      hold.bytes += add;
      con->held_bytes += add;
      hold.deliveries.push_back(d);
    }
  }
}

bool Recoveries::End(ConnectionData* con, const std::string& channel,
                     Held* out) {
  auto it = by_channel_.find(channel);
  if (it == by_channel_.end()) return false;
  auto hold = it->second.find(con);
  if (hold == it->second.end()) return false;
  out->deliveries = std::move(hold->second.deliveries);
  out->overflowed = hold->second.overflowed;
  con->held_bytes -= hold->second.bytes;
  it->second.erase(hold);
  if (it->second.empty()) by_channel_.erase(it);
  --con->recovering;
  return true;
}

void Recoveries::Forget(ConnectionData* con) {
  if (con->recovering == 0) return;
  con->held_bytes = 0;
  for (auto it = by_channel_.begin(); it != by_channel_.end();) {
    if (it->second.erase(con) > 0) --con->recovering;
    if (it->second.empty()) {
      by_channel_.erase(it++);
    } else {
      ++it;
    }
  }
}

}  // namespace channel
