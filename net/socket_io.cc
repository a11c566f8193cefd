#include "net/socket_io.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cerrno>

namespace channel {
namespace {

// Largest number of pieces gathered into one sendmsg (IOV_MAX is 1024).
constexpr int kMaxGather = 512;

}  // namespace

char* ThreadReadBuffer() {
  thread_local std::array<char, kThreadReadBufferBytes> buffer;
  return buffer.data();
}

ssize_t SendGathered(int fd, FrameQueue* queue) {
  iovec iov[kMaxGather];
  const int count = queue->Fill(iov, kMaxGather);
  ssize_t n;
  do {
    if (count == 1) {  // the common case at low fan-out: skip the iovec import
      n = ::send(fd, iov[0].iov_base, iov[0].iov_len,
                 MSG_NOSIGNAL | MSG_DONTWAIT);
    } else {
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = static_cast<size_t>(count);
      n = ::sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
  } while (n < 0 && errno == EINTR);
  if (n > 0) queue->Consume(static_cast<size_t>(n));
  return n;
}

}  // namespace channel
