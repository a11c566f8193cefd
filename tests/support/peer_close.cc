#include "tests/support/peer_close.h"

#include <poll.h>
#include <sys/socket.h>

namespace channel::testing {

bool WaitForPeerClose(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[65536];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return false;
    if (recv(fd, buffer, sizeof(buffer), 0) <= 0) return true;
  }
}

}  // namespace channel::testing
