#ifndef CHANNEL_BROKER_CLUSTER_JETSTREAM_JETSTREAM_HISTORY_H_
#define CHANNEL_BROKER_CLUSTER_JETSTREAM_JETSTREAM_HISTORY_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"
#include "broker/history/history_store.h"
#include "broker/routing/history_sink.h"
#include "proto/channel.pb.h"

struct __natsConnection;
struct __natsSubscription;
struct __jsCtx;

namespace channel {

// History in a cluster (--nats with --history), on NATS JetStream: one
// stream per --history rule ("CHANNEL_H_<hash of the pattern>", subjects
// "chanh.<hash>.<hex channel>", MaxMsgsPerSubject = the rule's size,
// MaxAge = its ttl, file storage, replicated), so offsets are agreed by
// every broker and survive any broker's death.
//
// - Sequencing: a history channel's publish is a JetStream publish (async;
//   HistorySink::Store answers once JetStream has stored it). The offset of
//   an event is its stream sequence: increasing per channel, not
//   contiguous (docs/PROTOCOL.md "History"). The epoch is a random value
//   the broker that makes the stream writes into its description: a
//   stream deleted and made again is another epoch.
// - Delivery: every broker follows every stream with an ordered consumer
//   (libnats: in order, no gap, recreated on its own after a loss) into its
//   HistoryStore in mirror mode, and delivers what is newer than the
//   stream was when it began following (`deliver`), in stream order, to
//   its local subscribers. Recoveries and reads are answered from that
//   mirror, on the broker thread, in the same turn as a subscribe: no gap
//   and no duplicate at the seam.
// - Bounds: events wait for the broker thread in an inbox bounded in bytes;
//   past it the stream's feed is dropped and followed again from the next
//   offset not yet applied (nothing lost, nothing twice: a generation
//   number tells the old feed's stragglers apart). Publishes in flight are
//   bounded (max_pending; past it Store says BACKPRESSURE) and time out.
//
// Threads: JetStream calls that wait for a reply (stream setup, consumer
// creation) run on one worker thread of this class; libnats calls back on
// its own threads; everything else, and every public method, is on the
// broker thread. Destroy before the NatsLink whose connection it uses;
// `keep_alive()` must be held until libnats is closed (NatsLink does).
class JetStreamHistory : public HistorySink {
 public:
  struct Options {
    // Replicas of each stream; 0: 3, or 1 when NATS cannot place 3.
    int replicas = 0;
    size_t max_inbox_bytes = 64 << 20;
    int64_t max_pending = 1 << 16;  // publishes awaiting JetStream's ack
    std::chrono::milliseconds publish_timeout{5000};
    std::chrono::milliseconds api_timeout{3000};  // stream/consumer setup
  };
  struct Stats {
    uint64_t stored = 0;          // publishes JetStream acknowledged
    uint64_t store_failures = 0;  // refused, failed or timed out
    uint64_t received = 0;        // events applied from the feeds
    uint64_t resubscribes = 0;    // feeds followed again after an overflow
    uint64_t stalls = 0;          // feeds followed again after stopping
    uint64_t overruns = 0;        // jumps: events dropped before seen
    uint64_t dropped_inbox_full = 0;
    uint64_t undecodable = 0;
  };
  // An event newer than the stream was when this broker began following
  // it: deliver to local subscribers (broker thread, stream order).
  using Deliver = std::function<void(const v1::Envelope& event)>;
  // JetStream dropped events of rule `rule` before this broker saw them
  // (its feed lagged behind a channel's limit, Keep, or the events' age):
  // local subscribers of the rule's channels may have missed some; close
  // them now, before the next event is delivered (they come back from
  // their position, and recovery says recovered:false). Broker thread.
  using Overrun = std::function<void(size_t rule)>;

  JetStreamHistory(asio::io_context& io, HistoryStore* store, Options options,
                   Deliver deliver, Overrun overrun = nullptr);

