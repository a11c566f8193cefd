#ifndef CHANNEL_GATEWAY_GATEWAY_SERVER_H_
#define CHANNEL_GATEWAY_GATEWAY_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"
#include "gateway/gateway_options.h"
#include "gateway/tls/tls_context.h"
#include "gateway/worker/worker.h"

namespace channel {

// Wires a ws-gateway process: N workers (shards) on their own threads, each
// with its own WebSocket connections and broker link; the calling thread's
// io_context serves the admin port and coordinates shutdown; the metrics
// and readiness views sum the workers' atomic counters.
class GatewayServer {
 public:
  GatewayServer(asio::io_context& main_io, GatewayOptions options);
  ~GatewayServer();

  // Loads the TLS certificate (with --tls_cert), binds the WebSocket port on
  // every worker and starts their threads (each connects to the broker).
  absl::Status Start();
  uint16_t port() const { return port_; }
  const std::string& gateway_id() const { return gateway_id_; }

  // The drain: readiness goes false, workers stop accepting and close
  // clients with 1012 spread over --drain_ms (Worker::PostShutdown), and
  // once they are all closed (or drain + grace has passed) the threads
  // stop and `done` runs. Main thread only.
  void Shutdown(std::function<void()> done);

  // Admin endpoints; main thread only.
  std::string RenderMetrics() const;
  std::string NotReadyReason() const;

 private:
  void FinishShutdown();

  asio::io_context& main_io_;
  const GatewayOptions options_;
  const std::string gateway_id_;
  GatewayLimits limits_;
  TokenVerifier verifier_;  // shared by the workers, immutable once started
  std::unique_ptr<TlsContext> tls_;  // null: plain ws
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  bool shutting_down_ = false;
  size_t idle_workers_ = 0;
  asio::steady_timer grace_timer_;
  std::function<void()> on_shutdown_done_;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_GATEWAY_SERVER_H_
