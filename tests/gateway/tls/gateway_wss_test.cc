// wss end to end: real ws-gateway processes with --tls_cert/--tls_key (a
// certificate made by the test), driven by raw TLS WebSocket clients
// (OpenSSL, tests/support/sockets/raw_ws_socket.h). Each test would fail if TLS
// under the gateway's own connection broke: deliveries byte for byte
// between ws and wss, what is not TLS refused while others are served, the
// handshake deadline and pending budget covering TLS, the slow-client
// bound, close codes, and every way a TLS stream can end.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/gateway/gateway_fixture.h"
#include "tests/support/clients/ws_test_clients.h"
#include "tests/support/credentials/test_certificate.h"
#include "tests/support/sockets/loopback.h"
#include "tests/support/sockets/raw_ws_socket.h"

namespace channel::testing {
namespace {

using std::chrono::seconds;

const char kSeedMessage[] = "Esta é a mensagem";

std::string SendTo(const std::string& group, const std::string& message,
                   int id = -1) {
  return absl::StrCat(R"({"cmd":"send_to_group","group_id":")", group,
                      R"(","message":")", message, "\"",
                      id >= 0 ? absl::StrCat(",\"id\":", id) : "", "}");
}

RawWsSocket::Options Tls(int receive_buffer = 0) {
  RawWsSocket::Options options;
  options.tls = true;
  options.receive_buffer = receive_buffer;
  return options;
}

// Waits for the `n`th line matching `regex` from the start of the log.
bool WaitForLines(DaemonProcess& process, const std::string& regex, int n) {
  size_t from = 0;
  for (int i = 0; i < n; ++i) {
    if (!process.WaitForLine(regex, seconds(10), &from)) return false;
  }
  return true;
}

class GatewayWssTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cert_ = TestCertificate::Make();
    ASSERT_NE(cert_, nullptr);
    broker_ = BrokerProcess::Start();
  }

  GatewayProcess StartWss(std::vector<std::string> flags = {}) {
    flags.push_back(cert_->cert_flag());
    flags.push_back(cert_->key_flag());
    return GatewayProcess::Start(broker_.port, flags);
  }

  std::unique_ptr<TestCertificate> cert_;
  BrokerProcess broker_;
  WsTestClients ws_;
};

// A group spanning a ws and a wss gateway: what a ws client sends and what
// a wss client sends reach wss and ws members byte for byte, including a
// message of many TLS records.
TEST_F(GatewayWssTest, WssMembersReceiveWhatWsAndWssClientsSend) {
  GatewayProcess plain = GatewayProcess::Start(broker_.port);
  GatewayProcess tls = StartWss({"--threads=2"});
  RawWsSocket member(tls.port, Tls());
  RawWsSocket sender(tls.port, Tls());
  ASSERT_TRUE(member.ok()) << member.status_line();
  ASSERT_TRUE(sender.ok()) << sender.status_line();
  ASSERT_EQ(member.Request(Join("mix", 1), 1, seconds(10)), Ok(1));
  const int ws_member = ws_.Connect(plain.uri());
  const int ws_sender = ws_.Connect(plain.uri());
  ASSERT_GE(ws_member, 0);
  ASSERT_GE(ws_sender, 0);
  ASSERT_EQ(ws_.Request(ws_member, Join("mix", 1), "1"), Ok(1));

  // From ws to wss (across the broker).
  const std::string from_ws = absl::StrCat(kSeedMessage, " (ws)");
  ASSERT_EQ(ws_.Request(ws_sender, SendTo("mix", from_ws, 2), "2"), Ok(2));
  EXPECT_EQ(member.ReadText(seconds(10)), from_ws);
  // From wss to wss and ws; 200,000 bytes take thirteen TLS records.
  const std::string big(200000, 'b');
  for (const std::string& text : {absl::StrCat(kSeedMessage, " (wss)"), big}) {
    ASSERT_EQ(sender.Request(SendTo("mix", text, 3), 3, seconds(10)), Ok(3));
    EXPECT_EQ(member.ReadText(seconds(10)), text);
  }
  EXPECT_EQ(ws_.WaitForMessages(ws_member, 4),
            (std::vector<std::string>{
                Ok(1), from_ws, absl::StrCat(kSeedMessage, " (wss)"), big}));
}

