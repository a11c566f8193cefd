#include "tests/support/sockets/raw_ws_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

#include "tests/support/sockets/loopback.h"

namespace channel::testing {
namespace {

using Clock = std::chrono::steady_clock;

// One client context for every wss test socket: trusts any certificate
// (the tests make their own).
SSL_CTX* ClientContext() {
  static SSL_CTX* ctx = [] {
    // OpenSSL writes with send(2) without MSG_NOSIGNAL: a write to a
    // socket the gateway closed must fail, not kill the test.
    signal(SIGPIPE, SIG_IGN);
    SSL_CTX* c = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    return c;
  }();
  return ctx;
}

}  // namespace

RawWsSocket::RawWsSocket(int port, int receive_buffer)
    : RawWsSocket(port, Options{false, receive_buffer, "/"}) {}

RawWsSocket::RawWsSocket(int port, const Options& options)
    : fd_(ConnectLoopback(port, options.receive_buffer)) {
  if (fd_ < 0) return;
  // Every wait below is bounded by a deadline; the socket never blocks.
  fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
  // Each message goes out at once (Nagle would hold it for an ACK).
  const int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  if (options.tls) {
    ssl_ = SSL_new(ClientContext());
    SSL_set_fd(ssl_, fd_);
    SSL_set_connect_state(ssl_);
    for (;;) {
      ERR_clear_error();
      const int r = SSL_do_handshake(ssl_);
      if (r == 1) break;
      const int e = SSL_get_error(ssl_, r);
      if (e == SSL_ERROR_WANT_READ && WaitFd(POLLIN, deadline)) continue;
      if (e == SSL_ERROR_WANT_WRITE && WaitFd(POLLOUT, deadline)) continue;
      return;
    }
  }
  const std::string request = "GET " + options.target +
                              " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n\r\n";
  if (!Write(request.data(), request.size())) return;
  // Frames may follow the head at once: they stay in in_.
  size_t end;
  while ((end = in_.find("\r\n\r\n")) == std::string::npos) {
    if (in_.size() > 4096 || Fill(deadline) <= 0) return;
  }
  status_line_ = in_.substr(0, in_.find("\r\n"));
  ok_ = in_.rfind("HTTP/1.1 101", 0) == 0;
  in_.erase(0, end + 4);
}

RawWsSocket::~RawWsSocket() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (fd_ >= 0) close(fd_);
}

bool RawWsSocket::WaitFd(short events, Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - Clock::now());
  if (left.count() <= 0) return false;
  pollfd pfd{fd_, events, 0};
  return poll(&pfd, 1, static_cast<int>(left.count())) > 0;
}

bool RawWsSocket::Write(const char* data, size_t size) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  size_t done = 0;
  while (done < size) {
    if (ssl_ == nullptr) {
      const ssize_t n = send(fd_, data + done, size - done, MSG_NOSIGNAL);
      if (n > 0) {
        done += static_cast<size_t>(n);
      } else if (n < 0 && errno == EAGAIN && WaitFd(POLLOUT, deadline)) {
        continue;
      } else {
        return false;
      }
      continue;
    }
    // After WANT_*, the same arguments again (OpenSSL's retry rule).
    ERR_clear_error();
    size_t n = 0;
    if (SSL_write_ex(ssl_, data + done, size - done, &n) == 1) {
      done += n;
      continue;
    }
    const int e = SSL_get_error(ssl_, 0);
    if (e == SSL_ERROR_WANT_WRITE && WaitFd(POLLOUT, deadline)) continue;
    if (e == SSL_ERROR_WANT_READ && WaitFd(POLLIN, deadline)) continue;
    return false;
  }
  return true;
}

int RawWsSocket::Fill(Clock::time_point deadline) {
  char buffer[65536];
  for (;;) {
    if (ssl_ == nullptr) {
      const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n > 0) {
        in_.append(buffer, static_cast<size_t>(n));
        return static_cast<int>(n);
      }
      if (n == 0) return 0;
      if (errno != EAGAIN || !WaitFd(POLLIN, deadline)) return -1;
      continue;
    }
    ERR_clear_error();
    size_t n = 0;
    if (SSL_read_ex(ssl_, buffer, sizeof(buffer), &n) == 1) {
      in_.append(buffer, n);
      return static_cast<int>(n);
    }
    const int e = SSL_get_error(ssl_, 0);
    if (e == SSL_ERROR_ZERO_RETURN) return 0;
    if (e == SSL_ERROR_WANT_READ && WaitFd(POLLIN, deadline)) continue;
    if (e == SSL_ERROR_WANT_WRITE && WaitFd(POLLOUT, deadline)) continue;
    // A truncated stream (EOF without close_notify) counts as EOF.
    if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_SSL) return 0;
    return -1;
  }
}