  // What JetStream keeps per channel for a rule of `size`: more than the
  // size, so that a broker whose feed lags behind a burst still sees every
  // event before JetStream drops it; a lag past it drops events unseen,
  // which Apply finds as a jump in the offsets (Overrun).
  static int64_t Keep(uint32_t size) { return 2 * int64_t{size} + 100; }
  ~JetStreamHistory() override;

  // NATS is connected (again): set up what is not set up yet (streams,
  // feeds), on the worker thread. Broker thread.
  void OnConnected(__natsConnection* connection);
  void OnDisconnected();
  // Every rule's stream is set up and its kept past loaded: recoveries
  // are as exact as they can be.
  bool ready() const;
  // What ready() waits for, for logs and /readyz (empty when ready).
  std::string NotReadyReason() const;

  // HistorySink.
  bool Handles(absl::string_view channel) const override;
  absl::Status Store(const v1::Event& event, Done done) override;
  // Waits at most kMaxWait, for at most kMaxWaiters readers at once (past
  // it: no wait).
  bool WaitApplied(absl::string_view channel,
                   const v1::StreamPosition& position,
                   std::function<void()> fn) override;
  static constexpr std::chrono::milliseconds kMaxWait{2000};
  static constexpr size_t kMaxWaiters = 10000;

  // The stream of rule `pattern`, and the subject of `channel` in it.
  static std::string StreamName(absl::string_view pattern);
  static std::string Subject(absl::string_view pattern,
                             absl::string_view channel);

  const Stats& stats() const { return stats_; }
  size_t pending_publishes() const { return pending_.size(); }
  // Shared with libnats' callbacks; see the class comment.
  std::shared_ptr<void> keep_alive() const;

 private:
  friend struct JetStreamCallbacks;  // libnats' callbacks (the .cc)
  struct Shared;
  struct Feed;  // one rule's stream, as this broker follows it
  struct Pending {
    Done done;
    std::chrono::steady_clock::time_point deadline;
  };
  struct Waiter {
    std::function<void()> fn;
    std::chrono::steady_clock::time_point deadline;
  };
  // Runs the waiters of `rule` whose offset was applied or whose wait is
  // over at `now`.
  void ReleaseWaiters(size_t rule, std::chrono::steady_clock::time_point now);

  // Worker thread: creates or updates rule `rule`'s stream, then follows
  // it from `start` (0: from its first kept event).
  void SetUp(size_t rule, uint64_t start);
  // Broker thread: the events that arrived, in order.
  void Apply(size_t rule, uint64_t generation, uint64_t seq, int64_t time_ns,
             const std::string& data);
  void Acked(uint64_t id, absl::Status status);
  // Follows `rule`'s stream again from the first event not applied, unless
  // a setup is running (which checks Overflowed when it ends).
  void Resubscribe(size_t rule);
  bool Overflowed(size_t rule) const;
  // Drops the feed's subscription and follows the stream again from the
  // first event not applied (unless a setup is running).
  void Refollow(size_t rule);
  // Worker thread: compares the stream's last offset with what was
  // applied; a feed behind for two probes in a row without progress is
  // followed again (once a second, see ArmTick).
  void Probe(size_t rule);
  // Queues SetUp for every feed without a subscription or a job.
  void SetUpMissing();
  void ArmTick();

  asio::io_context& io_;
  HistoryStore* const store_;
  const Options options_;
  Deliver deliver_;
  Overrun overrun_;
  std::shared_ptr<Shared> shared_;
  std::vector<std::unique_ptr<Feed>> feeds_;  // one per rule
  // Publishes awaiting their ack, by id (ids and deadlines both increase).
  std::map<uint64_t, Pending> pending_;
  // Readers waiting for the feed, per rule, by offset.
  std::vector<std::multimap<uint64_t, Waiter>> waiters_;
  size_t waiting_ = 0;
  uint64_t next_id_ = 1;
  bool up_ = false;  // NATS connected
  asio::steady_timer tick_;
  v1::Envelope incoming_;  // reused for every event applied
  std::string scratch_;    // an encoded event of Store
  Stats stats_;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_CLUSTER_JETSTREAM_JETSTREAM_HISTORY_H_
