#include "broker/cluster/cluster_interest.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace channel {

using Kind = v1::ClusterInterest;

ClusterInterest::ClusterInterest(std::string broker_id, Publish publish,
                                 Options options)
    : broker_id_(std::move(broker_id)),
      publish_(std::move(publish)),
      options_(options) {}

uint64_t ClusterInterest::Send(v1::ClusterInterest::Kind kind,
                               const std::vector<absl::string_view>& channels,
                               const std::vector<absl::string_view>& queues,
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
  std::string channel, group;
  for (absl::string_view key : queues) {
    SplitQueueKey(key, &channel, &group);
    v1::QueueMembership* q = scratch_.add_queues();
    q->set_channel(channel);
    q->set_group(group);
  }
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

std::string ClusterInterest::QueueKey(absl::string_view channel,
                                      absl::string_view group) {
  return absl::StrCat(group.size(), ":", group, channel);
}

void ClusterInterest::SplitQueueKey(absl::string_view key, std::string* channel,
                                    std::string* group) {
  // Only keys QueueKey made reach here.
  const size_t colon = key.find(':');
  size_t n = 0;
  (void)absl::SimpleAtoi(key.substr(0, colon), &n);
  *group = std::string(key.substr(colon + 1, n));
  *channel = std::string(key.substr(colon + 1 + n));
}

void ClusterInterest::LocalQueue(const std::string& channel,
                                 const std::string& group, bool first) {
  std::string key = QueueKey(channel, group);
  if (first) {
    if (!local_queues_.insert(key).second) return;
    last_add_ = Send(Kind::ADD, {}, {key});
    return;
  }
  if (local_queues_.erase(key) == 0) return;
  Send(Kind::REMOVE, {}, {key});
}

void ClusterInterest::TellQueue(const std::string& broker,
                                const std::string& key, bool joined) {
  if (!options_.on_queue) return;
  std::string channel, group;
  SplitQueueKey(key, &channel, &group);
  options_.on_queue(broker, channel, group, joined);
}

void ClusterInterest::AddRemoteQueue(const std::string& broker, Remote& remote,
                                     std::string key) {
  if (remote.stale.erase(key) > 0) {  // still there: nothing changes
    remote.queues.insert(std::move(key));
    return;
  }
  if (remote.queues.insert(key).second) TellQueue(broker, key, true);
}

void ClusterInterest::RemoveRemoteQueue(const std::string& broker,
                                        Remote& remote,
                                        const std::string& key) {
  if (remote.queues.erase(key) > 0 || remote.stale.erase(key) > 0) {
    TellQueue(broker, key, false);
  }
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
  Send(Kind::SYNC_REQUEST, {}, {}, broker);
}

void ClusterInterest::Drop(
    absl::flat_hash_map<std::string, Remote>::iterator it) {
  const std::string broker = it->first;
  Remote& remote = it->second;
  ClearRemote(remote);
  SetSynced(remote, true);  // no longer counted as unsynced
  for (const auto* set : {&remote.queues, &remote.stale}) {
    for (const std::string& key : *set) TellQueue(broker, key, false);
  }
  remote_.erase(it);
  if (options_.on_dropped) options_.on_dropped(broker);
}

void ClusterInterest::SendSnapshot(const std::string& to) {
  std::vector<absl::string_view> part, queues;
  size_t bytes = 0;
  bool first = true;
  const auto add = [&](std::vector<absl::string_view>* list,
                       const std::string& name) {
    if (bytes > 0 && bytes + name.size() > options_.max_part_bytes) {
      Send(Kind::SNAPSHOT, part, queues, to, 0, first, false);
      first = false;
      part.clear();
      queues.clear();
      bytes = 0;
    }
    list->push_back(name);
    bytes += name.size() + 4;
  };
  for (const std::string& channel : local_) add(&part, channel);
  for (const std::string& key : local_queues_) add(&queues, key);
  Send(Kind::SNAPSHOT, part, queues, to, 0, first, true);
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
    Send(Kind::ACK, {}, {}, broker, seq);
    // A newcomer learns of us at once (not at our next heartbeat).
    if (kind == Kind::HELLO || fresh) Send(Kind::HEARTBEAT);
  }
  const bool to_me = m.target() == broker_id_;
  switch (kind) {
    case Kind::ADD:
      for (const std::string& c : channels) AddRemote(remote, c);
      for (const v1::QueueMembership& q : m.queues()) {
        if (!q.channel().empty() && !q.group().empty()) {
          AddRemoteQueue(broker, remote, QueueKey(q.channel(), q.group()));
        }
      }
      Send(Kind::ACK, {}, {}, broker, seq);
      break;
    case Kind::REMOVE:
      for (const std::string& c : channels) RemoveRemote(remote, c);
      for (const v1::QueueMembership& q : m.queues()) {
        RemoveRemoteQueue(broker, remote, QueueKey(q.channel(), q.group()));
      }
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
        // Its queue groups stay until the snapshot says which are gone.
        for (auto& key : remote.queues) remote.stale.insert(key);
        remote.queues.clear();
        remote.receiving = true;
      }
      if (!remote.receiving)
        break;  // a part of a snapshot we lost the start of
      for (const std::string& c : channels) AddRemote(remote, c);
      for (const v1::QueueMembership& q : m.queues()) {
        if (!q.channel().empty() && !q.group().empty()) {
          AddRemoteQueue(broker, remote, QueueKey(q.channel(), q.group()));
        }
      }
      if (m.last()) {
        remote.receiving = false;
        SetSynced(remote, true);
        for (const std::string& key : remote.stale) {
          TellQueue(broker, key, false);
        }
        remote.stale.clear();
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
