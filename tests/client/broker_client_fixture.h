#ifndef CHANNEL_TESTS_CLIENT_BROKER_CLIENT_FIXTURE_H_
#define CHANNEL_TESTS_CLIENT_BROKER_CLIENT_FIXTURE_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "asio/io_context.hpp"
#include "client/broker_client.h"
#include "gtest/gtest.h"
#include "tests/support/sockets/raw_frame_socket.h"

// BrokerClient against a fake broker: what broker_client_test.cc and
// broker_client_goaway_test.cc share.
namespace channel::testing {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A listening loopback socket; Accept() hands out the next connection.
class FakeBroker {
 public:
  FakeBroker() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 4);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~FakeBroker() { ::close(fd_); }
  int port() const { return port_; }
  std::unique_ptr<RawFrameSocket> Accept() {
    return RawFrameSocket::Adopt(::accept(fd_, nullptr, nullptr));
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

inline v1::Envelope Welcome() {
  v1::Envelope e;
  e.mutable_welcome()->set_protocol_version(1);
  e.mutable_welcome()->set_idle_timeout_ms(30000);
  e.mutable_welcome()->set_max_frame_bytes(1 << 16);
  return e;
}

class BrokerClientTest : public ::testing::Test {
 protected:
  void StartClient(BrokerClientOptions options = {}) {
    options.host = "127.0.0.1";
    options.port = static_cast<uint16_t>(broker_.port());
    options.auth_token = "tok";
    options.backoff_initial = milliseconds(10);
    options.backoff_max = milliseconds(50);
    client_ = std::make_unique<BrokerClient>(io_, options);
    client_->set_state_handler(
        [this](bool up, absl::string_view) { up ? ++ups_ : ++downs_; });
    client_->set_quiet_failure_handler(
        [this](uint64_t tag, const absl::Status& s) {
          failed_tags_.push_back(tag);
          failures_.push_back(s);
        });
    client_->Start();
  }

  // Runs the fake broker's script on its own thread.
  void Script(std::function<void()> script) {
    script_ = std::thread(std::move(script));
  }

  bool RunUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(5);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_for(milliseconds(10));
    }
    return done();
  }

  void TearDown() override {
    if (script_.joinable()) script_.join();
    client_.reset();
  }

  FakeBroker broker_;
  asio::io_context io_;
  std::unique_ptr<BrokerClient> client_;
  std::thread script_;
  int ups_ = 0;
  int downs_ = 0;
  std::vector<uint64_t> failed_tags_;
  std::vector<absl::Status> failures_;
};

}  // namespace channel::testing

#endif  // CHANNEL_TESTS_CLIENT_BROKER_CLIENT_FIXTURE_H_
