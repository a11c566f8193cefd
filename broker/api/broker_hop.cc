#include "broker/api/broker_hop.h"

#include <atomic>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "asio/post.hpp"

namespace channel {

// What the broker thread and the API thread share for one call: the work
// and who got to it first (no asio objects: either thread may free it).
struct BrokerHop::Shared {
  enum State { kPending, kRunning, kCancelled };
  std::atomic<int> state{kPending};
  std::function<void(BrokerHop::Finished)> work;
};

// How the broker thread reaches the API loop; cut by Stop. Shared with
// the broker's queued jobs, so that it outlives the BrokerHop.
struct BrokerHop::ReturnPath {
  std::mutex mu;
  BrokerHop* hop ABSL_GUARDED_BY(mu);
  explicit ReturnPath(BrokerHop* h) : hop(h) {}
};

BrokerHop::BrokerHop(asio::io_context& api_io, asio::io_context& broker_io,
                     std::chrono::milliseconds wait)
    : api_io_(api_io),
      broker_io_(broker_io),
      wait_(wait),
      return_path_(std::make_shared<ReturnPath>(this)) {}

BrokerHop::~BrokerHop() { Stop(); }

void BrokerHop::Call(std::function<void()> work,
                     std::function<void(Outcome)> done) {
  CallAsync(
      [work = std::move(work)](Finished finished) {
        work();
        finished();
      },
      std::move(done));
}

void BrokerHop::CallAsync(std::function<void(Finished)> work,
                          std::function<void(Outcome)> done) {
  const uint64_t id = next_id_++;
  auto shared = std::make_shared<Shared>();
  shared->work = std::move(work);
  Pending& pending = pending_[id];
  pending.shared = shared;
  pending.done = std::move(done);
  pending.timer = std::make_unique<asio::steady_timer>(api_io_, wait_);
  pending.timer->async_wait([this, id](const std::error_code& ec) {
    if (!ec) OnWaitOver(id);
  });
  asio::post(broker_io_, [shared, path = return_path_, id] {
    int expected = Shared::kPending;
    if (!shared->state.compare_exchange_strong(expected, Shared::kRunning)) {
      return;  // the API gave up on it: it must not run
    }
    std::function<void(Finished)> work = std::move(shared->work);
    shared->work = nullptr;
    work([path, id] {
      std::lock_guard<std::mutex> lock(path->mu);
      if (path->hop == nullptr) return;
      BrokerHop* hop = path->hop;
      asio::post(hop->api_io_, [hop, id] { hop->Finish(id, Outcome::kRan); });
    });
  });
}

void BrokerHop::OnWaitOver(uint64_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  int expected = Shared::kPending;
  if (it->second.shared->state.compare_exchange_strong(expected,
                                                       Shared::kCancelled)) {
    Finish(id, Outcome::kNotRun);
  }
  // Else it is running or ran: its result is on its way (Finish).
}

void BrokerHop::Finish(uint64_t id, Outcome outcome) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  std::function<void(Outcome)> done = std::move(it->second.done);
  pending_.erase(it);  // its timer too (a pending wait ends aborted)
  done(outcome);
}

void BrokerHop::Stop() {
  {
    std::lock_guard<std::mutex> lock(return_path_->mu);
    return_path_->hop = nullptr;
  }
  pending_.clear();
}

}  // namespace channel
