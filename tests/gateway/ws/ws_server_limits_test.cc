// The gateway's own WebSocket server at its limits: the handshake deadline,
// refusal at accept, cut and abrupt peers, a reader too slow for the
// kernel's buffers, a ping flood from a client that never reads.
#include "tests/gateway/ws/ws_server_fixture.h"

namespace channel::testing {
namespace {

using namespace std::chrono_literals;

TEST_F(WsServerTest, SilentClientIsDroppedAtTheHandshakeDeadline) {
  WsServer::Options options;
  options.handshake_timeout = 100ms;
  Start(options);
  Client client(port_);
  client.Send("GET / HTTP/1.1\r\n");  // and never the rest
  EXPECT_TRUE(client.ReadEof());
  EXPECT_EQ(WaitFor("fail"), "fail opening handshake timed out");
}

TEST_F(WsServerTest, RefusedAtAcceptFailsAndEnds) {
  accept_ = false;
  Start();
  Client client(port_);
  EXPECT_TRUE(client.ReadEof());
  EXPECT_EQ(WaitFor("fail"), "fail refused at accept");
}

TEST_F(WsServerTest, CutEndsOnceAndAbruptPeerEnds) {
  Start();
  auto first = Open();
  OnIo([this] {
    open_[0]->Cut("test");
    open_[0]->Cut("again");
  });
  EXPECT_TRUE(first->ReadEof());
  EXPECT_EQ(WaitFor("close"), "close 0 0");
  auto second = Open();
  second.reset();  // TCP gone, no close frame
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, 5s, [&] {
    size_t n = 0;
    for (const auto& line : log_) n += absl::StartsWith(line, "close");
    return n == 2;
  });
  lock.unlock();
  EXPECT_EQ(Count("close"), 2u);
}

// A reader too slow for the kernel's buffers: what the kernel does not take
// waits, shared between recipients, and arrives whole and in order.
TEST_F(WsServerTest, QueuedFramesArriveInOrderOnceTheReaderReads) {
  Start();
  Client client(port_, 4096);
  client.Send(Upgrade());
  ASSERT_TRUE(absl::StartsWith(client.Head(), "HTTP/1.1 101"));
  WaitFor("open");
  constexpr int kFrames = 2000;
  size_t queued = 0;
  OnIo([&] {
    std::error_code ec;
    open_[0]->socket().set_option(asio::socket_base::send_buffer_size(4096),
                                  ec);
    SharedFrame shared;
    for (int i = 0; i < kFrames; ++i) {
      std::string frames;
      AppendTextFrame(absl::StrCat(i, ":", std::string(1000, 'q')), &frames);
      shared.reset();
      open_[0]->SendFrames(frames, &shared);
    }
    queued = open_[0]->buffered_amount();
  });
  EXPECT_GT(queued, 0u);  // the kernel could not take 2 MB at once
  const auto frames = client.Frames(kFrames);
  ASSERT_EQ(frames.size(), static_cast<size_t>(kFrames));
  for (int i = 0; i < kFrames; ++i) {
    ASSERT_TRUE(absl::StartsWith(frames[i].payload, absl::StrCat(i, ":"))) << i;
  }
  OnIo([this] { EXPECT_EQ(open_[0]->buffered_amount(), 0u); });
}

// Pongs are not checked by the fan-out's bound: a client that pings and
// never reads must still cost bounded memory.
TEST_F(WsServerTest, PingFloodWithoutReadingIsCut) {
  WsServer::Options options;
  options.max_queued_bytes = 1000;  // cut past 2 * 1000 + 1 MiB
  Start(options);
  Client client(port_, 4096);
  client.Send(Upgrade());
  ASSERT_TRUE(absl::StartsWith(client.Head(), "HTTP/1.1 101"));
  WaitFor("open");
  OnIo([this] {
    std::error_code ec;
    open_[0]->socket().set_option(asio::socket_base::send_buffer_size(4096),
                                  ec);
  });
  const std::string ping = Frame(0x9, std::string(125, 'p'));
  std::string burst;
  for (int i = 0; i < 100; ++i) burst += ping;
  // 12,000 pings: 1.5 MB of pongs the client never reads. Sending stops
  // early once the server has cut the connection.
  for (int i = 0; i < 120 && Count("close") == 0; ++i) client.Send(burst);
  EXPECT_EQ(WaitFor("close"), "close 0 0");
}

}  // namespace
}  // namespace channel::testing
