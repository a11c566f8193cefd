#include "gateway/fanout/presence_reporter.h"

namespace channel {

void PresenceReporter::Joined(const std::string& group_id,
                              const std::string& user) {
  Group& g = groups_[group_id];
  ++g.connections;
  Pending& p = pending_[group_id];
  ++p.connections;
  if (!user.empty() && ++g.users[user] == 1) p.joined.push_back(user);
}

void PresenceReporter::Left(const std::string& group_id,
                            const std::string& user) {
  auto it = groups_.find(group_id);
  if (it == groups_.end()) return;
  Group& g = it->second;
  --g.connections;
  Pending& p = pending_[group_id];
  --p.connections;
  if (!user.empty()) {
    auto u = g.users.find(user);
    if (u != g.users.end() && --u->second == 0) {
      g.users.erase(u);
      p.left.push_back(user);
    }
  }
  if (g.connections <= 0 && g.users.empty()) groups_.erase(it);
}

bool PresenceReporter::TakeDelta(v1::Presence* out) {
  out->Clear();
  for (auto& [group, p] : pending_) {
    if (p.connections == 0 && p.joined.empty() && p.left.empty()) continue;
    v1::PresenceDelta* d = out->add_deltas();
    d->set_group(group);
    d->set_connections(p.connections);
    for (auto& u : p.joined) d->add_users_joined(std::move(u));
    for (auto& u : p.left) d->add_users_left(std::move(u));
  }
  pending_.clear();
  return out->deltas_size() > 0;
}

std::vector<v1::Presence> PresenceReporter::Snapshot(size_t max_bytes) {
  pending_.clear();
  std::vector<v1::Presence> frames(1);
  frames[0].set_reset(true);
  size_t bytes = 0;
  for (const auto& [group, g] : groups_) {
    if (bytes > max_bytes) {
      frames.emplace_back();
      bytes = 0;
    }
    v1::PresenceDelta* d = frames.back().add_deltas();
    d->set_group(group);
    d->set_connections(g.connections);
    bytes += group.size() + 16;
    for (const auto& [user, count] : g.users) {
      d->add_users_joined(user);
      bytes += user.size() + 2;
    }
  }
  return frames;
}

}  // namespace channel
