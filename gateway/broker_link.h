#ifndef CHANNEL_GATEWAY_BROKER_LINK_H_
#define CHANNEL_GATEWAY_BROKER_LINK_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "asio/io_context.hpp"
#include "client/broker_client.h"
#include "gateway/delivery.h"

namespace channel {

class Worker;

// The gateway's one connection to the broker, shared by all workers.
//
// Interest-based routing: it subscribes to a group's channel when the first
// worker gains a local member and unsubscribes when the last worker loses
// its last one; events are posted only to workers with members, batched per
// worker per pass of the link's loop.
//
// Runs on its own io_context thread ("the link thread"); every method except
// up() must be called there (workers post to it). Requests from one worker
// are handled in the order posted, so a join posted before a send is
// subscribed at the broker before the send is published.
class BrokerLink {
 public:
  // Called on the link thread once the request took effect (or failed).
  using Done = std::function<void(const absl::Status&)>;

  BrokerLink(asio::io_context& io, BrokerClientOptions options,
             std::string gateway_id);

  void SetWorkers(std::vector<Worker*> workers) {
    workers_ = std::move(workers);
  }
  void Start();
  void Stop();

  // Any thread: the broker link is up and its subscriptions are live.
  bool up() const { return up_.load(std::memory_order_acquire); }

  // `worker` gained its first local member of `group`. `done` (optional)
  // runs once the broker subscription is live.
  void AddInterest(int worker, const std::string& group, Done done);
  // `worker` has a member already; `done` runs once the group is live.
  void WhenLive(const std::string& group, Done done);
  // `worker` lost its last local member of `group`.
  void RemoveInterest(int worker, const std::string& group);

  // Publishes to a group (or to everyone when group is null).
  void Publish(const std::string* group, std::string message,
               std::vector<uint64_t> exclude, Done done);

  const std::string& gateway_id() const { return gateway_id_; }
  size_t group_count() const { return groups_.size(); }
  size_t broker_subscriptions() const { return client_.subscription_count(); }
  const BrokerClientStats& client_stats() const { return client_.stats(); }
  uint64_t events_received() const { return events_received_; }

 private:
  struct GroupState {
    uint64_t worker_mask = 0;  // bit w: worker w has local members
    bool live = false;         // broker subscription acknowledged
    uint64_t epoch = 0;        // which Subscribe made this state
    std::vector<Done> waiters;
  };

  void OnEvent(v1::Event& event);
  void OnState(bool connected, absl::string_view reason);
  void MarkLive(const std::string& group, const absl::Status& status,
                uint64_t epoch = 0);
  void FlushDeliveries();

  asio::io_context& io_;
  BrokerClient client_;
  const std::string gateway_id_;
  std::vector<Worker*> workers_;
  std::atomic<bool> up_{false};
  absl::flat_hash_map<std::string, GroupState> groups_;
  std::vector<std::vector<Delivery>> pending_;  // per worker
  bool flush_posted_ = false;
  uint64_t events_received_ = 0;
  uint64_t next_epoch_ = 1;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_BROKER_LINK_H_
