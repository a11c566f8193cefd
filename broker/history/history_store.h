#ifndef CHANNEL_BROKER_HISTORY_HISTORY_STORE_H_
#define CHANNEL_BROKER_HISTORY_HISTORY_STORE_H_

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "broker/history/history_stream.h"
#include "common/history/history_rules.h"
#include "proto/channel.pb.h"

namespace channel {

struct HistoryStoreOptions {
  HistoryRules rules;
  // Everything the store holds (events, streams, bookkeeping) stays under
  // this; past it the oldest events go first (a stream goes with its last
  // one), then streams without events; a dropped stream's next event
  // starts a new epoch.
  size_t max_bytes = 256 << 20;
  // Most events one recovery or one read returns.
  uint32_t recover_max = 300;
  // Most payload bytes one recovery or one read returns (a reply frame,
  // a link's queue): past it a read is truncated and a recovery fails.
  size_t max_reply_bytes = 4 << 20;
  // The broadcast channel ("all") gets an offsets-only stream, so that a
  // gateway can tell exactly whether it missed a send_to_all.
  bool broadcast_offsets = true;
  // Cluster mode: the store sequences nothing; it mirrors the events of
  // each rule's JetStream stream (BeginMirror, AppendAt), whose sequence
  // numbers are the offsets.
  bool mirror = false;
};

struct HistoryStats {
  uint64_t appended = 0;         // events given an offset
  uint64_t evicted = 0;          // events dropped for --history_max_bytes
  uint64_t expired = 0;          // events dropped for their ttl
  uint64_t streams_evicted = 0;  // empty streams dropped for the byte bound
  uint64_t recoveries = 0;       // recoveries that succeeded
  uint64_t recoveries_failed = 0;
  uint64_t reads = 0;  // history reads
};

// The broker's history (the embedded, one-broker store): per history
// channel a HistoryStream, the broker being the sequencer, so every event of
// such a channel gets exactly one offset whoever publishes it (every
// publish goes through Router::Publish). Memory is bounded as a whole
// (max_bytes, oldest first); a restart loses it all, and every stream
// starts with a new epoch, so a returning client is told, never misled.
//
// Broker thread only. Pointers and references into the store are valid
// until its next non-const call.
class HistoryStore {
 public:
  using Clock = std::function<int64_t()>;  // milliseconds, monotonic

  explicit HistoryStore(HistoryStoreOptions options, Clock clock = nullptr);

  // The rule of `channel`, or nullptr: not a history channel. No
  // allocation; O(rules) glob matches.
  const HistoryRule* RuleFor(absl::string_view channel) const;

  // The index of `rule` (a pointer RuleFor gave) among the flags' rules;
  // rules().size() for the broadcast rule.
  size_t RuleIndex(const HistoryRule* rule) const {
    return static_cast<size_t>(rule - options_.rules.rules().data());
  }

  // The publish path (one broker): gives `event` (its channel set) the next
  // offset and the epoch of its channel and keeps it when the rule keeps
  // events. False (event untouched): not a history channel, or a mirror.
  bool Append(v1::Event* event);

  // Mirror mode. Rule `rule`'s stream has epoch `epoch` (all its channels
  // share it: a JetStream stream), and this store will see every event of
  // the rule after offset `complete_from`, in order; events up to it (the
  // stream's kept past) may come first. Called again after the stream
  // was replaced (a new epoch): the rule's streams start over.
  void BeginMirror(size_t rule, std::string epoch, uint64_t complete_from);
  // Keeps an event sequenced elsewhere: channel, offset and epoch set, the
  // offset above every one given before for the rule; `at_ms` when it was
  // stored, on this store's clock. False: not mirrored (no such rule,
  // another epoch, an old offset).
  bool AppendAt(const v1::Event& event, int64_t at_ms);
  // Mirror mode: events of `rule` up to `offset` may have been missed
  // (the stream dropped some before this store saw them): no recovery of
  // the rule's channels from a position before `offset`. O(streams).
  void Overrun(size_t rule, uint64_t offset);
  // The last offset given to AppendAt for `rule` (0: none).
  uint64_t applied(size_t rule) const {
    return rule < mirrors_.size() ? mirrors_[rule].applied : 0;
  }

  // Where `channel`'s stream stands; offset 0 of the store's own epoch
  // when it has had no event (nothing is created; a mirror: the last
  // offset it applied for the rule, of the rule's epoch). False: not a
  // history channel.
  bool Position(const std::string& channel, v1::StreamPosition* out);

