#include "broker/history/history_store.h"

#include <chrono>

#include "absl/strings/str_format.h"
#include "common/channel_names.h"

namespace channel {
namespace {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

HistoryStore::HistoryStore(HistoryStoreOptions options, Clock clock)
    : options_(std::move(options)),
      clock_(clock ? std::move(clock) : Clock(SteadyMs)),
      broadcast_rule_{kBroadcastChannel, 0, std::chrono::milliseconds(0)},
      random_(std::random_device{}()),
      fifos_(options_.rules.rules().size()) {
  store_epoch_ = NewEpoch();
  if (options_.mirror) mirrors_.resize(options_.rules.rules().size());
}

const HistoryRule* HistoryStore::RuleFor(absl::string_view channel) const {
  if (options_.broadcast_offsets && channel == kBroadcastChannel) {
    return &broadcast_rule_;
  }
  return options_.rules.ForChannel(channel);
}

std::string HistoryStore::NewEpoch() {
  // 48 random bits: 12 hex digits, within std::string's inline buffer.
  return absl::StrFormat("%012x", random_() & 0xffffffffffffULL);
}

HistoryStream* HistoryStore::Find(absl::string_view channel) {
  auto it = streams_.find(channel);
  return it == streams_.end() ? nullptr : it->second.get();
}

HistoryStream* HistoryStore::FindOrCreate(const std::string& channel,
                                          const HistoryRule* rule) {
  if (HistoryStream* s = Find(channel)) return s;
  auto stream =
      std::make_unique<HistoryStream>(channel, next_id_++, NewEpoch(), rule);
  HistoryStream* s = stream.get();
  streams_.emplace(absl::string_view(s->channel()), std::move(stream));
  by_id_.emplace(s->id(), s);
  stream_order_.push_back(s->id());
  bytes_ += StreamOverhead(*s) + kOrderBytes;
  return s;
}

bool HistoryStore::Append(v1::Event* event) {
  if (options_.mirror) return false;
  const HistoryRule* rule = RuleFor(event->channel());
  if (rule == nullptr) return false;
  HistoryStream* s = FindOrCreate(event->channel(), rule);
  const int64_t now = Now();
  uint64_t offset = 0;
  size_t dropped = 0;
  std::string meta;
  if (rule->size > 0 && event->has_meta())
    event->meta().SerializeToString(&meta);
  const int64_t delta =
      s->Append(rule->size > 0 ? event->payload() : std::string(),
                std::move(meta), now, &offset, &dropped);
  bytes_ = static_cast<size_t>(static_cast<int64_t>(bytes_) + delta);
  if (rule->size > 0) {
    ++entries_;
    entries_ -= dropped;
    fifos_[rule - options_.rules.rules().data()].push_back(
        Record{s->id(), offset, now});
    bytes_ += kRecordBytes;
  }
  ++stats_.appended;
  event->set_offset(offset);
  event->set_epoch(s->epoch());
  if (bytes_ > options_.max_bytes) Enforce();
  return true;
}

void HistoryStore::BeginMirror(size_t rule, std::string epoch,
                               uint64_t complete_from) {
  if (rule >= mirrors_.size()) return;
  Mirror& m = mirrors_[rule];
  if (m.epoch != epoch && !m.epoch.empty()) {
    // Another stream: what was kept of the old one means nothing now.
    std::vector<HistoryStream*> old;
    for (const auto& [name, s] : streams_) {
      if (RuleIndex(&s->rule()) == rule) old.push_back(s.get());
    }
    for (HistoryStream* s : old) {
      bytes_ -= s->bytes();
      entries_ -= s->entries().size();
      DeleteStream(s);
    }
    m = Mirror{};
  }
  m.epoch = std::move(epoch);
  m.complete_from = std::max(m.complete_from, complete_from);
}

void HistoryStore::Overrun(size_t rule, uint64_t offset) {
  if (rule >= mirrors_.size()) return;
  Mirror& m = mirrors_[rule];
  m.forgotten = std::max(m.forgotten, offset);
  for (auto& [name, s] : streams_) {
    if (RuleIndex(&s->rule()) == rule) s->RaiseFloor(offset);
  }
}

bool HistoryStore::AppendAt(const v1::Event& event, int64_t at_ms) {
  const HistoryRule* rule = RuleFor(event.channel());
  if (rule == nullptr || !options_.mirror) return false;
  const size_t index = RuleIndex(rule);
  if (index >= mirrors_.size()) return false;
  Mirror& m = mirrors_[index];
  if (m.epoch.empty() || event.epoch() != m.epoch ||
      event.offset() <= m.applied) {
    return false;
  }
  m.applied = event.offset();
  HistoryStream* s = Find(event.channel());
  if (s == nullptr) {
    // A channel first seen live: every event of it after the rule's floor
    // went through here. First seen in the stream's kept past: only what
    // follows this event is known (older ones may have been trimmed).
    const uint64_t floor =
        event.offset() > m.complete_from ? m.floor() : event.offset() - 1;
    auto stream = std::make_unique<HistoryStream>(event.channel(), next_id_++,
                                                  m.epoch, rule, floor);
    s = stream.get();
    streams_.emplace(absl::string_view(s->channel()), std::move(stream));
    by_id_.emplace(s->id(), s);
    stream_order_.push_back(s->id());
    bytes_ += StreamOverhead(*s) + kOrderBytes;
  }
  std::string meta;
  if (rule->size > 0 && event.has_meta()) event.meta().SerializeToString(&meta);
  size_t dropped = 0;
  const int64_t delta = s->AppendAt(
      event.offset(), rule->size > 0 ? event.payload() : std::string(),
      std::move(meta), at_ms, &dropped);
  bytes_ = static_cast<size_t>(static_cast<int64_t>(bytes_) + delta);
  if (rule->size > 0) {
    ++entries_;
    entries_ -= dropped;
    fifos_[index].push_back(Record{s->id(), event.offset(), at_ms});
    bytes_ += kRecordBytes;
  }
  ++stats_.appended;
  if (bytes_ > options_.max_bytes) Enforce();
  return true;
}

void HistoryStore::PopRecord(std::deque<Record>* fifo, bool expired) {
  const Record r = fifo->front();
  fifo->pop_front();
  bytes_ -= kRecordBytes;
  auto it = by_id_.find(r.stream);
  if (it == by_id_.end()) return;
  const size_t freed = it->second->DropFront(r.offset);
  if (freed == 0) return;  // dropped already (the stream's size, a ttl)
  bytes_ -= freed;
  --entries_;
  ++(expired ? stats_.expired : stats_.evicted);
  // Memory pressure takes a stream with its last event: what remains of
  // it would be a position only, which costs as much as an event.
  if (!expired && it->second->entries().empty()) DeleteStream(it->second);
}

void HistoryStore::DeleteStream(HistoryStream* s) {
  if (options_.mirror) {
    const size_t index = RuleIndex(&s->rule());
    if (index < mirrors_.size()) {
      mirrors_[index].forgotten = std::max(mirrors_[index].forgotten, s->top());
    }
  }
  bytes_ -= StreamOverhead(*s);
  by_id_.erase(s->id());
  streams_.erase(absl::string_view(s->channel()));
  ++stats_.streams_evicted;
}

void HistoryStore::Tick() {
  const int64_t now = Now();
  const auto& rules = options_.rules.rules();
  for (size_t i = 0; i < fifos_.size(); ++i) {
    if (rules[i].ttl.count() <= 0) continue;
    const int64_t cutoff = now - rules[i].ttl.count();
    std::deque<Record>& fifo = fifos_[i];
    while (!fifo.empty() && fifo.front().at_ms <= cutoff) {
      PopRecord(&fifo, /*expired=*/true);
    }
  }
  if (bytes_ > options_.max_bytes) Enforce();
}

void HistoryStore::Enforce() {
  // Oldest event first, over every rule's records.
  while (bytes_ > options_.max_bytes) {
    std::deque<Record>* oldest = nullptr;
    for (std::deque<Record>& fifo : fifos_) {
      if (!fifo.empty() &&
          (oldest == nullptr || fifo.front().at_ms < oldest->front().at_ms)) {
        oldest = &fifo;
      }
    }
    if (oldest == nullptr) break;
    PopRecord(oldest, /*expired=*/false);
  }
  // Then streams without events (offsets-only streams, streams whose
  // events expired), oldest created first; one pass at most (a stream that
  // still keeps events goes to the back).
  for (size_t n = stream_order_.size(); n > 0 && bytes_ > options_.max_bytes;
       --n) {
    const uint64_t id = stream_order_.front();
    stream_order_.pop_front();
    bytes_ -= kOrderBytes;
    auto it = by_id_.find(id);
    if (it == by_id_.end()) continue;  // deleted already
    HistoryStream* s = it->second;
    if (!s->entries().empty()) {
      stream_order_.push_back(id);
      bytes_ += kOrderBytes;
      continue;
    }
    DeleteStream(s);
  }
}

}  // namespace channel
