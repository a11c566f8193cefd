#include "broker/routing/queue_groups.h"

#include <algorithm>

#include "absl/hash/hash.h"

namespace channel {

QueueGroups::Change QueueGroups::Join(Subscriber* member,
                                      const std::string& channel,
                                      const std::string& group) {
  Change change;
  auto [groups_it, new_channel] = channels_.try_emplace(channel);
  Group& g = groups_it->second[group];
  if (std::find(g.members.begin(), g.members.end(), member) !=
      g.members.end()) {
    return change;
  }
  g.members.push_back(member);
  if (!member->IsBroker()) change.local_edge = ++g.local == 1;
  memberships_[member].emplace_back(channel, group);
  change.changed = true;
  change.channel_edge = new_channel;
  return change;
}

void QueueGroups::DropMember(Group& group, Subscriber* member) {
  if (!member->IsBroker()) --group.local;
  group.members.erase(
      std::remove(group.members.begin(), group.members.end(), member),
      group.members.end());
  const size_t before = group.bindings.size();
  absl::erase_if(group.bindings, [member](const auto& kv) {
    return kv.second.member == member;
  });
  bindings_ -= before - group.bindings.size();
}

QueueGroups::Change QueueGroups::Leave(Subscriber* member,
                                       const std::string& channel,
                                       const std::string& group) {
  Change change;
  auto mit = memberships_.find(member);
  if (mit == memberships_.end()) return change;
  auto& list = mit->second;
  auto pos = std::find(list.begin(), list.end(), GroupName(channel, group));
  if (pos == list.end()) return change;
  list.erase(pos);
  if (list.empty()) memberships_.erase(mit);
  change.changed = true;
  change.channel_edge = Unjoin(member, channel, group, &change.local_edge);
  return change;
}

bool QueueGroups::Unjoin(Subscriber* member, const std::string& channel,
                         const std::string& group, bool* local_edge) {
  *local_edge = false;
  auto cit = channels_.find(channel);
  if (cit == channels_.end()) return false;
  auto git = cit->second.find(group);
  if (git != cit->second.end()) {
    DropMember(git->second, member);
    *local_edge = !member->IsBroker() && git->second.local == 0;
    if (git->second.members.empty()) {
      bindings_ -= git->second.bindings.size();
      cit->second.erase(git);
    }
  }
  if (!cit->second.empty()) return false;
  channels_.erase(cit);
  return true;
}

std::vector<std::string> QueueGroups::RemoveAll(
    Subscriber* member, std::vector<GroupName>* local_left) {
  std::vector<std::string> emptied;
  auto mit = memberships_.find(member);
  if (mit == memberships_.end()) return emptied;
  const auto list = std::move(mit->second);
  memberships_.erase(mit);
  for (const auto& [channel, group] : list) {
    bool local_edge = false;
    if (Unjoin(member, channel, group, &local_edge)) emptied.push_back(channel);
    if (local_edge) local_left->emplace_back(channel, group);
  }
  return emptied;
}

void QueueGroups::ForgetPublisher(const Subscriber* publisher) {
  if (bindings_ == 0) return;
  for (auto& [channel, groups] : channels_) {
    for (auto& [name, group] : groups) {
      const size_t before = group.bindings.size();
      absl::erase_if(group.bindings, [publisher](const auto& kv) {
        return kv.second.publisher == publisher;
      });
      bindings_ -= before - group.bindings.size();
    }
  }
}

bool QueueGroups::Contains(Subscriber* member, const std::string& channel,
                           const std::string& group) const {
  auto cit = channels_.find(channel);
  if (cit == channels_.end()) return false;
  auto git = cit->second.find(group);
  if (git == cit->second.end()) return false;
  const auto& m = git->second.members;
  return std::find(m.begin(), m.end(), member) != m.end();
}

Subscriber* QueueGroups::Choose(Group& group, absl::string_view key,
                                bool key_end, const Subscriber* publisher,
                                const std::vector<Subscriber*>* tried,
                                bool local_only) {
  const auto untried = [tried, local_only](Subscriber* s) {
    if (local_only && s->IsBroker()) return false;
    return tried == nullptr ||
           std::find(tried->begin(), tried->end(), s) == tried->end();
  };
  const size_t n = group.members.size();
  if (n == 0) return nullptr;
  if (!key.empty()) {
    auto it = group.bindings.find(key);
    if (it != group.bindings.end()) {
      Subscriber* bound = it->second.member;
      if (untried(bound)) {
        if (key_end) {
          group.bindings.erase(it);
          --bindings_;
        }
        return bound;
      }
      group.bindings.erase(it);  // rebound below
      --bindings_;
    }
  }
  // A new key (or none): the members in turn; past the binding bound, a
  // hash of the key, so that the same key still meets the same member.
  const bool bind = !key.empty() && !key_end && bindings_ < max_bindings_;
  const bool hashed = !key.empty() && !key_end && !bind;
  size_t start;
  if (hashed) {
    ++unbound_picks_;
    start = absl::HashOf(key) % n;
  } else {
    start = group.turn % n;
  }
  for (size_t i = 0; i < n; ++i) {
    Subscriber* s = group.members[(start + i) % n];
    if (!untried(s)) continue;
    // The turn moves past the member taken, so that members skipped (other
    // brokers, for an event another broker sent) do not make the next one
    // take two turns.
    if (!hashed) group.turn = start + i + 1;
    if (bind) {
      group.bindings.emplace(std::string(key), Binding{s, publisher});
      ++bindings_;
    }
    return s;
  }
  return nullptr;
}

void QueueGroups::Pick(const std::string& channel, absl::string_view key,
                       bool key_end, const Subscriber* publisher,
                       std::vector<std::pair<std::string, Subscriber*>>* out) {
  auto cit = channels_.find(channel);
  if (cit == channels_.end()) return;
  for (auto& [name, group] : cit->second) {
    if (Subscriber* s = Choose(group, key, key_end, publisher, nullptr,
                               /*local_only=*/false)) {
      out->emplace_back(name, s);
    }
  }
}

Subscriber* QueueGroups::PickLocal(const std::string& channel,
                                   const std::string& group,
                                   absl::string_view key, bool key_end,
                                   const Subscriber* publisher) {
  auto cit = channels_.find(channel);
  if (cit == channels_.end()) return nullptr;
  auto git = cit->second.find(group);
  if (git == cit->second.end() || git->second.local == 0) return nullptr;
  return Choose(git->second, key, key_end, publisher, nullptr,
                /*local_only=*/true);
}

Subscriber* QueueGroups::Retry(const std::string& channel,
                               const std::string& group, absl::string_view key,
                               bool key_end, const Subscriber* publisher,
                               const std::vector<Subscriber*>& tried,
                               bool local_only) {
  auto cit = channels_.find(channel);
  if (cit == channels_.end()) return nullptr;
  auto git = cit->second.find(group);
  if (git == cit->second.end()) return nullptr;
  return Choose(git->second, key, key_end, publisher, &tried, local_only);
}

}  // namespace channel
