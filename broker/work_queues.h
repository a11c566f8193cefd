#ifndef CHANNEL_BROKER_WORK_QUEUES_H_
#define CHANNEL_BROKER_WORK_QUEUES_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"

namespace channel {

// Workerman Channel's work queues (Channel\\Client::watch / enqueue /
// reserve, Channel\\Queue in v1.2.3): each enqueued item goes to exactly one
// consumer. A connection *watches* queues; each `reserve` makes it a
// consumer once on every queue it watches; an item goes to the consumer
// that reserved first, which then has to reserve again for the next one.
// Items wait in FIFO order while no consumer is ready.
//
// Bounded: items per queue, number of queues and bytes over all queues;
// when a bound would be passed the new item is refused (Enqueue returns
// false and the caller counts and logs it). Owned by the broker's io
// thread.
class WorkQueues {
 public:
  class Consumer {
   public:
    virtual ~Consumer() = default;
    // Sends one queue item (`data` is its PHP serialize() text). False when
    // the consumer could not take it (closing, or its output queue is
    // full): the item stays first in its queue.
    virtual bool SendQueueItem(absl::string_view queue,
                               absl::string_view data) = 0;
  };

  struct Limits {
    size_t max_items_per_queue = 100000;
    size_t max_queues = 10000;
    size_t max_bytes = 64 << 20;
  };

  enum class EnqueueResult { kQueued, kQueueFull, kTooManyQueues, kNoMemory };

  explicit WorkQueues(Limits limits) : limits_(limits) {}

  void Watch(Consumer* consumer, absl::string_view queue);
  void Unwatch(Consumer* consumer, absl::string_view queue);
  EnqueueResult Enqueue(absl::string_view queue, absl::string_view data);
  // `consumer` is ready for one item from each queue it watches.
  void Reserve(Consumer* consumer);
  // The consumer is gone: unwatch everything.
  void RemoveAll(Consumer* consumer);
  // Queues `consumer` watches (bounds its Watch calls).
  size_t WatchCount(Consumer* consumer) const;

  size_t queue_count() const { return queues_.size(); }
  size_t item_count() const { return items_; }
  size_t bytes() const { return bytes_; }

 private:
  struct Queue {
    std::deque<std::string> items;
    absl::flat_hash_set<Consumer*> watchers;
    std::deque<Consumer*> consumers;  // reserved, in order; each once
  };

  Queue* Get(absl::string_view name, bool create);
  void Dispatch(const std::string& name, Queue* queue);
  void MaybeErase(absl::string_view name);

  const Limits limits_;
  absl::flat_hash_map<std::string, Queue> queues_;
  absl::flat_hash_map<Consumer*, absl::flat_hash_set<std::string>> watching_;
  size_t items_ = 0;
  size_t bytes_ = 0;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_WORK_QUEUES_H_
