// The gateway's own WebSocket server (WsServer, WsConnection) against raw
// TCP clients written here byte by byte: the opening handshake and its
// refusals, frames in and out, the close handshake both ways, protocol
// errors, plain HTTP, deadlines and a reader too slow for the kernel's
// buffers. The server runs on its own thread; the test talks to it by
// posting and waits on the events it records.
#include "gateway/ws/ws_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "asio/executor_work_guard.hpp"
#include "asio/io_context.hpp"
#include "asio/post.hpp"
#include "gateway/ws/ws_text_frame.h"
#include "gtest/gtest.h"
#include "tests/support/sockets/loopback.h"

namespace channel {
namespace {

using namespace std::chrono_literals;

constexpr char kKey[] = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr char kAccept[] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";  // RFC 6455 1.3

std::string Upgrade(const std::string& target = "/chat?x=1",
                    const std::string& extra = "") {
  return absl::StrCat("GET ", target,
                      " HTTP/1.1\r\nHost: localhost\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: ",
                      kKey, "\r\n", extra,
                      extra.find("Version") == std::string::npos
                          ? "Sec-WebSocket-Version: 13\r\n"
                          : "",
                      "Origin: https://o.example\r\n\r\n");
}

// One client frame: FIN set unless `fin` is false, masked unless `masked`
// is false (RFC 6455 5.2).
std::string Frame(int opcode, const std::string& payload, bool masked = true,
                  bool fin = true) {
  std::string out;
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | opcode));
  const char mask_bit = masked ? static_cast<char>(0x80) : 0;
  const size_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(mask_bit | n));
  } else if (n <= 0xFFFF) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>(n >> shift));
    }
  }
  const char mask[4] = {0x12, 0x34, 0x56, 0x78};
  if (masked) out.append(mask, 4);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(masked ? static_cast<char>(payload[i] ^ mask[i % 4])
                         : payload[i]);
  }
  return out;
}

struct ServerFrame {
  int opcode;
  std::string payload;
};

// A blocking loopback client that reads with deadlines.
class Client {
 public:
  explicit Client(int port, int receive_buffer = 0)
      : fd_(testing::ConnectLoopback(port, receive_buffer)) {}
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  void Send(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n =
          ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }
  // Reads until `done(received)` or EOF or the timeout; true if done.
  bool ReadUntil(const std::function<bool(const std::string&)>& done,
                 std::chrono::milliseconds timeout = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done(in_)) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms || eof_) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buffer[65536];
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) {
        eof_ = true;
      } else {
        in_.append(buffer, static_cast<size_t>(n));
      }
    }
    return true;
  }
  bool ReadEof(std::chrono::milliseconds timeout = 5000ms) {
    ReadUntil([this](const std::string&) { return eof_; }, timeout);
    return eof_;
  }
  // The HTTP response head, once complete; frames after it stay in in_.
  std::string Head() {
    if (!ReadUntil([](const std::string& s) {
          return s.find("\r\n\r\n") != std::string::npos;
        })) {
      return in_;
    }
    const size_t end = in_.find("\r\n\r\n") + 4;
    std::string head = in_.substr(0, end);
    in_.erase(0, end);
    return head;
  }
  // The next `count` server frames (unmasked by contract).
  std::vector<ServerFrame> Frames(size_t count) {
    std::vector<ServerFrame> out;
    while (out.size() < count) {
      size_t need = 2, length = 0;
      const bool got = ReadUntil([&](const std::string& s) {
        if (s.size() < 2) return false;
        length = static_cast<uint8_t>(s[1]) & 0x7F;
        size_t header = 2;
        if (length == 126) header = 4;
        if (length == 127) header = 10;
        if (s.size() < header) return false;
        if (length >= 126) {
          length = 0;
          for (size_t i = 2; i < header; ++i) {
            length = length << 8 | static_cast<uint8_t>(s[i]);
          }
        }
        need = header + length;
        return s.size() >= need;
      });
      if (!got) break;
      out.push_back({in_[0] & 0x0F, in_.substr(need - length, length)});
      in_.erase(0, need);
    }
    return out;
  }
  bool eof() const { return eof_; }

 private:
  int fd_;
  std::string in_;
  bool eof_ = false;
};

