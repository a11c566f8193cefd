#include "tests/support/clients/test_broker_client.h"

#include <future>

#include "asio/executor_work_guard.hpp"
#include "asio/post.hpp"
#include "spdlog/spdlog.h"

namespace channel::testing {

TestBrokerClient::TestBrokerClient(int port, std::string token,
                                   std::string name) {
  // Create spdlog's registry on this thread, before the io thread logs
  // through it: its lazy construction inside libspdlog is invisible to
  // ThreadSanitizer's instrumentation.
  spdlog::default_logger_raw();
  BrokerClientOptions options;
  options.port = static_cast<uint16_t>(port);
  options.auth_token = std::move(token);
  options.client_name = std::move(name);
  options.backoff_initial = std::chrono::milliseconds(20);
  options.backoff_max = std::chrono::milliseconds(200);
  client_ = std::make_unique<BrokerClient>(io_, options);
  client_->set_event_handler([this](v1::Event& event) {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back({event.channel(), event.payload(), event.meta()});
    cv_.notify_all();
  });
  client_->set_state_handler([this](bool connected, absl::string_view) {
    std::lock_guard<std::mutex> lock(mu_);
    connected_ = connected;
    if (connected) ++connects_;
    cv_.notify_all();
  });
  client_->Start();
  thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(io_);
    io_.run();
  });
}

TestBrokerClient::~TestBrokerClient() {
  RunOnIo([this] {
    client_.reset();
    return 0;
  });
  io_.stop();
  thread_.join();
}

template <typename Fn>
auto TestBrokerClient::RunOnIo(Fn&& fn) -> decltype(fn()) {
  std::packaged_task<decltype(fn())()> task(std::forward<Fn>(fn));
  auto result = task.get_future();
  asio::post(io_, [&task] { task(); });
  return result.get();
}

bool TestBrokerClient::WaitConnected(int connects,
                                     std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout,
                      [&] { return connected_ && connects_ >= connects; });
}

bool TestBrokerClient::WaitDisconnected(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return !connected_; });
}

absl::StatusOr<uint64_t> TestBrokerClient::Request(
    std::function<void(BrokerClient::Done)> issue) {
  // Plain values cross the threads, never an absl::Status: a non-OK one
  // shares a reference-counted payload whose count lives in Debian's
  // uninstrumented Abseil, which TSan reports as a race.
  struct Outcome {
    absl::StatusCode code = absl::StatusCode::kOk;
    std::string message;
    uint64_t receivers = 0;
  };
  auto promise = std::make_shared<std::promise<Outcome>>();
  auto future = promise->get_future();
  asio::post(io_, [issue = std::move(issue), promise] {
    issue([promise](const absl::Status& status, uint64_t receivers) {
      promise->set_value(
          Outcome{status.code(), std::string(status.message()), receivers});
    });
  });
  if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    return absl::DeadlineExceededError("no answer from the broker in 10 s");
  }
  Outcome outcome = future.get();
  if (outcome.code != absl::StatusCode::kOk) {
    return absl::Status(outcome.code, outcome.message);
  }
  return outcome.receivers;
}

absl::Status TestBrokerClient::Subscribe(
    const std::vector<std::string>& channels) {
  return Request([this, channels](BrokerClient::Done done) {
           client_->Subscribe(channels, std::move(done));
         })
      .status();
}

absl::Status TestBrokerClient::SubscribeQueue(
    const std::string& group, const std::vector<std::string>& channels) {
  return Request([this, group, channels](BrokerClient::Done done) {
           client_->SubscribeQueue(group, channels, std::move(done));
         })
      .status();
}

absl::Status TestBrokerClient::Unsubscribe(
    const std::vector<std::string>& channels) {
  return Request([this, channels](BrokerClient::Done done) {
           client_->Unsubscribe(channels, std::move(done));
         })
      .status();
}

absl::StatusOr<uint64_t> TestBrokerClient::Publish(const std::string& channel,
                                                   const std::string& payload,
                                                   const v1::Metadata* meta) {
  return Request([this, channel, payload, meta](BrokerClient::Done done) {
    absl::Status s = client_->Publish({channel}, payload, meta, done);
    if (!s.ok()) done(s, 0);
  });
}

absl::StatusOr<uint64_t> TestBrokerClient::PublishMany(
    const std::vector<std::string>& channels, const std::string& payload) {
  return Request([this, channels, payload](BrokerClient::Done done) {
    absl::Status s = client_->Publish(channels, payload, nullptr, done);
    if (!s.ok()) done(s, 0);
  });
}

absl::Status TestBrokerClient::PublishNoWait(const std::string& channel,
                                             const std::string& payload) {
  return RunOnIo([&] { return client_->Publish({channel}, payload); });
}

std::vector<ReceivedEvent> TestBrokerClient::WaitForEvents(
    size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return events_.size() >= n; });
  return events_;
}

std::vector<ReceivedEvent> TestBrokerClient::Events() {
  std::lock_guard<std::mutex> lock(mu_);
  return events_;
}

size_t TestBrokerClient::EventCount() {
  std::lock_guard<std::mutex> lock(mu_);
  return events_.size();
}

}  // namespace channel::testing
