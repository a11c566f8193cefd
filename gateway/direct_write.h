#ifndef CHANNEL_GATEWAY_DIRECT_WRITE_H_
#define CHANNEL_GATEWAY_DIRECT_WRITE_H_

// Writing ready (prepared, shared) fan-out frames straight to a plain-TCP
// WebSocket's socket, skipping websocketpp's per-message machinery (a post,
// a handler allocation, its queue and an async_write completion: ~3 us per
// send). Included only by worker.cc (websocketpp translation unit).
//
// Frame order and websocketpp's own frames (pong, ping, close, replies) stay
// intact because a direct write happens only while websocketpp has nothing
// queued and no write in flight for the connection; when the kernel takes
// only part of the bytes, the rest is handed to websocketpp as one prepared
// message, so everything after it queues behind it.
#include <sys/socket.h>

#include <cerrno>
#include <queue>

#include "gateway/websocketpp_private.h"
#include "gateway/worker_config.h"

namespace channel {

using PlainConnection = websocketpp::connection<PlainConfig>;

// True when websocketpp has no bytes of its own pending for `con`: bytes we
// write now go out in order.
inline bool WebsocketppIdle(PlainConnection& con) {
  return !(con.*Get(WriteFlagOf<PlainConfig>{})) &&
         (con.*Get(SendQueueOf<PlainConfig>{})).empty();
}

// Outcome of one direct write attempt.
enum class DirectWrite {
  kWritten,    // every byte is in the kernel
  kPartial,    // *written bytes are; the caller hands the rest to websocketpp
  kNotDirect,  // nothing written: use websocketpp for all of it
};

// One non-blocking send of `data` on an idle connection's socket.
inline DirectWrite TryDirectWrite(PlainConnection& con, const std::string& data,
                                  size_t* written) {
  *written = 0;
  if (!WebsocketppIdle(con)) return DirectWrite::kNotDirect;
  const int fd = con.get_raw_socket().native_handle();
  ssize_t n;
  do {
    n = ::send(fd, data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    // Full: websocketpp waits for writability. Any other error: websocketpp
    // meets it on its own write and closes the connection.
    return DirectWrite::kNotDirect;
  }
  *written = static_cast<size_t>(n);
  return *written == data.size() ? DirectWrite::kWritten
                                 : DirectWrite::kPartial;
}

}  // namespace channel

#endif  // CHANNEL_GATEWAY_DIRECT_WRITE_H_