  struct Read {
    v1::StreamPosition position;  // top and epoch when read; recovered
    std::vector<const HistoryEntry*> entries;  // oldest first
    bool truncated = false;
  };
  // The events after `since` (recovery): all of them, or none with
  // recovered false (another epoch, some no longer kept, more than
  // recover_max or max_reply_bytes). Offset 0 of the store's epoch means
  // "from the stream's first event". FailedPrecondition: not a history
  // channel. Creates nothing.
  // `max_bytes` (0: options' max_reply_bytes) may only lower the bound.
  absl::StatusOr<Read> Recover(const std::string& channel,
                               const v1::StreamPosition& since,
                               size_t max_bytes = 0);
  // The last `limit` (at most recover_max) events before offset `before`
  // (0: the newest), oldest first, cut at max_reply_bytes (truncated).
  absl::StatusOr<Read> Last(const std::string& channel, uint64_t limit,
                            uint64_t before, size_t max_bytes = 0);

  // An entry of `read` as the Event a subscriber gets.
  static void FillEvent(const std::string& channel, const std::string& epoch,
                        const HistoryEntry& entry, v1::Event* out);

  // Drops expired events and enforces the byte bound; call about once a
  // second (events past their ttl are never returned in between).
  void Tick();

  // The store's clock (milliseconds).
  int64_t NowMs() const { return clock_(); }

  const HistoryStoreOptions& options() const { return options_; }
  const HistoryStats& stats() const { return stats_; }
  size_t bytes() const { return bytes_; }
  size_t stream_count() const { return streams_.size(); }
  size_t entry_count() const { return entries_; }

 private:
  // A kept event, in append order per rule (one ttl per rule, so this is
  // also expiry order). Stale records (the event dropped for its stream's
  // size) are skipped when they reach the front.
  struct Record {
    uint64_t stream;
    uint64_t offset;
    int64_t at_ms;
  };
  static constexpr size_t kRecordBytes = sizeof(Record);

  // Mirror mode, per rule.
  struct Mirror {
    std::string epoch;  // empty: not begun (every recovery fails)
    uint64_t complete_from = 0;
    uint64_t applied = 0;
    // The highest top of the rule's streams dropped for the byte bound:
    // their events after a client's position may be unknown here now.
    uint64_t forgotten = 0;
    // Every event of a channel without a stream after this is known.
    uint64_t floor() const { return std::max(complete_from, forgotten); }
  };

  HistoryStream* Find(absl::string_view channel);
  // The events of `s` after `after` into read->entries: all (true), or
  // none (false: some no longer kept, over recover_max or `bound`).
  bool CollectAfter(const HistoryStream& s, uint64_t after, size_t bound,
                    Read* read);
  Read RecoverMirror(const HistoryRule& rule, const std::string& channel,
                     HistoryStream* s, const v1::StreamPosition& since,
                     size_t bound);
  HistoryStream* FindOrCreate(const std::string& channel,
                              const HistoryRule* rule);
  // Pops `fifo`'s front, dropping its event if still kept; evicted (not
  // expired), a stream left without events goes too.
  void PopRecord(std::deque<Record>* fifo, bool expired);
  void Enforce();
  std::string NewEpoch();
  int64_t Now() const { return clock_(); }
  size_t ReplyBound(size_t asked) const {
    return asked == 0 ? options_.max_reply_bytes
                      : std::min(asked, options_.max_reply_bytes);
  }
  // What a stream costs besides its events: itself, its name, its slots
  // in the two maps.
  static size_t StreamOverhead(const HistoryStream& s) {
    return sizeof(HistoryStream) + s.channel().capacity() +
           s.epoch().capacity() + 96;
  }
  // A slot of stream_order_ (counted until popped, the stream's or not).
  static constexpr size_t kOrderBytes = sizeof(uint64_t);
  void DeleteStream(HistoryStream* s);

  const HistoryStoreOptions options_;
  const Clock clock_;
  const HistoryRule broadcast_rule_;
  std::mt19937_64 random_;
  // The epoch of "no stream yet": positions of channels that have had no
  // event since this store began (a restart changes it, as every epoch).
  std::string store_epoch_;
  uint64_t next_id_ = 1;
  // Keyed by a view of the stream's own name.
  absl::flat_hash_map<absl::string_view, std::unique_ptr<HistoryStream>>
      streams_;
  absl::flat_hash_map<uint64_t, HistoryStream*> by_id_;
  std::vector<std::deque<Record>> fifos_;  // one per rule
  std::vector<Mirror> mirrors_;            // one per rule in mirror mode
  std::deque<uint64_t> stream_order_;      // stream ids, in creation order
  size_t bytes_ = 0;
  size_t entries_ = 0;
  HistoryStats stats_;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_HISTORY_HISTORY_STORE_H_
