#include "net/http_server.h"

#include <websocketpp/common/memory.hpp>
#include <websocketpp/http/response.hpp>

#include "absl/strings/str_cat.h"
#include "net/http_connection.h"
#include "net/socket_io.h"

namespace channel {

HttpServer::HttpServer(asio::io_context& io, HttpServerOptions options,
                       HttpHandlers handlers)
    : options_(options),
      handlers_(std::move(handlers)),
      acceptor_(io),
      accept_retry_(io) {}

HttpServer::~HttpServer() { Close(); }

absl::Status HttpServer::Listen(const std::string& host, uint16_t port) {
  absl::Status s = OpenListener(&acceptor_, host, port,
                                asio::socket_base::max_listen_connections,
                                /*reuse_port=*/false);
  if (!s.ok()) return s;
  std::error_code ec;
  port_ = acceptor_.local_endpoint(ec).port();
  DoAccept();
  return absl::OkStatus();
}

void HttpServer::Close() {
  if (closed_) return;
  closed_ = true;
  std::error_code ec;
  acceptor_.close(ec);
  accept_retry_.cancel();
  auto connections = std::move(connections_);
  connections_.clear();
  for (auto& [id, connection] : connections) connection->Close();
  per_source_.clear();
  stats_.connections = 0;
}

void HttpServer::DoAccept() {
  acceptor_.async_accept(
      [this](const std::error_code& ec, asio::ip::tcp::socket socket) {
        if (closed_ || ec == asio::error::operation_aborted) return;
        if (ec) {
          // Out of descriptors, most likely: try again shortly rather
          // than spin.
          accept_retry_.expires_after(std::chrono::milliseconds(50));
          accept_retry_.async_wait([this](const std::error_code& wait_ec) {
            if (!wait_ec && !closed_) DoAccept();
          });
          return;
        }
        Admit(std::move(socket));
        DoAccept();
      });
}

void HttpServer::Admit(asio::ip::tcp::socket socket) {
  std::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  if (ec) return;  // already gone
  std::string source = remote.address().to_string();
  if (auto it = per_source_.find(source);
      it != per_source_.end() &&
      it->second >= options_.max_connections_per_source) {
    ++stats_.refused_per_source;
    Refuse(socket, "too_many_connections",
           absl::StrCat("more than ", options_.max_connections_per_source,
                        " open connections from your address"));
    return;
  }
  if (connections_.size() >= options_.max_connections) {
    HttpConnection* victim = nullptr;
    for (const auto& [id, connection] : connections_) {
      if (connection->Sheddable() &&
          (victim == nullptr ||
           connection->waiting_since() < victim->waiting_since())) {
        victim = connection.get();
      }
    }
    if (victim == nullptr) {
      ++stats_.refused_full;
      Refuse(socket, "server_busy",
             "every connection of the server has a request in hand");
      return;
    }
    ++stats_.shed;
    victim->Close();
  }
  const uint64_t id = next_id_++;
  ++per_source_[source];
  auto connection = std::make_shared<HttpConnection>(
      this, id, std::move(socket), std::move(source));
  connections_.emplace(id, connection);
  stats_.connections = connections_.size();
  connection->Start();
}

void HttpServer::Refuse(asio::ip::tcp::socket& socket, absl::string_view code,
                        absl::string_view message) {
  const HttpResponse r = handlers_.error(503, code, message);
  websocketpp::http::parser::response out;
  out.set_version("HTTP/1.1");
  out.set_status(websocketpp::http::status_code::service_unavailable);
  out.replace_header("Content-Type", r.content_type);
  out.replace_header("Connection", "close");
  out.set_body(r.body);
  const std::string bytes = out.raw();
  // A fresh socket's send buffer takes a short answer whole; never block.
  std::error_code ec;
  socket.non_blocking(true, ec);
  socket.send(asio::buffer(bytes), 0, ec);
  socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

void HttpServer::OnConnectionClosed(uint64_t id, const std::string& source) {
  if (connections_.erase(id) == 0) return;
  if (auto it = per_source_.find(source); it != per_source_.end()) {
    if (--it->second == 0) per_source_.erase(it);
  }
  stats_.connections = connections_.size();
}

}  // namespace channel
