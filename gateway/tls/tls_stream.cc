#include "gateway/tls/tls_stream.h"

#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include "gateway/tls/openssl_api.h"

namespace channel {
namespace {

// Pieces of a queue looked at for one record: frames are small, and 256
// of them nearly always fill a record.
constexpr int kMaxPieces = 256;

// Where the pieces of one record are gathered: per thread, allocated by the
// first TLS write that needs it, used only inside WriteQueued.
char* GatherBuffer() {
  thread_local std::unique_ptr<char[]> buffer;
  if (!buffer) buffer = std::make_unique<char[]>(TlsStream::kMaxWrite);
  return buffer.get();
}

}  // namespace

TlsStream::TlsStream(TlsStream&& other) noexcept
    : ssl_(std::exchange(other.ssl_, nullptr)),
      established_(other.established_),
      fatal_(other.fatal_) {}

TlsStream& TlsStream::operator=(TlsStream&& other) noexcept {
  if (this != &other) {
    Free();
    ssl_ = std::exchange(other.ssl_, nullptr);
    established_ = other.established_;
    fatal_ = other.fatal_;
  }
  return *this;
}

void TlsStream::Free() {
  if (ssl_ != nullptr) {
    Ssl().SSL_free(ssl_);
    ssl_ = nullptr;
  }
}

// Every OpenSSL call below starts with an empty error queue (it is per
// thread, and SSL_get_error reads it: a stale entry from another
// connection would turn a retry into a failure) and errno at 0 (what
// SSL_ERROR_SYSCALL reports).

TlsStream::Result TlsStream::Handshake() {
  Ssl().ERR_clear_error();
  errno = 0;
  const int r = Ssl().SSL_do_handshake(ssl_);
  if (r == 1) {
    established_ = true;
    return {};
  }
  return Fail(r);
}

TlsStream::Result TlsStream::Read(char* out, size_t max) {
  Ssl().ERR_clear_error();
  errno = 0;
  size_t n = 0;
  const int r = Ssl().SSL_read_ex(ssl_, out, max, &n);
  if (r == 1) return {Status::kOk, n, ""};
  return Fail(r);
}

TlsStream::Result TlsStream::Write(const char* data, size_t size) {
  Ssl().ERR_clear_error();
  errno = 0;
  size_t n = 0;
  const int r = Ssl().SSL_write_ex(ssl_, data, std::min(size, kMaxWrite), &n);
  if (r == 1) return {Status::kOk, n, ""};
  return Fail(r);
}

TlsStream::Result TlsStream::WriteQueued(FrameQueue* queue) {
  iovec iov[kMaxPieces];
  const int count = queue->Fill(iov, kMaxPieces);
  // The same front pieces give the same bytes and, the queue only growing
  // at its back, at least the same length: the retry rule holds.
  size_t size = 0;
  for (int i = 0; i < count && size < kMaxWrite; ++i) size += iov[i].iov_len;
  size = std::min(size, kMaxWrite);
  const char* data;
  if (iov[0].iov_len >= size) {
    data = static_cast<const char*>(iov[0].iov_base);
  } else {
    char* gathered = GatherBuffer();
    size_t at = 0;
    for (int i = 0; at < size; ++i) {
      const size_t n = std::min(iov[i].iov_len, size - at);
      std::memcpy(gathered + at, iov[i].iov_base, n);
      at += n;
    }
    data = gathered;
  }
  const Result result = Write(data, size);
  if (result.status == Status::kOk) queue->Consume(result.bytes);
  return result;
}

void TlsStream::Close() {
  if (ssl_ != nullptr && established_ && !fatal_) {
    Ssl().ERR_clear_error();
    Ssl().SSL_shutdown(ssl_);  // 0 or -1 (would block): either way, done here
    Ssl().ERR_clear_error();
  }
  Free();
}

TlsStream::Result TlsStream::Fail(int ret) {
  const int error = Ssl().SSL_get_error(ssl_, ret);
  switch (error) {
    case SSL_ERROR_WANT_READ:
      return {Status::kWantRead, 0, ""};
    case SSL_ERROR_WANT_WRITE:
      return {Status::kWantWrite, 0, ""};
    case SSL_ERROR_ZERO_RETURN:
      return {Status::kClosed, 0, "TLS close_notify from the peer"};
    case SSL_ERROR_SYSCALL: {
      fatal_ = true;
      const int e = errno;
      Ssl().ERR_clear_error();
      if (e == 0) return {Status::kClosed, 0, "TLS stream ended by EOF"};
      // strerror's strings for real errno values are static.
      return {Status::kError, 0, std::strerror(e)};
    }
    case SSL_ERROR_SSL: {
      fatal_ = true;
      const unsigned long e = Ssl().ERR_peek_last_error();
      Ssl().ERR_clear_error();
      if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
          ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        return {Status::kClosed, 0, "TLS stream truncated (no close_notify)"};
      }
      const char* reason = Ssl().ERR_reason_error_string(e);
      return {Status::kError, 0, reason != nullptr ? reason : "TLS error"};
    }
    default:
      fatal_ = true;
      Ssl().ERR_clear_error();
      return {Status::kError, 0, "TLS error"};
  }
}

}  // namespace channel
