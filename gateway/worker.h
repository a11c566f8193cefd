#ifndef CHANNEL_GATEWAY_WORKER_H_
#define CHANNEL_GATEWAY_WORKER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "asio/io_context.hpp"

namespace asio::ssl {
class context;
}  // namespace asio::ssl
#include "gateway/delivery.h"
#include "gateway/gateway_options.h"
#include "gateway/worker_stats.h"

namespace channel {

class BrokerLink;

// One gateway thread: its own io_context and WebSocket endpoint (all workers
// listen on the same port with SO_REUSEPORT; the kernel spreads
// connections), the connections accepted there for their whole life, and
// their group membership. No lock on the per-message path: other threads
// talk to a worker only by posting to it.
//
// Fan-out: the deliveries of one post are turned into one buffer of
// concatenated WebSocket frames per group (a websocketpp "prepared" message),
// and the same pointer is handed to every local member.
//
// This is the gateway's only websocketpp translation unit (compile cost).
class Worker {
 public:
  // `link` lives on `link_io`'s thread; the worker posts to it there.
  // `limits` is shared by all workers of the process. With `tls`, the
  // worker speaks wss (TLS with that context) instead of ws.
  Worker(int index, const GatewayOptions& options, BrokerLink* link,
         asio::io_context& link_io, GatewayLimits* limits,
         std::shared_ptr<asio::ssl::context> tls);
  ~Worker();

  // Binds host:port (port 0: any free port) with SO_REUSEPORT; *bound gets
  // the port. Call before Run, from the thread that constructed the worker.
  absl::Status Listen(const std::string& host, uint16_t port, uint16_t* bound);

  // Runs the worker's loop until Stop. The thread body.
  void Run();

  // Thread-safe: each posts to the worker's thread.
  void PostDeliveries(std::vector<Delivery> batch);
  // Stops accepting and closes every connection with 1001; `on_idle` runs on
  // the worker thread once it has no connection left.
  void PostShutdown(std::function<void()> on_idle);
  void Stop();

  WorkerStats& stats();
  int index() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_WORKER_H_
