#ifndef CHANNEL_TESTS_SUPPORT_SOCKETS_LOOPBACK_H_
#define CHANNEL_TESTS_SUPPORT_SOCKETS_LOOPBACK_H_

#include <chrono>

namespace channel::testing {

// A blocking TCP connection to 127.0.0.1:port; receive_buffer > 0 shrinks
// SO_RCVBUF first (a slow reader). Returns the descriptor, or -1.
int ConnectLoopback(int port, int receive_buffer = 0);

// Reads and discards from `fd` until the peer closes the connection (true)
// or `timeout` passes (false).
bool WaitForPeerClose(int fd, std::chrono::milliseconds timeout);

}  // namespace channel::testing

#endif  // CHANNEL_TESTS_SUPPORT_SOCKETS_LOOPBACK_H_
