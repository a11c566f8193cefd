#include "broker/api/api_server.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asio/ip/address.hpp"
#include "broker/api/api_replies.h"
#include "broker/api/json/api_clients.h"
#include "common/constant_time.h"

namespace channel {
namespace {

using api_replies::Error;
using Clock = std::chrono::steady_clock;

// The route of a method and path, or null.
const char* RouteOf(const HttpRequest& head) {
  const absl::string_view path = head.Path();
  if (head.method == "POST" && path == "/api/publish") return "publish";
  if (head.method == "GET" && path == "/api/presence") return "presence";
  if (head.method == "GET" && path == "/api/presence/members") {
    return "members";
  }
  if (head.method == "GET" && path == "/api/groups") return "groups";
  if (head.method == "GET" && path == "/api/history") return "history";
  if (IsApiClientRoute(head.method, path)) return "clients";
  return nullptr;
}

}  // namespace

ApiServer::ApiServer(asio::io_context& broker_io, ApiBackend* broker,
                     ApiOptions options)
    : broker_io_(broker_io),
      broker_(broker),
      options_(std::move(options)),
      bucket_(options_.max_requests_per_sec,
              std::max(1.0, options_.max_requests_per_sec), Clock::now()) {}

ApiServer::~ApiServer() { Stop(); }

void ApiServer::Answer(const HttpReply& reply, const char* route,
                       Clock::time_point t0, HttpResponse response) {
  metrics_.Count(route, response.status, Clock::now() - t0);
  reply(std::move(response));
}

std::optional<HttpResponse> ApiServer::OnHeaders(const HttpRequest& head) {
  const char* route = RouteOf(head);
  if (route == nullptr) {
    return Error(404, "not_found",
                 "routes: POST /api/publish, GET /api/presence, GET "
                 "/api/presence/members, GET "
                 "/api/groups, GET /api/history, GET /api/clients/{id}, "
                 "POST /api/clients/{id}/send|reply|join|leave|bind|close");
  }
  if (!options_.api_key.empty()) {
    const absl::string_view header = head.Header("Authorization");
    constexpr absl::string_view kBearer = "Bearer ";
    const bool ok =
        header.size() > kBearer.size() &&
        header.substr(0, kBearer.size()) == kBearer &&
        ConstantTimeEquals(std::string(header.substr(kBearer.size())),
                           options_.api_key);
    if (!ok) {
      metrics_.Count(route, 401, Clock::duration::zero());
      return Error(401, "unauthorized",
                   header.empty() ? "send Authorization: Bearer <api key>"
                                  : "wrong API key");
    }
  }
  if (options_.max_requests_per_sec > 0) {
    bool limited;
    {
      std::lock_guard<std::mutex> lock(bucket_mu_);
      limited = !bucket_.TryTake(Clock::now());
    }
    if (limited) {
      metrics_.Count(route, 429, Clock::duration::zero());
      return Error(429, "rate_limited",
                   absl::StrCat("more than ", options_.max_requests_per_sec,
                                " API requests per second"));
    }
  }
  return std::nullopt;
}

void ApiServer::OnRequest(HttpRequest request, HttpReply reply) {
  // OnHeaders let only the routes of RouteOf through.
  const absl::string_view route = RouteOf(request);
  if (route == "publish") {
    Publish(request, std::move(reply));
  } else if (route == "presence") {
    Presence(request, std::move(reply));
  } else if (route == "members") {
    Members(request, std::move(reply));
  } else if (route == "history") {
    History(request, std::move(reply));
  } else if (route == "clients") {
    Clients(request, std::move(reply));
  } else {
    Groups(request, std::move(reply));
  }
}

absl::Status ApiServer::Start() {
  std::error_code ec;
  const auto address = asio::ip::make_address(options_.listen_host, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--api_listen '", options_.listen_host, "': ", ec.message()));
  }
  if (options_.api_key.empty() && !address.is_loopback()) {
    return absl::InvalidArgumentError(
        "the HTTP API has no --api_key (CHANNEL_API_KEY): it may only "
        "listen on loopback");
  }
  HttpServerOptions http_options;
  http_options.request_timeout = options_.request_timeout;
  http_options.idle_timeout = options_.read_timeout;
  http_options.max_body_bytes = options_.max_body_bytes;
  http_options.max_connections = options_.max_connections;
  http_options.max_connections_per_source = options_.max_connections_per_source;
  HttpHandlers handlers;
  handlers.on_headers = [this](const HttpRequest& head) {
    return OnHeaders(head);
  };
  handlers.on_request = [this](HttpRequest request, HttpReply reply) {
    OnRequest(std::move(request), std::move(reply));
  };
  handlers.error = [](int status, absl::string_view code,
                      absl::string_view message) {
    return Error(status, code, message);
  };
  http_ = std::make_unique<HttpServer>(io_, http_options, std::move(handlers));
  hop_ = std::make_unique<BrokerHop>(io_, broker_io_, options_.broker_wait);
  if (absl::Status s = http_->Listen(options_.listen_host, options_.port);
      !s.ok()) {
    return absl::UnavailableError(absl::StrCat("API ", s.message()));
  }
  port_ = http_->port();
  thread_ = std::thread([this] { io_.run(); });
  return absl::OkStatus();
}

void ApiServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (hop_) hop_->Stop();  // the broker thread posts no more results
  io_.stop();
  if (thread_.joinable()) thread_.join();
  // No thread runs the API loop now.
  if (http_) http_->Close();
  if (hop_) hop_->Stop();
}

void ApiServer::AppendMetrics(PrometheusText* m) const {
  metrics_.AppendTo(m);
  if (!http_) return;
  const HttpServer::Stats& s = http_->stats();
  m->Gauge("channel_broker_api_connections", "Open HTTP API connections.",
           static_cast<double>(s.connections.load()), {});
  m->Counter("channel_broker_api_connections_refused_total",
             "HTTP API connections refused with 503 at accept: over "
             "--api_max_connections_per_source, or all busy at "
             "--api_max_connections.",
             static_cast<double>(s.refused_per_source.load()),
             {{"reason", "per_source"}});
  m->Counter("channel_broker_api_connections_refused_total", "",
             static_cast<double>(s.refused_full.load()), {{"reason", "full"}});
  m->Counter("channel_broker_api_connections_shed_total",
             "HTTP API connections without a complete request closed to "
             "make room at --api_max_connections.",
             static_cast<double>(s.shed.load()), {});
  m->Counter("channel_broker_api_request_timeouts_total",
             "HTTP API requests cut with 408 (whole-request deadline or "
             "silence between reads).",
             static_cast<double>(s.timed_out.load()), {});
}

}  // namespace channel
