#ifndef CHANNEL_BROKER_CLUSTER_CLUSTER_NODE_H_
#define CHANNEL_BROKER_CLUSTER_CLUSTER_NODE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"
#include "broker/broker_options.h"
#include "broker/cluster/broker_proxy.h"
#include "broker/cluster/cluster_interest.h"
#include "broker/cluster/cluster_link.h"
#include "broker/cluster/cluster_presence.h"
#include "broker/cluster/jetstream/jetstream_history.h"
#include "broker/cluster/nats/nats_link.h"
#include "broker/presence/presence_service.h"
#include "broker/routing/router.h"

namespace channel {

// This broker as one node of a cluster (--nats): the NATS link that carries
// events between brokers, the channel interest and presence shared through
// it, and what the broker does when either fails. Events from other brokers
// go to the Router's local subscribers; local interest and publishes reach
// NATS through the Router (this is its ClusterLink): a publish goes to NATS
// only when another broker wants its channel (ClusterInterest). Queue
// groups span the brokers: each other broker with members of a group is
// one member here (BrokerProxy), and an event chosen for it goes to that
// broker's queue subject. Broker thread only.
class ClusterNode : public ClusterLink {
 public:
  struct Hooks {
    // NATS was lost: the broker's clients would see only part of the
    // traffic; close them all (they move to another broker).
    std::function<void(const std::string& reason)> on_lost;
    // Events of a channel were dropped between brokers: close this
    // subscriber of it (it re-subscribes and hears of the gap).
    std::function<void(Subscriber* subscriber)> close_subscriber;
  };

  ClusterNode(asio::io_context& io, const BrokerOptions& options,
              const std::string& broker_id, Router* router,
              PresenceService* presence, HistoryStore* history, Hooks hooks);
  ~ClusterNode() override;

  // Connects to NATS (and keeps retrying), starts sharing presence and,
  // with --history, following and storing history in JetStream
  // (`history`: the Router's store, in mirror mode; null: none).
  absl::Status Start();
  void Stop();

  // ClusterLink.
  bool up() const override { return nats_->up(); }
  void Interest(const std::string& channel, bool first) override;
  absl::Status Forward(const v1::Envelope& event) override;
  bool WaitForInterest(std::function<void()> done) override;
  bool SharesQueues() const override { return interest_ != nullptr; }
  bool WantedElsewhere(const std::string& channel) const override {
    return interest_ == nullptr ||
           interest_->Wanted(channel, ClusterInterest::Clock::now());
  }
  void QueueInterest(const std::string& channel, const std::string& group,
                     bool first) override;

  // Shared channel interest: null with --nats_interest_window_ms=0.
  const ClusterInterest* interest() const { return interest_.get(); }
  // Local publishes no other broker wanted (never sent to NATS).
  uint64_t skipped() const { return skipped_; }
  // Queue groups across brokers: events sent to another broker's members
  // and received for ours, messages that could not be read, and the
  // (broker, channel, group) memberships of other brokers known here.
  struct QueueStats {
    uint64_t sent = 0, received = 0, malformed = 0;
    size_t remote_groups = 0;
  };
  const QueueStats& queue_stats() const { return queue_stats_; }
  const NatsLink& nats() const { return *nats_; }
  const ClusterPresence& presence() const { return *presence_; }
  ClusterPresence& mutable_presence() { return *presence_; }
  // History on JetStream (--history): null without.
  const JetStreamHistory* history() const { return history_.get(); }
  // Empty when history (if any) is ready; else what it waits for.
  std::string HistoryNotReadyReason() const {
    return history_ == nullptr ? std::string() : history_->NotReadyReason();
  }

 private:
  void OnState(bool up, const std::string& reason);
  void OnDropped(const std::string& channel);
  // Another broker's stand-in in queue groups, made on first use.
  BrokerProxy* Proxy(const std::string& broker);
  // Sends `event`, chosen for queue group `group`, to `broker`'s members.
  bool SendQueued(const std::string& broker, const std::string& group,
                  const v1::Event& event);
  // A ClusterQueueEvent for a member here.
  void OnQueueEvent(const std::string& bytes);
  void OnOverrun(HistoryStore* history, size_t rule);
  void ArmPresenceTick();
  // One extra tick when the interest window ends (Acks waiting for it).
  void ArmWindowTick();
  // While Acks wait, every 200 ms: asks NATS whether the brokers they wait
  // for are still connected (a crashed one is dropped at once).
  void ArmProbe();

  const std::string broker_id_;
  Router* const router_;
  PresenceService* const presence_service_;
  Hooks hooks_;
  std::unique_ptr<NatsLink> nats_;
  std::unique_ptr<ClusterPresence> presence_;
  std::unique_ptr<ClusterInterest> interest_;
  uint64_t skipped_ = 0;
  QueueStats queue_stats_;
  absl::flat_hash_map<std::string, std::unique_ptr<BrokerProxy>> proxies_;
  v1::ClusterQueueEvent queue_scratch_;  // SendQueued's
  v1::ClusterQueueEvent queue_in_;       // OnQueueEvent's
  v1::Envelope queue_envelope_;
  std::string queue_bytes_;
  // Uses nats_'s connection: declared after it, destroyed before it.
  std::unique_ptr<JetStreamHistory> history_;
  asio::steady_timer presence_tick_;
  asio::steady_timer window_tick_;
  asio::steady_timer probe_;
  bool probing_ = false;
  std::chrono::milliseconds window_;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_CLUSTER_CLUSTER_NODE_H_
