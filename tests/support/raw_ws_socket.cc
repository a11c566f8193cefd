#include "tests/support/raw_ws_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/support/loopback.h"

namespace channel::testing {

RawWsSocket::RawWsSocket(int port, int receive_buffer)
    : fd_(ConnectLoopback(port, receive_buffer)) {
  if (fd_ < 0) return;
  const std::string request =
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n";
  if (send(fd_, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return;
  }
  // Read the response head byte by byte so no frame after it is consumed.
  std::string head;
  char c;
  while (head.size() < 4096 && head.find("\r\n\r\n") == std::string::npos) {
    pollfd pfd{fd_, POLLIN, 0};
    if (poll(&pfd, 1, 5000) <= 0 || recv(fd_, &c, 1, 0) != 1) return;
    head.push_back(c);
  }
  ok_ = head.rfind("HTTP/1.1 101", 0) == 0;
}

RawWsSocket::~RawWsSocket() {
  if (fd_ >= 0) close(fd_);
}

bool RawWsSocket::SendText(const std::string& payload) {
  // Client frames must be masked; a zero mask key leaves the payload as is.
  std::string frame;
  frame.push_back(static_cast<char>(0x81));
  if (payload.size() < 126) {
    frame.push_back(static_cast<char>(0x80 | payload.size()));
  } else {
    frame.push_back(static_cast<char>(0x80 | 126));
    frame.push_back(static_cast<char>(payload.size() >> 8));
    frame.push_back(static_cast<char>(payload.size()));
  }
  frame.append(4, '\0');
  frame += payload;
  return send(fd_, frame.data(), frame.size(), MSG_NOSIGNAL) ==
         static_cast<ssize_t>(frame.size());
}

bool RawWsSocket::WaitForEof(std::chrono::milliseconds timeout) {
  return WaitForPeerClose(fd_, timeout);
}

}  // namespace channel::testing
