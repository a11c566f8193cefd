#include "gateway/ws/ws_connection.h"

#include <sys/socket.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asio/post.hpp"
#include "gateway/ws/ws_connection_parts.h"
#include "gateway/ws/ws_server.h"
#include "net/socket_io.h"

namespace channel {
namespace {

namespace close_status = websocketpp::close::status;
namespace opcode = websocketpp::frame::opcode;

// Bytes read per connection per loop turn: one flooding client cannot
// hold the thread.
constexpr size_t kReadBytesPerTurn = 16 * 1024;

}  // namespace

const std::shared_ptr<WsParserConfig::con_msg_manager_type>&
WsMessageManager() {
  static const auto* manager =
      new std::shared_ptr<WsParserConfig::con_msg_manager_type>(
          std::make_shared<WsParserConfig::con_msg_manager_type>());
  return *manager;
}

WsParserConfig::rng_type& WsRng() {
  static WsParserConfig::rng_type rng;
  return rng;
}

void WsConnection::SettleSharedState() {
  websocketpp::lib::net::_htonll(0);
  WsMessageManager();
}

WsConnection::WsConnection(WsServer* server, Socket socket)
    : server_(server), socket_(std::move(socket)) {}

WsConnection::~WsConnection() = default;

std::string WsConnection::remote_endpoint() const {
  std::error_code ec;
  const auto endpoint = socket_.remote_endpoint(ec);
  if (ec) return "unknown";
  return absl::StrCat(endpoint.address().to_string(), ":", endpoint.port());
}

// ---- Reading ---------------------------------------------------------------

void WsConnection::ArmRead() {
  if (reading_ || state_ == State::kClosed) return;
  reading_ = true;
  socket_.async_wait(Socket::wait_read,
                     [self = shared_from_this()](const std::error_code& ec) {
                       self->reading_ = false;
                       if (self->state_ == State::kClosed) return;
                       if (ec) {
                         self->Terminate(ec.message());
                         return;
                       }
                       self->OnReadable();
                     });
}

void WsConnection::OnReadable() {
  if (tls_.enabled() && !tls_.established()) {
    StepTls();
    return;
  }
  static_assert(kReadBytesPerTurn <= kThreadReadBufferBytes);
  char* buffer = ThreadReadBuffer();
  size_t size = 0;
  std::string why;
  const ReadEnd end = ReadSome(buffer, &size, &why);
  if (size > 0) {
    if (state_ == State::kHandshake) {
      ConsumeRequest(buffer, size);
    } else {
      ConsumeFrames(buffer, size);
    }
    // A reply being written to a refused request: nothing more is read.
    if (state_ == State::kClosed ||
        (state_ == State::kHandshake && end_on_flush_)) {
      return;
    }
  }
  switch (end) {
    case ReadEnd::kMore:
      // Maybe more waiting: read it on a later turn, after other work.
      PostRead();
      break;
    case ReadEnd::kWait:
      ArmRead();
      break;
    case ReadEnd::kWaitWritable:
      read_on_writable_ = true;
      reading_ = true;
      ArmWrite();
      break;
    case ReadEnd::kEnd:
      Terminate(why);
      break;
  }
}

WsConnection::ReadEnd WsConnection::ReadSome(char* buffer, size_t* size,
                                             std::string* why) {
  if (!tls_.enabled()) {
    ssize_t n;
    do {
      n = ::recv(socket_.native_handle(), buffer, kReadBytesPerTurn,
                 MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
      *why = "connection closed by peer";
      return ReadEnd::kEnd;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return ReadEnd::kWait;
      *why = std::error_code(errno, std::system_category()).message();
      return ReadEnd::kEnd;
    }
    *size = static_cast<size_t>(n);
    return *size == kReadBytesPerTurn ? ReadEnd::kMore : ReadEnd::kWait;
  }
  // A record per call: bounded by the turn's budget, not by the peer.
  while (*size < kReadBytesPerTurn) {
    const TlsStream::Result r =
        tls_.Read(buffer + *size, kReadBytesPerTurn - *size);
    switch (r.status) {
      case TlsStream::Status::kOk:
        if (r.bytes == 0) return ReadEnd::kMore;  // never, by OpenSSL's rules
        *size += r.bytes;
        continue;
      case TlsStream::Status::kWantRead:
        // No plaintext waits inside the session (OpenSSL returns what it
        // has first); a partial record waits for the socket.
        return ReadEnd::kWait;
      case TlsStream::Status::kWantWrite:
        return ReadEnd::kWaitWritable;
      case TlsStream::Status::kClosed:
      case TlsStream::Status::kError:
        *why = r.why;
        return ReadEnd::kEnd;
    }
  }
  // The budget is spent. Plaintext may be left inside the session (a
  // record larger than what was left of the budget), which readiness
  // would not announce: the next turn reads it.
  return ReadEnd::kMore;
}

void WsConnection::PostRead() {
  reading_ = true;
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    self->reading_ = false;
    if (self->state_ != State::kClosed) self->OnReadable();
  });
}

void WsConnection::StepTls() {
  const TlsStream::Result r = tls_.Handshake();
  switch (r.status) {
    case TlsStream::Status::kOk:
      // The request may already wait, in the socket or inside TLS.
      PostRead();
      return;
    case TlsStream::Status::kWantRead:
      ArmRead();
      return;
    case TlsStream::Status::kWantWrite:
      read_on_writable_ = true;
      reading_ = true;
      ArmWrite();
      return;
    case TlsStream::Status::kClosed:
    case TlsStream::Status::kError:
      Terminate(absl::StrCat("TLS handshake: ", r.why));
      return;
  }
}

