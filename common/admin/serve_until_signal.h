#ifndef CHANNEL_COMMON_ADMIN_SERVE_UNTIL_SIGNAL_H_
#define CHANNEL_COMMON_ADMIN_SERVE_UNTIL_SIGNAL_H_

#include <cstdint>
#include <functional>
#include <string>

#include "asio/io_context.hpp"
#include "common/admin/admin_server.h"

namespace channel {

// The tail of both daemons' main(): serves the admin port on `io` (unless
// admin_port < 0), runs `io` until SIGTERM or SIGINT, then calls
// shutdown(done); returns 0 once the daemon calls done and `io` stops.
// Returns 1 at once if the admin port cannot be bound.
int ServeUntilSignal(asio::io_context& io, AdminServer::Handlers handlers,
                     const std::string& admin_host, int32_t admin_port,
                     std::function<void(std::function<void()> done)> shutdown);

}  // namespace channel

#endif  // CHANNEL_COMMON_ADMIN_SERVE_UNTIL_SIGNAL_H_
