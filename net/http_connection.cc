#include "net/http_connection.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <websocketpp/http/request.hpp>
#include <websocketpp/http/response.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "asio/write.hpp"
#include "net/http_server.h"
#include "net/socket_io.h"

namespace channel {

// websocketpp's request parser, telling also whether the headers are
// complete while the body is still to come (its state is protected).
class HttpRequestParser : public websocketpp::http::parser::request {
 public:
  HttpRequestParser() {
    // Content-Length is judged by the connection, after the handler has
    // seen the headers (a wrong key is refused before a too-large body).
    set_max_body_size(std::numeric_limits<size_t>::max());
  }
  bool HeadComplete() const { return ready() || m_body_bytes_needed > 0; }
  size_t BodyBytesNeeded() const { return m_body_bytes_needed; }
  std::string TakeBody() { return std::move(m_body); }
};

namespace {

using Clock = HttpConnection::Clock;

// A closing connection reads and discards at most this much, this long.
constexpr size_t kMaxDrainBytes = 1 << 20;
constexpr std::chrono::seconds kMaxDrainTime{2};

HttpRequest HeadOf(const HttpRequestParser& parser) {
  HttpRequest head;
  head.method = parser.get_method();
  head.target = parser.get_uri();
  for (const auto& [key, value] : parser.get_headers()) {
    head.headers.emplace_back(key, value);
  }
  return head;
}

// HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 closes
// unless told to keep it.
bool WantsKeepAlive(const HttpRequestParser& parser) {
  const std::string connection =
      absl::AsciiStrToLower(parser.get_header("Connection"));
  if (parser.get_version() == "HTTP/1.1") {
    return !absl::StrContains(connection, "close");
  }
  return absl::StrContains(connection, "keep-alive");
}

}  // namespace

HttpConnection::HttpConnection(HttpServer* server, uint64_t id,
                               asio::ip::tcp::socket socket, std::string source)
    : server_(server),
      id_(id),
      socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      source_(std::move(source)) {}

HttpConnection::~HttpConnection() = default;

void HttpConnection::Start() {
  std::error_code ec;
  socket_.non_blocking(true, ec);
  // Responses are small: without this, keep-alive clients wait for the
  // delayed ACK (~40 ms) on every request.
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  waiting_since_ = last_read_ = Clock::now();
  ArmTimer();
  Read();
}

void HttpConnection::Close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  std::error_code ec;
  timer_.cancel();
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  parser_.reset();
  server_->OnConnectionClosed(id_, source_);
}

void HttpConnection::Read() {
  if (reading_ || (state_ != State::kIdle && state_ != State::kReading &&
                   state_ != State::kDraining)) {
    return;
  }
  reading_ = true;
  socket_.async_wait(
      asio::ip::tcp::socket::wait_read,
      [self = shared_from_this()](const std::error_code& ec) {
        self->reading_ = false;
        if (ec || self->state_ == State::kClosed) return;
        char* buffer = ThreadReadBuffer();
        ssize_t n;
        do {
          n = ::recv(self->socket_.native_handle(), buffer,
                     kThreadReadBufferBytes, MSG_DONTWAIT);
        } while (n < 0 && errno == EINTR);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          self->Read();
          return;
        }
        if (n <= 0) {  // closed by the peer, or an error
          self->Close();
          return;
        }
        if (self->state_ == State::kDraining) {
          self->drained_ += static_cast<size_t>(n);
          if (self->drained_ > kMaxDrainBytes) {
            self->Close();
          } else {
            self->Read();
          }
          return;
        }
        self->last_read_ = Clock::now();
        self->Feed(buffer, static_cast<size_t>(n));
        if (self->state_ == State::kIdle || self->state_ == State::kReading) {
          self->ArmTimer();
          self->Read();
        }
      });
}

void HttpConnection::Feed(const char* data, size_t size) {
  while (size > 0 && (state_ == State::kIdle || state_ == State::kReading)) {
    if (state_ == State::kIdle) {
      state_ = State::kReading;
      waiting_since_ = Clock::now();
      parser_ = std::make_unique<HttpRequestParser>();
      head_checked_ = false;
    }
    size_t used = 0;
    // websocketpp's parser reports malformed input by throwing; nothing
    // else here throws.
    try {
      used = parser_->consume(data, size);
    } catch (const websocketpp::http::exception& e) {
      const int status = static_cast<int>(e.m_error_code);
      Fail(status == 0 ? 400 : status,
           status == 431 ? "headers_too_large" : "bad_request",
           status == 431 ? "the request headers are over 16000 bytes"
                         : absl::StrCat("malformed HTTP request: ", e.what()));
      return;
    }
    data += used;
    size -= used;
    if (!head_checked_ && parser_->HeadComplete()) {
      head_checked_ = true;
      if (!CheckHead()) {
        // Refused with the request whole and the connection kept: what
        // follows is the next request.
        if (state_ == State::kWriting && !close_after_write_) {
          pending_.assign(data, size);
        }
        return;
      }
    }
    if (parser_->ready()) {
      Dispatch(data, size);
      return;
    }
    if (used == 0) break;  // cannot happen: consume takes all it is given
  }
}

