#include "common/admin/serve_until_signal.h"

#include <csignal>

#include "asio/signal_set.hpp"
#include "common/logging/logging.h"

namespace channel {

int ServeUntilSignal(asio::io_context& io, AdminServer::Handlers handlers,
                     const std::string& admin_host, int32_t admin_port,
                     std::function<void(std::function<void()> done)> shutdown) {
  AdminServer admin(io, std::move(handlers));
  if (admin_port >= 0) {
    if (absl::Status s =
            admin.Listen(admin_host, static_cast<uint16_t>(admin_port));
        !s.ok()) {
      spdlog::critical("{}", s.message());
      return 1;
    }
    spdlog::info("admin listening on {}:{}", admin_host, admin.port());
  }
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const std::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("received signal {}: shutting down", signo);
    shutdown([&] {
      admin.Stop();
      io.stop();
    });
  });
  io.run();
  return 0;
}

}  // namespace channel
