#ifndef CHANNEL_COMMON_SUBSCRIPTION_INDEX_H_
#define CHANNEL_COMMON_SUBSCRIPTION_INDEX_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"

namespace channel {

// Two-way index channel -> subscribers and subscriber -> channels, in the
// manner of Redis pubsub.c. Used by the broker (subscriber = session) and the
// gateway (subscriber = WebSocket connection).
//
// Reports first interest (a channel gained its first subscriber) and last
// interest (a channel lost its last one) so that an owner can subscribe
// upstream only while it has local subscribers. An empty channel is erased:
// no memory is kept for it.
//
// Not thread-safe: one owner thread. Sub must be hashable and cheap to copy
// (a pointer or an id).
template <typename Sub>
class SubscriptionIndex {
 public:
  using Subscribers = absl::flat_hash_set<Sub>;

  struct Change {
    bool changed = false;       // subscriber set actually changed
    bool channel_edge = false;  // first subscriber added / last removed
  };

  // Adds `sub` to `channel`. changed=false when it was already subscribed.
  Change Add(const Sub& sub, absl::string_view channel) {
    auto [chan_it, chan_inserted] =
        by_channel_.try_emplace(std::string(channel));
    if (!chan_it->second.insert(sub).second) return {};
    by_subscriber_[sub].insert(chan_it->first);
    ++subscriptions_;
    return {true, chan_inserted};
  }

  // Removes `sub` from `channel`; a no-op (changed=false) when not subscribed.
  Change Remove(const Sub& sub, absl::string_view channel) {
    auto chan_it = by_channel_.find(channel);
    if (chan_it == by_channel_.end() || chan_it->second.erase(sub) == 0) {
      return {};
    }
    auto sub_it = by_subscriber_.find(sub);
    sub_it->second.erase(channel);
    if (sub_it->second.empty()) by_subscriber_.erase(sub_it);
    --subscriptions_;
    const bool last = chan_it->second.empty();
    if (last) by_channel_.erase(chan_it);
    return {true, last};
  }

  // Removes `sub` from every channel. Returns the channels that lost their
  // last subscriber (the caller's upstream unsubscribe list).
  std::vector<std::string> RemoveAll(const Sub& sub) {
    std::vector<std::string> emptied;
    auto sub_it = by_subscriber_.find(sub);
    if (sub_it == by_subscriber_.end()) return emptied;
    for (const std::string& channel : sub_it->second) {
      auto chan_it = by_channel_.find(channel);
      chan_it->second.erase(sub);
      --subscriptions_;
      if (chan_it->second.empty()) {
        emptied.push_back(channel);
        by_channel_.erase(chan_it);
      }
    }
    by_subscriber_.erase(sub_it);
    return emptied;
  }

  // Subscribers of `channel`, or nullptr. Invalidated by any mutation.
  const Subscribers* Find(absl::string_view channel) const {
    auto it = by_channel_.find(channel);
    return it == by_channel_.end() ? nullptr : &it->second;
  }

  bool Contains(const Sub& sub, absl::string_view channel) const {
    const Subscribers* subs = Find(channel);
    return subs != nullptr && subs->contains(sub);
  }

  // Number of channels `sub` is subscribed to.
  size_t CountFor(const Sub& sub) const {
    auto it = by_subscriber_.find(sub);
    return it == by_subscriber_.end() ? 0 : it->second.size();
  }

  // Calls fn(channel) for every channel `sub` is subscribed to.
  template <typename Fn>
  void ForEachChannelOf(const Sub& sub, Fn&& fn) const {
    auto it = by_subscriber_.find(sub);
    if (it == by_subscriber_.end()) return;
    for (const std::string& channel : it->second) fn(channel);
  }

  // Calls fn(channel) for every channel with at least one subscriber.
  template <typename Fn>
  void ForEachChannel(Fn&& fn) const {
    for (const auto& entry : by_channel_) fn(entry.first);
  }

  size_t channel_count() const { return by_channel_.size(); }
  size_t subscription_count() const { return subscriptions_; }

 private:
  // Keys of by_subscriber_'s sets are copies of by_channel_'s keys; the
  // strings are short (names are length-limited by the owner).
  absl::flat_hash_map<std::string, Subscribers> by_channel_;
  absl::flat_hash_map<Sub, absl::flat_hash_set<std::string>> by_subscriber_;
  size_t subscriptions_ = 0;
};

}  // namespace channel

#endif  // CHANNEL_COMMON_SUBSCRIPTION_INDEX_H_
