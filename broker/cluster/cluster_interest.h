#ifndef CHANNEL_BROKER_CLUSTER_CLUSTER_INTEREST_H_
#define CHANNEL_BROKER_CLUSTER_CLUSTER_INTEREST_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "proto/channel.pb.h"

namespace channel {

// Channel interest shared between the brokers of a cluster (--nats), so
// that a publish no other broker has subscribers for never leaves its
// broker (docs/PROTOCOL.md "Cluster mode": interest). Each broker tells the
// others, on one NATS subject, which channels gained or lost their local
// subscribers (ClusterInterest messages, numbered); each keeps every other
// broker's set and forwards a publish only where one of them wants it.
//
// The promise of an Ack stays whole: a Subscribe that added interest is
// acknowledged only once every broker this one knows has applied the
// addition (WaitFor: they answer ACK), so a publish entering any of them
// after the Ack is forwarded. A broker skips forwarding only while its view
// is complete (`Wanted`): its start-up window has passed (every live broker
// answers a HELLO at once and sends a HEARTBEAT every second, so all are
// known by then), it holds every known broker's whole set (a first contact,
// a lost message or a re-join: it asks for a snapshot and forwards
// everything until that is in), and its own loop is not stalled (a loop
// that missed half the expiry may have been dropped by the others:
// forwards everything and re-synchronises). A broker silent for `expiry` is
// dropped: no one waits for it any more.
//
// Queue groups travel the same way (LocalQueue; Options::on_queue tells
// what the others have): they are acknowledged and snapshotted like
// channels but never make a channel Wanted, and a re-sync keeps them until
// the snapshot says which are gone (so their keys' bindings survive it).
//
// Owned by the broker thread (ClusterNode); `publish` sends one message on
// the subject (dropped while NATS is down: numbering shows the loss).
// Messages come from other brokers only (NATS no-echo). Costs: Wanted is one
// hash lookup; each message is linear in the channels it names; a snapshot
// is linear in this broker's channels.
class ClusterInterest {
 public:
  using Clock = std::chrono::steady_clock;
  using Publish = std::function<void(const std::string& bytes)>;

  struct Options {
    // Silent this long: a broker is dropped.
    Clock::duration expiry = std::chrono::seconds(5);
    // After (re)connecting, how long until every live broker is known
    // (a HELLO's answers are one NATS round trip; heartbeats every second).
    Clock::duration window = std::chrono::seconds(2);
    // A snapshot goes out in parts of about this many bytes of names.
    size_t max_part_bytes = 256 << 10;
    // How many other brokers are heard elsewhere (the presence subject);
    // more than this class knows means one tells no interest (an older
    // version, in a rolling upgrade): not selective. Null: not checked.
    std::function<size_t()> brokers_heard;
    // Another broker's queue group `group` of `channel` gained its first
    // member there (joined=true) or lost its last one, as this broker
    // learns it (a snapshot's differences included). Broker thread.
    std::function<void(const std::string& broker, const std::string& channel,
                       const std::string& group, bool joined)>
        on_queue;
    // `broker` left the view (BYE, gone, expired, NATS lost), after its
    // queue groups were left through on_queue.
    std::function<void(const std::string& broker)> on_dropped;
  };

  ClusterInterest(std::string broker_id, Publish publish, Options options);

  // This broker's own interest: `channel` gained its first local subscriber
  // (first=true) or lost its last.
  void Local(const std::string& channel, bool first);
  // The same for a queue group: `channel`'s `group` gained its first local
  // member or lost its last. Told to the others like a channel (an Ack
  // waits for them: WaitFor), but never makes a channel Wanted: queue
  // events go to the broker their member is on (docs/PROTOCOL.md).
  void LocalQueue(const std::string& channel, const std::string& group,
                  bool first);

  // Whether a publish on `channel` must go to the other brokers.
  bool Wanted(absl::string_view channel, Clock::time_point now) const;

  // When some broker has not yet applied every addition this one made so
  // far (or the start-up window runs), keeps `done` and runs it once all
  // have, and returns true; false (done dropped) when nothing is pending.
  // `done` runs inside a later call of this class: it must not call back
  // into it synchronously (post instead).
  bool WaitFor(std::function<void()> done, Clock::time_point now);

