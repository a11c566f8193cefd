#include "gateway/presence/presence_reporter.h"

namespace channel {

PresenceReporter::Pending& PresenceReporter::PendingFor(
    const std::string& group_id) {
  if (!is_urgent_ || !is_urgent_(group_id)) return pending_[group_id];
  if (!urgent_posted_ && on_urgent_) {
    urgent_posted_ = true;
    on_urgent_();
  }
  return urgent_[group_id];
}

void PresenceReporter::Joined(const std::string& group_id,
                              const std::string& user,
                              const std::string& info) {
  Group& g = groups_[group_id];
  ++g.connections;
  Pending& p = PendingFor(group_id);
  ++p.connections;
  if (!user.empty() && ++g.users[user] == 1) {
    p.joined.emplace_back(user, info);
    if (!info.empty()) g.info[user] = info;
  }
}

void PresenceReporter::Left(const std::string& group_id,
                            const std::string& user) {
  auto it = groups_.find(group_id);
  if (it == groups_.end()) return;
  Group& g = it->second;
  --g.connections;
  Pending& p = PendingFor(group_id);
  --p.connections;
  if (!user.empty()) {
    auto u = g.users.find(user);
    if (u != g.users.end() && --u->second == 0) {
      g.users.erase(u);
      g.info.erase(user);
      p.left.push_back(user);
    }
  }
  if (g.connections <= 0 && g.users.empty()) groups_.erase(it);
}

void PresenceReporter::Forget(const std::string& group_id,
                              const std::string& user) {
  auto it = groups_.find(group_id);
  if (it == groups_.end()) return;
  Group& g = it->second;
  --g.connections;
  if (!user.empty()) {
    auto u = g.users.find(user);
    if (u != g.users.end() && --u->second == 0) {
      g.users.erase(u);
      g.info.erase(user);
    }
  }
  if (g.connections <= 0 && g.users.empty()) groups_.erase(it);
}

bool PresenceReporter::Take(PendingMap* from, v1::Presence* out) {
  out->Clear();
  for (auto& [group, p] : *from) {
    if (p.connections == 0 && p.joined.empty() && p.left.empty()) continue;
    v1::PresenceDelta* d = out->add_deltas();
    d->set_group(group);
    d->set_connections(p.connections);
    bool infos = false;
    for (const auto& [user, info] : p.joined) infos = infos || !info.empty();
    for (auto& [user, info] : p.joined) {
      d->add_users_joined(std::move(user));
      if (infos) d->add_infos(std::move(info));
    }
    for (auto& u : p.left) d->add_users_left(std::move(u));
  }
  from->clear();
  return out->deltas_size() > 0;
}

std::vector<v1::Presence> PresenceReporter::Snapshot(size_t max_bytes) {
  pending_.clear();
  urgent_.clear();
  urgent_posted_ = false;
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
      if (g.info.empty()) continue;
      auto info = g.info.find(user);
      d->add_infos(info != g.info.end() ? info->second : std::string());
      bytes += d->infos(d->infos_size() - 1).size();
    }
  }
  return frames;
}

}  // namespace channel
