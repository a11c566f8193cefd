#include "gateway/lifecycle/liveness_sweep.h"

namespace channel {

void LivenessSweep::Run(const Connections& open, Clock::time_point now) {
  for (size_t i = 0; i < closing_.size();) {
    ConnectionPtr& con = closing_[i];
    if (!open.contains(con->id)) {  // closed: nothing left to cut
      closing_[i] = std::move(closing_.back());
      closing_.pop_back();
      continue;
    }
    if (now >= con->close_deadline) con->Cut("close timed out");
    ++i;
  }
  const uint64_t phases =
      std::max<uint64_t>(1, options_.ping_interval / Tick());
  phase_ = (phase_ + 1) % phases;
  const auto dead_after = options_.ping_interval + options_.pong_timeout;
  dead_.clear();
  for (const auto& [id, con] : open) {
    if (id % phases != phase_ || con->closing) continue;
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
