#include "broker/api_server.h"

#include <httplib.h>

#include <future>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "asio/ip/address.hpp"
#include "asio/post.hpp"
#include "broker/broker_server.h"
#include "common/constant_time.h"
#include "common/logging.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace channel {
namespace {

using Clock = std::chrono::steady_clock;

// Longest a handler waits for the broker thread.
constexpr std::chrono::seconds kBrokerWait{5};

void Reply(httplib::Response& res, int status, const std::string& json) {
  res.status = status;
  res.set_content(json, "application/json");
}

void ReplyError(httplib::Response& res, int status, absl::string_view code,
                absl::string_view message) {
  ApiError e;
  e.status = status;
  e.code = std::string(code);
  e.message = std::string(message);
  Reply(res, status, ApiErrorJson(e));
}

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void WriteCounts(JsonWriter& w, const PresenceTable::Counts& c) {
  w.Key("connections");
  w.Uint64(c.connections);
  w.Key("users");
  w.Uint64(c.users);
}

}  // namespace

ApiServer::ApiServer(asio::io_context& broker_io, BrokerServer* broker,
                     ApiOptions options)
    : broker_io_(broker_io),
      broker_(broker),
      options_(std::move(options)),
      bucket_(options_.max_requests_per_sec,
              std::max(1.0, options_.max_requests_per_sec), Clock::now()) {}

ApiServer::~ApiServer() { Stop(); }

bool ApiServer::OnBroker(std::function<void()> fn) {
  if (stopping_.load()) return false;
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> ready = done->get_future();
  asio::post(broker_io_, [fn = std::move(fn), done] {
    fn();
    done->set_value();
  });
  return ready.wait_for(kBrokerWait) == std::future_status::ready;
}

void ApiServer::Count(const std::string& route, int status,
                      Clock::duration latency) {
  const double seconds = std::chrono::duration<double>(latency).count();
  absl::MutexLock lock(&mu_);
  ++requests_[absl::StrCat(route, "|", status)];
  size_t i = 0;
  while (i < kBuckets.size() && seconds > kBuckets[i]) ++i;
  ++latency_[i];
  latency_sum_ += seconds;
  ++latency_count_;
}

