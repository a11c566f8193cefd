#ifndef CHANNEL_TOOLS_BENCH_COMMON_LOAD_SHAPE_H_
#define CHANNEL_TOOLS_BENCH_COMMON_LOAD_SHAPE_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace channel::bench {

// One pub/sub load, the same for every backend.
//  fanout == 1: `subscribers` subscribers, each alone on its own channel;
//               publishes spread round robin over the channels.
//  fanout > 1:  `fanout` subscribers on one channel.
struct LoadShape {
  int publishers = 1;
  int subscribers = 100;
  int fanout = 1;
  size_t payload_bytes = 64;
  int64_t publishes = 100000;  // in total, split over the publishers
  int window = 64;             // unacknowledged publishes per publisher

  int64_t expected_deliveries() const {
    return publishes * (fanout > 1 ? fanout : 1);
  }
  int subscriber_count() const { return fanout > 1 ? fanout : subscribers; }
  std::string channel_of_subscriber(int i) const {
    return fanout > 1 ? "c0" : "c" + std::to_string(i);
  }
  std::string channel_of_publish(int64_t k) const {
    return fanout > 1 ? "c0" : "c" + std::to_string(k % subscribers);
  }
};

struct LoadResult {
  bool ok = false;
  std::string error;
  int64_t deliveries = 0;
  double seconds = 0;  // first publish to last delivery
};

// CPU seconds (user + system) a process has used, from /proc/PID/stat.
double ProcessCpuSeconds(int pid);
// Resident set size in KiB, from /proc/PID/status.
int64_t ProcessRssKib(int pid);

}  // namespace channel::bench

#endif  // CHANNEL_TOOLS_BENCH_COMMON_LOAD_SHAPE_H_
