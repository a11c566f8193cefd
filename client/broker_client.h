#ifndef CHANNEL_CLIENT_BROKER_CLIENT_H_
#define CHANNEL_CLIENT_BROKER_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "asio/io_context.hpp"
#include "common/history/history_rules.h"
#include "common/presence/presence_rules.h"
#include "net/framed_stream.h"
#include "proto/channel.pb.h"

namespace channel {

struct BrokerClientOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 2206;
  // Several brokers (a cluster, --nats): when non-empty, used instead of
  // host:port, one after the other: every failed or lost link moves to the
  // next one.
  std::vector<std::pair<std::string, uint16_t>> endpoints;
  std::string auth_token;
  std::string client_name = "channel-client";
  // First reconnect delay and its ceiling (exponential, full jitter).
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{5000};
  // TCP connect plus Hello/Welcome must finish within this time.
  std::chrono::milliseconds connect_timeout{5000};
  // Heartbeat sent when nothing was written for this long. The link is
  // dropped (and re-established) when nothing is received for the broker's
  // advertised idle timeout, or idle_timeout if the broker gives none.
  std::chrono::milliseconds heartbeat_interval{10000};
  std::chrono::milliseconds idle_timeout{35000};
  uint32_t max_frame_bytes = 16 << 20;
  // Bound on bytes queued towards the broker; every request fails past it
  // (ResourceExhausted), Subscribe and Unsubscribe included.
  size_t max_queued_bytes = 64 << 20;
  // Bound on PublishQuiet requests the broker has not yet confirmed.
  size_t max_unconfirmed = 100000;
  // Channels per Subscribe frame when re-subscribing after a reconnect.
  size_t resubscribe_batch = 1000;
  // Ask the broker for sole-interest grants (HoldsAlone; docs/PROTOCOL.md).
  bool sole_interest = false;
  // Hello.link: this client carries many end users (a gateway worker); the
  // broker holds more channels for it and answers a publish it cannot take
  // with BACKPRESSURE rather than cutting the link (docs/PROTOCOL.md).
  bool link = false;
};

struct BrokerClientStats {
  uint64_t connects = 0;          // successful handshakes
  uint64_t disconnects = 0;       // links lost after a handshake
  uint64_t connect_failures = 0;  // attempts that never completed a handshake
  uint64_t events_received = 0;
  uint64_t publishes_sent = 0;
  uint64_t quiet_failures = 0;  // PublishQuiet reported to the failure handler
  uint64_t sole_grants = 0;     // sole-interest grants received
  uint64_t sole_releases = 0;   // revoked grants released
  uint64_t moves = 0;  // GoAways followed: a draining broker left for another
  StreamCounters stream;  // bytes and frames over every link
};

// Asynchronous client of channel-broker: connect, Hello, subscribe,
// unsubscribe, publish, heartbeats. Reconnects with exponential backoff and
// jitter, and after every reconnect re-subscribes every channel it holds.
// A draining broker's GoAway moves it to the next broker while the link
// still works (broker_client_link.cc, "Moving"); the state handler hears
// the switch as a short disconnect.
//
// All methods and callbacks run on the io_context's thread (one thread).
// Events published while the link is down are not replayed unless the
// channel has history and the channel source gives a position (Since);
// Publish reports Unavailable instead of losing them silently.
class BrokerClient {
 public:
  // The channel set's owner, for an owner that keeps the set anyway (a
  // gateway worker's membership index): the client then keeps no copy.
  // Subscribe and Unsubscribe still send their requests but record
  // nothing; after every (re)connect the client subscribes exactly what
  // ForEachChannel lists; channels of a refused re-subscribe go to the
  // subscription-lost handler and the owner must drop them. The owner
  // changes its set before asking the client to subscribe or unsubscribe.
  // Same thread as the client.
  class ChannelSource {
   public:
    virtual ~ChannelSource() = default;
    virtual size_t ChannelCount() const = 0;
    virtual void ForEachChannel(
        absl::FunctionRef<void(const std::string&)> fn) const = 0;
    // Where the owner stands in history channel `channel` (the last offset
    // it delivered, and its epoch): a re-subscribe after a reconnect then
    // asks the broker to resume from there (Subscribe.since). False: no
    // position (not a history channel, or nothing known yet).
    virtual bool Since(const std::string& /*channel*/,
                       v1::StreamPosition* /*out*/) const {
      return false;
    }
    // Whether `channel` is in the set (default: not known, true).
    virtual bool Holds(const std::string& /*channel*/) const { return true; }
  };

  // `status` is OK once the broker confirmed the request (Ack); Unavailable
  // when the link dropped first; the broker's error otherwise. `receivers`
  // is the broker's count for a Publish.
  using Done =
      std::function<void(const absl::Status& status, uint64_t receivers)>;
  using EventHandler = std::function<void(v1::Event& event)>;
  // connected=false carries the reason the link went down.
  using StateHandler =
      std::function<void(bool connected, absl::string_view reason)>;
  // A PublishQuiet that was refused, or whose fate is unknown because the
  // link dropped before the broker confirmed it. `tag` is the caller's.
  using QuietFailureHandler =
      std::function<void(uint64_t tag, const absl::Status& status)>;

  // Channels of a re-subscribe after a reconnect that the broker refused
  // (`status`): they are no longer in the client's set and receive nothing.
  using SubscriptionLostHandler = std::function<void(
      const std::vector<std::string>& channels, const absl::Status& status)>;

  BrokerClient(asio::io_context& io, BrokerClientOptions options);
  ~BrokerClient();  // Stop()s; callbacks never run after it returns.
  BrokerClient(const BrokerClient&) = delete;
  BrokerClient& operator=(const BrokerClient&) = delete;

