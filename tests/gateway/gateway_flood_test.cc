// Floods and slow-loris clients against a real gateway: rate limit,
// connection cap, handshake timeout, pending-handshake cap, oversize headers.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/gateway/gateway_fixture.h"
#include "tests/support/clients/ws_test_clients.h"
#include "tests/support/process/daemon_process.h"
#include "tests/support/sockets/loopback.h"
#include "tests/support/sockets/raw_ws_socket.h"

namespace channel::testing {
namespace {

using std::chrono::seconds;

// A TCP connection that sends `bytes` (possibly nothing) and then only
// watches for the server closing it.
class RawTcp {
 public:
  explicit RawTcp(int port) : fd_(ConnectLoopback(port)) {}
  // From another loopback address (127.0.0.2 ...: Linux routes all of
  // 127/8 to lo), to be another source.
  RawTcp(int port, const char* source) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    inet_pton(AF_INET, source, &from.sin_addr);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0 ||
        connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~RawTcp() { close(fd_); }
  bool connected() const { return fd_ >= 0; }
  void Send(const std::string& bytes) {
    (void)send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  }
  // Everything the server sends until it closes, or nullopt on timeout.
  std::optional<std::string> ReadUntilClosed(
      std::chrono::milliseconds timeout) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
      const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return out;
      out.append(buf, n);
    }
  }

 private:
  int fd_ = -1;
};

class GatewayFloodTest : public ::testing::Test {
 protected:
  void SetUp() override { broker_ = BrokerProcess::Start(); }
  BrokerProcess broker_;
  WsTestClients ws_;
};

TEST_F(GatewayFloodTest, RateLimitRepliesThenCloses) {
  GatewayProcess gw = GatewayProcess::Start(
      broker_.port, {"--rate_limit_per_sec=5", "--rate_limit_burst=5",
                     "--rate_limit_close_after=20"});
  const int flooder = ws_.Connect(gw.uri());
  const int calm = ws_.Connect(gw.uri());
  ASSERT_GE(flooder, 0);
  ASSERT_GE(calm, 0);
  // The burst of 5 passes; the next ones are refused with an error each.
  for (int i = 1; i <= 10; ++i) {
    ASSERT_TRUE(ws_.Send(
        flooder,
        absl::StrCat(R"({"cmd":"add_group","group_id":"r","id":)", i, "}")));
  }
  auto got = ws_.WaitForMessages(flooder, 10);
  ASSERT_EQ(got.size(), 10u);
  int ok = 0, limited = 0;
  for (const auto& m : got) {
    ok += m.find("\"ok\":true") != std::string::npos;
    limited += m.find("\"code\":\"rate_limited\"") != std::string::npos;
  }
  EXPECT_GE(ok, 5);
  EXPECT_EQ(ok + limited, 10);
  EXPECT_GE(limited, 4);
  // Keeping it up closes the connection with 1008.
  for (int i = 0; i < 40 && ws_.IsOpen(flooder); ++i) {
    ws_.Send(flooder, R"({"cmd":"leave_group","group_id":"r"})");
  }
  EXPECT_EQ(ws_.WaitClosed(flooder), 1008);
  EXPECT_EQ(ws_.CloseReason(flooder), "rate limit exceeded");
  EXPECT_EQ(gw.Metric("channel_gateway_rate_limit_closes_total"), 1);
  // The calm client never noticed.
  EXPECT_EQ(
      ws_.Request(calm, R"({"cmd":"add_group","group_id":"r","id":1})", "1"),
      Ok(1));
}

