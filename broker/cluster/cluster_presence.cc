#include "broker/cluster/cluster_presence.h"

#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "common/logging/log_limiter.h"
#include "common/logging/logging.h"

namespace channel {

ClusterPresence::ClusterPresence(std::string broker_id, PresenceTable* table,
                                 Publish publish, Clock::duration expiry)
    : broker_id_(std::move(broker_id)),
      table_(table),
      publish_(std::move(publish)),
      expiry_(expiry),
      occupancy_(table, [this](const std::vector<std::string>& groups,
                               bool occupied, bool reset) {
        v1::ClusterPresence message;
        for (const std::string& g : groups) message.add_groups(g);
        message.set_occupied(occupied);
        message.set_reset(reset);
        Send(v1::ClusterPresence::OCCUPANCY, 0, nullptr, "", &message);
      }) {}

ClusterPresence::~ClusterPresence() {
  std::vector<std::string> brokers;
  for (const auto& [broker, remote] : remote_) brokers.push_back(broker);
  for (const std::string& broker : brokers) DropRemote(broker);
}

void ClusterPresence::Send(v1::ClusterPresence::Kind kind, uint64_t reporter,
                           const v1::Presence* report,
                           const std::string& target,
                           v1::ClusterPresence* with) {
  v1::ClusterPresence own;
  v1::ClusterPresence& message = with != nullptr ? *with : own;
  message.set_broker_id(broker_id_);
  message.set_settled(settled_since_.has_value());
  message.set_kind(kind);
  message.set_reporter(reporter);
  // Numbered even when the publish is dropped (NATS down): the gap tells
  // the others to resynchronise.
  message.set_seq(++seq_);
  if (report != nullptr) *message.mutable_report() = *report;
  if (!target.empty()) message.set_target(target);
  message.SerializeToString(&scratch_);
  publish_(scratch_);
}

void ClusterPresence::SendReport(uint64_t id, const v1::Presence& report) {
  if (report.ByteSizeLong() <= kMaxReportBytes) {
    Send(v1::ClusterPresence::REPORT, id, &report);
    return;
  }
  // Too large for one NATS message: the same changes in parts (only the
  // first replaces; the rest add), each delta's user lists split as needed.
  v1::Presence part;
  part.set_reset(report.reset());
  size_t part_bytes = 0;
  auto flush = [&] {
    if (part.deltas_size() == 0 && !part.reset()) return;
    Send(v1::ClusterPresence::REPORT, id, &part);
    part.Clear();
    part_bytes = 0;
  };
  auto add = [&](v1::PresenceDelta&& delta) {
    const size_t bytes = delta.ByteSizeLong() + 8;
    if (part_bytes + bytes > kMaxReportBytes) flush();
    *part.add_deltas() = std::move(delta);
    part_bytes += bytes;
  };
  for (const v1::PresenceDelta& d : report.deltas()) {
    if (d.ByteSizeLong() <= kMaxReportBytes / 2) {
      add(v1::PresenceDelta(d));
      continue;
    }
    v1::PresenceDelta piece;
    piece.set_group(d.group());
    piece.set_connections(d.connections());
    size_t piece_bytes = d.group().size();
    auto take = [&](const std::string& user, bool joined) {
      if (piece_bytes + user.size() + 8 > kMaxReportBytes / 2) {
        add(std::move(piece));
        piece = v1::PresenceDelta();
        piece.set_group(d.group());
        piece_bytes = d.group().size();
      }
      (joined ? piece.add_users_joined() : piece.add_users_left())
          ->assign(user);
      piece_bytes += user.size() + 8;
    };
    for (const std::string& u : d.users_joined()) take(u, true);
    for (const std::string& u : d.users_left()) take(u, false);
    add(std::move(piece));
  }
  flush();
}

void ClusterPresence::LocalReport(const void* reporter, uint64_t id,
                                  const v1::Presence& report) {
  local_[id] = reporter;
  SendReport(id, report);
}

void ClusterPresence::LocalGone(uint64_t id) {
  if (local_.erase(id) == 0) return;  // never reported: nothing to undo
  Send(v1::ClusterPresence::GONE, id);
}

void ClusterPresence::LocalEdges(const PresenceTable::Edges& edges,
                                 Clock::time_point now) {
  occupancy_.Touched(edges);
  Judge(now);
}

void ClusterPresence::SendSnapshots() {
  for (const auto& [id, key] : local_) {
    SendReport(id, table_->Snapshot(key));
  }
  occupancy_.SendSnapshot();
  Send(v1::ClusterPresence::SYNC_DONE);
}

void ClusterPresence::OnConnected(Clock::time_point now) {
  connected_ = true;
  connected_at_ = now;
  Send(v1::ClusterPresence::HEARTBEAT);
}

void ClusterPresence::Judge(Clock::time_point now) {
  // Settled: connected long enough to have heard every broker, and (to
  // become so) every one's share in. A settled broker stays so while it
  // syncs a newcomer (its share only adds) or re-syncs a broker whose share
  // it dropped (a lost message): the teller then pauses rather than tell
  // that drop as departures, and nobody takes over meanwhile.
  bool all_synced = true, resyncing = false;
  for (const auto& [broker, remote] : remote_) {
    if (remote.synced) continue;
    all_synced = false;
    resyncing = resyncing || remote.was_synced;
  }
  const bool settled = connected_ && now - connected_at_ >= expiry_ &&
                       now - started_ >= expiry_ &&
                       (settled_since_.has_value() || all_synced);
  if (!settled) {
    settled_since_.reset();
  } else if (!settled_since_) {
    settled_since_ = now;
    Send(v1::ClusterPresence::HEARTBEAT);  // the others learn it at once
  }
  bool leads = settled_since_ && now - *settled_since_ >= expiry_ / 2;
  for (const auto& [broker, remote] : remote_) {
    if (!leads) break;
    if (remote.settled && broker < broker_id_) leads = false;
  }
  occupancy_.Judge(leads && !resyncing);
}

absl::Status ClusterPresence::ApplyRemote(const void* key,
                                          const v1::Presence& report,
                                          bool tell) {
  edges_.clear();
  occupancy_edges_.clear();
  absl::Status s = table_->Apply(key, report, &occupancy_edges_,
                                 tell && on_member_ ? &edges_ : nullptr);
  occupancy_.Touched(occupancy_edges_);
  const PresenceTable::MemberEdges edges = std::move(edges_);
  edges_.clear();
  for (const auto& e : edges) on_member_(e);
  return s;
}

void ClusterPresence::RemoveRemote(const void* key, bool tell) {
  edges_.clear();
  occupancy_edges_.clear();
  table_->RemoveReporter(key, &occupancy_edges_,
                         tell && on_member_ ? &edges_ : nullptr);
  occupancy_.Touched(occupancy_edges_);
  const PresenceTable::MemberEdges edges = std::move(edges_);
  edges_.clear();
  for (const auto& e : edges) on_member_(e);
}

bool ClusterPresence::unsettled(Clock::time_point now) const {
  if (now - started_ < expiry_) return true;
  for (const auto& [broker, remote] : remote_) {
    if (!remote.synced) return true;
  }
  return false;
}

void ClusterPresence::Resync(const std::string& broker, Remote& remote,
                             Clock::time_point now) {
  // Not told: the sync's end sends whole lists instead.
  for (const auto& [id, key] : remote.reporters) {
    RemoveRemote(key.get(), false);
  }
  remote.reporters.clear();
  remote.synced = false;
  remote.sync_requested = now;
  ++syncs_requested_;
  Send(v1::ClusterPresence::SYNC_REQUEST, 0, nullptr, broker);
}

void ClusterPresence::OnDisconnected() {
  connected_ = false;
  occupancy_.Disconnected();
  std::vector<std::string> brokers;
  for (const auto& [broker, remote] : remote_) brokers.push_back(broker);
  for (const std::string& broker : brokers) DropRemote(broker);
  Judge(Clock::now());  // cut off: someone else tells
}

void ClusterPresence::DropRemote(const std::string& broker) {
  auto it = remote_.find(broker);
  if (it == remote_.end()) return;
  // Its members left with it (told, when it was in sync).
  const bool tell = it->second.synced;
  for (const auto& [id, key] : it->second.reporters) {
    RemoveRemote(key.get(), tell);
  }
  remote_.erase(it);
}

void ClusterPresence::OnMessage(absl::string_view bytes,
                                Clock::time_point now) {
  v1::ClusterPresence message;
  if (!message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) ||
      message.broker_id().empty() || message.broker_id() == broker_id_) {
    ++malformed_;
    return;
  }
  auto [it, first_contact] = remote_.try_emplace(message.broker_id());
  Remote& remote = it->second;
  remote.last_heard = now;
  if (first_contact || message.seq() != remote.last_seq + 1) {
    Resync(message.broker_id(), remote, now);
  }
  remote.last_seq = message.seq();
  remote.settled = message.settled();
  Handle(message, remote, now);
  Judge(now);
}

