#include "broker/session.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "asio/post.hpp"
#include "broker/broker_server.h"
#include "common/constant_time.h"
#include "common/envelope_codec.h"
#include "common/logging.h"

namespace channel {
namespace {

using Clock = std::chrono::steady_clock;

// Largest number of frames gathered into one sendmsg (IOV_MAX is 1024).
constexpr int kMaxGather = 512;
// How long a closing session may take to read its final Error.
constexpr std::chrono::seconds kCloseGrace{2};

std::string CodeKind(v1::Error::Code code) {
  return absl::AsciiStrToLower(v1::Error::Code_Name(code));
}

}  // namespace

Session::Session(asio::ip::tcp::socket socket, uint64_t id,
                 BrokerServer* server)
    : socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      id_(id),
      server_(server),
      decoder_(server->options().max_frame_bytes) {
  std::error_code ec;
  const auto remote = socket_.remote_endpoint(ec);
  peer_ = ec ? "unknown"
             : absl::StrCat(remote.address().to_string(), ":", remote.port());
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

void Session::Start() {
  last_read_ = last_write_ = Clock::now();
  spdlog::debug("conn {} connected from {}", id_, peer_);
  ArmTimer(server_->options().hello_timeout);
  DoRead();
}

void Session::DoRead() {
  // Wait for readability, then read: unlike async_read_some, which tries a
  // recv at once and mostly gets EAGAIN, this costs one syscall per read.
  socket_.async_wait(asio::ip::tcp::socket::wait_read,
                     [self = shared_from_this()](const std::error_code& ec) {
                       if (self->finished_) return;
                       if (ec) {
                         self->Finish(ec.message());
                         return;
                       }
                       self->ReadReady();
                     });
}

void Session::ReadReady() {
  const ssize_t n = ::recv(socket_.native_handle(), read_buffer_.data(),
                           read_buffer_.size(), MSG_DONTWAIT);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      DoRead();
    } else {
      Finish(std::error_code(errno, std::system_category()).message());
    }
    return;
  }
  if (n == 0) {
    Finish("peer closed");
    return;
  }
  OnRead(static_cast<size_t>(n));
  if (finished_) return;
  if (static_cast<size_t>(n) == read_buffer_.size()) {
    // More may be waiting. Read it on a later turn: one buffer per
    // connection per turn, so a flooding peer cannot starve the others.
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      if (!self->finished_) self->ReadReady();
    });
  } else {
    DoRead();
  }
}

void Session::OnRead(size_t bytes) {
  BrokerStats& stats = server_->stats();
  stats.bytes_in += bytes;
  if (closing_) return;  // discard input while the final Error drains
  last_read_ = Clock::now();
  decoder_.Append(read_buffer_.data(), bytes);
  absl::string_view body;
  while (!closing_) {
    const FrameDecoder::Result result = decoder_.Next(&body);
    if (result == FrameDecoder::Result::kNeedMore) break;
    if (result == FrameDecoder::Result::kInvalid) {
      Close(v1::Error::PROTOCOL_ERROR, decoder_.error(), false, "bad_length");
      break;
    }
    ++stats.frames_in;
    HandleBody(body);
  }
}

