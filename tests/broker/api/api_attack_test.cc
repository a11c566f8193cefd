// The broker's HTTP API against slow and greedy clients (issue 19 item 4),
// with a real channel-broker: what an honest client sees during an attack.
// Attackers connect from other loopback addresses (127.0.0.x) so that the
// per-source cap is not what protects the honest client (127.0.0.1)
// unless the test says so.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/broker/broker_fixture.h"
#include "tests/support/clients/test_broker_client.h"
#include "tests/support/sockets/loopback.h"

namespace channel::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kKey = "test-api-key-0123456789";

// A TCP connection to 127.0.0.1:port from `source` (e.g. "127.0.0.2").
int ConnectFrom(const std::string& source, int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &local.sin_addr);
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(static_cast<uint16_t>(port));
  remote.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof(remote)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const std::string& bytes) {
  return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
         static_cast<ssize_t>(bytes.size());
}

// What arrives on `fd` until the peer closes or `timeout` passes.
std::string ReadUntilClose(int fd, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string got;
  char buffer[4096];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return got;
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return got;
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) return got;
    got.append(buffer, static_cast<size_t>(n));
  }
}

std::string PublishBody(const std::string& group, const std::string& text) {
  return absl::StrCat(R"({"group_id":")", group, R"(","message":")", text,
                      "\"}");
}

class ApiAttackTest : public ::testing::Test {
 protected:
  void StartBroker(std::vector<std::string> extra) {
    extra.push_back("--api_port=0");
    extra.push_back("--api_key=" + kKey);
    broker_ = BrokerProcess::Start(extra);
    api_port_ = broker_.process->WaitForPort("api listening on");
  }
  // An honest client: its own keep-alive connection from 127.0.0.1, 5 s
  // to connect and 5 s per read.
  std::unique_ptr<httplib::Client> Honest() {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", api_port_);
    c->set_keep_alive(true);
    c->set_connection_timeout(5, 0);
    c->set_read_timeout(5, 0);
    c->set_write_timeout(5, 0);
    return c;
  }
  httplib::Result Publish(httplib::Client& c, const std::string& group,
                          const std::string& text) {
    return c.Post("/api/publish", {{"Authorization", "Bearer " + kKey}},
                  PublishBody(group, text), "application/json");
  }

  BrokerProcess broker_;
  int api_port_ = 0;
};

// 64 slow-loris sockets (two sources, 32 each: under the per-source cap),
// each sending one header byte every 200 ms and never finishing: an
// honest client's 20 publishes all succeed, each within its 5 s read
// timeout, and all 20 messages reach a subscriber. (Before the event-driven
// server, 4 of these sockets held cpp-httplib's 4 threads and the honest
// client timed out.)
TEST_F(ApiAttackTest, SlowLorisSocketsDoNotStarveAnHonestClient) {
  StartBroker({});
  TestBrokerClient subscriber(broker_.port);
  ASSERT_TRUE(subscriber.WaitConnected());
  ASSERT_TRUE(subscriber.Subscribe({"group:honest"}).ok());

  std::vector<int> loris;
  for (int i = 0; i < 64; ++i) {
    const int fd =
        ConnectFrom(i % 2 == 0 ? "127.0.0.2" : "127.0.0.3", api_port_);
    ASSERT_GE(fd, 0);
    loris.push_back(fd);
  }
  const std::string dribble =
      "POST /api/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
      "X-Slow: " +
      std::string(1000, 'a');
  std::atomic<bool> stop{false};
  std::thread attacker([&] {
    // Bounded: at most 30 s, or until the honest client is done.
    const auto end = Clock::now() + seconds(30);
    for (size_t i = 0; !stop && Clock::now() < end && i < dribble.size(); ++i) {
      for (int fd : loris) ::send(fd, &dribble[i], 1, MSG_NOSIGNAL);
      std::this_thread::sleep_for(milliseconds(200));  // the attack's pace
    }
  });
  // The honest client starts once the API holds every attacker's
  // connection (bounded: 2,000 looks at the gauge).
  for (int i = 0;
       i < 2000 && broker_.Metric("channel_broker_api_connections") < 64; ++i) {
  }
  ASSERT_GE(broker_.Metric("channel_broker_api_connections"), 64);

  auto honest = Honest();
  int ok = 0;
  for (int i = 0; i < 20; ++i) {
    auto r = Publish(*honest, "honest", absl::StrCat("m", i));
    ASSERT_TRUE(r) << "publish " << i << ": " << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200) << r->body;
    ok += r->status == 200;
  }
  stop = true;
  attacker.join();
  EXPECT_EQ(ok, 20);
  EXPECT_EQ(subscriber.WaitForEvents(20).size(), 20u);
  for (int fd : loris) ::close(fd);
}

