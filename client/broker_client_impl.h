#ifndef CHANNEL_CLIENT_BROKER_CLIENT_IMPL_H_
#define CHANNEL_CLIENT_BROKER_CLIENT_IMPL_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "asio/steady_timer.hpp"
#include "client/broker_client.h"
#include "client/link_dialer.h"
#include "client/request_tracker.h"
#include "common/backoff.h"

namespace channel {

// BrokerClient's state. Its timers' handlers hold it weakly (it may go
// away with its BrokerClient while they are queued); BrokerClient detaches
// the user's callbacks on destruction.
// Each link is one FramedStream (framing, bounded queue, heartbeats, idle
// timeout) dialled by a LinkDialer; this class keeps the protocol:
// requests and their Acks, re-subscription, reconnects, and moving to
// another broker when the current one drains (GoAway).
//
// Requests (Subscribe, Publish, ...) live in broker_client_impl.cc; the
// link's life (dial, adopt, fail, move) in broker_client_link.cc.
class BrokerClient::Impl : public std::enable_shared_from_this<Impl>,
                           public FramedStream::Handler {
 public:
  Impl(asio::io_context& io, BrokerClientOptions options);
  ~Impl() override;

  void Start();
  void Stop();

  void Subscribe(const std::vector<std::string>& channels, Done done);
  void Unsubscribe(const std::vector<std::string>& channels, Done done);
  void SubscribeQueue(const std::string& group,
                      const std::vector<std::string>& channels, Done done);
  void UnsubscribeQueue(const std::string& group,
                        const std::vector<std::string>& channels, Done done);
  absl::Status Publish(const std::vector<std::string>& channels,
                       absl::string_view payload, const v1::Metadata* meta,
                       Done done, bool no_echo);
  absl::Status PublishQuiet(const std::vector<std::string>& channels,
                            absl::string_view payload, const v1::Metadata* meta,
                            uint64_t tag, bool no_echo);
  absl::Status SendPresence(const v1::Presence& presence);
  void SendPresence(v1::Presence presence, Done done);
  void QueryPresence(const std::string& group, PresenceDone done);
  void QueryHistory(const v1::HistoryQuery& query, HistoryDone done);
  const HistoryRules& history_rules() const { return history_rules_; }
  const PresenceRules& presence_rules() const { return presence_rules_; }
  bool keeps_events() const { return keeps_events_; }

  bool HoldsAlone(absl::string_view channel) const {
    return connected_ && !held_alone_.empty() && held_alone_.contains(channel);
  }
  size_t held_alone_count() const { return held_alone_.size(); }
  bool connected() const { return connected_; }
  size_t subscription_count() const {
    return source_ != nullptr ? source_->ChannelCount() : desired_.size();
  }
  const BrokerClientStats& stats() const { return stats_; }

  // FramedStream::Handler (the current link).
  void OnFrame(absl::string_view body) override;
  void OnInvalidFrame(absl::string_view error) override;
  void OnTimeout(FramedStream::Timeout which) override;
  void OnFinished(absl::string_view reason) override;

  EventHandler event_handler_;
  StateHandler state_handler_;
  QuietFailureHandler quiet_failure_handler_;
  SubscriptionLostHandler lost_handler_;
  QuietConfirmedHandler quiet_confirmed_handler_;
  StreamHandler stream_handler_;
  WelcomedHandler welcomed_handler_;
  const ChannelSource* source_ = nullptr;  // null: desired_ is the set

 private:
  // The next link while moving: dialled and welcomed, waiting for the
  // current link's requests to be answered. It has no subscriptions yet,
  // so nothing but an error or its end can come from it.
  class ParkedLink : public FramedStream::Handler {
   public:
    explicit ParkedLink(Impl* impl) : impl_(impl) {}
    void OnFrame(absl::string_view body) override;
    void OnInvalidFrame(absl::string_view error) override;
    void OnTimeout(FramedStream::Timeout which) override;
    void OnFinished(absl::string_view reason) override;

   private:
    Impl* const impl_;
  };

  // ---- requests (broker_client_impl.cc) ----
  static void BuildPublish(const std::vector<std::string>& channels,
                           absl::string_view payload, const v1::Metadata* meta,
                           v1::Publish* request);
  // Encodes and queues one request, checking the whole frame against the
  // broker's frame limit and the queue bound first.
  absl::Status SendRequest(const v1::Envelope& envelope);
  // Unavailable when a publish or presence request cannot go now: no link,
  // or the link is being left (moving: nothing new is started on it, so
  // that its requests in flight settle and the move leaves none unknown).
  absl::Status CheckCanStart() const;
  void HandleEnvelope();
  void OnInterest(const v1::Interest& interest);
  void QuietFailed(uint64_t tag, const absl::Status& status);
  // The set of channels to hold: desired_, or nothing when source_ owns it.
  void Hold(const std::vector<std::string>& channels);
  void Release(const std::string& channel);
  std::vector<std::string> HeldChannels() const;

  // ---- the link (broker_client_link.cc) ----
  const std::pair<std::string, uint16_t>& Endpoint() const;
  v1::Envelope MakeHello() const;
  void Dial();
  // A dialled, welcomed link becomes the current one: re-subscribes every
  // channel held; connected once the broker acknowledged them all.
  void Adopt(std::shared_ptr<FramedStream> stream, const v1::Welcome& welcome);
  void MarkConnected();
  // Tears the current link down (and a move in progress) without
  // scheduling a reconnect.
  void Drop(absl::string_view reason);
  // Link failed: drop it and reconnect after a backoff delay (or, while
  // moving with the next link ready, switch to it at once).
  void Fail(absl::string_view reason);
  // GoAway: the broker drains; dial the next broker while this link keeps
  // working, then switch once this link's requests have settled.
  void OnGoAway(const v1::GoAway& go_away);
  void DialNext();
  void MaybeSwitch();
  void Switch();
  void ParkedLost(absl::string_view reason);

  const BrokerClientOptions options_;
  // Before dialer_, which keeps a pointer into it from construction on.
  BrokerClientStats stats_;
  const std::pair<std::string, uint16_t> single_{options_.host, options_.port};
  size_t endpoint_ = 0;
  std::string host_;  // of the current link or attempt
  uint16_t port_ = 0;
  LinkDialer dialer_;  // one attempt at a time: a reconnect or a move
  asio::steady_timer retry_timer_;
  Backoff backoff_;
  std::shared_ptr<FramedStream> stream_;  // the current link, if any
  v1::Envelope envelope_;                 // reused for every received frame

  uint64_t generation_ = 0;  // bumped whenever the current link changes
  bool running_ = false;
  std::string last_broker_id_;  // of the last link welcomed, if any
  bool connected_ = false;      // stream_ and every re-subscribe acknowledged
  int resubscribes_pending_ = 0;
  uint32_t max_frame_bytes_ = 0;  // ours, or the broker's if smaller
  std::chrono::milliseconds idle_timeout_{0};  // the current link's

  // Moving (GoAway): the next link, once welcomed, and the deadline after
  // which the switch no longer waits for the current link's requests.
  bool moving_ = false;
  bool move_overdue_ = false;
  asio::steady_timer move_timer_;
  std::shared_ptr<FramedStream> next_;
  v1::Welcome next_welcome_;
  std::string next_host_;
  uint16_t next_port_ = 0;
  ParkedLink parked_{this};

  HistoryRules history_rules_;    // the current (or last) broker's
  PresenceRules presence_rules_;  // likewise
  bool keeps_events_ = false;     // likewise
  // The channels to hold, unless source_ owns them.
  absl::flat_hash_set<std::string> desired_;
  // Queue group memberships to hold, by group (SubscribeQueue).
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> queues_;
  // Sole-interest grants of the current link: channel -> grant id.
  absl::flat_hash_map<std::string, uint64_t> held_alone_;
  RequestTracker requests_;
};

}  // namespace channel

#endif  // CHANNEL_CLIENT_BROKER_CLIENT_IMPL_H_
