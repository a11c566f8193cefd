// The gateway's own WebSocket server (WsServer, WsConnection) against raw
// TCP clients written here byte by byte: the opening handshake and its
// refusals, frames in and out, the close handshake both ways, protocol
// errors, plain HTTP (deadlines, refusals and slow readers:
// ws_server_limits_test.cc). The server runs on its own thread; the test talks
// to it by posting and waits on the events it records.
#include "tests/gateway/ws/ws_server_fixture.h"

namespace channel::testing {
namespace {

using namespace std::chrono_literals;

TEST_F(WsServerTest,
       UpgradeMessagesAndRepliesIncludingFramesSentWithTheRequest) {
  WsServer::Options options;
  options.max_message_bytes = 1 << 20;
  Start(options);
  auto client = Open(Frame(0x1, "early"));
  EXPECT_EQ(WaitFor("validate"), "validate /chat?x=1 https://o.example");
  client->Send(Frame(0x1, "hi") + Frame(0x2, std::string("\0\1", 2)));
  client->Send(Frame(0x1, std::string(70000, 'x')));  // 64-bit length
  const auto frames = client->Frames(4);
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_EQ(frames[0].payload, "echo:early");
  EXPECT_EQ(frames[1].payload, "echo:hi");
  EXPECT_EQ(frames[2].payload, std::string("echo:\0\1", 7));
  EXPECT_TRUE(frames[3].payload == "echo:" + std::string(70000, 'x'))
      << frames[3].payload.size();
  for (const auto& f : frames) EXPECT_EQ(f.opcode, 0x1);
  EXPECT_EQ(WaitFor("binary"), std::string("binary \0\1", 9));
  // After the open event the request is released.
  OnIo([this] { EXPECT_TRUE(open_[0]->resource().empty()); });
}

TEST_F(WsServerTest, FragmentedMessageIsOneEvent) {
  Start();
  auto client = Open();
  client->Send(Frame(0x1, "ab", true, false) + Frame(0x9, "p") +
               Frame(0x0, "cd", true, true));
  const auto frames = client->Frames(2);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].opcode, 0xA);  // the pong to the interleaved ping
  EXPECT_EQ(frames[0].payload, "p");
  EXPECT_EQ(frames[1].payload, "echo:abcd");
}

TEST_F(WsServerTest, ServerPingGetsPongEvent) {
  Start();
  auto client = Open();
  OnIo([this] { open_[0]->Ping(); });
  const auto frames = client->Frames(1);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].opcode, 0x9);
  client->Send(Frame(0xA, frames[0].payload));
  EXPECT_EQ(WaitFor("pong"), "pong");
}

TEST_F(WsServerTest, PeerCloseIsAnsweredWithItsCodeThenTheSocketEnds) {
  Start();
  auto client = Open();
  client->Send(Frame(0x8, std::string("\x03\xe8"
                                      "bye",
                                      5)));
  const auto frames = client->Frames(1);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].opcode, 0x8);
  EXPECT_EQ(CloseCode(frames[0]), 1000);
  EXPECT_TRUE(client->ReadEof());
  EXPECT_EQ(WaitFor("close"), "close 1000 1000");
}

TEST_F(WsServerTest, ServerCloseEndsWhenThePeerAnswers) {
  Start();
  auto client = Open();
  OnIo([this] {
    open_[0]->Close(4001, "go away");
    EXPECT_FALSE(open_[0]->SendText("after close"));
  });
  const auto frames = client->Frames(1);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(CloseCode(frames[0]), 4001);
  EXPECT_EQ(frames[0].payload.substr(2), "go away");
  // Data sent before the peer saw our close is not delivered.
  client->Send(Frame(0x1, "late") + Frame(0x8, std::string("\x0f\xa1", 2)));
  EXPECT_TRUE(client->ReadEof());
  EXPECT_EQ(WaitFor("close"), "close 4001 4001");
  EXPECT_EQ(Count("text"), 0u);
}