TEST_F(GatewayFloodTest, MaxConnectionsRefusesWith503) {
  GatewayProcess gw =
      GatewayProcess::Start(broker_.port, {"--max_connections=3"});
  std::vector<int> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(ws_.Connect(gw.uri()));
    ASSERT_GE(open.back(), 0);
  }
  EXPECT_LT(ws_.Connect(gw.uri()), 0);
  EXPECT_EQ(ws_.last_http_status(), 503);
  size_t from = 0;
  ws_.Close(open[0]);
  ASSERT_TRUE(
      gw.process->WaitForLine("conn [0-9]+ closed", seconds(10), &from));
  EXPECT_GE(ws_.Connect(gw.uri()), 0);
  EXPECT_EQ(gw.Metric("channel_gateway_handshakes_refused_total{reason=\"max_"
                      "connections\"}"),
            1);
}

TEST_F(GatewayFloodTest, SilentConnectionClosedAfterHandshakeTimeout) {
  GatewayProcess gw =
      GatewayProcess::Start(broker_.port, {"--handshake_timeout_ms=300"});
  RawTcp silent(gw.port);
  ASSERT_TRUE(silent.connected());
  RawTcp dribbling(gw.port);
  dribbling.Send("GET / HTTP/1.1\r\nHost: x\r\n");  // never finishes
  EXPECT_TRUE(silent.ReadUntilClosed(seconds(5)).has_value());
  EXPECT_TRUE(dribbling.ReadUntilClosed(seconds(5)).has_value());
  // An honest client still gets in. Its own upgrade must also finish within
  // the short 300 ms deadline, which a loaded machine may miss: a few
  // attempts (bounded) keep the test independent of the load.
  int c = -1;
  for (int attempt = 0; attempt < 10 && c < 0; ++attempt) {
    c = ws_.Connect(gw.uri());
  }
  EXPECT_GE(c, 0);
  // An attempt that gave up (a loaded machine) may still be pending at the
  // gateway until its own 300 ms deadline: nothing stays pending after it.
  double pending = -1;
  const auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (std::chrono::steady_clock::now() < deadline &&
         (pending = gw.Metric("channel_gateway_pending_handshakes")) != 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a poll
  }
  EXPECT_EQ(pending, 0);
}

TEST_F(GatewayFloodTest, PendingHandshakeCapShedsTheOldest) {
  GatewayProcess gw = GatewayProcess::Start(
      broker_.port, {"--max_pending_handshakes=2",
                     "--handshake_timeout_ms=10000", "--threads=1"});
  RawTcp a(gw.port);
  RawTcp b(gw.port);
  // One acceptor takes connections in the order the kernel queued them:
  // a and b are pending when c comes.
  // The third takes the place of the oldest, long before the timeout.
  RawTcp c(gw.port);
  EXPECT_TRUE(a.ReadUntilClosed(seconds(3)).has_value());
  EXPECT_EQ(gw.Metric("channel_gateway_handshakes_shed_total"), 1);
  EXPECT_EQ(gw.Metric("channel_gateway_pending_handshakes"), 2);
  // A real client gets in the same way.
  EXPECT_GE(ws_.Connect(gw.uri()), 0);
  EXPECT_TRUE(b.ReadUntilClosed(seconds(3)).has_value());
}

// Issue 19 item 5: 1,100 idle TCP sockets used to lock every new WebSocket
// client out (0 of 29 upgrades). Now each newcomer past the bound ends the
// oldest idle one: every honest client gets in during the attack.
TEST_F(GatewayFloodTest, IdleSocketsDoNotLockOutHonestClients) {
  GatewayProcess gw = GatewayProcess::Start(
      broker_.port, {"--max_pending_handshakes=1000",
                     "--max_pending_handshakes_per_source=100000",
                     "--handshake_timeout_ms=30000", "--threads=2"});
  std::vector<std::unique_ptr<RawTcp>> idle;
  for (int i = 0; i < 1100; ++i) {
    idle.push_back(std::make_unique<RawTcp>(gw.port));
    ASSERT_TRUE(idle.back()->connected()) << i;
  }
  int honest = 0;
  for (int i = 0; i < 29; ++i) {
    const int c = ws_.Connect(gw.uri());
    if (c >= 0 && ws_.Request(c, R"({"cmd":"add_group","group_id":"h","id":1})",
                              "1") == R"({"id":1,"ok":true})") {
      ++honest;
    }
  }
  EXPECT_EQ(honest, 29);
  EXPECT_LE(gw.Metric("channel_gateway_pending_handshakes"), 1000);
  EXPECT_GE(gw.Metric("channel_gateway_handshakes_shed_total"), 100);
}

