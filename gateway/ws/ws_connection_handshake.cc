// WsConnection's opening handshake (after TLS's, for wss): the request read and
// parsed (websocketpp's HTTP parser), answered with 101, a refusal, or a plain
// HTTP reply. The rest of the class is in ws_connection.cc and
// ws_connection_write.cc.
#include <string>

#include "gateway/tls/tls_context.h"
#include "gateway/ws/ws_connection.h"
#include "gateway/ws/ws_connection_parts.h"
#include "gateway/ws/ws_server.h"

namespace channel {
namespace {

// Largest request body read before the answer (websocketpp's default is
// 32 MB per connection).
constexpr size_t kMaxRequestBody = 4096;

}  // namespace

void WsConnection::Start() {
  handshake_ = std::make_unique<Handshake>();
  // An upgrade request has no body; a plain HTTP request here needs none.
  handshake_->request.set_max_body_size(kMaxRequestBody);
  // Messages are small and latency matters: no Nagle delay.
  std::error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);
  if (const TlsContext* tls = server_->options().tls; tls != nullptr) {
    tls_ = tls->NewStream(socket_.native_handle());
    if (!tls_.enabled()) {
      Cut("TLS session: out of memory");
      return;
    }
  }
  ArmRead();
}

absl::string_view WsConnection::resource() const {
  if (!handshake_) return {};
  return handshake_->request.get_uri();
}

absl::string_view WsConnection::header(const std::string& name) const {
  if (!handshake_) return {};
  return handshake_->request.get_header(name);
}

absl::string_view WsConnection::origin() const {
  if (!handshake_) return {};
  return handshake_->request.get_header("Origin");
}

void WsConnection::ConsumeRequest(char* data, size_t size) {
  size_t used = 0;
  try {
    // The parser bounds the header size (websocketpp's max_header_size).
    used = handshake_->request.consume(data, size);
  } catch (const websocketpp::http::exception& e) {
    const int status =
        e.m_error_code == websocketpp::http::status_code::uninitialized
            ? 400
            : static_cast<int>(e.m_error_code);
    Reject(status, e.m_body, false);
    return;
  }
  if (!handshake_->request.ready()) return;
  Answer();
  if (state_ == State::kOpen && used < size) {
    ConsumeFrames(data + used, size - used);  // frames sent right after it
  }
}

void WsConnection::Answer() {
  const auto& request = handshake_->request;
  if (!websocketpp::processor::is_websocket_handshake(request)) {
    const PlainHttpReply reply = server_->events().http(request.get_uri());
    websocketpp::http::parser::response response;
    response.set_version("HTTP/1.1");
    response.set_status(
        static_cast<websocketpp::http::status_code::value>(reply.status));
    if (!reply.content_type.empty()) {
      response.append_header("Content-Type", std::string(reply.content_type));
    }
    response.append_header("Connection", "close");
    response.set_body(std::string(reply.body));
    Write(response.raw(), nullptr);
    EndAfterFlush();
    return;
  }
  if (websocketpp::processor::get_websocket_version(request) != 13) {
    Reject(400, "", true);
    return;
  }
  codec_ = std::make_unique<Codec>(server_->options().max_message_bytes);
  if (codec_->processor.validate_handshake(request)) {
    Reject(400, "", false);
    return;
  }
  const Admission::Verdict verdict = server_->events().validate(*this);
  if (!verdict.allowed) {
    Reject(verdict.http_status, verdict.body, false);
    return;
  }
  websocketpp::http::parser::response response;
  response.set_version("HTTP/1.1");
  response.set_status(websocketpp::http::status_code::switching_protocols);
  if (codec_->processor.process_handshake(request, "", response)) {
    Reject(500, "", false);
    return;
  }
  response.replace_header("Server", "ws-gateway");
  Write(response.raw(), nullptr);
  state_ = State::kOpen;
  server_->Unwatch(this);  // the worker holds it from the open event on
  server_->events().open(*this);
  handshake_.reset();
}

void WsConnection::Reject(int status, absl::string_view body,
                          bool version_header) {
  websocketpp::http::parser::response response;
  response.set_version("HTTP/1.1");
  response.set_status(
      static_cast<websocketpp::http::status_code::value>(status));
  if (version_header) response.append_header("Sec-WebSocket-Version", "13");
  response.append_header("Connection", "close");
  response.set_body(std::string(body));
  Write(response.raw(), nullptr);
  EndAfterFlush();
}

}  // namespace channel
