#include "broker/routing/kept_events.h"

namespace channel {
namespace {

// What one kept event costs besides its encoded size: the deque slot, the
// order entry and the channel name twice.
constexpr size_t kOverhead = 96;

}  // namespace

void KeptEvents::Keep(const v1::Event& event, Clock::time_point now) {
  if (!enabled()) return;
  const size_t cost =
      event.ByteSizeLong() + 2 * event.channel().size() + kOverhead;
  if (cost > max_bytes_) {  // could never fit: as if kept and pushed out
    ++dropped_full_;
    return;
  }
  // The expired first (oldest first: they lead the order), then whatever
  // the new one needs.
  while (!order_.empty()) {
    auto it = by_channel_.find(order_.front().second);
    if (it == by_channel_.end() ||
        it->second.front().seq != order_.front().first) {
      order_.pop_front();  // taken since
      continue;
    }
    if (now - it->second.front().at < max_age_) break;
    ++dropped_expired_;
    Remove(it->second, order_.front().second);
    order_.pop_front();
  }
  while (bytes_ + cost > max_bytes_ && DropOldest()) ++dropped_full_;
  if (order_.size() > 2 * events_ + 1024) {
    std::deque<std::pair<uint64_t, std::string>> live;
    for (auto& entry : order_) {
      // A channel's events leave from its front or all at once: what is
      // at or after its front is still kept.
      auto it = by_channel_.find(entry.second);
      if (it != by_channel_.end() && entry.first >= it->second.front().seq) {
        live.push_back(std::move(entry));
      }
    }
    order_.swap(live);
  }
  Kept kept;
  kept.seq = next_seq_++;
  kept.at = now;
  kept.cost = cost;
  kept.event = event;
  by_channel_[event.channel()].push_back(std::move(kept));
  order_.emplace_back(next_seq_ - 1, event.channel());
  ++events_;
  bytes_ += cost;
  ++kept_total_;
}

void KeptEvents::Remove(std::deque<Kept>& list, const std::string& channel) {
  --events_;
  bytes_ -= list.front().cost;
  list.pop_front();
  if (list.empty()) by_channel_.erase(channel);
}

bool KeptEvents::DropOldest() {
  while (!order_.empty()) {
    auto [seq, channel] = std::move(order_.front());
    order_.pop_front();
    auto it = by_channel_.find(channel);
    if (it == by_channel_.end() || it->second.front().seq != seq) continue;
    Remove(it->second, channel);
    return true;
  }
  return false;
}

std::vector<v1::Event> KeptEvents::Take(const std::string& channel,
                                        Clock::time_point now) {
  std::vector<v1::Event> out;
  auto it = by_channel_.find(channel);
  if (it == by_channel_.end()) return out;
  for (Kept& k : it->second) {
    --events_;
    bytes_ -= k.cost;
    if (now - k.at >= max_age_) {
      ++dropped_expired_;
      continue;
    }
    ++taken_total_;
    out.push_back(std::move(k.event));
  }
  by_channel_.erase(it);
  return out;
}

}  // namespace channel