// Issue 19 item 5: once half the budget is taken, one source may hold at
// most --max_pending_handshakes_per_source pending handshakes; past it its
// sockets are dropped at accept and nobody else is affected.
TEST_F(GatewayFloodTest, PendingHandshakesBoundedPerSource) {
  GatewayProcess gw = GatewayProcess::Start(
      broker_.port,
      {"--max_pending_handshakes=100", "--max_pending_handshakes_per_source=20",
       // One acceptor: when the last socket is dropped, every earlier one
       // was handled.
       "--handshake_timeout_ms=30000", "--threads=1"});
  std::vector<std::unique_ptr<RawTcp>> attacker;
  for (int i = 0; i < 100; ++i) {
    attacker.push_back(std::make_unique<RawTcp>(gw.port, "127.0.0.2"));
    ASSERT_TRUE(attacker.back()->connected()) << i;
  }
  // The last ones are dropped at once.
  EXPECT_TRUE(attacker.back()->ReadUntilClosed(seconds(5)).has_value());
  EXPECT_GE(gw.Metric("channel_gateway_handshakes_refused_total{reason=\"max_"
                      "pending_handshakes_per_source\"}"),
            50);
  // 50 were taken while the budget was less than half used; no more.
  EXPECT_LE(gw.Metric("channel_gateway_pending_handshakes"), 51);
  EXPECT_EQ(gw.Metric("channel_gateway_handshakes_shed_total"), 0);
  const int c = ws_.Connect(gw.uri());  // from 127.0.0.1
  ASSERT_GE(c, 0);
  EXPECT_EQ(ws_.Request(c, R"({"cmd":"add_group","group_id":"h","id":1})", "1"),
            R"({"id":1,"ok":true})");
}

TEST_F(GatewayFloodTest, OversizeHeadersRefused) {
  GatewayProcess gw = GatewayProcess::Start(broker_.port);
  RawTcp big(gw.port);
  big.Send(
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
      "Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: "
      "13\r\n"
      "X-Filler: " +
      std::string(64 * 1024, 'f') + "\r\n\r\n");
  auto reply = big.ReadUntilClosed(seconds(5));
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->rfind("HTTP/1.1 101", 0), std::string::npos)
      << reply->substr(0, 80);
  EXPECT_GE(ws_.Connect(gw.uri()), 0);
}

// What one connection's costly input does to a bystander on the same worker
// (one worker): the attacker sends `frames`, the bystander makes 20 round
// trips meanwhile. Returns the gateway's CPU seconds spent on the attack;
// every bystander round trip must complete, and every attacker frame is
// answered (an error or a refusal), never silently dropped.
double Attack(GatewayProcess& gw, WsTestClients& ws,
              const std::vector<std::string>& frames) {
  const int attacker = ws.Connect(gw.uri());
  const int bystander = ws.Connect(gw.uri());
  EXPECT_GE(attacker, 0);
  EXPECT_GE(bystander, 0);
  const double cpu_before = ProcessCpuSeconds(gw.process->pid());
  for (const auto& f : frames) EXPECT_TRUE(ws.Send(attacker, f));
  for (int i = 0; i < 20; ++i) {
    const std::string id = std::to_string(100 + i);
    EXPECT_EQ(ws.Request(bystander,
                         absl::StrCat(R"({"cmd":"add_group","group_id":"b",)",
                                      R"("id":)", id, "}"),
                         id, seconds(30)),
              absl::StrCat(R"({"id":)", id, R"(,"ok":true})"));
  }
  EXPECT_EQ(ws.WaitForMessages(attacker, frames.size(), seconds(120)).size(),
            frames.size());
  return ProcessCpuSeconds(gw.process->pid()) - cpu_before;
}

