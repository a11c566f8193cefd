#ifndef CHANNEL_BROKER_API_SERVER_H_
#define CHANNEL_BROKER_API_SERVER_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "asio/io_context.hpp"
#include "broker/api_request.h"
#include "common/prometheus_text.h"
#include "common/token_bucket.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace channel {

class BrokerServer;

struct ApiOptions {
  std::string listen_host = "127.0.0.1";
  uint16_t port = 0;
  std::string api_key;  // empty: only a loopback listen is allowed
  size_t max_body_bytes = 1 << 20;
  double max_requests_per_sec = 0;  // 0: no limit; else 429 past it
  int threads = 4;                  // HTTP worker threads
  std::chrono::milliseconds read_timeout{5000};
  ApiLimits limits;
};

// The HTTP API for backends (docs/API.md): POST /api/publish, GET
// /api/presence, GET /api/groups, on a port of its own (never the admin
// port: metrics are often open inside a cluster, publishing must not be).
// cpp-httplib (Debian's libcpp-httplib) serves HTTP on its own threads;
// every handler hands its work to the broker's io thread with a post and
// waits for the answer (at most kBrokerWait, else 503), so the Router,
// presence and sessions keep one owner, and a slow or stuck API client
// holds an HTTP thread (until --api_read_timeout_ms), never the broker.
class ApiServer {
 public:
  ApiServer(asio::io_context& broker_io, BrokerServer* broker,
            ApiOptions options);
  ~ApiServer();

  // Checks the options (no key: loopback only), binds and starts serving.
  absl::Status Start();
  // Stops accepting and joins the HTTP threads. Idempotent.
  void Stop();
  uint16_t port() const { return port_; }

  // API request counters and latency, for the broker's /metrics. Any
  // thread.
  void AppendMetrics(PrometheusText* m) const;

 private:
  // The key and the request rate; false (answered 401/429) to refuse.
  bool Admit(const httplib::Request& req, httplib::Response& res,
             const std::string& route);
  // Runs `fn` on the broker thread; false if it did not run in time.
  bool OnBroker(std::function<void()> fn);
  void Count(const std::string& route, int status,
             std::chrono::steady_clock::duration latency);

  asio::io_context& broker_io_;
  BrokerServer* const broker_;
  const ApiOptions options_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};

  static constexpr std::array<double, 11> kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, uint64_t> requests_ ABSL_GUARDED_BY(mu_);
  std::array<uint64_t, kBuckets.size() + 1> latency_ ABSL_GUARDED_BY(mu_){};
  double latency_sum_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t latency_count_ ABSL_GUARDED_BY(mu_) = 0;
  TokenBucket bucket_ ABSL_GUARDED_BY(mu_);
};

}  // namespace channel

#endif  // CHANNEL_BROKER_API_SERVER_H_