// Plain HTTP, a ws upgrade, garbage and a forged TLS record on the wss
// port: each connection ends (no 101, no crash), each is counted and
// logged, and the gateway keeps serving wss clients.
TEST_F(GatewayWssTest, WhatIsNotTlsIsRefusedAndOthersAreServed) {
  GatewayProcess gw = StartWss({"--threads=1"});
  RawWsSocket good(gw.port, Tls());
  ASSERT_TRUE(good.ok());
  ASSERT_EQ(good.Request(Join("g", 1), 1, seconds(10)), Ok(1));

  RawWsSocket upgrade(gw.port);  // ws on the wss port
  EXPECT_FALSE(upgrade.ok());
  EXPECT_EQ(upgrade.status_line(), "");
  const std::vector<std::string> inputs = {
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
      std::string(1024, '\x01'),
      // A handshake record header, then what no ClientHello looks like.
      std::string("\x16\x03\x01\x00\x40", 5) + std::string(64, 'z'),
  };
  for (const std::string& input : inputs) {
    const int fd = ConnectLoopback(gw.port);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(send(fd, input.data(), input.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(input.size()));
    EXPECT_TRUE(WaitForPeerClose(fd, seconds(10))) << input.substr(0, 8);
    close(fd);
  }
  ASSERT_TRUE(WaitForLines(*gw.process, "TLS handshake failed", 4));
  EXPECT_EQ(gw.Metric("channel_gateway_tls_handshakes_failed_total"), 4);
  EXPECT_EQ(gw.Metric("channel_gateway_pending_handshakes"), 0);
  EXPECT_TRUE(gw.process->running());
  // Those before and after are served.
  ASSERT_EQ(good.Request(SendTo("g", "still here", 2), 2, seconds(10)), Ok(2));
  EXPECT_EQ(good.ReadText(seconds(10)), "still here");
  RawWsSocket later(gw.port, Tls());
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later.Request(Join("g", 1), 1, seconds(10)), Ok(1));
}

// A client that opens TCP and never sends its ClientHello (or only part of
// it) is pending like one that never sends its HTTP request: it holds a
// place in --max_pending_handshakes (a newcomer sheds it) and it is ended
// at --handshake_timeout_ms.
TEST_F(GatewayWssTest, SilentTlsClientsArePendingAndEndAtTheDeadline) {
  GatewayProcess gw = StartWss({"--threads=1", "--max_pending_handshakes=1",
                                "--handshake_timeout_ms=2000"});
  const int a = ConnectLoopback(gw.port);
  ASSERT_GE(a, 0);
  // One acceptor takes connections in the order the kernel queued them:
  // a is pending when b comes, and is shed for it, long before its
  // deadline.
  const int b = ConnectLoopback(gw.port);
  ASSERT_GE(b, 0);
  EXPECT_TRUE(WaitForPeerClose(a, seconds(1)));
  ASSERT_TRUE(gw.process->WaitForLine(
      "TLS handshake failed: too many pending handshakes", seconds(10)));
  EXPECT_EQ(gw.Metric("channel_gateway_handshakes_shed_total"), 1);
  EXPECT_EQ(gw.Metric("channel_gateway_pending_handshakes"), 1);
  // b sends nothing: the deadline ends it.
  EXPECT_TRUE(WaitForPeerClose(b, seconds(10)));
  ASSERT_TRUE(gw.process->WaitForLine(
      "TLS handshake failed: opening handshake timed out", seconds(10)));
  // Part of a ClientHello, then nothing: the same.
  const int c = ConnectLoopback(gw.port);
  ASSERT_GE(c, 0);
  const std::string header("\x16\x03\x01\x02\x00", 5);
  ASSERT_EQ(send(c, header.data(), header.size(), MSG_NOSIGNAL), 5);
  EXPECT_TRUE(WaitForPeerClose(c, seconds(10)));
  ASSERT_TRUE(WaitForLines(
      *gw.process, "TLS handshake failed: opening handshake timed out", 2));
  close(a);
  close(b);
  close(c);
  EXPECT_EQ(gw.Metric("channel_gateway_tls_handshakes_failed_total"), 3);
  EXPECT_EQ(gw.Metric("channel_gateway_pending_handshakes"), 0);
  RawWsSocket honest(gw.port, Tls());
  ASSERT_TRUE(honest.ok());
  EXPECT_EQ(honest.Request(Join("h", 1), 1, seconds(10)), Ok(1));
}

