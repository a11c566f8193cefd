#include "broker/cluster/cluster_interest.h"

#include <algorithm>
#include <utility>

namespace channel {

using Kind = v1::ClusterInterest;

ClusterInterest::ClusterInterest(std::string broker_id, Publish publish,
                                 Options options)
    : broker_id_(std::move(broker_id)),
      publish_(std::move(publish)),
      options_(options) {}

uint64_t ClusterInterest::Send(v1::ClusterInterest::Kind kind,
                               const std::vector<absl::string_view>& channels,
                               absl::string_view target, uint64_t acked_seq,
                               bool first, bool last) {
  scratch_.Clear();
  scratch_.set_broker_id(broker_id_);
  scratch_.set_kind(kind);
  // Numbered even when the publish is dropped (NATS down): the gap tells
  // the others to ask for a snapshot.
  scratch_.set_seq(++seq_);
  for (absl::string_view c : channels)
    scratch_.add_channels(c.data(), c.size());
  if (!target.empty()) scratch_.set_target(target.data(), target.size());
  scratch_.set_acked_seq(acked_seq);
  scratch_.set_first(first);
  scratch_.set_last(last);
  scratch_.SerializeToString(&bytes_);
  publish_(bytes_);
  return seq_;
}

void ClusterInterest::Local(const std::string& channel, bool first) {
  if (first) {
    if (!local_.insert(channel).second) return;
    last_add_ = Send(Kind::ADD, {channel});
    return;
  }
  if (local_.erase(channel) == 0) return;
  Send(Kind::REMOVE, {channel});
}

bool ClusterInterest::selective(Clock::time_point now) const {
  // A loop that stalled for half the expiry may have been dropped by the
  // others (they stopped waiting for its ACKs): not selective until the
  // next Tick re-synchronises.
  return connected_ && unsynced_ == 0 && now >= window_end_ &&
         now - last_tick_ < options_.expiry / 2 &&
         (!options_.brokers_heard ||
          options_.brokers_heard() <= remote_.size());
}

bool ClusterInterest::Wanted(absl::string_view channel,
                             Clock::time_point now) const {
  return !selective(now) || wanted_.contains(channel);
}

bool ClusterInterest::WaitFor(std::function<void()> done,
                              Clock::time_point now) {
  bool pending = now < window_end_;
  for (const auto& [broker, remote] : remote_) {
    if (remote.acked < last_add_) pending = true;
  }
  if (!pending || !connected_) return false;
  waiters_.push_back(Waiter{last_add_, window_end_, std::move(done)});
  return true;
}

void ClusterInterest::Complete(Clock::time_point now) {
  uint64_t acked = last_add_;  // what every known broker has applied
  for (const auto& [broker, remote] : remote_) {
    acked = std::min(acked, remote.acked);
  }
  std::vector<std::function<void()>> ready;
  // Waiters are in seq order and share one window end.
  while (!waiters_.empty() && waiters_.front().seq <= acked &&
         now >= waiters_.front().not_before) {
    ready.push_back(std::move(waiters_.front().done));
    waiters_.pop_front();
  }
  for (auto& done : ready) done();
}

void ClusterInterest::SetSynced(Remote& remote, bool synced) {
  if (remote.synced == synced) return;
  remote.synced = synced;
  if (synced) {
    --unsynced_;
  } else {
    ++unsynced_;
  }
}

void ClusterInterest::AddRemote(Remote& remote, const std::string& channel) {
  if (remote.channels.insert(channel).second) ++wanted_[channel];
}

void ClusterInterest::Unwant(const std::string& channel) {
  auto it = wanted_.find(channel);
  if (it != wanted_.end() && --it->second == 0) wanted_.erase(it);
}

void ClusterInterest::RemoveRemote(Remote& remote, const std::string& channel) {
  if (remote.channels.erase(channel) > 0) Unwant(channel);
}

void ClusterInterest::ClearRemote(Remote& remote) {
  for (const std::string& channel : remote.channels) Unwant(channel);
  remote.channels.clear();
}

void ClusterInterest::Resync(const std::string& broker, Remote& remote,
                             Clock::time_point now) {
  ClearRemote(remote);
  SetSynced(remote, false);
  remote.receiving = false;
  remote.sync_requested = now;
  ++syncs_requested_;
  Send(Kind::SYNC_REQUEST, {}, broker);
}

void ClusterInterest::Drop(
    absl::flat_hash_map<std::string, Remote>::iterator it) {
  ClearRemote(it->second);
  SetSynced(it->second, true);  // no longer counted as unsynced
  remote_.erase(it);
}

void ClusterInterest::SendSnapshot(const std::string& to) {
  std::vector<absl::string_view> part;
  size_t bytes = 0;
  bool first = true;
  for (const std::string& channel : local_) {
    if (!part.empty() && bytes + channel.size() > options_.max_part_bytes) {
      Send(Kind::SNAPSHOT, part, to, 0, first, false);
      first = false;
      part.clear();
      bytes = 0;
    }
    part.push_back(channel);
    bytes += channel.size() + 4;
  }
  Send(Kind::SNAPSHOT, part, to, 0, first, true);
}

void ClusterInterest::OnMessage(absl::string_view bytes,
                                Clock::time_point now) {
  if (!connected_) return;
  v1::ClusterInterest& m = incoming_;  // Send uses scratch_, not this
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) ||
      m.broker_id().empty() || m.broker_id() == broker_id_ || m.seq() == 0) {
    ++malformed_;
    return;
  }
  const std::string& broker = m.broker_id();
  const Kind::Kind kind = m.kind();
  const uint64_t seq = m.seq();
  const auto& channels = m.channels();

  if (kind == Kind::BYE) {  // gone: nothing of it to wait for or forward to
    Dropped(broker, &dropped_bye_, now);
    return;
  }
  auto [it, fresh] = remote_.try_emplace(broker);
  Remote& remote = it->second;
  remote.last_heard = now;
  bool gap = false;
  if (fresh) {
    ++unsynced_;  // a new Remote starts unsynced
  } else if (kind != Kind::HELLO && seq != remote.last_seq + 1) {
    gap = true;
  }
  remote.last_seq = seq;
  if (fresh || gap || kind == Kind::HELLO) {
    // What we knew of it may be incomplete: forget it, ask for all of it,
    // and acknowledge what it sent so far (we forward everything until the
    // snapshot is in, so its waiters need not wait for us).
    Resync(broker, remote, now);
    Send(Kind::ACK, {}, broker, seq);
    // A newcomer learns of us at once (not at our next heartbeat).
    if (kind == Kind::HELLO || fresh) Send(Kind::HEARTBEAT);
  }
  const bool to_me = m.target() == broker_id_;
  switch (kind) {
    case Kind::ADD:
      for (const std::string& c : channels) AddRemote(remote, c);
      Send(Kind::ACK, {}, broker, seq);
      break;
    case Kind::REMOVE:
      for (const std::string& c : channels) RemoveRemote(remote, c);
      break;
    case Kind::ACK:
      if (to_me) {
        remote.acked = std::max(remote.acked, m.acked_seq());
        Complete(now);
      }
      break;
    case Kind::SYNC_REQUEST:
      if (to_me) SendSnapshot(broker);
      break;
    case Kind::SNAPSHOT:
      if (!to_me) break;
      if (m.first()) {
        ClearRemote(remote);
        remote.receiving = true;
      }
      if (!remote.receiving)
        break;  // a part of a snapshot we lost the start of
      for (const std::string& c : channels) AddRemote(remote, c);
      if (m.last()) {
        remote.receiving = false;
        SetSynced(remote, true);
      }
      break;
    default:  // HEARTBEAT, HELLO; unknown kinds of newer brokers
      break;
  }
}