  void set_event_handler(EventHandler handler);
  void set_state_handler(StateHandler handler);
  void set_quiet_failure_handler(QuietFailureHandler handler);
  void set_subscription_lost_handler(SubscriptionLostHandler handler);
  // A PublishQuiet the broker confirmed (cumulatively; called once per
  // publish, in publish order). `tag` is the caller's.
  using QuietConfirmedHandler = std::function<void(uint64_t tag)>;
  void set_quiet_confirmed_handler(QuietConfirmedHandler handler);
  // Every StreamPosition of a Subscribe's Ack (history channels: where the
  // subscription starts, and for a re-subscribe with since whether the
  // broker resumed it), before the request's own callback runs.
  using StreamHandler = std::function<void(const v1::StreamPosition& position)>;
  void set_stream_handler(StreamHandler handler);
  // Before Start; `source` outlives the client. Null: the client's own set.
  void set_channel_source(const ChannelSource* source);
  // Runs on every new link once the broker welcomed it, before anything
  // is re-subscribed: the presence reports it returns (a gateway's
  // snapshot) reach the broker before the re-subscribes.
  using WelcomedHandler = std::function<std::vector<v1::Presence>()>;
  void set_welcomed_handler(WelcomedHandler handler);

  // Starts connecting; keeps the link up until Stop.
  void Start();
  // Closes the link and stops reconnecting. Pending requests fail.
  void Stop();

  // Adds channels to the client's set and, when connected, subscribes now.
  // Kept across reconnects. When not connected, `done` gets Unavailable but
  // the channels stay in the set and are subscribed on the next connect.
  // A request whose frame would exceed the frame limit, or that does not
  // fit the outgoing queue, fails with InvalidArgument / ResourceExhausted
  // and changes nothing.
  //
  // The set is the library's own copy of what it must re-subscribe after a
  // reconnect, so that a caller never has to replay its state, unless the
  // caller owns the set (set_channel_source).
  void Subscribe(const std::vector<std::string>& channels, Done done = nullptr);
  void Unsubscribe(const std::vector<std::string>& channels,
                   Done done = nullptr);
  // Queue groups (docs/PROTOCOL.md "Queue groups"): joins `channels` as a
  // member of queue group `group`, sharing their events with the group's
  // other members (one member per event, the same one per Metadata.key).
  // Kept across reconnects like Subscribe; the client's own set, whatever
  // the channel source.
  void SubscribeQueue(const std::string& group,
                      const std::vector<std::string>& channels,
                      Done done = nullptr);
  void UnsubscribeQueue(const std::string& group,
                        const std::vector<std::string>& channels,
                        Done done = nullptr);

  // Publishes `payload` to `channels`. Unavailable when not connected,
  // ResourceExhausted when the outgoing queue is full; `done` (optional) runs
  // once the broker routed it. With no_echo this connection does not get
  // the events itself even when subscribed.
  absl::Status Publish(const std::vector<std::string>& channels,
                       absl::string_view payload,
                       const v1::Metadata* meta = nullptr, Done done = nullptr,
                       bool no_echo = false);

  // Publishes without an Ack per message: the broker confirms these
  // cumulatively, at most once per read pass. Nothing is called on success;
  // the quiet failure handler gets `tag` if the broker refuses it or the
  // link drops before it was confirmed. Immediate errors as Publish, plus
  // ResourceExhausted past max_unconfirmed. no_echo as for Publish.
  absl::Status PublishQuiet(const std::vector<std::string>& channels,
                            absl::string_view payload, const v1::Metadata* meta,
                            uint64_t tag, bool no_echo = false);

  // Sends a presence report (gateways; docs/PROTOCOL.md). Unavailable when
  // not connected; the broker answers only refusals (Error).
  absl::Status SendPresence(const v1::Presence& presence);

  // The same with a request id: `done` gets the broker's Ack or its Error
  // (presence_full: nothing of the report was applied).
  void SendPresence(v1::Presence presence, Done done);

  // Asks the broker how many connections and users are in `group`.
  using PresenceDone = std::function<void(
      const absl::Status& status, uint64_t connections, uint64_t users)>;
  void QueryPresence(const std::string& group, PresenceDone done);

  // Reads history (docs/PROTOCOL.md "History"): `reply` is valid during
  // the call only. Unavailable when not connected; FailedPrecondition when
  // the channel has no history.
  using HistoryDone =
      std::function<void(const absl::Status& status, v1::HistoryReply* reply)>;
  void QueryHistory(const v1::HistoryQuery& query, HistoryDone done);

  // The history policy of the broker of the current (or last) link, from
  // its Welcome: which channels have offsets.
  const HistoryRules& history_rules() const;
  // Its presence policy (which groups have member lists), likewise.
  const PresenceRules& presence_rules() const;
  // Whether that broker keeps publishes marked Metadata.keep that nobody
  // took (Welcome.keeps_events), likewise.
  bool keeps_events() const;

  // Sole interest (options.sole_interest): true while the link is up and
  // the broker has told this client that it is `channel`'s only
  // subscriber. A caller may then deliver its own publishes to `channel`
  // itself and not publish them: nobody else would receive them. Revokes
  // are answered here, after which this returns false, so a caller that
  // asks before each publish (on this thread) never skips a subscriber the
  // broker has acknowledged. Unsubscribing drops the channel's grant.
  bool HoldsAlone(absl::string_view channel) const;
  size_t held_alone_count() const;

  bool connected() const;
  size_t subscription_count() const;
  const BrokerClientStats& stats() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace channel

#endif  // CHANNEL_CLIENT_BROKER_CLIENT_H_
