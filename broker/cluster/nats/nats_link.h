#ifndef CHANNEL_BROKER_CLUSTER_NATS_NATS_LINK_H_
#define CHANNEL_BROKER_CLUSTER_NATS_NATS_LINK_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "asio/io_context.hpp"
#include "proto/channel.pb.h"

struct __natsConnection;
struct __natsSubscription;

namespace channel {

// A broker's link to a NATS cluster (--nats), with Debian's libnats: no
// clustering code of ours. A channel is the subject "chan.<hex of its
// bytes>", so no channel name can inject subject syntax (".", "*", ">",
// spaces, control bytes). A broker subscribes to a channel's subject only
// while it has local subscribers, publishes every local publish there as
// the encoded Event (each broker decodes it once and fans out shared
// frames), and never receives its own publishes back (no_echo).
//
// Threads: libnats calls back on its own threads (one shared delivery
// thread for all subscriptions); every callback only copies what it got
// and hands it to the broker's io_context (one post per burst), where all
// state lives. Public methods are for the broker thread. The destructor (broker
// thread) closes the connection; posts still queued then find the link gone
// and do nothing.
class NatsLink {
 public:
  struct Options {
    std::vector<std::string> servers;  // nats://host:port
    std::string token;
    std::string user;
    std::string password;
    std::string name = "channel-broker";
    // This broker's id: with it, the link holds the subject other brokers
    // probe to learn that this one is gone (Probe), and can probe them.
    std::string broker_id;
    // Liveness of the NATS connection: a PING every interval, and the link
    // counts as lost after `max_pings_out` unanswered ones. libnats'
    // default (2 min) would leave a silently cut broker "up" for minutes.
    int ping_interval_ms = 2000;
    int max_pings_out = 2;
    // Pending limit per subscription before NATS reports a slow consumer.
    int max_pending_messages = 1 << 20;
    int max_pending_bytes = 256 << 20;
    // Bytes received from NATS and not yet taken by the broker thread; past
    // it messages are dropped, counted and their channels' subscribers told
    // (on_dropped), as for a slow consumer.
    size_t max_inbox_bytes = 64 << 20;
  };
  struct Callbacks {
    // An event published on another broker (broker thread).
    std::function<void(const v1::Envelope& event)> on_event;
    // Connected (true) or lost (false, with the reason) (broker thread).
    std::function<void(bool up, const std::string& reason)> on_state;
    // Messages of `channel` were dropped: NATS's slow consumer, or this
    // link's inbox bound (broker thread).
    std::function<void(const std::string& channel)> on_dropped;
    // A message on kPresenceSubject from another broker (broker thread).
    std::function<void(const std::string& bytes)> on_presence;
    // A message on kInterestSubject from another broker (broker thread).
    std::function<void(const std::string& bytes)> on_interest;
    // A probed broker has no connection to NATS any more (broker thread).
    std::function<void(const std::string& broker)> on_gone;
    // A message on this broker's queue subject (QueueSubject): another
    // broker's ClusterQueueEvent for a member here (broker thread).
    std::function<void(const std::string& bytes)> on_queue;
  };
  struct Stats {
    uint64_t messages_in = 0, bytes_in = 0, messages_out = 0, bytes_out = 0;
    uint64_t reconnects = 0, disconnects = 0;
    uint64_t dropped_slow_consumer = 0, dropped_undecodable = 0;
    uint64_t dropped_inbox_full = 0;  // over Options::max_inbox_bytes
  };

  NatsLink(asio::io_context& io, Options options, Callbacks callbacks);
  ~NatsLink();

  // Starts connecting (and keeps retrying in the background).
  absl::Status Start();

  // False while NATS cannot be reached.
  bool up() const { return up_; }
  // Subscribes to `channel`'s subject (first=true) or unsubscribes.
  void Interest(const std::string& channel, bool first);
  // Publishes one event (Envelope{event}) on its channel's subject.
  absl::Status Forward(const v1::Envelope& event);

