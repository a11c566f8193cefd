#ifndef CHANNEL_GATEWAY_FANOUT_BATCH_H_
#define CHANNEL_GATEWAY_FANOUT_BATCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "gateway/delivery.h"

namespace channel {

// Turns the deliveries of one loop turn into WebSocket frame buffers: per
// target (a group, or everyone), consecutive deliveries that share their
// exclusions become one segment holding their frames back to back, so each
// member gets one write per segment and the buffer is shared by all of
// them. Order within each target is the broker's order. Pure; reused
// across turns (no allocation once warm).
class FanoutBatch {
 public:
  struct Segment {
    std::string frames;  // concatenated unmasked text frames
    uint64_t count = 0;  // messages in `frames`
    std::vector<uint64_t> exclude;
  };

  // Fills the batch. `wanted(group)` tells whether the worker still has
  // members of a group (deliveries for groups it left are dropped).
  template <typename Wanted>
  void Build(std::vector<Delivery>& deliveries, Wanted&& wanted) {
    targets_.clear();
    for (Delivery& d : deliveries) {
      if (!d.to_all && !wanted(d.group)) continue;
      auto& segments = targets_[d.to_all ? std::string() : d.group];
      if (segments.empty() || segments.back().exclude != d.exclude) {
        segments.push_back(Segment{{}, 0, std::move(d.exclude)});
      }
      Append(*d.payload, &segments.back());
    }
  }

  // Target "" is everyone (send_to_all); any other is a group id.
  const absl::flat_hash_map<std::string, std::vector<Segment>>& targets()
      const {
    return targets_;
  }
  absl::flat_hash_map<std::string, std::vector<Segment>>& mutable_targets() {
    return targets_;
  }

  // True when `id` is excluded from `segment`. Bounded: at most
  // kMaxExclude ids per delivery.
  static bool Excluded(const Segment& segment, uint64_t id) {
    for (uint64_t e : segment.exclude) {
      if (e == id) return true;
    }
    return false;
  }

 private:
  static void Append(const std::string& payload, Segment* segment);

  absl::flat_hash_map<std::string, std::vector<Segment>> targets_;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_FANOUT_BATCH_H_