bool ApiServer::Admit(const httplib::Request& req, httplib::Response& res,
                      const std::string& route) {
  // Checked in the handler, after cpp-httplib has read the body: refusing
  // earlier would leave the body unread on a keep-alive connection.
  if (!options_.api_key.empty()) {
    const std::string header = req.get_header_value("Authorization");
    constexpr absl::string_view kBearer = "Bearer ";
    const bool ok =
        header.size() > kBearer.size() &&
        absl::string_view(header).substr(0, kBearer.size()) == kBearer &&
        ConstantTimeEquals(header.substr(kBearer.size()), options_.api_key);
    if (!ok) {
      ReplyError(res, 401, "unauthorized",
                 header.empty() ? "send Authorization: Bearer <api key>"
                                : "wrong API key");
      Count(route, 401, Clock::duration::zero());
      return false;
    }
  }
  if (options_.max_requests_per_sec > 0) {
    bool limited;
    {
      absl::MutexLock lock(&mu_);
      limited = !bucket_.TryTake(Clock::now());
    }
    if (limited) {
      ReplyError(res, 429, "rate_limited",
                 absl::StrCat("more than ", options_.max_requests_per_sec,
                              " API requests per second"));
      Count(route, 429, Clock::duration::zero());
      return false;
    }
  }
  return true;
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
  http_ = std::make_unique<httplib::Server>();
  httplib::Server& http = *http_;
  const int threads = std::max(1, options_.threads);
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_payload_max_length(options_.max_body_bytes);
  http.set_read_timeout(
      std::chrono::duration_cast<std::chrono::seconds>(options_.read_timeout)
          .count(),
      0);
  http.set_keep_alive_max_count(10000);
  // Responses are small: without this, keep-alive clients wait for the
  // delayed ACK (~40 ms) on every request.
  http.set_tcp_nodelay(true);

  // Bodies over --api_max_body_bytes: cpp-httplib answers 413; say why.
  http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.status == 413) {
      ReplyError(res, 413, "body_too_large",
                 "the request body is over --api_max_body_bytes");
    } else if (res.status == 404) {
      ReplyError(res, 404, "not_found",
                 "routes: POST /api/publish, GET /api/presence, GET "
                 "/api/groups");
    } else if (res.body.empty()) {
      ReplyError(res, res.status, "http_error", "bad HTTP request");
    }
  });

  http.Post("/api/publish", [this](const httplib::Request& req,
                                   httplib::Response& res) {
    const auto t0 = Clock::now();
    if (!Admit(req, res, "publish")) return;
    ApiPublish publish;
    ApiError error;
    if (!ParseApiPublish(req.body, options_.limits, &publish, &error)) {
      Reply(res, error.status, ApiErrorJson(error));
      Count("publish", error.status, Clock::now() - t0);
      return;
    }
    uint64_t deliveries = 0;
    absl::Status status;
    const bool ran = OnBroker([&] {
      if (!broker_->NotReadyReason().empty()) {
        status = absl::UnavailableError(broker_->NotReadyReason());
        return;
      }
      status = broker_->PublishFromApi(publish.channels, publish.message,
                                       &deliveries);
    });
    if (!ran || absl::IsUnavailable(status)) {
      ReplyError(res, 503, "unavailable",
                 ran ? status.message() : "the broker did not answer in time");
      Count("publish", 503, Clock::now() - t0);
      return;
    }
    if (!status.ok()) {
      ReplyError(res, 400, "refused", status.message());
      Count("publish", 400, Clock::now() - t0);
      return;
    }
    Reply(res, 200,
          absl::StrCat(R"({"ok":true,"channels":)", publish.channels.size(),
                       R"(,"deliveries":)", deliveries, "}"));
    Count("publish", 200, Clock::now() - t0);
  });

  http.Get("/api/presence", [this](const httplib::Request& req,
                                   httplib::Response& res) {
    const auto t0 = Clock::now();
    if (!Admit(req, res, "presence")) return;
    const std::string group = req.get_param_value("group_id");
    if (group.empty() || group.size() > options_.limits.max_id_bytes) {
      ReplyError(res, 400, "invalid_field",
                 "group_id: 1 to 128 bytes, in the query string");
      Count("presence", 400, Clock::now() - t0);
      return;
    }
    PresenceTable::Counts counts;
    if (!OnBroker([&] { counts = broker_->presence().Get(group); })) {
      ReplyError(res, 503, "unavailable", "the broker did not answer in time");
      Count("presence", 503, Clock::now() - t0);
      return;
    }
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartObject();
    w.Key("ok");
    w.Bool(true);
    w.Key("group_id");
    w.String(group.data(), static_cast<rapidjson::SizeType>(group.size()));
    WriteCounts(w, counts);
    w.EndObject();
    Reply(res, 200, std::string(buffer.GetString(), buffer.GetSize()));
    Count("presence", 200, Clock::now() - t0);
  });

  http.Get("/api/groups", [this](const httplib::Request& req,
                                 httplib::Response& res) {
    const auto t0 = Clock::now();
    if (!Admit(req, res, "groups")) return;
    const std::string prefix = req.get_param_value("prefix");
    const std::string after = req.get_param_value("after");
    size_t limit = 100;
    if (req.has_param("limit") &&
        (!absl::SimpleAtoi(req.get_param_value("limit"), &limit) ||
         limit == 0 || limit > 1000)) {
      ReplyError(res, 400, "invalid_field", "limit: 1 to 1000");
      Count("groups", 400, Clock::now() - t0);
      return;
    }
    if (prefix.size() > options_.limits.max_id_bytes ||
        after.size() > options_.limits.max_id_bytes) {
      ReplyError(res, 400, "invalid_field", "prefix and after: 128 bytes");
      Count("groups", 400, Clock::now() - t0);
      return;
    }
    std::vector<std::pair<std::string, PresenceTable::Counts>> page;
    if (!OnBroker([&] {
          // One more than asked: tells whether a next page exists.
          page = broker_->presence().List(prefix, after, limit + 1);
        })) {
      ReplyError(res, 503, "unavailable", "the broker did not answer in time");
      Count("groups", 503, Clock::now() - t0);
      return;
    }
    const bool more = page.size() > limit;
    if (more) page.pop_back();
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartObject();
    w.Key("ok");
    w.Bool(true);
    w.Key("groups");
    w.StartArray();
    for (const auto& [group, counts] : page) {
      w.StartObject();
      w.Key("group_id");
      w.String(group.data(), static_cast<rapidjson::SizeType>(group.size()));
      WriteCounts(w, counts);
      w.EndObject();
    }
    w.EndArray();
    w.Key("next");
    if (more) {
      w.String(page.back().first.data(),
               static_cast<rapidjson::SizeType>(page.back().first.size()));
    } else {
      w.Null();
    }
    w.EndObject();
    Reply(res, 200, std::string(buffer.GetString(), buffer.GetSize()));
    Count("groups", 200, Clock::now() - t0);
  });

  const int port = options_.port == 0
                       ? http.bind_to_any_port(options_.listen_host)
                       : (http.bind_to_port(options_.listen_host, options_.port)
                              ? options_.port
                              : -1);
  if (port <= 0) {
    return absl::UnavailableError(absl::StrCat(
        "API listen on ", options_.listen_host, ":", options_.port, " failed"));
  }
  port_ = static_cast<uint16_t>(port);
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  return absl::OkStatus();
}

void ApiServer::Stop() {
  if (stopping_.exchange(true)) return;
  if (http_) http_->stop();
  if (thread_.joinable()) thread_.join();
}

void ApiServer::AppendMetrics(PrometheusText* m) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [key, count] : requests_) {
    const std::vector<absl::string_view> parts = absl::StrSplit(key, '|');
    m->Counter("channel_broker_api_requests_total",
               "HTTP API requests, by route and status.",
               static_cast<double>(count),
               {{"route", parts[0]}, {"status", parts[1]}});
  }
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= kBuckets.size(); ++i) {
    cumulative += latency_[i];
    const std::string le =
        i < kBuckets.size() ? absl::StrCat(kBuckets[i]) : "+Inf";
    m->Histogram("channel_broker_api_request_seconds",
                 "HTTP API request latency (handled requests).", "_bucket",
                 static_cast<double>(cumulative), {{"le", le}});
  }
  m->Histogram("channel_broker_api_request_seconds", "", "_sum", latency_sum_,
               {});
  m->Histogram("channel_broker_api_request_seconds", "", "_count",
               static_cast<double>(latency_count_), {});
}

}  // namespace channel
