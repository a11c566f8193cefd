#ifndef CHANNEL_TESTS_GATEWAY_WS_WS_SERVER_FIXTURE_H_
#define CHANNEL_TESTS_GATEWAY_WS_WS_SERVER_FIXTURE_H_

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
#include "gateway/ws/ws_server.h"
#include "gateway/ws/ws_text_frame.h"
#include "gtest/gtest.h"
#include "tests/support/sockets/loopback.h"

// The gateway's own WebSocket server on its own thread, and raw TCP
// clients written byte by byte: what ws_server_test.cc and
// ws_server_limits_test.cc share.
namespace channel::testing {

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

inline uint16_t CloseCode(const ServerFrame& frame) {
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

}  // namespace channel::testing

#endif  // CHANNEL_TESTS_GATEWAY_WS_WS_SERVER_FIXTURE_H_
