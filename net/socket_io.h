#ifndef CHANNEL_NET_SOCKET_IO_H_
#define CHANNEL_NET_SOCKET_IO_H_

// Socket plumbing shared by every server and stream of the project: the
// broker's and clients' FramedStream, the broker's listener, and the
// gateway's own WebSocket connections and listener.
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "asio/ip/tcp.hpp"
#include "asio/socket_base.hpp"
#include "common/framing/frame_queue.h"

namespace channel {

// One read buffer per thread, not per connection: a reader copies or
// parses what it read before returning to the loop, so an idle connection
// holds no read buffer. kThreadReadBufferBytes long.
constexpr size_t kThreadReadBufferBytes = 64 * 1024;
char* ThreadReadBuffer();

// One non-blocking gathered send of `queue`'s oldest unsent pieces on `fd`
// (a plain send when there is one; at most 512 pieces, IOV_MAX is 1024),
// retried on EINTR; what the kernel took is consumed from the queue.
// Returns the bytes written, or -1 with errno set (EAGAIN or EWOULDBLOCK:
// the socket is full).
ssize_t SendGathered(int fd, FrameQueue* queue);

// Opens `acceptor` on host:port (port 0: any free port) with SO_REUSEADDR,
// and SO_REUSEPORT when `reuse_port` (several listeners sharing one port),
// and listens. On failure the acceptor is closed and the error names the
// address.
template <typename Acceptor>
absl::Status OpenListener(Acceptor* acceptor, const std::string& host,
                          uint16_t port, int backlog, bool reuse_port) {
  std::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address '", host, "': ", ec.message()));
  }
  const asio::ip::tcp::endpoint endpoint(address, port);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && reuse_port) {
    acceptor->set_option(
        asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true),
        ec);
  }
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(backlog, ec);
  if (ec) {
    std::error_code ignored;
    acceptor->close(ignored);
    return absl::UnavailableError(
        absl::StrCat("listen on ", host, ":", port, ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace channel

#endif  // CHANNEL_NET_SOCKET_IO_H_