void Session::HandleBody(absl::string_view body) {
  if (body.empty()) {
    ++server_->stats().heartbeats_in;
    return;
  }
  v1::Envelope envelope;
  switch (ParseBody(body, &envelope)) {
    case BodyKind::kEnvelope:
      break;
    case BodyKind::kPhpSerialize:
      Close(v1::Error::PROTOCOL_ERROR,
            "PHP serialize() bodies (Workerman Channel clients) are not "
            "supported on this port; send a protobuf Envelope",
            false, "php_codec");
      return;
    case BodyKind::kInvalid:
      Close(v1::Error::PROTOCOL_ERROR,
            absl::StrCat("frame body of ", body.size(),
                         " bytes is not a valid Envelope"),
            false, "bad_body");
      return;
  }
  if (!authenticated_ && envelope.msg_case() != v1::Envelope::kHello) {
    Close(v1::Error::PROTOCOL_ERROR, "the first frame must be a Hello", false,
          "no_hello");
    return;
  }
  Router& router = server_->router();
  switch (envelope.msg_case()) {
    case v1::Envelope::kHello:
      HandleHello(envelope.hello());
      return;
    case v1::Envelope::kSubscribe: {
      const auto& request = envelope.subscribe();
      if (absl::Status s = router.Subscribe(this, request); !s.ok()) {
        ReplyError(absl::IsResourceExhausted(s) ? v1::Error::LIMIT_EXCEEDED
                                                : v1::Error::INVALID_REQUEST,
                   s.message(), request.request_id(), {});
      } else if (request.request_id() != 0) {
        v1::Envelope ack;
        ack.mutable_ack()->set_request_id(request.request_id());
        Reply(ack);
      }
      return;
    }
    case v1::Envelope::kUnsubscribe: {
      const auto& request = envelope.unsubscribe();
      if (absl::Status s = router.Unsubscribe(this, request); !s.ok()) {
        ReplyError(absl::IsResourceExhausted(s) ? v1::Error::LIMIT_EXCEEDED
                                                : v1::Error::INVALID_REQUEST,
                   s.message(), request.request_id(), {});
      } else if (request.request_id() != 0) {
        v1::Envelope ack;
        ack.mutable_ack()->set_request_id(request.request_id());
        Reply(ack);
      }
      return;
    }
    case v1::Envelope::kPublish: {
      v1::Publish* request = envelope.mutable_publish();
      const uint64_t request_id = request->request_id();
      absl::StatusOr<uint64_t> receivers = router.Publish(request);
      if (!receivers.ok()) {
        ReplyError(absl::IsResourceExhausted(receivers.status())
                       ? v1::Error::LIMIT_EXCEEDED
                       : v1::Error::INVALID_REQUEST,
                   receivers.status().message(), request_id, {});
      } else if (request_id != 0) {
        v1::Envelope ack;
        ack.mutable_ack()->set_request_id(request_id);
        ack.mutable_ack()->set_receivers(*receivers);
        Reply(ack);
      }
      return;
    }
    default:
      ReplyError(v1::Error::INVALID_REQUEST,
                 absl::StrCat("message type ", envelope.msg_case(),
                              " is not accepted from clients"),
                 0, {});
      return;
  }
}

void Session::HandleHello(const v1::Hello& hello) {
  if (authenticated_) {
    ReplyError(v1::Error::INVALID_REQUEST, "already said Hello", 0, {});
    return;
  }
  // Names are for logs only; keep them short and printable.
  client_name_ = hello.client_name().substr(0, 64);
  for (char& c : client_name_) {
    if (!absl::ascii_isprint(static_cast<unsigned char>(c))) c = '?';
  }
  if (hello.protocol_version() != 1) {
    Close(v1::Error::VERSION_MISMATCH,
          absl::StrCat("protocol version ", hello.protocol_version(),
                       " is not supported; this broker speaks version 1"),
          false);
    return;
  }
  const std::string& token = server_->options().auth_token;
  if (!token.empty() && !ConstantTimeEquals(hello.auth_token(), token)) {
    ++server_->stats().auth_failures;
    spdlog::warn("conn {} from {} ({}): authentication failed", id_, peer_,
                 client_name_);
    Close(v1::Error::UNAUTHENTICATED,
          hello.auth_token().empty() ? "this broker requires an auth token"
                                     : "wrong auth token",
          false);
    return;
  }
  authenticated_ = true;
  ++server_->stats().handshakes;
  spdlog::info("conn {} from {} authenticated as '{}'", id_, peer_,
               client_name_);
  const BrokerOptions& options = server_->options();
  v1::Envelope reply;
  v1::Welcome* welcome = reply.mutable_welcome();
  welcome->set_broker_id(server_->broker_id());
  welcome->set_broker_version(BrokerServer::kVersion);
  welcome->set_protocol_version(1);
  welcome->set_heartbeat_interval_ms(
      static_cast<uint32_t>(options.heartbeat_interval.count()));
  welcome->set_idle_timeout_ms(
      static_cast<uint32_t>(options.idle_timeout.count()));
  welcome->set_max_frame_bytes(options.max_frame_bytes);
  Reply(reply);
  ArmTimer(options.heartbeat_interval);
}

void Session::Reply(const v1::Envelope& envelope) {
  Send(EncodeFrame(envelope));
}

void Session::ReplyError(v1::Error::Code code, absl::string_view message,
                         uint64_t request_id, absl::string_view kind) {
  ++server_->stats()
        .errors_by_kind[kind.empty() ? CodeKind(code) : std::string(kind)];
  Reply(MakeError(code, message, request_id));
}

bool Session::Send(const SharedFrame& frame) {
  if (closing_) return false;
  if (out_.bytes() + frame->size() > server_->options().max_queued_bytes) {
    ++server_->stats().slow_consumer_disconnects;
    Close(v1::Error::SLOW_CONSUMER,
          absl::StrCat("output queue exceeded ",
                       server_->options().max_queued_bytes,
                       " bytes; the subscriber is not reading fast enough"),
          true);
    return false;
  }
  out_.Push(frame);
  ++server_->stats().frames_out;
  if (!waiting_writable_ && !flush_scheduled_) {
    flush_scheduled_ = true;
    server_->ScheduleFlush(shared_from_this());
  }
  return true;
}

