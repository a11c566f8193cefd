#include "common/admin/admin_server.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "net/http_server.h"

namespace channel {
namespace {

HttpResponse Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

// Small bounds: the admin port serves tiny GET requests to a few scrapers
// and probes.
HttpServerOptions AdminHttpOptions() {
  HttpServerOptions o;
  o.request_timeout = std::chrono::milliseconds(5000);
  o.idle_timeout = std::chrono::milliseconds(5000);
  o.max_body_bytes = 4096;
  o.max_connections = 128;
  o.max_connections_per_source = 32;
  return o;
}

}  // namespace

AdminServer::AdminServer(asio::io_context& io, Handlers handlers)
    : handlers_(std::move(handlers)) {
  HttpHandlers http;
  http.on_headers = [](const HttpRequest&) -> std::optional<HttpResponse> {
    return std::nullopt;
  };
  http.on_request = [this](HttpRequest request, HttpReply reply) {
    reply(Answer(request));
  };
  http.error = [](int status, absl::string_view, absl::string_view message) {
    return Text(status, absl::StrCat(message, "\n"));
  };
  server_ =
      std::make_unique<HttpServer>(io, AdminHttpOptions(), std::move(http));
}

AdminServer::~AdminServer() = default;

absl::Status AdminServer::Listen(const std::string& host, uint16_t port) {
  if (absl::Status s = server_->Listen(host, port); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("admin: ", s.message()));
  }
  port_ = server_->port();
  return absl::OkStatus();
}

void AdminServer::Stop() { server_->Close(); }

HttpResponse AdminServer::Answer(const HttpRequest& request) const {
  if (request.method != "GET") return Text(405, "only GET\n");
  const absl::string_view path = request.Path();
  if (path == "/healthz") return Text(200, "ok\n");
  if (path == "/readyz") {
    const std::string reason = handlers_.not_ready_reason();
    if (reason.empty()) return Text(200, "ready\n");
    return Text(503, absl::StrCat("not ready: ", reason, "\n"));
  }
  if (path == "/metrics") {
    HttpResponse r = Text(200, handlers_.metrics());
    r.content_type = "text/plain; version=0.0.4";
    return r;
  }
  return Text(404, "not found; try /healthz, /readyz or /metrics\n");
}

}  // namespace channel
