#include "gateway/link/shard_link.h"

#include "absl/strings/str_cat.h"
#include "asio/post.hpp"
#include "common/logging/logging.h"
#include "common/presence/member_json.h"

namespace channel {

ShardLink::ShardLink(asio::io_context& io, int index, int workers,
                     BrokerClientOptions options, std::string origin,
                     WorkerStats* stats, GatewayLimits* limits)
    : io_(io),
      index_(index),
      workers_(workers),
      client_(io, std::move(options)),
      origin_(std::move(origin)),
      stats_(stats),
      limits_(limits) {
  client_.set_event_handler([this](v1::Event& event) { OnEvent(event); });
  client_.set_state_handler([this](bool connected, absl::string_view reason) {
    OnState(connected, reason);
  });
  client_.set_quiet_failure_handler(
      [this](uint64_t tag, const absl::Status& status) {
        auto it = awaiting_.find(tag);
        if (it == awaiting_.end()) return;
        const uint64_t sender = it->second.sender;
        awaiting_.erase(it);
        if (failure_) failure_(sender, status);
      });
  client_.set_quiet_confirmed_handler([this](uint64_t tag) {
    auto it = awaiting_.find(tag);
    if (it == awaiting_.end()) return;
    Delivery local = std::move(it->second.local);
    const bool deliver = it->second.deliver;
    awaiting_.erase(it);
    if (deliver) Enqueue(std::move(local));
  });
  client_.set_stream_handler(
      [this](const v1::StreamPosition& position) { OnStream(position); });
  client_.set_subscription_lost_handler(
      [this](const std::vector<std::string>& channels,
             const absl::Status& status) {
        stats_->broker_subscriptions.store(
            static_cast<int64_t>(client_.subscription_count()),
            std::memory_order_relaxed);
        if (!on_lost_) return;
        for (const std::string& channel : channels) on_lost_(channel, status);
      });
  channels_.resize(1);
}

void ShardLink::Start() {
  // Every connection receives send_to_all, so the broadcast channel is held
  // for the life of the worker.
  client_.Subscribe({kBroadcastChannel});
  stats_->broker_subscriptions.store(1, std::memory_order_relaxed);
  client_.Start();
}

void ShardLink::Stop() {
  if (counted_up_) {
    counted_up_ = false;
    limits_->links_up.fetch_sub(1);
  }
  stats_->broker_up.store(0, std::memory_order_relaxed);
  client_.Stop();
}

void ShardLink::OnState(bool connected, absl::string_view reason) {
  stats_->broker_up.store(connected ? 1 : 0, std::memory_order_relaxed);
  if (connected) {
    Bump(stats_->broker_connects);
    counted_up_ = true;
    const int64_t up = limits_->links_up.fetch_add(1) + 1;
    // Connected means every held channel was re-subscribed and confirmed.
    if (up == workers_) {
      spdlog::info(
          "broker link up; {} group(s) subscribed over {} worker link(s)",
          limits_->groups.load(), workers_);
    } else {
      spdlog::info("worker {}: broker link connected ({}/{} up)", index_, up,
                   workers_);
    }
    std::chrono::milliseconds down{0};
    if (was_up_) {
      down = std::max(std::chrono::milliseconds(1),
                      std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - down_since_));
    }
    was_up_ = true;
    was_down_ = false;
    if (on_up_) on_up_(down, recovered_);
    recovered_.clear();
  } else {
    // Every position must be resumed on the next link (Source::Since); the
    // Acks say which were.
    if (!was_down_) {
      recovered_.clear();
      for (auto& [channel, position] : positions_) position.resuming = true;
    }
    // A move is counted by the client when the broker asks; it shows here
    // as this disconnect.
    stats_->broker_moves.store(client_.stats().moves,
                               std::memory_order_relaxed);
    if (!was_down_) down_since_ = std::chrono::steady_clock::now();
    was_down_ = true;
    Bump(stats_->broker_disconnects);
    if (counted_up_) {
      counted_up_ = false;
      limits_->links_up.fetch_sub(1);
    }
    spdlog::warn("worker {}: broker link down: {}", index_, reason);
  }
}

bool ShardLink::Source::Since(const std::string& channel,
                              v1::StreamPosition* out) const {
  auto it = link_->positions_.find(channel);
  if (it == link_->positions_.end()) return false;
  out->set_offset(it->second.offset);
  out->set_epoch(it->second.epoch);
  return true;
}

// A Subscribe's Ack: where a history channel's subscription starts, and
// after a reconnect whether the broker resumed it from our position (the
// events after it came first, on this link, before this Ack).
void ShardLink::OnStream(const v1::StreamPosition& position) {
  const std::string& channel = position.channel();
  if (!source_.Holds(channel)) return;  // left meanwhile
  Position& p = positions_[channel];
  if (p.resuming) {
    p.resuming = false;
    if (position.recovered() && position.epoch() == p.epoch) {
      recovered_.insert(channel);
    }
  }
  // Never backwards within an epoch: events may have come first.
  if (p.epoch != position.epoch() || position.offset() > p.offset) {
    p.offset = position.offset();
    p.epoch = position.epoch();
  }
}

