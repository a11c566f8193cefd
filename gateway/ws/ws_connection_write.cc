// WsConnection's write path: text and ready frames go straight to the
// socket (wss: to TLS) while nothing waits, else into the FrameQueue that is
// flushed on writability. No websocketpp here (compile time): control
// frames, reading and ending are in ws_connection.cc, the opening handshake
// in ws_connection_handshake.cc.
#include <sys/socket.h>

#include <cerrno>
#include <memory>
#include <string>

#include "gateway/ws/ws_connection.h"
#include "gateway/ws/ws_server.h"
#include "gateway/ws/ws_text_frame.h"
#include "net/socket_io.h"

namespace channel {
bool WsConnection::SendText(absl::string_view payload) {
  if (state_ != State::kOpen) return false;
  std::string frame;
  AppendTextFrame(payload, &frame);
  Write(frame, nullptr);
  return true;
}

bool WsConnection::SendFrames(const std::string& frames, SharedFrame* shared) {
  if (state_ != State::kOpen) return false;
  if (!out_) {
    if (Write(frames, nullptr)) return true;
    return false;
  }
  if (!*shared) *shared = std::make_shared<const std::string>(frames);
  Write(frames, shared);
  return false;
}

bool WsConnection::Write(absl::string_view bytes, const SharedFrame* shared) {
  if (state_ == State::kClosed || cut_) return false;
  size_t written = 0;
  if (!out_) {
    absl::StatusOr<size_t> taken = WriteNow(bytes);
    if (!taken.ok()) {
      Cut(taken.status().message());
      return false;
    }
    written = *taken;
    if (written == bytes.size()) return true;
    out_ = std::make_unique<FrameQueue>();
  }
  // wss: TLS holds the record it could not finish; what follows in the
  // queue starts with those same bytes (TlsStream's retry rule).
  if (written == 0 && shared != nullptr) {
    out_->Push(*shared);
  } else {
    out_->Push(std::make_shared<const std::string>(bytes.substr(written)));
  }
  if (out_->bytes() > 2 * server_->options().max_queued_bytes + (1 << 20)) {
    Cut("output queue over its bound");
    return false;
  }
  ArmWrite();
  return false;
}

absl::StatusOr<size_t> WsConnection::WriteNow(absl::string_view bytes) {
  if (!tls_.enabled()) {
    ssize_t n;
    do {
      n = ::send(socket_.native_handle(), bytes.data(), bytes.size(),
                 MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      return absl::UnavailableError(
          std::error_code(errno, std::system_category()).message());
    }
    return static_cast<size_t>(n);
  }
  // A record per call; bounded by `bytes`: each call takes some or stops.
  size_t written = 0;
  while (written < bytes.size()) {
    const TlsStream::Result r =
        tls_.Write(bytes.data() + written, bytes.size() - written);
    switch (r.status) {
      case TlsStream::Status::kOk:
        written += r.bytes;
        continue;
      case TlsStream::Status::kWantWrite:
        return written;
      case TlsStream::Status::kWantRead:  // renegotiation is off: never
        return absl::UnavailableError("TLS write wants a read");
      case TlsStream::Status::kClosed:
      case TlsStream::Status::kError:
        return absl::UnavailableError(r.why);
    }
  }
  return written;
}

void WsConnection::ArmWrite() {
  if (writing_) return;
  writing_ = true;
  socket_.async_wait(Socket::wait_write,
                     [self = shared_from_this()](const std::error_code& ec) {
                       self->writing_ = false;
                       if (self->state_ == State::kClosed) return;
                       if (ec) {
                         self->Terminate(ec.message());
                         return;
                       }
                       self->OnWritable();
                     });
}

void WsConnection::OnWritable() {
  if (read_on_writable_) {  // TLS wanted to write before reading on
    read_on_writable_ = false;
    reading_ = false;
    OnReadable();
    if (state_ == State::kClosed) return;
  }
  if (out_) Flush();
}

void WsConnection::Flush() {
  while (out_ && !out_->empty()) {
    if (tls_.enabled()) {
      const TlsStream::Result r = tls_.WriteQueued(out_.get());
      if (r.status == TlsStream::Status::kOk) continue;
      if (r.status == TlsStream::Status::kWantWrite) {
        ArmWrite();
        return;
      }
      Terminate(r.status == TlsStream::Status::kWantRead
                    ? "TLS write wants a read"
                    : r.why);
      return;
    }
    if (SendGathered(socket_.native_handle(), out_.get()) < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        ArmWrite();
        return;
      }
      Terminate(std::error_code(errno, std::system_category()).message());
      return;
    }
  }
  out_.reset();  // an idle connection keeps no queue
  if (end_on_flush_) Terminate("closed");
}

}  // namespace channel
