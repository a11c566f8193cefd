#ifndef CHANNEL_BROKER_API_API_SERVER_H_
#define CHANNEL_BROKER_API_API_SERVER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "asio/io_context.hpp"
#include "broker/api/api_backend.h"
#include "broker/api/api_metrics.h"
#include "broker/api/broker_hop.h"
#include "broker/api/json/api_request.h"
#include "common/ops/prometheus_text.h"
#include "common/token_bucket.h"
#include "net/http_message.h"
#include "net/http_server.h"

namespace channel {

struct ApiOptions {
  std::string listen_host = "127.0.0.1";
  uint16_t port = 0;
  std::string api_key;  // empty: only a loopback listen is allowed
  size_t max_body_bytes = 1 << 20;
  double max_requests_per_sec = 0;  // 0: no limit; else 429 past it
  // Silence allowed inside a request and on an idle keep-alive connection.
  std::chrono::milliseconds read_timeout{5000};
  // A request's first byte to its last (408 past it).
  std::chrono::milliseconds request_timeout{10000};
  size_t max_connections = 1024;
  size_t max_connections_per_source = 32;
  // Longest a request waits for the broker loop to take it up; past it,
  // 503 and the work never runs.
  std::chrono::milliseconds broker_wait{5000};
  ApiLimits limits;
};

// The HTTP API for backends (docs/API.md): publish, presence counts and
// members, groups, history and the client actions (RouteOf in
// api_server.cc), on a port of its own (never the admin port: metrics are
// often open inside a cluster, publishing must not be).
// HTTP is served by an event-driven HttpServer on one API thread of its
// own (which also parses the JSON), so a slow client holds a connection
// slot for a bounded time, never a thread. The key, the route and the
// rate are judged once the headers are in, before the body is read. The
// broker part of each request hops to the broker's loop (BrokerHop) and
// its result hops back: the Router, presence and sessions keep one owner,
// no thread blocks, and a request the broker loop did not take up within
// broker_wait is answered 503 and never runs.
class ApiServer {
 public:
  ApiServer(asio::io_context& broker_io, ApiBackend* broker,
            ApiOptions options);
  ~ApiServer();

  // Checks the options (no key: loopback only), binds and starts serving.
  absl::Status Start();
  // Stops serving and joins the API thread; requests in hand are dropped
  // (their broker work, if it runs, is not answered). Idempotent.
  void Stop();
  uint16_t port() const { return port_; }

  // API request counters and latency, for the broker's /metrics. Any
  // thread.
  void AppendMetrics(PrometheusText* m) const;

 private:
  // The route, the key and the request rate; a response refuses.
  std::optional<HttpResponse> OnHeaders(const HttpRequest& head);
  void OnRequest(HttpRequest request, HttpReply reply);
  void Publish(const HttpRequest& request, HttpReply reply);
  void Presence(const HttpRequest& request, HttpReply reply);
  void Members(const HttpRequest& request, HttpReply reply);
  void Clients(const HttpRequest& request, HttpReply reply);
  void Groups(const HttpRequest& request, HttpReply reply);
  void History(const HttpRequest& request, HttpReply reply);
  // Counts and sends.
  void Answer(const HttpReply& reply, const char* route,
              std::chrono::steady_clock::time_point t0, HttpResponse response);

  asio::io_context& broker_io_;
  ApiBackend* const broker_;
  const ApiOptions options_;
  // The API loop and what lives on it (declared after it: destroyed first).
  asio::io_context io_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<BrokerHop> hop_;
  std::thread thread_;
  uint16_t port_ = 0;
  bool stopped_ = false;

  ApiMetrics metrics_;  // any thread
  // The request rate, taken at the headers on the API thread.
  std::mutex bucket_mu_;
  TokenBucket bucket_ ABSL_GUARDED_BY(bucket_mu_);
};

}  // namespace channel

#endif  // CHANNEL_BROKER_API_API_SERVER_H_
