// Worker::Impl's shutdown drain: every connection open when PostShutdown
// arrives is closed with 1012, in random order, evenly over
// options.drain; on_idle runs once the drain has ended and none is left.
#include <utility>
#include <vector>

#include "asio/post.hpp"
#include "common/logging/logging.h"
#include "gateway/worker/worker_impl.h"

namespace channel {
namespace {

// RFC 6455's registry: "Service Restart". The drain's close: reconnect now,
// to another gateway (docs/CLIENT-PROTOCOL.md).
constexpr uint16_t kCloseServiceRestart = 1012;

}  // namespace

void Worker::Impl::PostShutdown(std::function<void()> on_idle) {
  asio::post(io_, [this, on_idle = std::move(on_idle)]() mutable {
    shutting_down_ = true;
    on_idle_ = std::move(on_idle);
    endpoint_.StopListening();
    // The drain: every connection open now, in random order (groups and
    // users spread over the whole drain), closed evenly over --drain_ms.
    std::vector<uint64_t> ids;
    ids.reserve(conns_.size());
    for (auto& [id, con] : conns_) ids.push_back(id);
    spdlog::info("worker {}: draining {} connection(s) over {} ms",
                 worker_index_, ids.size(), options_.drain.count());
    drain_spread_.Start(DrainSpread::Clock::now());
    drain_.Start(
        std::move(ids), options_.drain, kDrainTick,
        [this](uint64_t id) { DrainVisit(id); },
        [this] {
          drain_ended_ = true;
          // The spread this worker achieved, by its own clock (closes
          // deferred for awaited replies may still follow).
          spdlog::info(
              "worker {}: drain closed {} connection(s) over {} ms; busiest "
              "second {}",
              worker_index_, drain_spread_.closes(), drain_spread_.span_ms(),
              drain_spread_.busiest_second());
          MaybeIdle();
        });
  });
}

void Worker::Impl::DrainVisit(uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end() || !it->second->is_open()) return;
  Bump(stats_.drain_closes);
  if (it->second->awaiting_replies > 0) {
    it->second->drain_close = true;
  } else {
    DrainClose(it->second);
  }
}

void Worker::Impl::DrainClose(const ConnectionPtr& con) {
  drain_spread_.Record(DrainSpread::Clock::now());
  Close(con, kCloseServiceRestart, "draining: reconnect now");
}

void Worker::Impl::MaybeIdle() {
  // Idle once every connection is closed and the drain has ended: a
  // connection opened meanwhile (its handshake began before the drain)
  // is closed at the drain's end.
  if (shutting_down_ && drain_ended_ && !conns_.empty()) {
    std::vector<ConnectionPtr> late;
    for (auto& [id, con] : conns_) {
      if (con->is_open() && !con->drain_close) late.push_back(con);
    }
    for (auto& con : late) DrainClose(con);
  }
  if (shutting_down_ && drain_ended_ && conns_.empty() && on_idle_) {
    auto done = std::move(on_idle_);
    on_idle_ = nullptr;
    done();
  }
}

}  // namespace channel
