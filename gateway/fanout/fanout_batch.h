#ifndef CHANNEL_GATEWAY_FANOUT_FANOUT_BATCH_H_
#define CHANNEL_GATEWAY_FANOUT_FANOUT_BATCH_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "gateway/fanout/delivery.h"

namespace channel {

// Turns the deliveries of one loop turn into WebSocket frame buffers: per
// target (a channel: a group or a user; or everyone), consecutive deliveries
// that share their exclusions become one segment holding their frames back to
// back, so each member gets one write per segment and the buffer is shared by
// all of them. Order within each target is the broker's order.
//
// Pure. Reused across turns: targets, segments and their buffers are kept
// and refilled, so a warm batch allocates nothing (a buffer that grew past
// kKeepBytes is released, so one large message does not pin memory).
class FanoutBatch {
 public:
  static constexpr size_t kKeepBytes = 64 * 1024;

  struct Segment {
    std::string frames;  // concatenated unmasked text frames
    // The same messages in the opt-in JSON framing (docs/CLIENT-PROTOCOL.md
    // "JSON framing"); built only when asked for.
    std::string json_frames;
    uint64_t count = 0;  // messages in `frames`
    std::vector<uint64_t> exclude;
    // Member events are in json_frames only; their member's connections
    // get none of this segment (SkipUser).
    std::string skip_user;
  };

  struct Target {
    bool to_all = false;
    absl::string_view channel;  // into the deliveries given to Build
    std::vector<Segment> segments;
    size_t used = 0;  // segments[0, used) belong to this turn
    absl::Span<const Segment> live() const { return {segments.data(), used}; }
  };

  // Fills the batch. `wanted(channel)` tells whether the worker still has
  // members of a channel (deliveries for channels it left are dropped). The
  // targets refer to `deliveries`' group names: keep it alive and unchanged
  // while using them.
  // With `json`, every segment also gets its json_frames.
  template <typename Wanted>
  void Build(std::vector<Delivery>& deliveries, Wanted&& wanted,
             bool json = false) {
    Reset();
    for (Delivery& d : deliveries) {
      if (!d.to_all && !wanted(d.channel)) continue;
      if (d.member_event && !json) continue;  // nobody to tell
      Target& target = TargetFor(d.to_all, d.channel);
      if (target.used == 0 ||
          target.segments[target.used - 1].exclude != d.exclude() ||
          target.segments[target.used - 1].skip_user != d.skip_user()) {
        Segment& next = NextSegment(&target);
        next.exclude.clear();
        if (d.rare) next.exclude.swap(d.rare->exclude);
        next.skip_user = d.skip_user();
      }
      Segment& segment = target.segments[target.used - 1];
      if (d.member_event) {
        AppendMemberEvent(*d.payload, &segment);
        continue;
      }
      Append(*d.payload, &segment);
      if (json) AppendJson(d, &segment);
    }
  }

  // One delivery in the JSON framing (the object, not its frame):
  // {"type":"message","group":G,"message":M[,"from":U][,"offset":N,
  // "epoch":E]} (or "all":true / "user":true instead of "group").
  static std::string Json(const Delivery& d);

  // The targets of the last Build, in the order first seen.
  absl::Span<const Target> targets() const { return {pool_.data(), used_}; }

  // True when `id` is excluded from `segment`. Bounded: at most
  // kMaxExclude ids per delivery.
  static bool Excluded(const Segment& segment, uint64_t id) {
    for (uint64_t e : segment.exclude) {
      if (e == id) return true;
    }
    return false;
  }

 private:
  void Reset();
  Target& TargetFor(bool to_all, absl::string_view channel);
  static Segment& NextSegment(Target* target);
  static void Append(const std::string& payload, Segment* segment);
  static void AppendJson(const Delivery& d, Segment* segment);
  static void AppendMemberEvent(const std::string& json, Segment* segment);

  std::vector<Target> pool_;
  size_t used_ = 0;
  absl::flat_hash_map<absl::string_view, size_t> index_;  // channel -> pool_
  size_t all_index_ = SIZE_MAX;  // the send_to_all target, if any
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_FANOUT_FANOUT_BATCH_H_
