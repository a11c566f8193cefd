#ifndef CHANNEL_BROKER_ROUTING_SOLE_INTEREST_H_
#define CHANNEL_BROKER_ROUTING_SOLE_INTEREST_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "broker/routing/subscriber.h"

namespace channel {

// Sole-interest grants (docs/PROTOCOL.md, "Sole interest"). A subscriber
// that asked for them in its Hello is told when it is the only subscriber
// of a channel. While it holds that grant it may deliver its own publishes
// to the channel itself and not send them at all: a ws-gateway shard whose
// group has no member anywhere else then costs the broker nothing per
// message (no read, no wake-up).
//
// The hand-over is strict. When the channel gains another subscriber, or
// the holder leaves it, the grant is revoked, and it ends only when the
// holder answers that it released it (from then on it publishes again).
// A Subscribe that joins a channel being revoked is acknowledged only after
// that answer (WaitFor), so a subscription acknowledged before a publish
// still receives it, as without grants. A holder that does not answer
// within the release timeout is closed; a closed holder's grants end at
// once (its connection is gone, so are its local deliveries).
//
// Owned by the Router, on the broker's io thread. Holders are held by raw
// pointer until HolderGone. Cost: every call is linear in what it names
// plus the grants it ends; a grant is revoked at most once.
class SoleInterest {
 public:
  using Clock = std::chrono::steady_clock;

  // Grants on channels starting with `watched_prefix` (non-empty) can all
  // be revoked at once (RevokeWatched).
  SoleInterest(Clock::duration release_timeout, std::string watched_prefix)
      : release_timeout_(release_timeout),
        watched_prefix_(std::move(watched_prefix)) {}

  // `channel`'s subscribers changed. `sole`: its one subscriber, when that
  // subscriber may hold a grant; null otherwise. Grants, keeps or starts
  // revoking the channel's grant to match.
  void Update(const std::string& channel, Subscriber* sole);

  // Revokes every grant on a channel starting with the watched prefix.
  // Returns those channels (the caller may WaitFor them). Each grant is
  // visited at most once by this over its life.
  std::vector<std::string> RevokeWatched();

  // When some of `channels` is being revoked, keeps `done` and runs it once
  // all of those have ended, and returns true; false (done dropped) when
  // there is nothing to wait for. `done` runs inside a later call of this
  // class: it must not call back into it synchronously (post instead).
  bool WaitFor(const std::vector<absl::string_view>& channels,
               std::function<void()> done);

  // `holder` released grant `grant` of `channel`. Returns true when that
  // ended a grant (the caller then calls Update for the channel again);
  // false for an unknown, stale or not yet revoked grant (ignored).
  bool Released(const Subscriber* holder, absl::string_view channel,
                uint64_t grant);

  // `holder` is closed: its grants end without an answer. Returns their
  // channels (the caller calls Update for each again).
  std::vector<std::string> HolderGone(const Subscriber* holder);

  // Holders that did not answer a revoke by its deadline (once each; the
  // caller closes them, which ends their grants through HolderGone).
  std::vector<Subscriber*> Overdue(Clock::time_point now);

  size_t grants() const { return grants_.size(); }
  // Grants being revoked now (0: no Subscribe can have to wait).
  size_t revoking() const { return revoking_; }
  uint64_t granted_total() const { return granted_total_; }
  uint64_t revoked_total() const { return revoked_total_; }

 private:
  struct Waiter {
    size_t remaining = 0;  // channels still being revoked
    std::function<void()> done;
  };
  struct Grant {
    Subscriber* holder = nullptr;
    uint64_t id = 0;
    bool revoking = false;
    Clock::time_point deadline;
    std::vector<std::shared_ptr<Waiter>> waiters;
  };
  using Grants = absl::flat_hash_map<std::string, Grant>;

  void Revoke(const std::string& channel, Grant& grant);
  // Erases the grant; returns the callbacks of waiters now complete (run by
  // the caller once this class's state is consistent).
  std::vector<std::function<void()>> End(Grants::iterator it);
  static void Run(std::vector<std::function<void()>>& ready);

  const Clock::duration release_timeout_;
  const std::string watched_prefix_;
  Grants grants_;
  // Granted (not revoking) channels with the watched prefix.
  absl::flat_hash_set<std::string> watched_;
  // Revokes in the order they started (deadlines ascending): channel and
  // grant id; entries of grants that ended since are skipped when reached.
  struct Deadline {
    Clock::time_point at;
    std::string channel;
    uint64_t id;
  };
  std::deque<Deadline> deadlines_;
  absl::flat_hash_map<const Subscriber*, absl::flat_hash_set<std::string>>
      by_holder_;
  uint64_t next_id_ = 1;
  size_t revoking_ = 0;
  uint64_t granted_total_ = 0;
  uint64_t revoked_total_ = 0;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_ROUTING_SOLE_INTEREST_H_
