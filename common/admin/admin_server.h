#ifndef CHANNEL_COMMON_ADMIN_ADMIN_SERVER_H_
#define CHANNEL_COMMON_ADMIN_ADMIN_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "asio/io_context.hpp"
#include "net/http_message.h"

namespace channel {

class HttpServer;

// The admin HTTP port of both daemons: GET /healthz, /readyz, /metrics, on
// the project's one HTTP server (net/http_server.h: keep-alive, slow
// clients bounded in time and number). Runs its handlers on the io_context
// it is given, so callbacks may read state owned by that thread without
// locks.
class AdminServer {
 public:
  struct Handlers {
    // /readyz: 200 "ready" when true, 503 with the reason otherwise.
    // Empty reason means ready.
    std::function<std::string()> not_ready_reason;
    // /metrics body, Prometheus text format.
    std::function<std::string()> metrics;
  };

  AdminServer(asio::io_context& io, Handlers handlers);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds host:port (port 0: any free port) and starts accepting.
  absl::Status Listen(const std::string& host, uint16_t port);

  // The bound port, after a successful Listen.
  uint16_t port() const { return port_; }

  // Stops accepting and closes every connection.
  void Stop();

 private:
  HttpResponse Answer(const HttpRequest& request) const;

  Handlers handlers_;
  std::unique_ptr<HttpServer> server_;
  uint16_t port_ = 0;
};

}  // namespace channel

#endif  // CHANNEL_COMMON_ADMIN_ADMIN_SERVER_H_