void ShardLink::Join(const std::string& channel, bool first, Done done) {
  if (!first && !done) return;
  if (!first) {
    auto it = joining_.find(channel);
    if (it != joining_.end()) {
      // The member is here already, so the Ack of the Subscribe in flight
      // comes after it joined: it tells that the group is live, with a
      // position after which every event of the channel reaches it (as
      // the Ack of a Subscribe of its own would, a little later).
      it->second->waiters.push_back(std::move(done));
      return;
    }
  }
  auto joining = std::make_shared<Joining>();
  if (done) joining->waiters.push_back(std::move(done));
  joining_[channel] = joining;
  // Always acknowledged: the Ack carries where a history channel's
  // subscription starts, which a reconnect resumes from. The events before
  // the Ack reach the members before the joiners hear of their position.
  BrokerClient::Done on_ack = [this, channel, joining](
                                  const absl::Status& status, uint64_t) {
    auto it = joining_.find(channel);
    if (it != joining_.end() && it->second == joining) joining_.erase(it);
    if (joining->waiters.empty()) return;
    FlushNow();
    // The answers may join again (a new Subscribe, a new entry).
    const std::vector<Done> waiters = std::move(joining->waiters);
    for (const Done& done : waiters) done(status);
  };
  // Subscribing again is idempotent at the broker; its Ack comes after the
  // first Subscribe's (one connection, in order), so it also tells a later
  // joiner that the group is live.
  client_.Subscribe({channel}, std::move(on_ack));
  stats_->broker_subscriptions.store(
      static_cast<int64_t>(client_.subscription_count()),
      std::memory_order_relaxed);
}

void ShardLink::Leave(const std::string& channel) {
  positions_.erase(channel);
  recovered_.erase(channel);
  client_.Unsubscribe({channel});
  stats_->broker_subscriptions.store(
      static_cast<int64_t>(client_.subscription_count()),
      std::memory_order_relaxed);
}

absl::Status ShardLink::PublishRaw(const std::string& channel,
                                   absl::string_view payload,
                                   absl::string_view key, bool key_end,
                                   bool keep, BrokerClient::Done done) {
  raw_meta_.Clear();
  raw_meta_.set_origin(origin_);
  if (!key.empty()) raw_meta_.set_key(key.data(), key.size());
  raw_meta_.set_key_end(key_end);
  raw_meta_.set_keep(keep);
  raw_channels_.resize(1);
  raw_channels_[0] = channel;
  return client_.Publish(raw_channels_, payload, &raw_meta_, std::move(done));
}

absl::Status ShardLink::Publish(const std::string* group,
                                absl::string_view message, uint64_t sender,
                                bool exclude_sender, const std::string& user,
                                Done done) {
  meta_.Clear();
  meta_.set_origin(origin_);
  if (!user.empty()) meta_.set_sender(user);
  if (exclude_sender) meta_.add_exclude(sender);
  if (group != nullptr) {
    channels_[0].assign(kGroupChannelPrefix);
    channels_[0].append(*group);
  } else {
    channels_[0].assign(kBroadcastChannel);
  }
  Delivery local;
  local.to_all = group == nullptr;
  if (group != nullptr) local.channel = channels_[0];
  if (exclude_sender) local.mutable_rare().exclude.push_back(sender);
  if (!user.empty()) local.mutable_rare().sender = user;
  local.payload = std::make_shared<const std::string>(message);
  // A channel with offsets: the broker sends it back with its offset, like
  // any event; nothing is delivered here.
  if (HasOffsets(channels_[0])) {
    if (!done) {
      const uint64_t tag = next_tag_++;
      absl::Status status =
          client_.PublishQuiet(channels_, message, &meta_, tag);
      if (!status.ok()) return status;
      awaiting_.emplace(tag, Awaiting{sender, Delivery(), false});
      return absl::OkStatus();
    }
    return client_.Publish(
        channels_, message, &meta_,
        [done = std::move(done)](const absl::Status& s, uint64_t) { done(s); });
  }
  // no_echo: the broker does not send this publish back on this link; this
  // worker's own members get it once the broker accepted it. When the
  // broker told this link that it alone holds the channel, nobody else
  // would receive it: not sent at all, delivered now.
  if (client_.HoldsAlone(channels_[0])) {
    Bump(stats_->sole_publishes);
    if (done)
      asio::post(io_, [done = std::move(done)] { done(absl::OkStatus()); });
    Enqueue(std::move(local));
    return absl::OkStatus();
  }
  if (!done) {
    const uint64_t tag = next_tag_++;
    absl::Status status = client_.PublishQuiet(channels_, message, &meta_, tag,
                                               /*no_echo=*/true);
    if (!status.ok()) return status;
    awaiting_.emplace(tag, Awaiting{sender, std::move(local)});
    return absl::OkStatus();
  }
  return client_.Publish(
      channels_, message, &meta_,
      [this, local = std::move(local), done = std::move(done)](
          const absl::Status& s, uint64_t) mutable {
        if (s.ok()) Enqueue(std::move(local));
        done(s);
      },
      /*no_echo=*/true);
}

