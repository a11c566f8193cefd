#include "broker/admission/restart_grace.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/logging/logging.h"

namespace channel {

RestartGrace::RestartGrace(std::chrono::milliseconds grace, bool clustered,
                           Router* router, BrokerStats* stats,
                           Clock::time_point started)
    : grace_(grace),
      clustered_(clustered),
      router_(router),
      stats_(stats),
      started_(started) {}

void RestartGrace::NoteResumingClient(Clock::time_point now) {
  if (state_ != State::kNotYet || grace_.count() == 0 || clustered_) return;
  const auto age = now - started_;
  // Only a young broker restarted under its clients. The window is wide
  // and the grace counts from this first resuming client, not from the
  // start: on a loaded machine the broker and its clients may be slow to
  // start, but the clients re-link within their backoff of each other.
  const auto window =
      std::max<Clock::duration>(std::chrono::seconds(30), 6 * grace_);
  if (age >= window) {
    state_ = State::kOver;
    return;
  }
  state_ = State::kActive;
  until_ = now + grace_;
  // Nobody holds a channel alone meanwhile: its publishes would bypass the
  // broker and miss the members whose gateways re-link later.
  router_->PauseSole(true);
  spdlog::warn(
      "a client re-linked from another broker {} ms after this one started: "
      "it restarted under its clients; publishes are refused for {} ms "
      "while subscribers re-subscribe (--resubscribe_grace_ms)",
      std::chrono::duration_cast<std::chrono::milliseconds>(age).count(),
      grace_.count());
}

absl::Status RestartGrace::Check(Clock::time_point now) {
  if (state_ != State::kActive) return absl::OkStatus();
  const auto left = until_ - now;
  if (left <= Clock::duration::zero()) {
    End();
    return absl::OkStatus();
  }
  ++stats_->publishes_refused_restarting;
  return absl::AbortedError(absl::StrCat(
      "the broker restarted moments ago and subscribers are still "
      "re-subscribing; nothing was published: retry in ",
      std::chrono::duration_cast<std::chrono::milliseconds>(left).count() + 1,
      " ms"));
}

void RestartGrace::Tick(Clock::time_point now) {
  if (state_ == State::kActive && now >= until_) End();
}

void RestartGrace::End() {
  state_ = State::kOver;
  router_->PauseSole(false);
  if (on_end_) on_end_();
}

}  // namespace channel