// The input's cost is compared with a baseline of the same size measured in
// the same run (frames of 'x', refused at their first byte: what reading,
// unmasking and checking 1 MB costs), so the check holds on a loaded
// machine and under the sanitizers alike.
std::vector<std::string> Baseline(size_t count) {
  return std::vector<std::string>(count, std::string(1 << 20, 'x'));
}

// Issue 19 item 7: 40 frames of 1 MB of '[' took 7.4 s of one worker in the
// report (185 ms each; the bystander waited up to 652 ms). Nesting is now
// bounded for the whole frame while it is parsed, so such a frame costs
// what its reading costs, not a DOM. With no byte budget, 200 frames: the
// old binary spent 1.8 s against a baseline of 0.6 s, the new one 0.65 s.
TEST_F(GatewayFloodTest, DeepNestingIsRefusedBeforeItIsBuilt) {
  GatewayProcess gw = GatewayProcess::Start(
      broker_.port, {"--threads=1", "--rate_limit_bytes_per_sec=0",
                     "--max_message_bytes=2000000"});
  const double baseline = Attack(gw, ws_, Baseline(200));
  const std::vector<std::string> frames(200, std::string(1 << 20, '['));
  const double cpu = Attack(gw, ws_, frames);
  RecordProperty("baseline_ms", static_cast<int>(baseline * 1000));
  RecordProperty("cpu_ms", static_cast<int>(cpu * 1000));
  EXPECT_LT(cpu, 2 * baseline + 0.1);
}

// Issue 19 item 7: what a connection makes its worker parse is bounded per
// second in bytes, not just messages: 100 frames of valid 1 MB JSON (depth
// 1, half a million values each) are mostly refused (rate_limited) before
// they are parsed: 0.48 s of CPU instead of the old binary's 2.98 s, against
// a baseline of ~0.3 s (recorded as properties, not asserted: under ASan
// three parsed frames alone cost more than three baselines on a loaded
// machine). What is asserted is the bound itself: the budget refills at 1000
// bytes/s here, not the default 2 MiB/s, so the outcome does not depend on
// how fast the gateway reads (under TSan, 100 MB take a minute and the
// default would refill most of it): the burst (2 x max_message_bytes) lets
// 3 frames through and refills a fourth only after three minutes, so at
// least 96 of the attack's 100 frames are refused unparsed. The baseline's
// frames go through the same budget, so the count is taken across the
// attack alone.
TEST_F(GatewayFloodTest, ByteBudgetBoundsTheParsingOneConnectionCauses) {
  GatewayProcess gw = GatewayProcess::Start(
      broker_.port, {"--threads=1", "--max_message_bytes=2000000",
                     "--rate_limit_bytes_per_sec=1000"});
  const double baseline = Attack(gw, ws_, Baseline(100));
  std::string values = "1";
  while (values.size() < (1 << 20)) values += ",1";
  const std::string frame =
      absl::StrCat(R"({"cmd":"send_to_group","group_id":"nobody","message":[)",
                   values, R"(],"id":1})");
  const std::vector<std::string> frames(100, frame);
  const char* kRefused = R"(channel_gateway_errors_total{code="rate_limited"})";
  const double refused_before = gw.Metric(kRefused);
  const double cpu = Attack(gw, ws_, frames);
  RecordProperty("baseline_ms", static_cast<int>(baseline * 1000));
  RecordProperty("cpu_ms", static_cast<int>(cpu * 1000));
  EXPECT_GE(gw.Metric(kRefused) - refused_before, 96)
      << "cpu " << cpu << " s against a baseline of " << baseline << " s";
}

}  // namespace
}  // namespace channel::testing
