#ifndef CHANNEL_BROKER_PHP_WORK_QUEUES_H_
#define CHANNEL_BROKER_PHP_WORK_QUEUES_H_

#include <algorithm>
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
// Bounded: items per queue, items over all queues, number of queues and
// bytes over all queues, where an item's bytes are what it really costs
// (ItemCost: its text plus the string object, its slot in the queue and the
// allocator's overhead; a two-byte "N;" costs 33 bytes of heap and counts
// 40, not 2) and a queue's own cost is counted while it exists
// (QueueCost); when a bound would be passed the new item is refused (Enqueue
// says which and the caller counts and logs it). Items outlive the connection
// that enqueued them. Owned by the broker's io thread.
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
    size_t max_items = 1000000;  // over all queues
  };

  enum class EnqueueResult {
    kQueued,
    kQueueFull,
    kTooManyQueues,
    kNoMemory,      // max_bytes
    kTooManyItems,  // max_items
  };

  // What holding one item of `size` bytes costs the broker, in bytes: the
  // std::string in the deque (with the deque's block and map share), and
  // for texts past the small-string buffer their heap block as malloc
  // rounds it. Measured against the heap in the tests.
  static size_t ItemCost(size_t size) {
    constexpr size_t kSlot = 40;    // 32-byte string + its deque block share
    constexpr size_t kInline = 15;  // libstdc++'s small-string capacity
    if (size <= kInline) return kSlot;
    // malloc: 8 bytes of header, 16-byte granules, at least 32 bytes.
    const size_t block = std::max<size_t>(32, (size + 1 + 8 + 15) / 16 * 16);
    return kSlot + block;
  }

  // What one queue costs besides its items (counted in bytes() while it
  // exists): its slot in the map (name and Queue; the table may be half
  // empty after it grows, so twice), its two deques, which libstdc++ gives
  // a map of 8 pointers and a 512-byte block even when empty, and its
  // name's heap block. About 1.5 KiB; measured against the heap in the
  // tests.
  static size_t QueueCost(size_t name_size) {
    // malloc chunks of the deque's map (64 bytes) and block (512 bytes).
    constexpr size_t kEmptyDeque = 80 + 528;
    const size_t name_heap =
        name_size <= 15
            ? 0
            : std::max<size_t>(32, (name_size + 1 + 8 + 15) / 16 * 16);
    return 2 * (sizeof(std::string) + sizeof(Queue)) + 2 * kEmptyDeque +
           name_heap;
  }

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
  // What the items and queues held cost (ItemCost, QueueCost), not just
  // the items' texts' length.
  size_t bytes() const { return bytes_; }

 private:
  struct Queue {
    std::deque<std::string> items;
    absl::flat_hash_set<Consumer*> watchers;
    std::deque<Consumer*> consumers;  // reserved, in order; each once
  };

  Queue* Get(absl::string_view name, bool create);
  // Creates queue `name` (the caller checked max_queues) and counts it.
  Queue* Create(absl::string_view name);
  void Dispatch(const std::string& name, Queue* queue);
  void MaybeErase(absl::string_view name);

  const Limits limits_;
  absl::flat_hash_map<std::string, Queue> queues_;
  absl::flat_hash_map<Consumer*, absl::flat_hash_set<std::string>> watching_;
  size_t items_ = 0;
  size_t bytes_ = 0;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_PHP_WORK_QUEUES_H_