void ClusterPresence::Handle(const v1::ClusterPresence& message, Remote& remote,
                             Clock::time_point now) {
  switch (message.kind()) {
    case v1::ClusterPresence::HEARTBEAT:
      return;
    case v1::ClusterPresence::SYNC_REQUEST:
      if (message.target().empty() || message.target() == broker_id_) {
        SendSnapshots();
      }
      return;
    case v1::ClusterPresence::SYNC_DONE:
      remote.synced = true;
      remote.was_synced = true;
      if (on_settled_ && !unsettled(now)) on_settled_();
      return;
    case v1::ClusterPresence::OCCUPANCY:
      occupancy_.OnAnnounced(std::vector<std::string>(message.groups().begin(),
                                                      message.groups().end()),
                             message.occupied(), message.reset());
      return;
    case v1::ClusterPresence::GONE: {
      auto r = remote.reporters.find(message.reporter());
      if (r == remote.reporters.end()) return;
      RemoveRemote(r->second.get(), remote.synced);
      remote.reporters.erase(r);
      return;
    }
    case v1::ClusterPresence::REPORT: {
      // Until the sync is in, a change counts only for a reporter whose
      // snapshot (reset) came since the drop: a change to a state we
      // dropped means nothing (its snapshot, later, covers it), while the
      // parts of a large snapshot follow its first part.
      if (!remote.synced && !message.report().reset() &&
          !remote.reporters.contains(message.reporter())) {
        return;
      }
      auto& key = remote.reporters[message.reporter()];
      if (!key) key = std::make_unique<char>();
      if (absl::Status s =
              ApplyRemote(key.get(), message.report(), remote.synced);
          !s.ok()) {
        ++malformed_;
        RemoveRemote(key.get(), remote.synced);
        remote.reporters.erase(message.reporter());
        CHANNEL_LOG_LIMITED(spdlog::level::warn, "presence from broker {}: {}",
                            absl::CHexEscape(message.broker_id().substr(0, 64)),
                            s.message());
      }
      return;
    }
    default:
      ++malformed_;
      return;
  }
}

void ClusterPresence::Tick(Clock::time_point now) {
  Send(v1::ClusterPresence::HEARTBEAT);
  std::vector<std::string> silent;
  for (auto& [broker, remote] : remote_) {
    if (now - remote.last_heard > expiry_) {
      silent.push_back(broker);
    } else if (!remote.synced && now - remote.sync_requested > expiry_ / 2) {
      Resync(broker, remote, now);  // the request or its answer was lost
    }
  }
  for (const std::string& broker : silent) {
    spdlog::info("broker {} silent: dropping its presence",
                 absl::CHexEscape(broker.substr(0, 64)));
    DropRemote(broker);
  }
  // The startup window over (every broker has been heard, or is none):
  // whole lists once, if nothing is being synced.
  if (!startup_told_ && on_settled_ && !unsettled(now)) {
    startup_told_ = true;
    on_settled_();
  }
  Judge(now);
}

}  // namespace channel
