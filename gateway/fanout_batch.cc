#include "gateway/fanout_batch.h"

#include "gateway/ws_text_frame.h"

namespace channel {

void FanoutBatch::Reset() {
  for (size_t i = 0; i < used_; ++i) {
    Target& target = pool_[i];
    for (size_t s = 0; s < target.used; ++s) {
      Segment& segment = target.segments[s];
      if (segment.frames.capacity() > kKeepBytes) {
        std::string().swap(segment.frames);
      } else {
        segment.frames.clear();
      }
      segment.count = 0;
      segment.exclude.clear();
    }
    target.used = 0;
  }
  used_ = 0;
  index_.clear();
  all_index_ = SIZE_MAX;
}

FanoutBatch::Target& FanoutBatch::TargetFor(bool to_all,
                                            absl::string_view channel) {
  size_t* slot;
  if (to_all) {
    slot = &all_index_;
  } else {
    auto [it, inserted] = index_.try_emplace(channel, SIZE_MAX);
    slot = &it->second;
  }
  if (*slot == SIZE_MAX) {
    if (used_ == pool_.size()) pool_.emplace_back();
    *slot = used_++;
    Target& target = pool_[*slot];
    target.to_all = to_all;
    target.channel = to_all ? absl::string_view() : channel;
  }
  return pool_[*slot];
}

FanoutBatch::Segment& FanoutBatch::NextSegment(Target* target) {
  if (target->used == target->segments.size()) target->segments.emplace_back();
  return target->segments[target->used++];
}

void FanoutBatch::Append(const std::string& payload, Segment* segment) {
  AppendTextFrame(payload, &segment->frames);
  ++segment->count;
}

}  // namespace channel
