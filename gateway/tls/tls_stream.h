#ifndef CHANNEL_GATEWAY_TLS_TLS_STREAM_H_
#define CHANNEL_GATEWAY_TLS_TLS_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/framing/frame_queue.h"

struct ssl_st;  // OpenSSL's SSL

namespace channel {

// The TLS side of one server connection (wss): an OpenSSL session on the
// connection's non-blocking socket (SSL_set_fd; OpenSSL reads and writes
// the descriptor itself). Empty (enabled() false) for plain ws. Owns the
// session; moves, never copies.
//
// Every call does a bounded amount of work and never blocks: kWantRead /
// kWantWrite say which readiness to wait for before calling again.
//
// Writes. The context sets SSL_MODE_ENABLE_PARTIAL_WRITE and
// SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER: each write call takes at most one
// record (kMaxWrite bytes). After a write answered kWantWrite, OpenSSL holds
// that record and the next write must present the same bytes first and be
// at least as long (OpenSSL's retry rule; the buffer may move). Callers
// keep to it by writing only from the front of their queue, leaving it
// untouched until a write succeeds, and only appending to it in between.
//
// Memory: SSL_MODE_RELEASE_BUFFERS frees the record buffers whenever they
// are empty, so an idle session holds no 16 KiB buffer; the session state
// itself is a few KiB (docs/BENCHMARKS.md, "wss under WsConnection").
//
// The process must ignore SIGPIPE: OpenSSL writes with send(2) without
// MSG_NOSIGNAL. Thread: the connection's.
class TlsStream {
 public:
  // Largest plaintext one write call takes: one TLS record.
  static constexpr size_t kMaxWrite = 16384;

  enum class Status : uint8_t {
    kOk,         // done (Handshake), or `bytes` moved (Read, Write)
    kWantRead,   // wait for readability, then call again
    kWantWrite,  // wait for writability, then call again
    kClosed,     // the peer ended the stream (close_notify, or EOF)
    kError,      // a TLS or socket error; the session is unusable
  };
  // What one call did: an I/O readiness result, not an error report, so
  // not an absl::Status. Most answers of a busy connection are kWantRead /
  // kWantWrite, which say what to wait for next and are no failure, and
  // kOk carries a byte count; every call returns one, on the data path,
  // without allocating. Only kClosed and kError end the session, and their
  // `why` becomes the connection's close reason.
  struct Result {
    Status status = Status::kOk;
    size_t bytes = 0;
    // kClosed / kError: why, a static string (never freed).
    const char* why = "";
  };

  TlsStream() = default;
  explicit TlsStream(ssl_st* ssl) : ssl_(ssl) {}
  ~TlsStream() { Free(); }
  TlsStream(TlsStream&& other) noexcept;
  TlsStream& operator=(TlsStream&& other) noexcept;
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  bool enabled() const { return ssl_ != nullptr; }
  // The handshake completed (Handshake answered kOk).
  bool established() const { return established_; }

  // Advances the server handshake (ClientHello in, the server's flight
  // out). kOk: established; application data may follow at once, already
  // inside the session or in the socket: read without waiting.
  Result Handshake();
  // Reads at most `max` bytes of plaintext (at most one record's worth).
  // What is left of a record larger than `max` stays inside the session,
  // where the socket's readiness does not announce it: a caller that got
  // `max` bytes must call again without waiting. kWantRead means no
  // plaintext is left inside.
  Result Read(char* out, size_t max);
  // Writes at most kMaxWrite bytes of `data` (see the retry rule above).
  Result Write(const char* data, size_t size);
  // Writes the front of `queue` (at most one record; pieces are gathered
  // into a per-thread buffer) and consumes what was written.
  Result WriteQueued(FrameQueue* queue);
  // Sends close_notify if the session is established and healthy (one
  // non-blocking attempt, not waiting for the peer's), then frees the
  // session. Idempotent.
  void Close();

 private:
  Result Fail(int ret);
  void Free();

  ssl_st* ssl_ = nullptr;
  bool established_ = false;
  bool fatal_ = false;  // OpenSSL forbids SSL_shutdown after a fatal error
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_TLS_TLS_STREAM_H_
