#include "tests/support/sockets/raw_frame_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/framing/frame_encoder.h"
#include "tests/support/sockets/loopback.h"

namespace channel::testing {

RawFrameSocket::RawFrameSocket(int port, int receive_buffer)
    : fd_(ConnectLoopback(port, receive_buffer)) {}

std::unique_ptr<RawFrameSocket> RawFrameSocket::Adopt(int fd) {
  std::unique_ptr<RawFrameSocket> socket(new RawFrameSocket());
  socket->fd_ = fd;
  return socket;
}

RawFrameSocket::~RawFrameSocket() {
  if (fd_ >= 0) close(fd_);
}

bool RawFrameSocket::SendRaw(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n =
        send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

bool RawFrameSocket::SendEnvelope(const v1::Envelope& envelope) {
  return SendRaw(*EncodeFrame(envelope));
}

bool RawFrameSocket::SendHello(const std::string& token, uint32_t version) {
  v1::Envelope envelope;
  envelope.mutable_hello()->set_client_name("raw-test");
  envelope.mutable_hello()->set_protocol_version(version);
  envelope.mutable_hello()->set_auth_token(token);
  return SendEnvelope(envelope);
}

bool RawFrameSocket::ReadExactly(char* out, size_t n,
                                 std::chrono::milliseconds timeout, bool* eof) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t got = 0;
  while (got < n) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd pfd{fd_, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return false;
    const ssize_t r = recv(fd_, out + got, n - got, 0);
    if (r <= 0) {
      if (eof != nullptr) *eof = true;
      return false;
    }
    got += static_cast<size_t>(r);
  }
  return true;
}

std::optional<std::string> RawFrameSocket::ReadFrame(
    std::chrono::milliseconds timeout, bool* eof) {
  unsigned char header[4];
  if (!ReadExactly(reinterpret_cast<char*>(header), 4, timeout, eof)) {
    return std::nullopt;
  }
  const uint32_t length = (uint32_t{header[0]} << 24) |
                          (uint32_t{header[1]} << 16) |
                          (uint32_t{header[2]} << 8) | header[3];
  if (length < 4) return std::nullopt;
  std::string body(length - 4, '\0');
  if (!ReadExactly(body.data(), body.size(), timeout, eof)) return std::nullopt;
  return body;
}

std::optional<v1::Envelope> RawFrameSocket::ReadEnvelope(
    std::chrono::milliseconds timeout) {
  for (;;) {
    auto body = ReadFrame(timeout);
    if (!body) return std::nullopt;
    if (body->empty()) continue;
    v1::Envelope envelope;
    if (!envelope.ParseFromString(*body)) return std::nullopt;
    return envelope;
  }
}

bool RawFrameSocket::WaitForEof(std::chrono::milliseconds timeout) {
  return WaitForPeerClose(fd_, timeout);
}

}  // namespace channel::testing