// ---- Frames ----------------------------------------------------------------

void WsConnection::ConsumeFrames(char* data, size_t size) {
  auto* bytes = reinterpret_cast<uint8_t*>(data);
  size_t used = 0;
  while (used < size && !end_on_flush_ && state_ != State::kClosed) {
    std::error_code ec;
    used += codec_->processor.consume(bytes + used, size - used, ec);
    if (ec) {
      const auto code = websocketpp::processor::error::to_ws(ec);
      Fail(code == close_status::blank ? close_status::protocol_error : code,
           ec.message());
      return;
    }
    if (codec_->processor.ready()) Dispatch();
  }
}

void WsConnection::Dispatch() {
  const WsMessagePtr message = codec_->processor.get_message();
  if (!message) return;
  switch (message->get_opcode()) {
    case opcode::text:
    case opcode::binary:
      if (state_ == State::kOpen) {
        server_->events().message(*this, message->get_payload(),
                                  message->get_opcode() == opcode::text);
      } else if (local_close_code_ != 0 &&
                 server_->events().message_after_close) {
        server_->events().message_after_close(*this);
      }
      break;
    case opcode::ping:
      if (state_ == State::kOpen) {
        SendControl(opcode::pong, 0, message->get_payload());
      }
      break;
    case opcode::pong:
      server_->events().pong(*this);
      break;
    case opcode::close:
      OnCloseFrame(message->get_payload());
      break;
    default:
      break;
  }
}

void WsConnection::OnCloseFrame(const std::string& payload) {
  std::error_code ec;
  const uint16_t code = websocketpp::close::extract_code(payload, ec);
  if (!ec) websocketpp::close::extract_reason(payload, ec);
  if (ec) {
    Fail(close_status::protocol_error, ec.message());
    return;
  }
  remote_close_code_ = code;
  if (state_ == State::kClosing) {  // the answer to our close
    Terminate("closed");
    return;
  }
  // The peer's close: answer with its code, then end once that is written.
  local_close_code_ = code;
  SendControl(opcode::close, code == close_status::no_status ? 0 : code, {});
  state_ = State::kClosing;
  EndAfterFlush();
}

void WsConnection::Fail(uint16_t code, const std::string& reason) {
  if (state_ != State::kOpen) {
    Terminate(reason);
    return;
  }
  local_close_code_ = code;
  SendControl(opcode::close, code, reason);
  state_ = State::kClosing;
  EndAfterFlush();
}

// ---- Control frames and the close handshake ------------------------------

void WsConnection::SendControl(int op, uint16_t code,
                               absl::string_view payload) {
  const WsMessagePtr out = WsMessageManager()->get_message();
  std::error_code ec;
  if (op == opcode::close) {
    // A reason too long for a control frame is dropped, the code kept.
    std::string reason(payload);
    ec = codec_->processor.prepare_close(
        static_cast<close_status::value>(code == 0 ? close_status::no_status
                                                   : code),
        reason, out);
    if (ec) {
      ec = codec_->processor.prepare_close(
          static_cast<close_status::value>(code), "", out);
    }
  } else if (op == opcode::pong) {
    ec = codec_->processor.prepare_pong(std::string(payload), out);
  } else {
    ec = codec_->processor.prepare_ping(std::string(payload), out);
  }
  if (ec) return;
  Write(absl::StrCat(out->get_header(), out->get_payload()), nullptr);
}

void WsConnection::Ping() {
  if (state_ == State::kOpen) SendControl(opcode::ping, 0, {});
}

void WsConnection::Close(uint16_t code, absl::string_view reason) {
  if (state_ != State::kOpen) return;
  local_close_code_ = code;
  SendControl(opcode::close, code, reason);
  state_ = State::kClosing;
  // The peer has close_timeout to answer; then the server ends it.
  server_->Watch(shared_from_this(), std::chrono::steady_clock::now() +
                                         server_->options().close_timeout);
}

// ---- Ending ----------------------------------------------------------------

void WsConnection::EndAfterFlush() {
  end_on_flush_ = true;
  if (!out_) {
    Cut("closed");
    return;
  }
  // The peer may never read: the server ends it at the deadline.
  if (state_ != State::kHandshake) {
    server_->Watch(shared_from_this(), std::chrono::steady_clock::now() +
                                           server_->options().close_timeout);
  }
}

void WsConnection::Cut(absl::string_view why) {
  if (state_ == State::kClosed || cut_) return;
  cut_ = true;
  asio::post(socket_.get_executor(),
             [self = shared_from_this(), why = std::string(why)] {
               self->Terminate(why);
             });
}

void WsConnection::Terminate(absl::string_view why) {
  if (state_ == State::kClosed) return;
  const State was = state_;
  state_ = State::kClosed;  // nothing is written from here on
  // The events may drop the last other owner: keep this alive to the end.
  const std::shared_ptr<WsConnection> self = shared_from_this();
  server_->Unwatch(this);
  // The events (the worker's bookkeeping and counters) run before the
  // socket closes: a peer that sees its end finds it counted.
  if (was == State::kHandshake) {
    server_->events().fail(*this, why);
  } else {
    server_->events().close(*this);
  }
  tls_.Close();  // close_notify when healthy; the session is freed
  std::error_code ec;
  socket_.close(ec);  // pending waits end with operation_aborted
  out_.reset();
  handshake_.reset();
}

}  // namespace channel
