#ifndef CHANNEL_TESTS_SUPPORT_CLIENTS_TEST_BROKER_CLIENT_H_
#define CHANNEL_TESTS_SUPPORT_CLIENTS_TEST_BROKER_CLIENT_H_

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asio/io_context.hpp"
#include "client/broker_client.h"

namespace channel::testing {

struct ReceivedEvent {
  std::string channel;
  std::string payload;
  v1::Metadata meta;
};

// The payloads of `events`, in order.
inline std::vector<std::string> Payloads(
    const std::vector<ReceivedEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.payload);
  return out;
}

// BrokerClient on its own io thread, with blocking calls for tests. Every
// wait is on a condition (an Ack, an event count, a state change) with a
// deadline; none sleeps.
class TestBrokerClient {
 public:
  explicit TestBrokerClient(int port, std::string token = "",
                            std::string name = "test-client");
  ~TestBrokerClient();

  // Waits until the link is up with all subscriptions live (connects >= n).
  bool WaitConnected(int connects = 1, std::chrono::milliseconds timeout =
                                           std::chrono::seconds(10));
  bool WaitDisconnected(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));

  absl::Status Subscribe(const std::vector<std::string>& channels);
  absl::Status Unsubscribe(const std::vector<std::string>& channels);
  // Joins `channels` as a member of queue group `group`.
  absl::Status SubscribeQueue(const std::string& group,
                              const std::vector<std::string>& channels);
  // Publishes and waits for the broker's Ack; returns its receiver count.
  absl::StatusOr<uint64_t> Publish(const std::string& channel,
                                   const std::string& payload,
                                   const v1::Metadata* meta = nullptr);
  // One publish to several channels, waiting for the Ack.
  absl::StatusOr<uint64_t> PublishMany(const std::vector<std::string>& channels,
                                       const std::string& payload);
  // Publishes without waiting for an Ack.
  absl::Status PublishNoWait(const std::string& channel,
                             const std::string& payload);

  // Waits until at least n events arrived; returns all received so far.
  std::vector<ReceivedEvent> WaitForEvents(
      size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::vector<ReceivedEvent> Events();
  size_t EventCount();

 private:
  template <typename Fn>
  auto RunOnIo(Fn&& fn) -> decltype(fn());
  absl::StatusOr<uint64_t> Request(
      std::function<void(BrokerClient::Done)> issue);

  asio::io_context io_;
  std::unique_ptr<BrokerClient> client_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ReceivedEvent> events_;
  int connects_ = 0;
  bool connected_ = false;
};

}  // namespace channel::testing

#endif  // CHANNEL_TESTS_SUPPORT_CLIENTS_TEST_BROKER_CLIENT_H_
