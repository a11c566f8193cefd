#include "broker/routing/sole_interest.h"

#include "absl/strings/match.h"

namespace channel {

void SoleInterest::Update(const std::string& channel, Subscriber* sole) {
  auto it = grants_.find(channel);
  if (it == grants_.end()) {
    if (sole == nullptr) return;
    const uint64_t id = next_id_++;
    // A holder whose output is full is simply not granted.
    if (!sole->SendInterest(channel, id, true)) return;
    Grant& grant = grants_[channel];
    grant.holder = sole;
    grant.id = id;
    by_holder_[sole].insert(channel);
    if (!watched_prefix_.empty() &&
        absl::StartsWith(channel, watched_prefix_)) {
      watched_.insert(channel);
    }
    ++granted_total_;
    return;
  }
  Grant& grant = it->second;
  // A revoke in flight is looked at again when it ends.
  if (grant.revoking || grant.holder == sole) return;
  Revoke(channel, grant);
}

void SoleInterest::Revoke(const std::string& channel, Grant& grant) {
  grant.revoking = true;
  ++revoking_;
  grant.deadline = Clock::now() + release_timeout_;
  deadlines_.push_back({grant.deadline, channel, grant.id});
  watched_.erase(channel);
  ++revoked_total_;
  // When the frame does not fit the holder's output, the deadline closes
  // the holder.
  grant.holder->SendInterest(channel, grant.id, false);
}

std::vector<std::string> SoleInterest::RevokeWatched() {
  std::vector<std::string> channels(watched_.begin(), watched_.end());
  for (const std::string& channel : channels) {
    Revoke(channel, grants_.find(channel)->second);
  }
  return channels;
}

bool SoleInterest::WaitFor(const std::vector<absl::string_view>& channels,
                           std::function<void()> done) {
  std::shared_ptr<Waiter> waiter;  // made only when there is a wait
  for (absl::string_view channel : channels) {
    auto it = grants_.find(channel);
    if (it == grants_.end() || !it->second.revoking) continue;
    if (waiter == nullptr) waiter = std::make_shared<Waiter>();
    auto& waiters = it->second.waiters;
    if (!waiters.empty() && waiters.back() == waiter) continue;  // named twice
    waiters.push_back(waiter);
    ++waiter->remaining;
  }
  if (waiter == nullptr) return false;
  waiter->done = std::move(done);
  return true;
}

std::vector<std::function<void()>> SoleInterest::End(Grants::iterator it) {
  std::vector<std::function<void()>> ready;
  if (it->second.revoking) --revoking_;
  for (const auto& waiter : it->second.waiters) {
    if (--waiter->remaining == 0) ready.push_back(std::move(waiter->done));
  }
  auto holder = by_holder_.find(it->second.holder);
  holder->second.erase(it->first);
  if (holder->second.empty()) by_holder_.erase(holder);
  watched_.erase(it->first);
  grants_.erase(it);
  return ready;
}

void SoleInterest::Run(std::vector<std::function<void()>>& ready) {
  for (auto& done : ready) done();
}

bool SoleInterest::Released(const Subscriber* holder, absl::string_view channel,
                            uint64_t grant) {
  auto it = grants_.find(channel);
  if (it == grants_.end() || it->second.holder != holder ||
      it->second.id != grant || !it->second.revoking) {
    return false;
  }
  auto ready = End(it);
  Run(ready);
  return true;
}

std::vector<std::string> SoleInterest::HolderGone(const Subscriber* holder) {
  auto found = by_holder_.find(holder);
  if (found == by_holder_.end()) return {};
  std::vector<std::string> channels(found->second.begin(), found->second.end());
  std::vector<std::function<void()>> ready;
  for (const std::string& channel : channels) {
    auto more = End(grants_.find(channel));
    for (auto& done : more) ready.push_back(std::move(done));
  }
  Run(ready);
  return channels;
}

std::vector<Subscriber*> SoleInterest::Overdue(Clock::time_point now) {
  std::vector<Subscriber*> holders;
  absl::flat_hash_set<Subscriber*> listed;
  while (!deadlines_.empty() && deadlines_.front().at <= now) {
    const Deadline& due = deadlines_.front();
    auto it = grants_.find(due.channel);
    if (it != grants_.end() && it->second.id == due.id && it->second.revoking) {
      Subscriber* holder = it->second.holder;
      if (listed.insert(holder).second) holders.push_back(holder);
    }
    deadlines_.pop_front();
  }
  return holders;
}

}  // namespace channel