  // Brokers' shared presence (ClusterPresence messages): outside the
  // "chan." namespace of channels.
  static constexpr const char* kPresenceSubject = "chansys.presence";
  // Brokers' shared channel interest (ClusterInterest messages).
  static constexpr const char* kInterestSubject = "chansys.interest";
  // Publish on those subjects; dropped while NATS is down.
  void PublishPresence(const std::string& bytes) {
    PublishControl(kPresenceSubject, bytes);
  }
  void PublishInterest(const std::string& bytes) {
    PublishControl(kInterestSubject, bytes);
  }
  // Sends a ClusterQueueEvent to broker `broker` (its queue subject,
  // "chansys.queue.<hex id>"); false while NATS is down or the publish
  // fails.
  bool PublishQueue(absl::string_view broker, const std::string& bytes);
  // Asks NATS whether broker `broker` is still connected: a request on the
  // subject it holds while connected, answered by NATS itself with "no
  // responders" (on_gone) once it has no connection. No answer otherwise
  // (it may be alive, or NATS may not know yet: probe again later).
  void Probe(absl::string_view broker);

  static std::string Subject(absl::string_view channel);
  // The channel of a subject made by Subject(), or false.
  static bool ChannelOf(absl::string_view subject, std::string* channel);

  // Waits up to `timeout_ms` for what was published to reach NATS (a
  // shutdown's last words); nothing while NATS is down.
  void Flush(int timeout_ms);
  // Shutdown: stops taking the interest subject and other brokers' probes
  // (they are answered "no responders" from then on), so that little is
  // in flight to this link when libnats closes (a Flush after it makes
  // NATS apply it).
  void StopControl();

  // The connection (for JetStreamHistory); null before Start.
  __natsConnection* connection() const { return connection_; }
  // Keeps `closure` alive until libnats is closed (this link's end):
  // callbacks of others on this connection may run until then.
  void KeepUntilClosed(std::shared_ptr<void> closure) {
    kept_.push_back(std::move(closure));
  }

  const Stats& stats() const { return stats_; }
  size_t subjects() const { return subscriptions_.size(); }

 private:
  friend struct NatsCallbacks;  // libnats' callbacks (nats_link.cc)
  // What a message is: an event, or one of the brokers' control subjects.
  enum class Control : uint8_t { kNone, kPresence, kInterest, kGone, kQueue };
  struct Shared;  // what they share with the broker thread
  // Runs `fn` on the broker thread if the link still exists then.
  void Post(std::function<void(NatsLink*)> fn);
  // `count` messages of `subject` dropped at the inbox bound.
  void Dropped(const std::string& subject, uint64_t count);
  // Tells on_dropped about `subject`'s channel.
  void TellDropped(const std::string& subject);
  // One message from NATS, on the broker thread.
  void Receive(Control control, const std::string& subject,
               const std::string& data);
  void PublishControl(const char* subject, const std::string& bytes);

  asio::io_context& io_;
  const Options options_;
  Callbacks callbacks_;
  std::shared_ptr<Shared> self_;
  __natsConnection* connection_ = nullptr;
  absl::flat_hash_map<std::string, __natsSubscription*> subscriptions_;
  __natsSubscription* presence_sub_ = nullptr;
  __natsSubscription* interest_sub_ = nullptr;
  __natsSubscription* alive_sub_ = nullptr;  // others' probes of us
  __natsSubscription* probe_sub_ = nullptr;  // NATS's answers to ours
  __natsSubscription* queue_sub_ = nullptr;  // queue events for us
  bool up_ = false;
  Stats stats_;
  std::string scratch_;                      // the encoded event of a Forward
  std::vector<std::shared_ptr<void>> kept_;  // see KeepUntilClosed
  v1::Envelope incoming_;                    // reused for every event received
};

}  // namespace channel

#endif  // CHANNEL_BROKER_CLUSTER_NATS_NATS_LINK_H_