bool HttpConnection::CheckHead() {
  const bool body_to_come = !parser_->ready();
  const std::string method = parser_->get_method();
  const bool needs_length = method == "POST" || method == "PUT";
  if (!parser_->get_header("Transfer-Encoding").empty() ||
      (needs_length && parser_->get_header("Content-Length").empty())) {
    Fail(411, "length_required",
         "send the body with a Content-Length (chunked bodies are not "
         "accepted)");
    return false;
  }
  const HttpRequest head = HeadOf(*parser_);
  if (std::optional<HttpResponse> refusal =
          server_->handlers().on_headers(head)) {
    Respond(std::move(*refusal), body_to_come || !WantsKeepAlive(*parser_));
    return false;
  }
  if (parser_->BodyBytesNeeded() + parser_->get_body().size() >
      server_->options().max_body_bytes) {
    Fail(413, "body_too_large",
         absl::StrCat("the request body is over ",
                      server_->options().max_body_bytes, " bytes"));
    return false;
  }
  if (body_to_come &&
      absl::EqualsIgnoreCase(parser_->get_header("Expect"), "100-continue")) {
    Send("HTTP/1.1 100 Continue\r\n\r\n");
  }
  return true;
}

void HttpConnection::Dispatch(const char* rest, size_t rest_size) {
  pending_.assign(rest, rest_size);
  state_ = State::kHandling;
  timer_.cancel();
  keep_alive_ = WantsKeepAlive(*parser_);
  HttpRequest request = HeadOf(*parser_);
  request.body = parser_->TakeBody();
  parser_.reset();
  std::weak_ptr<HttpConnection> weak = shared_from_this();
  server_->handlers().on_request(
      std::move(request), [weak](HttpResponse response) {
        auto self = weak.lock();
        if (!self || self->state_ != State::kHandling) return;
        self->Respond(std::move(response), !self->keep_alive_);
      });
}

void HttpConnection::Fail(int status, absl::string_view code,
                          absl::string_view message) {
  if (status == 408) ++server_->mutable_stats().timed_out;
  Respond(server_->handlers().error(status, code, message), true);
}

void HttpConnection::Respond(HttpResponse response, bool close) {
  if (state_ != State::kReading && state_ != State::kHandling) return;
  websocketpp::http::parser::response out;
  out.set_version("HTTP/1.1");
  out.set_status(
      static_cast<websocketpp::http::status_code::value>(response.status));
  if (!response.content_type.empty()) {
    out.replace_header("Content-Type", response.content_type);
  }
  for (const auto& [key, value] : response.headers) {
    out.replace_header(key, value);
  }
  if (close) out.replace_header("Connection", "close");
  out.set_body(response.body);  // sets Content-Length, unless empty
  if (response.body.empty()) out.replace_header("Content-Length", "0");
  state_ = State::kWriting;
  close_after_write_ = close;
  parser_.reset();
  waiting_since_ = Clock::now();
  ArmTimer();
  Send(out.raw());
}

void HttpConnection::Send(std::string bytes) {
  queued_ += bytes;
  if (writing_) return;
  writing_ = true;
  sending_.swap(queued_);
  queued_.clear();
  asio::async_write(
      socket_, asio::buffer(sending_),
      [self = shared_from_this()](const std::error_code& ec, size_t) {
        self->writing_ = false;
        self->sending_.clear();
        if (self->state_ == State::kClosed) return;
        if (ec) {
          self->Close();
          return;
        }
        if (!self->queued_.empty()) {
          self->Send(std::string());
          return;
        }
        self->OnWritten();
      });
}

void HttpConnection::OnWritten() {
  if (state_ != State::kWriting) return;  // a 100 Continue went out
  if (close_after_write_) {
    std::error_code ec;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    state_ = State::kDraining;
    waiting_since_ = Clock::now();
    ArmTimer();
    Read();
    return;
  }
  state_ = State::kIdle;
  waiting_since_ = last_read_ = Clock::now();
  std::string rest;
  rest.swap(pending_);
  Feed(rest.data(), rest.size());
  if (state_ == State::kIdle || state_ == State::kReading) {
    ArmTimer();
    Read();
  }
}

void HttpConnection::ArmTimer() {
  const HttpServerOptions& o = server_->options();
  Clock::time_point expiry;
  switch (state_) {
    case State::kIdle:
      expiry = last_read_ + o.idle_timeout;
      break;
    case State::kReading:
      expiry = std::min(waiting_since_ + o.request_timeout,
                        last_read_ + o.idle_timeout);
      break;
    case State::kWriting:
      expiry = waiting_since_ + o.idle_timeout;
      break;
    case State::kDraining:
      expiry = waiting_since_ +
               std::min<Clock::duration>(o.idle_timeout, kMaxDrainTime);
      break;
    case State::kHandling:
    case State::kClosed:
      timer_.cancel();
      return;
  }
  timer_.expires_at(expiry);
  timer_.async_wait([self = shared_from_this()](const std::error_code& ec) {
    // A wait replaced by a later ArmTimer may still complete without an
    // error: only the current expiry counts.
    if (ec || Clock::now() < self->timer_.expiry()) return;
    switch (self->state_) {
      case State::kReading:
        self->Fail(408, "request_timeout",
                   "the request was not complete in time (whole-request "
                   "deadline or silence between reads)");
        break;
      case State::kIdle:
      case State::kWriting:
      case State::kDraining:
        self->Close();
        break;
      default:
        break;
    }
  });
}

}  // namespace channel
