#ifndef CHANNEL_TESTS_SUPPORT_PEER_CLOSE_H_
#define CHANNEL_TESTS_SUPPORT_PEER_CLOSE_H_

#include <chrono>

namespace channel::testing {

// Reads and discards from `fd` until the peer closes the connection (true)
// or `timeout` passes (false).
bool WaitForPeerClose(int fd, std::chrono::milliseconds timeout);

}  // namespace channel::testing

#endif  // CHANNEL_TESTS_SUPPORT_PEER_CLOSE_H_
