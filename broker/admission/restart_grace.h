#ifndef CHANNEL_BROKER_ADMISSION_RESTART_GRACE_H_
#define CHANNEL_BROKER_ADMISSION_RESTART_GRACE_H_

#include <chrono>
#include <functional>
#include <utility>

#include "absl/status/status.h"
#include "broker/metrics/broker_stats.h"
#include "broker/routing/router.h"

namespace channel {

// Whether a standalone broker restarted under its clients, and the grace
// that follows (docs/RELIABILITY.md, issue 19 item 6). A client that says
// Hello resuming from another broker's id held subscriptions on an earlier
// link; if this broker is young (30 s, or six graces), it restarted, and
// for `grace` from that first resuming client no publish is acknowledged
// (subscribers still re-linking could not receive it) and nobody holds a
// channel alone (Router::PauseSole). In a cluster there is no grace:
// clients that move here come from another broker, and publishes reach
// every broker's subscribers through NATS. Broker thread only.
class RestartGrace {
 public:
  using Clock = std::chrono::steady_clock;

  RestartGrace(std::chrono::milliseconds grace, bool clustered, Router* router,
               BrokerStats* stats, Clock::time_point started = Clock::now());

  // A client said Hello resuming from another broker's id.
  void NoteResumingClient(Clock::time_point now = Clock::now());
  // Aborted (BACKPRESSURE) while the grace runs, counted as a refused
  // publish; OK otherwise (and the grace ends once it is over).
  absl::Status Check(Clock::time_point now = Clock::now());
  // Ends the grace once it is over even when nobody publishes (a tick).
  void Tick(Clock::time_point now = Clock::now());
  bool active() const { return state_ == State::kActive; }
  // Runs once, when an active grace ends (may run inside Check).
  void set_on_end(std::function<void()> fn) { on_end_ = std::move(fn); }

 private:
  void End();

  enum class State { kNotYet, kActive, kOver };
  const std::chrono::milliseconds grace_;
  const bool clustered_;
  Router* const router_;
  BrokerStats* const stats_;
  const Clock::time_point started_;
  State state_ = State::kNotYet;
  Clock::time_point until_;
  std::function<void()> on_end_;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_ADMISSION_RESTART_GRACE_H_