std::vector<std::string> ClusterInterest::Unconfirmed() const {
  std::vector<std::string> out;
  if (waiters_.empty()) return out;
  for (const auto& [broker, remote] : remote_) {
    if (remote.acked < waiters_.back().seq) out.push_back(broker);
  }
  return out;
}

void ClusterInterest::Gone(const std::string& broker, Clock::time_point now) {
  Dropped(broker, &dropped_gone_, now);
}

void ClusterInterest::Dropped(const std::string& broker, uint64_t* counter,
                              Clock::time_point now) {
  auto it = remote_.find(broker);
  if (it == remote_.end()) return;
  Drop(it);
  ++*counter;
  Complete(now);
}

void ClusterInterest::Leave() {
  if (connected_) Send(Kind::BYE);
}

void ClusterInterest::OnConnected(Clock::time_point now) {
  connected_ = true;
  window_end_ = now + options_.window;
  last_tick_ = now;
  Send(Kind::HELLO);
}

void ClusterInterest::OnDisconnected() {
  connected_ = false;
  while (!remote_.empty()) Drop(remote_.begin());
  waiters_.clear();
}

void ClusterInterest::Tick(Clock::time_point now) {
  if (!connected_) return;
  const bool stalled = now - last_tick_ >= options_.expiry / 2;
  last_tick_ = now;
  if (stalled) {
    // The others may have dropped us meanwhile, and we have not heard them:
    // re-synchronise with everyone, give them a fresh expiry, and tell them
    // we re-joined.
    for (auto& [broker, remote] : remote_) {
      remote.last_heard = now;
      Resync(broker, remote, now);
    }
    Send(Kind::HELLO);
  } else {
    Send(Kind::HEARTBEAT);
  }
  for (auto it = remote_.begin(); it != remote_.end();) {
    auto next = std::next(it);
    Remote& remote = it->second;
    if (now - remote.last_heard >= options_.expiry) {
      Drop(it);
      ++dropped_expired_;
    } else if (!remote.synced &&
               now - remote.sync_requested >= options_.expiry / 2) {
      Resync(it->first, remote, now);
    }
    it = next;
  }
  Complete(now);
}

}  // namespace channel