bool RawWsSocket::SendRaw(const std::string& bytes) {
  return Write(bytes.data(), bytes.size());
}

bool RawWsSocket::SendText(const std::string& payload) {
  // Client frames must be masked; a zero mask key leaves the payload as is.
  std::string frame;
  frame.push_back(static_cast<char>(0x81));
  const size_t n = payload.size();
  if (n < 126) {
    frame.push_back(static_cast<char>(0x80 | n));
  } else if (n <= 0xFFFF) {
    frame.push_back(static_cast<char>(0x80 | 126));
    frame.push_back(static_cast<char>(n >> 8));
    frame.push_back(static_cast<char>(n));
  } else {
    frame.push_back(static_cast<char>(0x80 | 127));
    for (int shift = 56; shift >= 0; shift -= 8) {
      frame.push_back(static_cast<char>(n >> shift));
    }
  }
  frame.append(4, '\0');
  frame += payload;
  return SendRaw(frame);
}

std::optional<RawWsSocket::Frame> RawWsSocket::ReadFrame(
    std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    // Server frames are never masked (RFC 6455 5.1).
    if (in_.size() >= 2) {
      const auto* b = reinterpret_cast<const unsigned char*>(in_.data());
      size_t length = b[1] & 0x7F;
      size_t header = 2;
      if (length == 126 && in_.size() >= 4) {
        length = (size_t{b[2]} << 8) | b[3];
        header = 4;
      } else if (length == 127 && in_.size() >= 10) {
        length = 0;
        for (int i = 2; i < 10; ++i) length = (length << 8) | b[i];
        header = 10;
      }
      const bool header_complete =
          (b[1] & 0x7F) < 126 || header > 2;  // extended length read
      if (header_complete && in_.size() >= header + length) {
        Frame frame{b[0] & 0x0F, in_.substr(header, length)};
        in_.erase(0, header + length);
        return frame;
      }
    }
    if (Fill(deadline) <= 0) return std::nullopt;
  }
}

std::optional<std::string> RawWsSocket::ReadText(
    std::chrono::milliseconds timeout) {
  if (!texts_.empty()) {
    std::string text = std::move(texts_.front());
    texts_.pop_front();
    return text;
  }
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now());
    std::optional<Frame> frame = ReadFrame(left);
    if (!frame) return std::nullopt;
    if (frame->opcode == 1) return std::move(frame->payload);
    if (frame->opcode == 8) {
      const auto* p =
          reinterpret_cast<const unsigned char*>(frame->payload.data());
      close_code_ = frame->payload.size() >= 2 ? (p[0] << 8) | p[1] : 1005;
      return std::nullopt;
    }
  }
}

std::string RawWsSocket::Request(const std::string& json, int id,
                                 std::chrono::milliseconds timeout) {
  if (!SendText(json)) return "";
  const std::string prefix = "{\"id\":" + std::to_string(id) + ",";
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now());
    if (left.count() <= 0) return "";
    std::optional<Frame> frame = ReadFrame(left);
    if (!frame || frame->opcode == 8) return "";
    if (frame->opcode != 1) continue;
    if (frame->payload.rfind(prefix, 0) == 0) return frame->payload;
    texts_.push_back(std::move(frame->payload));
  }
}

std::optional<int> RawWsSocket::WaitForCloseFrame(
    std::chrono::milliseconds timeout) {
  texts_.clear();
  const auto deadline = Clock::now() + timeout;
  close_code_ = 0;
  while (close_code_ == 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now());
    if (left.count() <= 0 || !ReadText(left).has_value()) break;
  }
  if (close_code_ == 0) return std::nullopt;
  return close_code_;
}

bool RawWsSocket::WaitForEof(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    in_.clear();
    const int n = Fill(deadline);
    if (n == 0) return true;
    if (n < 0) {
      // An error other than a timeout (a reset) is an end too.
      return Clock::now() < deadline;
    }
  }
}

void RawWsSocket::SendCloseNotify() {
  if (ssl_ == nullptr) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);
}

bool RawWsSocket::SendBelowTls(const std::string& bytes) {
  return send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
         static_cast<ssize_t>(bytes.size());
}

void RawWsSocket::Drop(bool reset) {
  if (fd_ < 0) return;
  if (reset) {
    linger l{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  }
  if (ssl_ != nullptr) {
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  close(fd_);
  fd_ = -1;
}

}  // namespace channel::testing
