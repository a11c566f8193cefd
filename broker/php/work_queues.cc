#include "broker/php/work_queues.h"

#include <algorithm>

namespace channel {

WorkQueues::Queue* WorkQueues::Get(absl::string_view name, bool create) {
  auto it = queues_.find(name);
  if (it != queues_.end()) return &it->second;
  if (!create || queues_.size() >= limits_.max_queues) return nullptr;
  return Create(name);
}

WorkQueues::Queue* WorkQueues::Create(absl::string_view name) {
  bytes_ += QueueCost(name.size());
  return &queues_[std::string(name)];
}

void WorkQueues::Watch(Consumer* consumer, absl::string_view name) {
  Queue* queue = Get(name, true);
  if (queue == nullptr) return;  // too many queues; the watch has no effect
  queue->watchers.insert(consumer);
  watching_[consumer].insert(std::string(name));
}

void WorkQueues::Unwatch(Consumer* consumer, absl::string_view name) {
  auto it = queues_.find(name);
  if (it == queues_.end()) return;
  Queue& queue = it->second;
  queue.watchers.erase(consumer);
  queue.consumers.erase(
      std::remove(queue.consumers.begin(), queue.consumers.end(), consumer),
      queue.consumers.end());
  auto w = watching_.find(consumer);
  if (w != watching_.end()) {
    w->second.erase(name);
    if (w->second.empty()) watching_.erase(w);
  }
  MaybeErase(name);
}

WorkQueues::EnqueueResult WorkQueues::Enqueue(absl::string_view name,
                                              absl::string_view data) {
  const size_t cost = ItemCost(data.size());
  auto it = queues_.find(name);
  Queue* queue = it != queues_.end() ? &it->second : nullptr;
  // A new queue must fit with its first item.
  const size_t needed = cost + (queue == nullptr ? QueueCost(name.size()) : 0);
  if (bytes_ + needed > limits_.max_bytes) return EnqueueResult::kNoMemory;
  if (items_ >= limits_.max_items) return EnqueueResult::kTooManyItems;
  if (queue == nullptr) {
    if (queues_.size() >= limits_.max_queues) {
      return EnqueueResult::kTooManyQueues;
    }
    queue = Create(name);
  }
  if (queue->items.size() >= limits_.max_items_per_queue) {
    MaybeErase(name);  // one just created for nothing
    return EnqueueResult::kQueueFull;
  }
  queue->items.emplace_back(data);
  ++items_;
  bytes_ += cost;
  Dispatch(std::string(name), queue);
  return EnqueueResult::kQueued;
}

void WorkQueues::Reserve(Consumer* consumer) {
  auto w = watching_.find(consumer);
  if (w == watching_.end()) return;
  // Copy: dispatching may erase nothing here (the consumer still watches),
  // but keep the iteration independent of the queues' maps anyway.
  const std::vector<std::string> names(w->second.begin(), w->second.end());
  for (const std::string& name : names) {
    Queue* queue = Get(name, false);
    if (queue == nullptr) continue;
    if (std::find(queue->consumers.begin(), queue->consumers.end(), consumer) ==
        queue->consumers.end()) {
      queue->consumers.push_back(consumer);
    }
    Dispatch(name, queue);
  }
}

void WorkQueues::Dispatch(const std::string& name, Queue* queue) {
  while (!queue->items.empty() && !queue->consumers.empty()) {
    Consumer* consumer = queue->consumers.front();
    queue->consumers.pop_front();
    if (!consumer->SendQueueItem(name, queue->items.front())) continue;
    bytes_ -= ItemCost(queue->items.front().size());
    --items_;
    queue->items.pop_front();
  }
}

void WorkQueues::RemoveAll(Consumer* consumer) {
  auto w = watching_.find(consumer);
  if (w == watching_.end()) return;
  const std::vector<std::string> names(w->second.begin(), w->second.end());
  for (const std::string& name : names) Unwatch(consumer, name);
}

size_t WorkQueues::WatchCount(Consumer* consumer) const {
  auto w = watching_.find(consumer);
  return w == watching_.end() ? 0 : w->second.size();
}

void WorkQueues::MaybeErase(absl::string_view name) {
  auto it = queues_.find(name);
  if (it != queues_.end() && it->second.items.empty() &&
      it->second.watchers.empty() && it->second.consumers.empty()) {
    bytes_ -= QueueCost(it->first.size());
    queues_.erase(it);
  }
}

}  // namespace channel
