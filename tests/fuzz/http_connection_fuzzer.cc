// libFuzzer target: the bytes a client sends to an HttpServer connection
// (net/http_connection.h; the broker's HTTP API), from the first byte, then
// end of stream. Checks what must hold whatever arrives: every request the
// handler gets passed its header check first and has a body within the
// limit; the connection ends once the input has (answers given now or a
// loop turn later).
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "asio/io_context.hpp"
#include "asio/post.hpp"
#include "net/http_connection.h"
#include "net/http_server.h"

namespace {

constexpr size_t kMaxBody = 512;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  asio::io_context io;
  channel::HttpServerOptions options;
  options.max_body_bytes = kMaxBody;
  // Deadlines far away: the input's end is what ends the connection.
  options.request_timeout = std::chrono::hours(1);
  options.idle_timeout = std::chrono::hours(1);
  int heads = 0;
  int requests = 0;
  channel::HttpHandlers handlers;
  handlers.on_headers = [&](const channel::HttpRequest& head)
      -> std::optional<channel::HttpResponse> {
    ++heads;
    if (!head.body.empty()) std::abort();
    if (head.Path() == "/refuse") {
      channel::HttpResponse r;
      r.status = 401;
      r.body = "no";
      return r;
    }
    return std::nullopt;
  };
  handlers.on_request = [&](channel::HttpRequest request,
                            channel::HttpReply reply) {
    ++requests;
    if (requests > heads || request.body.size() > kMaxBody) std::abort();
    channel::HttpResponse r;
    r.body = request.body;             // echoes exercise the write path
    if (request.Path() == "/later") {  // answered a loop turn later
      asio::post(io, [reply = std::move(reply), r] { reply(r); });
    } else {
      reply(r);
    }
  };
  handlers.error = [](int status, absl::string_view, absl::string_view) {
    channel::HttpResponse r;
    r.status = status;
    return r;
  };
  auto server = std::make_unique<channel::HttpServer>(io, options, handlers);

  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) != 0) {
    return 0;
  }
  asio::ip::tcp::socket socket(io.get_executor());
  std::error_code ec;
  socket.assign(asio::ip::tcp::v4(), fds[0], ec);
  if (ec) std::abort();
  auto con = std::make_shared<channel::HttpConnection>(
      server.get(), 1, std::move(socket), "fuzz");
  con->Start();

  // The client's bytes, then end of stream; what the server writes is read
  // and dropped so that it never waits for the peer.
  size_t sent = 0;
  bool shut = false;
  int idle = 0;
  char sink[65536];
  for (int turn = 0; turn < 100000 && !con->closed(); ++turn) {
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
    idle = (ran == 0 && shut) ? idle + 1 : 0;
    if (idle == 3) break;  // waits for nothing more: must have closed
  }
  if (!con->closed()) std::abort();
  ::close(fds[1]);
  con.reset();
  server.reset();
  return 0;
}
