#ifndef CHANNEL_TESTS_SUPPORT_RAW_WS_SOCKET_H_
#define CHANNEL_TESTS_SUPPORT_RAW_WS_SOCKET_H_

#include <chrono>
#include <string>

namespace channel::testing {

// A WebSocket client that does only what a test tells it: the handshake,
// masked text frames out, and nothing else. It never reads unless asked and
// never answers pings: a slow or dead client.
class RawWsSocket {
 public:
  // Connects to 127.0.0.1:port and completes the upgrade; receive_buffer > 0
  // shrinks SO_RCVBUF first.
  RawWsSocket(int port, int receive_buffer = 0);
  ~RawWsSocket();

  bool ok() const { return ok_; }
  bool SendText(const std::string& payload);
  // Reads and discards until the server closes the TCP connection.
  bool WaitForEof(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
  bool ok_ = false;
};

}  // namespace channel::testing

#endif  // CHANNEL_TESTS_SUPPORT_RAW_WS_SOCKET_H_
