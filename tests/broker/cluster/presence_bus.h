#ifndef CHANNEL_TESTS_BROKER_CLUSTER_PRESENCE_BUS_H_
#define CHANNEL_TESTS_BROKER_CLUSTER_PRESENCE_BUS_H_

#include <algorithm>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "broker/cluster/cluster_presence.h"
#include "gtest/gtest.h"

namespace channel {

// Brokers sharing presence over a fake bus: every message published by one
// reaches every other (not itself), in order, when Deliver() runs; a broker
// can be cut off (its messages and the others' to it are lost).
class PresenceBus {
 public:
  struct Node {
    std::string id;
    PresenceTable table{1 << 20};
    std::unique_ptr<ClusterPresence> presence;
    bool connected = true;
    std::vector<std::string> told;  // occupancy it told: "+g", "-g"
  };

  Node& Add(const std::string& id) {
    auto node = std::make_unique<Node>();
    node->id = id;
    Node* n = node.get();
    n->presence = std::make_unique<ClusterPresence>(
        id, &n->table,
        [this, n](const std::string& bytes) {
          largest_ = std::max(largest_, bytes.size());
          if (n->connected) queue_.push_back({n, bytes});
        },
        std::chrono::seconds(5));
    n->presence->set_on_edge([n](const std::string& group, bool occupied) {
      n->told.push_back((occupied ? "+" : "-") + group);
    });
    nodes_.push_back(std::move(node));
    return *n;
  }

  size_t largest() const { return largest_; }

  // Every connected node ticks at `now`, then the bus delivers.
  void TickAll(ClusterPresence::Clock::time_point now) {
    for (auto& node : nodes_) {
      if (node->connected) node->presence->Tick(now);
    }
    Deliver(now);
  }

  void Deliver(ClusterPresence::Clock::time_point now) {
    while (!queue_.empty()) {
      auto [from, bytes] = queue_.front();
      queue_.pop_front();
      for (auto& node : nodes_) {
        if (node.get() != from && node->connected) {
          node->presence->OnMessage(bytes, now);
        }
      }
    }
  }

 private:
  std::vector<std::unique_ptr<Node>> nodes_;
  std::deque<std::pair<Node*, std::string>> queue_;
  size_t largest_ = 0;
};

inline v1::Presence Join(const std::string& group, int64_t connections,
                         std::vector<std::string> users = {},
                         bool reset = false) {
  v1::Presence p;
  p.set_reset(reset);
  v1::PresenceDelta* d = p.add_deltas();
  d->set_group(group);
  d->set_connections(connections);
  for (auto& u : users) d->add_users_joined(u);
  return p;
}

// What a broker does with a local client's report.
inline void Report(PresenceBus::Node& n, int reporter_key, uint64_t id,
                   const v1::Presence& p,
                   std::vector<std::unique_ptr<int>>* keys) {
  while (keys->size() <= static_cast<size_t>(reporter_key)) {
    keys->push_back(std::make_unique<int>());
  }
  const void* key = (*keys)[reporter_key].get();
  ASSERT_TRUE(n.table.Apply(key, p).ok());
  n.presence->LocalReport(key, id, p);
}

}  // namespace channel

#endif  // CHANNEL_TESTS_BROKER_CLUSTER_PRESENCE_BUS_H_