void Session::Flush() {
  flush_scheduled_ = false;
  if (!waiting_writable_ && !finished_) WriteNow();
}

void Session::WriteNow() {
  iovec iov[kMaxGather];
  while (!out_.empty()) {
    const int count = out_.Fill(iov, kMaxGather);
    ssize_t n;
    if (count == 1) {  // the common case at low fan-out: skip the iovec import
      n = ::send(socket_.native_handle(), iov[0].iov_base, iov[0].iov_len,
                 MSG_NOSIGNAL | MSG_DONTWAIT);
    } else {
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = static_cast<size_t>(count);
      n = ::sendmsg(socket_.native_handle(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        waiting_writable_ = true;
        socket_.async_wait(
            asio::ip::tcp::socket::wait_write,
            [self = shared_from_this()](const std::error_code& ec) {
              self->waiting_writable_ = false;
              if (self->finished_) return;
              if (ec) {
                self->Finish(ec.message());
                return;
              }
              self->WriteNow();
            });
        return;
      }
      Finish(std::error_code(errno, std::system_category()).message());
      return;
    }
    server_->stats().bytes_out += static_cast<uint64_t>(n);
    out_.Consume(static_cast<size_t>(n));
    last_write_ = Clock::now();
  }
  if (closing_) Finish(close_reason_);
}

void Session::Close(v1::Error::Code code, absl::string_view reason,
                    bool drop_queued, absl::string_view kind) {
  if (closing_ || finished_) return;
  ++server_->stats()
        .errors_by_kind[kind.empty() ? CodeKind(code) : std::string(kind)];
  if (code == v1::Error::PROTOCOL_ERROR || code == v1::Error::UNAUTHENTICATED ||
      code == v1::Error::SLOW_CONSUMER || code == v1::Error::VERSION_MISMATCH) {
    spdlog::warn("conn {} from {} ('{}'): closing: {}", id_, peer_,
                 client_name_, reason);
  } else {
    spdlog::info("conn {} from {} ('{}'): closing: {}", id_, peer_,
                 client_name_, reason);
  }
  server_->router().RemoveAll(this);
  if (drop_queued) out_.DropUnstarted();
  out_.Push(EncodeFrame(MakeError(code, reason)));
  closing_ = true;
  close_reason_ = std::string(reason);
  close_deadline_ = Clock::now() + kCloseGrace;
  ArmTimer(kCloseGrace);
  if (!waiting_writable_ && !flush_scheduled_) {
    flush_scheduled_ = true;
    server_->ScheduleFlush(shared_from_this());
  }
}

void Session::ArmTimer(Clock::duration after) {
  timer_.expires_after(after);
  timer_.async_wait([self = shared_from_this()](const std::error_code& ec) {
    if (!ec) self->OnTimer();
  });
}

void Session::OnTimer() {
  if (finished_) return;
  const auto now = Clock::now();
  const BrokerOptions& options = server_->options();
  if (closing_) {
    if (now >= close_deadline_) {
      Finish(close_reason_ + " (peer did not read the final error)");
    } else {
      ArmTimer(close_deadline_ - now);
    }
    return;
  }
  if (!authenticated_) {
    ++server_->stats().auth_failures;
    Close(
        v1::Error::UNAUTHENTICATED,
        absl::StrCat("no Hello within ", options.hello_timeout.count(), " ms"),
        false);
    return;
  }
  if (now - last_read_ >= options.idle_timeout) {
    ++server_->stats().idle_timeouts;
    Close(v1::Error::IDLE_TIMEOUT,
          absl::StrCat("nothing received for ", options.idle_timeout.count(),
                       " ms"),
          false);
    return;
  }
  if (out_.empty() && now - last_write_ >= options.heartbeat_interval / 2) {
    Send(HeartbeatFrame());
  }
  ArmTimer(options.heartbeat_interval);
}

void Session::Finish(absl::string_view why) {
  if (finished_) return;
  finished_ = true;
  if (!closing_) server_->router().RemoveAll(this);
  closing_ = true;
  std::error_code ec;
  timer_.cancel();
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  spdlog::info("conn {} from {} ('{}') closed: {}", id_, peer_, client_name_,
               why);
  server_->OnSessionFinished(id_);
}

}  // namespace channel