// Past --api_max_connections_per_source the newcomer is refused with a
// clear 503 at once; other sources are not affected.
TEST_F(ApiAttackTest, ConnectionsOverThePerSourceCapAreRefused) {
  StartBroker({"--api_max_connections_per_source=4"});
  std::vector<int> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(ConnectFrom("127.0.0.4", api_port_));
    ASSERT_GE(held.back(), 0);
  }
  // Connections are accepted in connect order: an answer on the 4th means
  // all 4 are counted.
  ASSERT_TRUE(
      SendAll(held.back(), "GET /api/nope HTTP/1.1\r\nHost: x\r\n\r\n"));
  char first[16] = {};
  ASSERT_GT(recv(held.back(), first, sizeof(first) - 1, 0), 0);
  EXPECT_EQ(std::string(first).substr(0, 12), "HTTP/1.1 404");

  const int fifth = ConnectFrom("127.0.0.4", api_port_);
  ASSERT_GE(fifth, 0);
  const std::string refused = ReadUntilClose(fifth, seconds(10));
  EXPECT_EQ(refused.substr(0, 12), "HTTP/1.1 503") << refused;
  EXPECT_NE(refused.find(R"("code":"too_many_connections")"), std::string::npos)
      << refused;
  ::close(fifth);

  auto honest = Honest();
  auto r = Publish(*honest, "g", "x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(
      broker_.Metric(
          R"(channel_broker_api_connections_refused_total{reason="per_source"})"),
      1);
  for (int fd : held) ::close(fd);
}

// At --api_max_connections a newcomer sheds the connection that has
// waited longest without a complete request.
TEST_F(ApiAttackTest, AtTheGlobalCapTheOldestIdleConnectionIsShed) {
  StartBroker({"--api_max_connections=8"});
  std::vector<int> idle;
  for (int i = 0; i < 8; ++i) {
    idle.push_back(ConnectFrom(absl::StrCat("127.0.1.", i + 1), api_port_));
    ASSERT_GE(idle.back(), 0);
  }
  // All 8 are open once the last answers (accept order = connect order).
  ASSERT_TRUE(
      SendAll(idle.back(), "GET /api/nope HTTP/1.1\r\nHost: x\r\n\r\n"));
  char first[16] = {};
  ASSERT_GT(recv(idle.back(), first, sizeof(first) - 1, 0), 0);

  auto honest = Honest();
  auto r = Publish(*honest, "g", "x");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(WaitForPeerClose(idle.front(), seconds(10)));
  EXPECT_EQ(broker_.Metric("channel_broker_api_connections_shed_total"), 1);
  for (int fd : idle) ::close(fd);
}

// A request dribbled one byte every 100 ms, never silent for long, is cut
// by the whole-request deadline with a 408.
TEST_F(ApiAttackTest, ARequestSlowerThanTheDeadlineGets408) {
  StartBroker({"--api_request_timeout_ms=1000", "--api_read_timeout_ms=5000"});
  const int fd = ConnectFrom("127.0.0.5", api_port_);
  ASSERT_GE(fd, 0);
  const std::string request =
      "POST /api/publish HTTP/1.1\r\nHost: x\r\nX-Pad: " +
      std::string(200, 'a');
  const auto t0 = Clock::now();
  std::string answer;
  // At most the 200+ bytes of the request: 20 s of dribbling, bounded.
  for (size_t i = 0; i < request.size(); ++i) {
    if (::send(fd, &request[i], 1, MSG_NOSIGNAL) != 1) break;
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 100) > 0) {  // the pace, and a look for the answer
      answer = ReadUntilClose(fd, seconds(10));
      break;
    }
  }
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 408") << answer;
  EXPECT_NE(answer.find(R"("code":"request_timeout")"), std::string::npos);
  EXPECT_GE(Clock::now() - t0, milliseconds(1000));
  EXPECT_GE(broker_.Metric("channel_broker_api_request_timeouts_total"), 1);
  ::close(fd);
}

// The key, and the announced size, are judged when the headers are in: a
// wrong key announcing a 1 MB body, and a right key announcing more than
// --api_max_body_bytes, are refused before any body byte is sent (the
// server's read timeout, 5 s, would otherwise pass first).
TEST_F(ApiAttackTest, WrongKeyAndOversizedBodyAreRefusedBeforeTheBody) {
  StartBroker({"--api_max_body_bytes=4096", "--api_read_timeout_ms=20000"});
  struct Case {
    std::string authorization;
    std::string want;
  };
  for (const Case& c : {Case{"Bearer wrong", "HTTP/1.1 401"},
                        Case{"Bearer " + kKey, "HTTP/1.1 413"}}) {
    const int fd = ConnectFrom("127.0.0.6", api_port_);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(SendAll(fd,
                        "POST /api/publish HTTP/1.1\r\nHost: x\r\n"
                        "Authorization: " +
                            c.authorization +
                            "\r\nContent-Length: 1000000\r\n\r\n"));
    const std::string answer = ReadUntilClose(fd, seconds(15));
    EXPECT_EQ(answer.substr(0, 12), c.want) << answer;
    // Closed by the server after the answer (the body was never read).
    EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
    ::close(fd);
  }
  // A client already sending its body still reads the refusal whole: the
  // server discards what follows for a while instead of resetting.
  const int fd = ConnectFrom("127.0.0.6", api_port_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd,
                      "POST /api/publish HTTP/1.1\r\nHost: x\r\n"
                      "Authorization: Bearer wrong\r\n"
                      "Content-Length: 1000000\r\n\r\n" +
                          std::string(60000, 'x')));
  for (int i = 0; i < 4; ++i) {  // more body after the answer went out
    ::send(fd, std::string(60000, 'x').data(), 60000,
           MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  const std::string answer = ReadUntilClose(fd, seconds(15));
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 401") << answer;
  EXPECT_NE(answer.find("wrong API key"), std::string::npos) << answer;
  ::close(fd);
}

}  // namespace
}  // namespace channel::testing
