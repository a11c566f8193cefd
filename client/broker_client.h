#ifndef CHANNEL_CLIENT_BROKER_CLIENT_H_
#define CHANNEL_CLIENT_BROKER_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "asio/io_context.hpp"
#include "proto/channel.pb.h"

namespace channel {

struct BrokerClientOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 2206;
  std::string auth_token;
  std::string client_name = "channel-client";
  // First reconnect delay and its ceiling (exponential, full jitter).
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{5000};
  // TCP connect plus Hello/Welcome must finish within this time.
  std::chrono::milliseconds connect_timeout{5000};
  // Heartbeat sent when nothing was written for this long. The link is
  // dropped (and re-established) when nothing is received for the broker's
  // advertised idle timeout, or idle_timeout if the broker gives none.
  std::chrono::milliseconds heartbeat_interval{10000};
  std::chrono::milliseconds idle_timeout{35000};
  uint32_t max_frame_bytes = 16 << 20;
  // Bound on bytes queued towards the broker; Publish fails past it.
  size_t max_queued_bytes = 64 << 20;
  // Channels per Subscribe frame when re-subscribing after a reconnect.
  size_t resubscribe_batch = 1000;
};

struct BrokerClientStats {
  uint64_t connects = 0;          // successful handshakes
  uint64_t disconnects = 0;       // links lost after a handshake
  uint64_t connect_failures = 0;  // attempts that never completed a handshake
  uint64_t events_received = 0;
  uint64_t publishes_sent = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
};

// Asynchronous client of channel-broker: connect, Hello, subscribe,
// unsubscribe, publish, heartbeats. Reconnects with exponential backoff and
// jitter, and after every reconnect re-subscribes every channel it holds.
//
// All methods and callbacks run on the io_context's thread (one thread).
// Events published while the link is down are not replayed (the broker keeps
// no history); Publish reports Unavailable instead of losing them silently.
class BrokerClient {
 public:
  // `status` is OK once the broker confirmed the request (Ack); Unavailable
  // when the link dropped first; the broker's error otherwise. `receivers`
  // is the broker's count for a Publish.
  using Done =
      std::function<void(const absl::Status& status, uint64_t receivers)>;
  using EventHandler = std::function<void(v1::Event& event)>;
  // connected=false carries the reason the link went down.
  using StateHandler =
      std::function<void(bool connected, absl::string_view reason)>;

  BrokerClient(asio::io_context& io, BrokerClientOptions options);
  ~BrokerClient();  // Stop()s; callbacks never run after it returns.
  BrokerClient(const BrokerClient&) = delete;
  BrokerClient& operator=(const BrokerClient&) = delete;

  void set_event_handler(EventHandler handler);
  void set_state_handler(StateHandler handler);

  // Starts connecting; keeps the link up until Stop.
  void Start();
  // Closes the link and stops reconnecting. Pending requests fail.
  void Stop();

  // Adds channels to the client's set and, when connected, subscribes now.
  // Kept across reconnects. When not connected, `done` gets Unavailable but
  // the channels stay in the set and are subscribed on the next connect.
  void Subscribe(const std::vector<std::string>& channels, Done done = nullptr);
  void Unsubscribe(const std::vector<std::string>& channels,
                   Done done = nullptr);

  // Publishes `payload` to `channels`. Unavailable when not connected,
  // ResourceExhausted when the outgoing queue is full; `done` (optional) runs
  // once the broker routed it.
  absl::Status Publish(const std::vector<std::string>& channels,
                       absl::string_view payload,
                       const v1::Metadata* meta = nullptr, Done done = nullptr);

  bool connected() const;
  size_t subscription_count() const;
  const BrokerClientStats& stats() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace channel

#endif  // CHANNEL_CLIENT_BROKER_CLIENT_H_
