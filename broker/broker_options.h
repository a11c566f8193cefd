#ifndef CHANNEL_BROKER_BROKER_OPTIONS_H_
#define CHANNEL_BROKER_BROKER_OPTIONS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace channel {

// Everything main.cc reads from flags, in one value so tests can build a
// broker without flags. Defaults match the flags' defaults.
struct BrokerOptions {
  std::string listen_host = "0.0.0.0";
  uint16_t port = 2206;
  std::string auth_token;  // empty: no authentication

  uint32_t max_frame_bytes = 16 << 20;  // total frame length
  size_t max_queued_bytes = 32 << 20;   // per connection output queue
  size_t max_channel_name_bytes = 256;
  size_t max_channels_per_connection = 10000;
  // Names in one Subscribe, Unsubscribe or Publish: bounds a frame's work.
  size_t max_channels_per_request = 2000;
  size_t max_connections = 100000;

  std::chrono::milliseconds hello_timeout{5000};
  std::chrono::milliseconds heartbeat_interval{10000};
  std::chrono::milliseconds idle_timeout{35000};
};

}  // namespace channel

#endif  // CHANNEL_BROKER_BROKER_OPTIONS_H_