namespace {
constexpr int kMaxFlushHops = 16;
constexpr size_t kMaxFlushBatch = 4096;
}  // namespace

void ShardLink::Enqueue(Delivery delivery) {
  pending_.push_back(std::move(delivery));
  if (!flush_posted_) {
    // Everything of this loop turn goes to the worker in one batch.
    flush_posted_ = true;
    pending_at_post_ = pending_.size();
    flush_hops_ = 0;
    asio::post(io_, [this] { FlushDeliveries(); });
  }
}

void ShardLink::OnEvent(v1::Event& event) {
  Bump(stats_->broker_events);
  Delivery delivery;
  std::string id;
  switch (ParseBrokerChannel(event.channel(), &id)) {
    case ChannelKind::kBroadcast:
      delivery.to_all = true;
      break;
    case ChannelKind::kGroup:
      // The broker's presence events (member lists): to the worker's
      // mirror, which says what to tell, in this turn's batch.
      if (on_member_ && IsMemberCodec(event.meta().payload_codec())) {
        if (source_.Holds(event.channel())) {
          std::vector<Delivery> tell;
          on_member_(id, event.meta(), event.payload(), &tell);
          for (Delivery& d : tell) Enqueue(std::move(d));
        }
        return;
      }
      delivery.channel = std::move(*event.mutable_channel());
      break;
    case ChannelKind::kUser:
      delivery.channel = std::move(*event.mutable_channel());
      break;
    case ChannelKind::kOther:
      if (on_action_ && event.channel() == node_channel_) {
        on_action_(event.payload());
      }
      return;
  }
  // Exclusions are honoured only on this link's own publishes, and at most
  // a few are read (it sends at most one): a peer cannot make fan-out cost
  // grow with a long list.
  if (event.meta().origin() == origin_) {
    const int n = std::min(event.meta().exclude_size(), kMaxExclude);
    if (n > 0) {
      delivery.mutable_rare().exclude.assign(
          event.meta().exclude().begin(), event.meta().exclude().begin() + n);
    }
  }
  if (event.offset() != 0 && !delivery.to_all &&
      !source_.Holds(delivery.channel)) {
    return;  // left meanwhile
  }
  if (event.offset() != 0) {
    static const std::string kAll(kBroadcastChannel);
    const std::string& channel = delivery.to_all ? kAll : delivery.channel;
    Position& p = positions_[channel];
    if (p.epoch == event.epoch() && event.offset() <= p.offset) {
      // Delivered already (a resumed stream never overlaps; this guards
      // the members against a broker that would).
      Bump(stats_->duplicates_dropped);
      return;
    }
    p.offset = event.offset();
    p.epoch = event.epoch();
    delivery.mutable_rare().offset = event.offset();
    delivery.mutable_rare().epoch = std::move(*event.mutable_epoch());
  }
  if (!event.meta().sender().empty()) {
    delivery.mutable_rare().sender =
        std::move(*event.mutable_meta()->mutable_sender());
  }
  delivery.payload =
      std::make_shared<const std::string>(std::move(*event.mutable_payload()));
  Enqueue(std::move(delivery));
}

void ShardLink::QueryHistory(const v1::HistoryQuery& query,
                             BrokerClient::HistoryDone done) {
  client_.QueryHistory(
      query, [this, done = std::move(done)](const absl::Status& status,
                                            v1::HistoryReply* reply) {
        FlushNow();
        done(status, reply);
      });
}

void ShardLink::FlushNow() {
  if (pending_.empty()) return;
  // The posted flush, if any, finds less (or nothing) to do.
  pending_at_post_ = 0;
  if (deliver_) deliver_(pending_);
  pending_.clear();
}

void ShardLink::FlushDeliveries() {
  // A socket read that was already possible completes at once (Asio reads
  // speculatively) and its handler is queued behind this flush. While the
  // batch keeps growing between two runs of this handler, go once more
  // round the queue (at most kMaxFlushHops times, kMaxFlushBatch
  // deliveries): a burst arriving in many small reads (a client socket
  // read takes at most 16 KiB, a broker link read at most 64 KiB) still
  // makes one batch, one write per member; a lone message is flushed on
  // the first run, with no delay.
  if (pending_.size() > pending_at_post_ && flush_hops_ < kMaxFlushHops &&
      pending_.size() < kMaxFlushBatch) {
    pending_at_post_ = pending_.size();
    ++flush_hops_;
    asio::post(io_, [this] { FlushDeliveries(); });
    return;
  }
  flush_posted_ = false;
  if (pending_.empty()) return;
  if (deliver_) deliver_(pending_);
  pending_.clear();
}

}  // namespace channel