uint16_t CloseCode(const ServerFrame& frame) {
  if (frame.payload.size() < 2) return 0;
  return static_cast<uint16_t>(static_cast<uint8_t>(frame.payload[0]) << 8 |
                               static_cast<uint8_t>(frame.payload[1]));
}

class WsServerTest : public ::testing::Test {
 protected:
  void Start(WsServer::Options options = {}) {
    WsServer::Events events;
    events.accepted = [this](WsConnection&) {
      Record("accepted");
      return accept_;
    };
    events.validate = [this](WsConnection& con) {
      Record(absl::StrCat("validate ", con.resource(), " ", con.origin()));
      return verdict_;
    };
    events.open = [this](WsConnection& con) {
      open_.push_back(con.shared_from_this());
      Record(absl::StrCat("open ", con.resource()));
    };
    events.close = [this](WsConnection& con) {
      Record(absl::StrCat("close ", con.local_close_code(), " ",
                          con.remote_close_code()));
    };
    events.fail = [this](WsConnection&, absl::string_view why) {
      Record(absl::StrCat("fail ", why));
    };
    events.message = [this](WsConnection& con, const std::string& payload,
                            bool is_text) {
      Record(absl::StrCat(is_text ? "text " : "binary ", payload));
      if (echo_) con.SendText(absl::StrCat("echo:", payload));
    };
    events.pong = [this](WsConnection&) { Record("pong"); };
    events.http = [](absl::string_view resource) {
      return PlainHttpReply{resource == "/hello" ? 200 : 426, "text/plain",
                            "hello body"};
    };
    server_ = std::make_unique<WsServer>(io_, options, std::move(events));
    uint16_t port = 0;
    ASSERT_TRUE(server_->Listen("127.0.0.1", 0, &port).ok());
    port_ = port;
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    if (!thread_.joinable()) return;
    OnIo([this] {
      server_->StopListening();
      open_.clear();
    });
    work_guard_.reset();
    io_.stop();
    thread_.join();
    server_.reset();
  }

  // Runs `fn` on the server's thread and waits for it.
  void OnIo(std::function<void()> fn) {
    std::promise<void> done;
    asio::post(io_, [&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }

  void Record(std::string line) {
    std::lock_guard<std::mutex> lock(mu_);
    log_.push_back(std::move(line));
    cv_.notify_all();
  }
  // Waits for a recorded event starting with `prefix`; returns it.
  std::string WaitFor(const std::string& prefix) {
    std::unique_lock<std::mutex> lock(mu_);
    std::string found;
    cv_.wait_for(lock, 5s, [&] {
      for (const auto& line : log_) {
        if (absl::StartsWith(line, prefix)) {
          found = line;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  size_t Count(const std::string& prefix) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (const auto& line : log_) n += absl::StartsWith(line, prefix);
    return n;
  }

  // A client through the upgrade; frames sent with the request follow it.
  std::unique_ptr<Client> Open(const std::string& with_request = "") {
    auto client = std::make_unique<Client>(port_);
    client->Send(Upgrade() + with_request);
    const std::string head = client->Head();
    EXPECT_TRUE(absl::StartsWith(head, "HTTP/1.1 101")) << head;
    EXPECT_NE(head.find(kAccept), std::string::npos) << head;
    EXPECT_EQ(WaitFor("open"), "open /chat?x=1");
    return client;
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_guard_{
      io_.get_executor()};
  std::unique_ptr<WsServer> server_;
  std::thread thread_;
  int port_ = 0;
  bool accept_ = true;
  bool echo_ = true;
  Admission::Verdict verdict_;
  std::vector<std::shared_ptr<WsConnection>> open_;  // io thread only
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> log_;
};

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
}  // namespace channel
