#ifndef CHANNEL_GATEWAY_APP_HELD_EVENTS_H_
#define CHANNEL_GATEWAY_APP_HELD_EVENTS_H_

#include <cstddef>
#include <deque>
#include <string>
#include <utility>

namespace channel {

// Connection events (connect, join, leave, close) a worker could not
// publish because its broker link was down, in order, until the link is
// back. Bounded in bytes: past `max_bytes` an event is refused (the caller
// counts it dropped). One worker's, on its thread.
class HeldEvents {
 public:
  struct Event {
    std::string client;  // the key
    std::string json;
    bool key_end = false;
  };

  explicit HeldEvents(size_t max_bytes) : max_bytes_(max_bytes) {}

  // False when it does not fit (nothing held then).
  bool Hold(Event event) {
    const size_t cost = Cost(event);
    if (bytes_ + cost > max_bytes_) return false;
    bytes_ += cost;
    events_.push_back(std::move(event));
    return true;
  }
  bool empty() const { return events_.empty(); }
  size_t size() const { return events_.size(); }
  const Event& front() const { return events_.front(); }
  void pop_front() {
    bytes_ -= Cost(events_.front());
    events_.pop_front();
  }

 private:
  static size_t Cost(const Event& e) {
    return e.client.size() + e.json.size() + sizeof(Event);
  }

  const size_t max_bytes_;
  size_t bytes_ = 0;
  std::deque<Event> events_;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_APP_HELD_EVENTS_H_