// A wss member that stops reading is closed by --max_queued_bytes (TLS
// writes queue like plain ones) while a wss bystander gets every message,
// in order.
TEST_F(GatewayWssTest, SlowWssReaderIsClosedBystanderKeepsReceiving) {
  GatewayProcess gw =
      StartWss({"--max_queued_bytes=262144", "--threads=1",
                "--rate_limit_per_sec=0", "--rate_limit_bytes_per_sec=0"});
  RawWsSocket slow(gw.port, Tls(/*receive_buffer=*/4096));
  ASSERT_TRUE(slow.ok());
  ASSERT_TRUE(slow.SendText(R"({"cmd":"add_group","group_id":"flood"})"));
  RawWsSocket fast(gw.port, Tls());
  RawWsSocket sender(gw.port, Tls());
  ASSERT_TRUE(fast.ok());
  ASSERT_TRUE(sender.ok());
  // slow's join is ordered before fast's on the one worker thread.
  ASSERT_EQ(fast.Request(Join("flood", 1), 1, seconds(10)), Ok(1));
  const std::string payload(1000, 'p');
  // ~12 MB: far beyond the kernel's buffers plus the 256 KiB bound. Every
  // 20th send waits for its ack and for the bystander to have read
  // everything so far, so it is never more than 20 KiB behind.
  constexpr int kCount = 12000;
  int read = 0;
  for (int i = 0; i < kCount; ++i) {
    const std::string text = absl::StrCat(i, "-", payload);
    if (i % 20 != 19) {
      ASSERT_TRUE(sender.SendText(SendTo("flood", text)));
      continue;
    }
    ASSERT_EQ(sender.Request(SendTo("flood", text, 2), 2, seconds(30)), Ok(2));
    for (; read <= i; ++read) {
      ASSERT_EQ(fast.ReadText(seconds(30)),
                absl::StrCat(read, "-", payload));  // all, in order
    }
  }
  ASSERT_TRUE(gw.process->WaitForLine("closing slow client", seconds(10)));
  EXPECT_TRUE(slow.WaitForEof(seconds(10)));
  EXPECT_EQ(gw.Metric("channel_gateway_slow_client_closes_total"), 1);
  EXPECT_EQ(fast.Request(Join("after", 3), 3, seconds(10)), Ok(3));
}

// Close frames go out through TLS: 1009 for a message over the limit, 1012
// to everyone on SIGTERM (the drain; a lone connection goes at its first
// tick) and the gateway exits 0.
TEST_F(GatewayWssTest, CloseCodesArriveOverWss) {
  GatewayProcess gw = StartWss({"--max_message_bytes=1024"});
  RawWsSocket big(gw.port, Tls());
  RawWsSocket a(gw.port, Tls());
  ASSERT_TRUE(big.ok());
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(big.SendText(std::string(2000, 'x')));
  EXPECT_EQ(big.WaitForCloseFrame(seconds(10)), 1009);
  ASSERT_EQ(a.Request(Join("bye", 1), 1, seconds(10)), Ok(1));
  gw.process->Signal(SIGTERM);
  EXPECT_EQ(a.WaitForCloseFrame(seconds(10)), 1012);
  EXPECT_EQ(gw.process->Wait(seconds(15)), 0);
}

// Every way a TLS stream ends ends the connection, once, with its groups
// left: close_notify, EOF inside a record, EOF without close_notify, a
// reset. The gateway answers close_notify with its own.
TEST_F(GatewayWssTest, EveryTlsEndingEndsTheConnection) {
  GatewayProcess gw = StartWss({"--threads=1"});
  RawWsSocket probe(gw.port, Tls());
  ASSERT_TRUE(probe.ok());
  ASSERT_EQ(probe.Request(Join("probe", 1), 1, seconds(10)), Ok(1));
  std::vector<std::unique_ptr<RawWsSocket>> peers;
  for (int i = 0; i < 4; ++i) {
    peers.push_back(std::make_unique<RawWsSocket>(gw.port, Tls()));
    ASSERT_TRUE(peers.back()->ok());
    ASSERT_EQ(
        peers.back()->Request(Join(absl::StrCat("end", i), 1), 1, seconds(10)),
        Ok(1));
  }
  EXPECT_EQ(gw.Metric("channel_gateway_groups"), 5);
  peers[0]->SendCloseNotify();
  EXPECT_TRUE(peers[0]->WaitForEof(seconds(10)));
  // An application-data record header promising 64 bytes, 10 of them.
  ASSERT_TRUE(peers[1]->SendBelowTls(std::string("\x17\x03\x03\x00\x40", 5) +
                                     std::string(10, 'r')));
  peers[1]->Drop(/*reset=*/false);
  peers[2]->Drop(/*reset=*/false);
  peers[3]->Drop(/*reset=*/true);
  // Each request on the probe is a turn of the one worker loop; the ends
  // are handled within a few.
  const auto deadline = std::chrono::steady_clock::now() + seconds(10);
  int id = 2;
  while (gw.Metric("channel_gateway_connections_closed_total") < 4 &&
         std::chrono::steady_clock::now() < deadline) {
    ASSERT_EQ(probe.Request(Join("probe", id), id, seconds(10)), Ok(id));
    ++id;
  }
  EXPECT_EQ(gw.Metric("channel_gateway_connections_closed_total"), 4);
  EXPECT_EQ(gw.Metric("channel_gateway_connections"), 1);
  EXPECT_EQ(gw.Metric("channel_gateway_groups"), 1);  // the probe's
  EXPECT_TRUE(gw.process->running());
}

}  // namespace
}  // namespace channel::testing
