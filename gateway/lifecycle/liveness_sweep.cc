#include "gateway/lifecycle/liveness_sweep.h"

namespace channel {

void LivenessSweep::Run(const Connections& open, Clock::time_point now) {
  const uint64_t phases =
      std::max<uint64_t>(1, options_.ping_interval / Tick());
  phase_ = (phase_ + 1) % phases;
  const auto dead_after = options_.ping_interval + options_.pong_timeout;
  dead_.clear();
  for (const auto& [id, con] : open) {
    if (id % phases != phase_ || !con->is_open()) continue;
    if (now - con->last_seen > dead_after) {
      dead_.push_back(con);
    } else {
      con->Ping();
    }
  }
  for (const ConnectionPtr& con : dead_) on_dead_(con);
  dead_.clear();
}

}  // namespace channel
