// Leaks: thousands of connect / join / send / close cycles (half of them
// abrupt) against a broker and two gateways, driven by the real load
// generator. Open file descriptors return exactly to their baseline and RSS
// growth after warm-up stays within a small bound. And what an idle
// connection costs the gateway.
#include <dirent.h>

#include <string>

#include "gtest/gtest.h"
#include "tests/gateway/gateway_fixture.h"
#include "tests/support/clients/ws_test_clients.h"
#include "tests/support/credentials/test_certificate.h"

namespace channel::testing {
namespace {

using std::chrono::seconds;

int OpenFds(pid_t pid) {
  DIR* dir = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (dir == nullptr) return -1;
  int n = 0;
  while (readdir(dir) != nullptr) ++n;
  closedir(dir);
  return n - 2;  // . and ..
}

long RssKib(pid_t pid) {
  FILE* f = fopen(("/proc/" + std::to_string(pid) + "/status").c_str(), "r");
  if (f == nullptr) return -1;
  char line[256];
  long rss = -1;
  while (fgets(line, sizeof(line), f)) {
    if (sscanf(line, "VmRSS: %ld", &rss) == 1) break;
  }
  fclose(f);
  return rss;
}

// Runs ws-loadgen's churn scenario to completion; true when it succeeded.
bool Churn(const GatewayProcess& gw1, const GatewayProcess& gw2, int cycles) {
  auto loadgen = DaemonProcess::Start(
      CHANNEL_LOADGEN_BIN,
      {"--scenario=churn", "--cycles=" + std::to_string(cycles),
       "--gateways=" + gw1.uri() + "," + gw2.uri()});
  const auto status = loadgen->Wait(seconds(300));
  if (status != 0) ADD_FAILURE() << loadgen->Output();
  return status == 0;
}

// One request round trip through a (single-threaded) gateway on a connection
// that stays open for the whole test, so it is counted in both fd samples:
// every close that reached the gateway before has been handled when it
// answers.
void Settle(WsTestClients& ws, int connection, int id) {
  const std::string ids = std::to_string(id);
  ASSERT_EQ(
      ws.Request(connection,
                 R"({"cmd":"leave_group","group_id":"x","id":)" + ids + "}",
                 ids),
      R"({"id":)" + ids + R"(,"ok":true})");
}

TEST(GatewaySoakTest, FdsReturnToBaselineAndRssStaysBounded) {
  BrokerProcess broker = BrokerProcess::Start({"--log_level=info"});
  const std::vector<std::string> flags = {
      "--threads=1", "--log_level=info", "--rate_limit_per_sec=0",
      "--rate_limit_bytes_per_sec=0", "--max_pending_handshakes_per_source=0"};
  GatewayProcess gw1 = GatewayProcess::Start(broker.port, flags);
  GatewayProcess gw2 = GatewayProcess::Start(broker.port, flags);
  const pid_t pids[] = {broker.process->pid(), gw1.process->pid(),
                        gw2.process->pid()};

  WsTestClients ws;
  const int probe1 = ws.Connect(gw1.uri());
  const int probe2 = ws.Connect(gw2.uri());
  ASSERT_GE(probe1, 0);
  ASSERT_GE(probe2, 0);
  int id = 1;

  ASSERT_TRUE(Churn(gw1, gw2, 500));  // warm-up: allocator pools, hash tables
  Settle(ws, probe1, id++);
  Settle(ws, probe2, id++);
  int fds_before[3];
  long rss_before[3];
  for (int i = 0; i < 3; ++i) {
    fds_before[i] = OpenFds(pids[i]);
    rss_before[i] = RssKib(pids[i]);
  }

  ASSERT_TRUE(Churn(gw1, gw2, 4000));
  // Closes finish asynchronously on the server side; settle (request round
  // trips through each gateway, no sleeping) until the descriptors are back
  // or 10 s have passed.
  const auto deadline = std::chrono::steady_clock::now() + seconds(10);
  for (;;) {
    Settle(ws, probe1, id++);
    Settle(ws, probe2, id++);
    bool back = true;
    for (int i = 0; i < 3; ++i) back &= OpenFds(pids[i]) == fds_before[i];
    if (back || std::chrono::steady_clock::now() > deadline) break;
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(OpenFds(pids[i]), fds_before[i]) << "process " << i;
    const long growth = RssKib(pids[i]) - rss_before[i];
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    // Sanitizer runtimes hold freed memory (quarantine, shadow): RSS says
    // nothing here. The release build checks it.
    (void)growth;
#else
    EXPECT_LT(growth, 2048)
        << "process " << i << " grew by " << growth << " KiB";
#endif
  }
  // After the fd samples: each /metrics request opens an admin connection.
  EXPECT_EQ(gw1.Metric("channel_gateway_connections"), 1);  // the probe
  EXPECT_EQ(gw2.Metric("channel_gateway_connections"), 1);
  EXPECT_EQ(gw1.Metric("channel_gateway_groups"), 0);
  EXPECT_GE(gw1.Metric("channel_gateway_connections_closed_total"), 2250);
}

// Runs ws-loadgen's idle scenario (`connections` to `uri`, held
// `hold_seconds`) and returns the gateway's RSS growth per connection in
// KiB at the end of the hold, or -1 (with a test failure) when it did not
// run.
double IdleKiBPerConnection(const BrokerProcess& broker,
                            const GatewayProcess& gw, const std::string& uri,
                            int connections, int hold_seconds) {
  // ws-loadgen prints its figures on stdout; DaemonProcess reads stderr.
  auto loadgen = DaemonProcess::Start(
      "/bin/sh",
      {"-c", "exec \"$0\" \"$@\" 1>&2", CHANNEL_LOADGEN_BIN, "--scenario=idle",
       "--connections=" + std::to_string(connections),
       "--seconds=" + std::to_string(hold_seconds), "--gateways=" + uri,
       "--gateway_pids=" + std::to_string(gw.process->pid()),
       "--broker_pid=" + std::to_string(broker.process->pid())});
  if (loadgen->Wait(seconds(120)) != 0) {
    ADD_FAILURE() << loadgen->Output();
    return -1;
  }
  const std::string out = loadgen->Output();
  const size_t at = out.rfind(" KiB per connection");
  const size_t start =
      at == std::string::npos ? std::string::npos : out.rfind("= ", at);
  if (start == std::string::npos) {
    ADD_FAILURE() << out;
    return -1;
  }
  return std::stod(out.substr(start + 2, at - start - 2));
}

// An idle ws connection costs the gateway ~1 KiB at 3,000 connections
// (0.65 KiB at 10,000; docs/BENCHMARKS.md, item 8). The bound leaves room
// for allocator noise and fails if a connection grows back towards
// websocketpp's ~5 KiB. Release builds only: sanitizer runtimes inflate RSS.
TEST(GatewaySoakTest, IdleConnectionsCostUnderTwoAndAHalfKiBEach) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "RSS is meaningless under sanitizers";
#endif
  BrokerProcess broker = BrokerProcess::Start({});
  GatewayProcess gw = GatewayProcess::Start(
      broker.port, {"--threads=1", "--max_pending_handshakes=5000"});
  const double kib = IdleKiBPerConnection(broker, gw, gw.uri(), 3000, 0);
  EXPECT_LT(kib, 2.5);
  EXPECT_GT(kib, 0.0);  // the figure was read, not a parse accident
}

// An idle wss connection: ~16.5 KiB at 2,000 connections with an ECDSA
// certificate, measured after 2 s of idleness (once the handshakes'
// temporaries went back to the system, HeapTrimmer), nearly all of it
// OpenSSL 3.0's session state (its SSL object alone is 7.6 KiB;
// docs/BENCHMARKS.md, "wss on WsConnection"); websocketpp's TLS connection
// cost 70 KiB. The bound fails if the connection returns to websocketpp, if
// an idle session keeps a 16 KiB record buffer, or if a handshake burst's
// memory stays. Release builds only.
TEST(GatewaySoakTest, IdleWssConnectionsCostUnderTwentyFourKiBEach) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "RSS is meaningless under sanitizers";
#endif
  auto cert = TestCertificate::Make();
  ASSERT_NE(cert, nullptr);
  BrokerProcess broker = BrokerProcess::Start({});
  GatewayProcess gw = GatewayProcess::Start(
      broker.port, {"--threads=1", "--max_pending_handshakes=5000",
                    cert->cert_flag(), cert->key_flag()});
  const double kib = IdleKiBPerConnection(broker, gw, gw.wss_uri(), 2000, 2);
  EXPECT_LT(kib, 24.0);
  EXPECT_GT(kib, 0.0);
}

}  // namespace
}  // namespace channel::testing
