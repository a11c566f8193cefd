#include "common/lifecycle/drain_runner.h"

#include <algorithm>
#include <random>
#include <utility>

namespace channel {

void DrainRunner::Start(std::vector<uint64_t> ids,
                        std::chrono::milliseconds drain,
                        std::chrono::milliseconds tick, Visit visit,
                        std::function<void()> done) {
  Cancel();
  order_ = std::move(ids);
  std::shuffle(order_.begin(), order_.end(),
               std::mt19937_64{std::random_device{}()});
  next_ = 0;
  tick_ = tick;
  visit_ = std::move(visit);
  done_ = std::move(done);
  running_ = true;
  schedule_.emplace(order_.size(), DrainSchedule::Clock::now(), drain, tick);
  Tick();
}

void DrainRunner::Cancel() {
  ++generation_;
  running_ = false;
  timer_.cancel();
  // visit_ and done_ stay until the next Start: Cancel may run inside
  // visit_, which must not be destroyed while it runs. The generation
  // keeps them from being called.
  schedule_.reset();
  order_ = {};
}

void DrainRunner::Tick() {
  const uint64_t gen = generation_;
  for (size_t due = schedule_->Due(DrainSchedule::Clock::now()); due > 0;
       --due) {
    visit_(order_[next_++]);
    if (gen != generation_) return;  // the visit cancelled us
  }
  if (schedule_->done()) {
    order_ = {};
    running_ = false;
    auto done = std::move(done_);
    visit_ = nullptr;
    done_ = nullptr;
    if (done) done();
    return;
  }
  timer_.expires_after(tick_);
  timer_.async_wait([this, gen](const std::error_code& ec) {
    if (!ec && gen == generation_) Tick();
  });
}

}  // namespace channel
