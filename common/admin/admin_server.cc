#include "common/admin/admin_server.h"

#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include "absl/strings/str_cat.h"

namespace channel {

namespace {

// Small limits: the admin port only ever serves tiny GET requests.
struct AdminConfig : public websocketpp::config::asio {
  static const size_t max_http_body_size = 4096;
  static const long timeout_open_handshake = 5000;
};

using Endpoint = websocketpp::server<AdminConfig>;

}  // namespace

class AdminServer::Impl {
 public:
  Impl(asio::io_context& io, Handlers handlers)
      : handlers_(std::move(handlers)) {
    endpoint_.clear_access_channels(websocketpp::log::alevel::all);
    endpoint_.clear_error_channels(websocketpp::log::elevel::all);
    endpoint_.init_asio(&io, init_error_);
    endpoint_.set_reuse_addr(true);
    endpoint_.set_http_handler(
        [this](websocketpp::connection_hdl hdl) { OnHttp(hdl); });
    // Not a WebSocket endpoint: refuse upgrades.
    endpoint_.set_validate_handler(
        [](websocketpp::connection_hdl) { return false; });
  }

  absl::Status Listen(const std::string& host, uint16_t port, uint16_t* bound) {
    if (init_error_) {
      return absl::InternalError(
          absl::StrCat("admin endpoint: ", init_error_.message()));
    }
    std::error_code ec;
    const auto address = asio::ip::make_address(host, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("admin address '", host, "': ", ec.message()));
    }
    endpoint_.listen(asio::ip::tcp::endpoint(address, port), ec);
    if (ec) {
      return absl::UnavailableError(absl::StrCat("admin listen on ", host, ":",
                                                 port, ": ", ec.message()));
    }
    endpoint_.start_accept(ec);
    if (ec) return absl::InternalError(ec.message());
    *bound = endpoint_.get_local_endpoint(ec).port();
    return absl::OkStatus();
  }

  void Stop() {
    std::error_code ec;
    if (endpoint_.is_listening()) endpoint_.stop_listening(ec);
  }

 private:
  void OnHttp(websocketpp::connection_hdl hdl) {
    std::error_code ec;
    auto con = endpoint_.get_con_from_hdl(hdl, ec);
    if (ec) return;
    std::string path = con->get_resource();
    if (auto q = path.find('?'); q != std::string::npos) path.resize(q);
    con->append_header("Content-Type", "text/plain; charset=utf-8");
    // websocketpp closes the connection after an HTTP response; say so, or
    // keep-alive clients (Prometheus, Node) reuse a socket that is gone.
    con->append_header("Connection", "close");
    if (con->get_request().get_method() != "GET") {
      con->set_status(websocketpp::http::status_code::method_not_allowed);
      con->set_body("only GET\n");
      return;
    }
    if (path == "/healthz") {
      con->set_status(websocketpp::http::status_code::ok);
      con->set_body("ok\n");
    } else if (path == "/readyz") {
      const std::string reason = handlers_.not_ready_reason();
      if (reason.empty()) {
        con->set_status(websocketpp::http::status_code::ok);
        con->set_body("ready\n");
      } else {
        con->set_status(websocketpp::http::status_code::service_unavailable);
        con->set_body(absl::StrCat("not ready: ", reason, "\n"));
      }
    } else if (path == "/metrics") {
      con->replace_header("Content-Type", "text/plain; version=0.0.4");
      con->set_status(websocketpp::http::status_code::ok);
      con->set_body(handlers_.metrics());
    } else {
      con->set_status(websocketpp::http::status_code::not_found);
      con->set_body("not found; try /healthz, /readyz or /metrics\n");
    }
  }

  Handlers handlers_;
  std::error_code init_error_;  // from init_asio, reported by Listen
  Endpoint endpoint_;
};

AdminServer::AdminServer(asio::io_context& io, Handlers handlers)
    : impl_(std::make_unique<Impl>(io, std::move(handlers))) {}

AdminServer::~AdminServer() = default;

absl::Status AdminServer::Listen(const std::string& host, uint16_t port) {
  return impl_->Listen(host, port, &port_);
}

void AdminServer::Stop() { impl_->Stop(); }

}  // namespace channel