  // A message from the subject. Malformed ones are counted and ignored.
  void OnMessage(absl::string_view bytes, Clock::time_point now);
  // NATS (re)connected: a new view starts (window), announced by a HELLO.
  void OnConnected(Clock::time_point now);
  // NATS lost: what others told is stale; waiters are dropped (the
  // broker closes its clients, so no Ack is owed).
  void OnDisconnected();
  // Every second or so: heartbeat, expiry, sync retries, waiters.
  void Tick(Clock::time_point now);
  // This broker leaves (shutdown): the others drop it at once instead of
  // waiting `expiry` for it.
  void Leave();
  // Brokers some waiter still waits for (to probe: a crashed one says no
  // BYE, and waiting `expiry` for it would hold every Ack that long).
  std::vector<std::string> Unconfirmed() const;
  // `broker` has no NATS connection any more (NATS said so): dropped.
  void Gone(const std::string& broker, Clock::time_point now);

  size_t remote_brokers() const { return remote_.size(); }
  bool Knows(const std::string& broker) const {
    return remote_.contains(broker);
  }
  // Whether publishes are forwarded only where wanted now.
  bool selective(
      Clock::time_point now) const;  // see Options::brokers_heard too
  size_t waiting() const { return waiters_.size(); }
  uint64_t malformed() const { return malformed_; }
  uint64_t syncs_requested() const { return syncs_requested_; }
  // Brokers dropped: silent for `expiry`, said BYE, NATS said gone.
  uint64_t dropped_expired() const { return dropped_expired_; }
  uint64_t dropped_bye() const { return dropped_bye_; }
  uint64_t dropped_gone() const { return dropped_gone_; }

 private:
  struct Remote {
    Clock::time_point last_heard;
    uint64_t last_seq = 0;
    uint64_t acked = 0;      // our messages it applied, up to this seq
    bool synced = false;     // its whole set is known
    bool receiving = false;  // a snapshot's first part came, not its last
    Clock::time_point sync_requested;
    absl::flat_hash_set<std::string> channels;
    // Its queue groups (QueueKey). Kept through a re-sync until the
    // snapshot replaces them: `stale` holds those not yet confirmed by it.
    absl::flat_hash_set<std::string> queues;
    absl::flat_hash_set<std::string> stale;
  };
  struct Waiter {
    uint64_t seq = 0;  // our last ADD when it started
    Clock::time_point not_before;
    std::function<void()> done;
  };

  uint64_t Send(v1::ClusterInterest::Kind kind,
                const std::vector<absl::string_view>& channels = {},
                const std::vector<absl::string_view>& queues = {},
                absl::string_view target = {}, uint64_t acked_seq = 0,
                bool first = false, bool last = false);
  // (channel, group) as one set key, and back.
  static std::string QueueKey(absl::string_view channel,
                              absl::string_view group);
  static void SplitQueueKey(absl::string_view key, std::string* channel,
                            std::string* group);
  void AddRemoteQueue(const std::string& broker, Remote& remote,
                      std::string key);
  void RemoveRemoteQueue(const std::string& broker, Remote& remote,
                         const std::string& key);
  void TellQueue(const std::string& broker, const std::string& key,
                 bool joined);
  void SendSnapshot(const std::string& to);
  void Resync(const std::string& broker, Remote& remote, Clock::time_point now);
  void SetSynced(Remote& remote, bool synced);
  void AddRemote(Remote& remote, const std::string& channel);
  void Unwant(const std::string& channel);  // one broker fewer wants it
  void RemoveRemote(Remote& remote, const std::string& channel);
  void ClearRemote(Remote& remote);
  void Drop(absl::flat_hash_map<std::string, Remote>::iterator it);
  // Drops `broker` if known, counts it in `counter`, runs ready waiters.
  void Dropped(const std::string& broker, uint64_t* counter,
               Clock::time_point now);
  // Runs the waiters every known broker has acknowledged, window passed.
  void Complete(Clock::time_point now);

  const std::string broker_id_;
  const Publish publish_;
  const Options options_;
  absl::flat_hash_set<std::string> local_;
  absl::flat_hash_set<std::string> local_queues_;  // QueueKey
  absl::flat_hash_map<std::string, Remote> remote_;
  // Channel -> how many other brokers want it.
  absl::flat_hash_map<std::string, uint32_t> wanted_;
  size_t unsynced_ = 0;  // remotes with synced == false
  bool connected_ = false;
  Clock::time_point window_end_;
  Clock::time_point last_tick_;
  uint64_t seq_ = 0;
  uint64_t last_add_ = 0;  // seq of our last ADD
  std::deque<Waiter> waiters_;
  uint64_t malformed_ = 0;
  uint64_t syncs_requested_ = 0;
  uint64_t dropped_expired_ = 0, dropped_bye_ = 0, dropped_gone_ = 0;
  v1::ClusterInterest scratch_;   // what Send writes
  v1::ClusterInterest incoming_;  // what OnMessage parses
  std::string bytes_;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_CLUSTER_CLUSTER_INTEREST_H_
