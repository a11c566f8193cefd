// libFuzzer target: the bytes a client sends to the gateway's own
// WebSocket connection (gateway/ws/ws_connection.h), from the opening request
// on, then end of stream. Checks what must hold whatever arrives: the
// connection ends, and reports exactly one end (fail if it never opened,
// close if it did, never both); messages arrive only while it is open, none
// over the size limit.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "asio/io_context.hpp"
#include "gateway/ws/ws_server.h"

namespace {

constexpr size_t kMaxMessage = 1024;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  asio::io_context io;
  int opens = 0, closes = 0, fails = 0;
  channel::WsServer::Options options;
  options.max_message_bytes = kMaxMessage;
  options.max_queued_bytes = 4096;
  channel::WsServer::Events events;
  events.accepted = [](channel::WsConnection&) { return true; };
  events.validate = [](channel::WsConnection&) {
    return channel::Admission::Verdict{};
  };
  events.open = [&](channel::WsConnection&) { ++opens; };
  events.close = [&](channel::WsConnection&) { ++closes; };
  events.fail = [&](channel::WsConnection&, absl::string_view) { ++fails; };
  events.message = [&](channel::WsConnection& con, const std::string& payload,
                       bool) {
    if (opens != 1 || !con.is_open() || payload.size() > kMaxMessage) {
      std::abort();
    }
    con.SendText(payload);  // replies exercise the write path
  };
  events.pong = [](channel::WsConnection&) {};
  events.http = [](absl::string_view) {
    return channel::PlainHttpReply{426, "text/plain", "WebSocket only"};
  };
  auto server = std::make_unique<channel::WsServer>(io, options, events);

  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) != 0) {
    return 0;
  }
  channel::WsConnection::Socket socket(io.get_executor());
  std::error_code ec;
  socket.assign(asio::ip::tcp::v4(), fds[0], ec);
  if (ec) std::abort();
  auto con =
      std::make_shared<channel::WsConnection>(server.get(), std::move(socket));
  server->Watch(con, std::chrono::steady_clock::now() + std::chrono::hours(1));
  con->Start();

  // The client's bytes, then end of stream; what the server writes is read
  // and dropped so that it never waits for the peer.
  size_t sent = 0;
  bool shut = false;
  int idle = 0;
  char sink[65536];
  for (int turn = 0; turn < 100000; ++turn) {
    if (sent < size) {
      const ssize_t n = ::send(fds[1], data + sent, size - sent, MSG_NOSIGNAL);
      if (n > 0) sent += static_cast<size_t>(n);
    }
    if (sent == size && !shut) {
      ::shutdown(fds[1], SHUT_WR);
      shut = true;
    }
    while (::recv(fds[1], sink, sizeof sink, 0) > 0) {
    }
    const size_t ran = io.poll();
    if (con->state() == channel::WsConnection::State::kClosed) break;
    idle = (ran == 0 && shut) ? idle + 1 : 0;
    if (idle == 2) {
      // Nothing ready and nothing more to send: the connection waits for
      // its peer. End it as a deadline would.
      con->Terminate("fuzz: idle");
    }
  }
  if (con->state() != channel::WsConnection::State::kClosed) std::abort();
  if (fails + closes != 1 || closes != opens) std::abort();
  ::close(fds[1]);
  con.reset();
  server.reset();
  return 0;
}