struct ProtocolCase {
  const char* name;
  std::string bytes;
  uint16_t code;
};

class WsServerProtocolTest
    : public WsServerTest,
      public ::testing::WithParamInterface<ProtocolCase> {};

TEST_P(WsServerProtocolTest, ErrorClosesWithItsCodeAndEnds) {
  WsServer::Options options;
  options.max_message_bytes = 1000;
  Start(options);
  auto client = Open();
  client->Send(GetParam().bytes);
  const auto frames = client->Frames(1);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].opcode, 0x8);
  EXPECT_EQ(CloseCode(frames[0]), GetParam().code);
  EXPECT_TRUE(client->ReadEof());
  EXPECT_EQ(WaitFor("close"), absl::StrCat("close ", GetParam().code, " 0"));
  EXPECT_EQ(Count("text"), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Inputs, WsServerProtocolTest,
    ::testing::Values(
        ProtocolCase{"unmasked", Frame(0x1, "x", false), 1002},
        ProtocolCase{"invalid_utf8", Frame(0x1, "\xff\xfe"), 1007},
        ProtocolCase{"too_big", Frame(0x1, std::string(1001, 'a')), 1009},
        ProtocolCase{"too_big_in_fragments",
                     Frame(0x1, std::string(600, 'a'), true, false) +
                         Frame(0x0, std::string(600, 'a')),
                     1009},
        ProtocolCase{"reserved_opcode", Frame(0x3, "x"), 1002},
        ProtocolCase{"one_byte_close", Frame(0x8, "x"), 1002},
        ProtocolCase{"reserved_close_code",
                     Frame(0x8, std::string("\x03\xed", 2)), 1002},
        ProtocolCase{"continuation_first", Frame(0x0, "x"), 1002},
        ProtocolCase{"fragmented_ping", Frame(0x9, "x", true, false), 1002},
        ProtocolCase{"long_ping", Frame(0x9, std::string(126, 'p')), 1002}),
    [](const auto& info) { return std::string(info.param.name); });

struct RequestCase {
  const char* name;
  std::string request;
  const char* status_line;
  const char* must_contain;
};

class WsServerRequestTest : public WsServerTest,
                            public ::testing::WithParamInterface<RequestCase> {
};

TEST_P(WsServerRequestTest, AnsweredThenClosed) {
  Start();
  verdict_.allowed = false;  // used by the refusal case only
  verdict_.http_status = 403;
  verdict_.body = "origin not allowed";
  Client client(port_);
  client.Send(GetParam().request);
  const std::string head = client.Head();
  EXPECT_TRUE(absl::StartsWith(head, GetParam().status_line)) << head;
  EXPECT_TRUE(client.ReadEof());
  EXPECT_TRUE(absl::StrContains(head + "|", GetParam().must_contain) ||
              client.ReadUntil([&](const std::string& body) {
                return absl::StrContains(body, GetParam().must_contain);
              }))
      << head;
  EXPECT_EQ(WaitFor("fail").substr(0, 4), "fail");
  EXPECT_EQ(Count("open"), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Requests, WsServerRequestTest,
    ::testing::Values(
        RequestCase{"plain_http", "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
                    "HTTP/1.1 200", "hello body"},
        RequestCase{"garbage", "BLAH\r\n\r\n", "HTTP/1.1 400", ""},
        RequestCase{"old_version", Upgrade("/", "Sec-WebSocket-Version: 8\r\n"),
                    "HTTP/1.1 400", "Sec-WebSocket-Version: 13"},
        RequestCase{"no_key",
                    "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
                    "HTTP/1.1 400", ""},
        RequestCase{"refused", Upgrade(), "HTTP/1.1 403", "origin not allowed"},
        RequestCase{
            "huge_headers",
            "GET / HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n",
            "HTTP/1.1 431", ""},
        RequestCase{"huge_body",
                    "POST /hello HTTP/1.1\r\nHost: x\r\n"
                    "Content-Length: 100000\r\n\r\n",
                    "HTTP/1.1 413", ""}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace channel::testing
