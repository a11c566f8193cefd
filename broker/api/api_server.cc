#include "broker/api/api_server.h"

#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "asio/ip/address.hpp"
#include "broker/api/api_clients.h"
#include "broker/api/api_history.h"
#include "common/channel_names.h"
#include "common/constant_time.h"
#include "common/presence/member_json.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace channel {
namespace {

using Clock = std::chrono::steady_clock;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

HttpResponse Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse Error(int status, absl::string_view code,
                   absl::string_view message, bool not_published = false) {
  ApiError e;
  e.status = status;
  e.code = std::string(code);
  e.message = std::string(message);
  e.not_published = not_published;
  return Json(status, ApiErrorJson(e));
}

// The answers every read route shares.
HttpResponse BadGroupId() {
  return Error(400, "invalid_field",
               "group_id: 1 to 128 bytes, in the query string");
}
HttpResponse NotAnswered() {
  return Error(503, "unavailable", "the broker did not answer in time");
}

void WriteCounts(JsonWriter& w, const PresenceTable::Counts& c) {
  w.Key("connections");
  w.Uint64(c.connections);
  w.Key("users");
  w.Uint64(c.users);
}

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

std::string QueryParam(const HttpRequest& request, absl::string_view name) {
  return ApiQueryParam(request.Query(), name).value_or("");
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
  // OnHeaders let only the four routes through.
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

void ApiServer::Publish(const HttpRequest& request, HttpReply reply) {
  const auto t0 = Clock::now();
  // Inputs and outputs of the broker part, owned by it (it may run after
  // the client has gone).
  struct Job {
    ApiPublish publish;
    absl::Status status;
    uint64_t deliveries = 0;
  };
  absl::StatusOr<ApiPublish> parsed =
      ParseApiPublish(request.body, options_.limits);
  if (!parsed.ok()) {
    const ApiError error = ApiErrorOf(parsed.status());
    Answer(reply, "publish", t0, Json(error.status, ApiErrorJson(error)));
    return;
  }
  auto job = std::make_shared<Job>();
  job->publish = *std::move(parsed);
  ApiBackend* broker = broker_;
  hop_->CallAsync(
      [job, broker](BrokerHop::Finished finished) {
        if (std::string reason = broker->NotReadyReason(); !reason.empty()) {
          job->status = absl::UnavailableError(reason);
          finished();
          return;
        }
        broker->PublishFromApi(
            job->publish.channels, job->publish.message,
            [job, finished](const absl::Status& status, uint64_t deliveries) {
              job->status = status;
              job->deliveries = deliveries;
              finished();
            });
      },
      [this, job, reply = std::move(reply), t0](BrokerHop::Outcome outcome) {
        if (outcome == BrokerHop::Outcome::kNotRun) {
          Answer(reply, "publish", t0,
                 Error(503, "unavailable",
                       absl::StrCat("the broker did not take the request up "
                                    "within ",
                                    options_.broker_wait.count(),
                                    " ms; it was not published"),
                       /*not_published=*/true));
        } else if (absl::IsAborted(job->status)) {
          // BACKPRESSURE: a gateway link is full, or the broker restarted
          // moments ago (Router::Publish, RestartGrace).
          HttpResponse r = Error(503, "backpressure", job->status.message(),
                                 /*not_published=*/true);
          r.headers.emplace_back("Retry-After", "1");
          Answer(reply, "publish", t0, std::move(r));
        } else if (absl::IsDeadlineExceeded(job->status)) {
          // The cluster's history store did not confirm in time: stored
          // or not, nobody knows (never a false "ok", never a false "not
          // published").
          Answer(reply, "publish", t0,
                 Error(504, "unconfirmed", job->status.message(),
                       /*not_published=*/false));
        } else if (absl::IsUnavailable(job->status)) {
          Answer(reply, "publish", t0,
                 Error(503, "unavailable", job->status.message(),
                       /*not_published=*/true));
        } else if (!job->status.ok()) {
          // Refused before anything was delivered (e.g. over
          // --max_publish_fanout_bytes): resending it will not help.
          Answer(reply, "publish", t0,
                 Error(400, "refused", job->status.message(),
                       /*not_published=*/true));
        } else {
          Answer(reply, "publish", t0,
                 Json(200,
                      absl::StrCat(R"({"ok":true,"channels":)",
                                   job->publish.channels.size(),
                                   R"(,"deliveries":)", job->deliveries, "}")));
        }
      });
}

void ApiServer::Clients(const HttpRequest& request, HttpReply reply) {
  const auto t0 = Clock::now();
  absl::StatusOr<ActionRequest> parsed = ParseApiClientAction(
      request.method, request.Path(), request.body, options_.limits);
  if (!parsed.ok()) {
    const ApiError error = ApiErrorOf(parsed.status());
    Answer(reply, "clients", t0, Json(error.status, ApiErrorJson(error)));
    return;
  }
  struct Job {
    ActionRequest action;
    absl::StatusOr<std::string> result;
  };
  auto job = std::make_shared<Job>();
  job->action = *std::move(parsed);
  ApiBackend* broker = broker_;
  hop_->CallAsync(
      [job, broker](BrokerHop::Finished finished) {
        if (std::string reason = broker->NotReadyReason(); !reason.empty()) {
          job->result = absl::UnavailableError(reason);
          finished();
          return;
        }
        broker->ActOnClient(job->action,
                            [job, finished](absl::StatusOr<std::string> r) {
                              job->result = std::move(r);
                              finished();
                            });
      },
      [this, job, reply = std::move(reply), t0](BrokerHop::Outcome outcome) {
        if (outcome == BrokerHop::Outcome::kNotRun) {
          Answer(reply, "clients", t0,
                 Error(503, "unavailable",
                       "the broker did not take the request up in time"));
          return;
        }
        const absl::Status& s = job->result.status();
        if (absl::IsNotFound(s)) {
          Answer(reply, "clients", t0, Error(404, "not_found", s.message()));
        } else if (absl::IsDeadlineExceeded(s)) {
          Answer(reply, "clients", t0, Error(504, "no_answer", s.message()));
        } else if (absl::IsUnavailable(s) || absl::IsAborted(s) ||
                   absl::IsResourceExhausted(s)) {
          Answer(reply, "clients", t0, Error(503, "unavailable", s.message()));
        } else if (!s.ok()) {
          Answer(reply, "clients", t0, Error(400, "refused", s.message()));
        } else {
          // The gateway's result: 200 when done ("ok":true, and an info's
          // "online"), 404 when it has no such connection.
          const std::string& body = *job->result;
          const bool ok = absl::StrContains(body, R"("ok":true)");
          Answer(reply, "clients", t0, Json(ok ? 200 : 404, body));
        }
      });
}

void ApiServer::Presence(const HttpRequest& request, HttpReply reply) {
  const auto t0 = Clock::now();
  const std::string group = QueryParam(request, "group_id");
  if (group.empty() || group.size() > options_.limits.max_id_bytes) {
    Answer(reply, "presence", t0, BadGroupId());
    return;
  }
  struct Job {
    std::string group;
    PresenceTable::Counts counts;
  };
  auto job = std::make_shared<Job>();
  job->group = group;
  ApiBackend* broker = broker_;
  hop_->Call(
      [job, broker] { job->counts = broker->presence().Get(job->group); },
      [this, job, reply = std::move(reply), t0](BrokerHop::Outcome outcome) {
        if (outcome == BrokerHop::Outcome::kNotRun) {
          Answer(reply, "presence", t0, NotAnswered());
          return;
        }
        rapidjson::StringBuffer buffer;
        JsonWriter w(buffer);
        w.StartObject();
        w.Key("ok");
        w.Bool(true);
        w.Key("group_id");
        w.String(job->group.data(),
                 static_cast<rapidjson::SizeType>(job->group.size()));
        WriteCounts(w, job->counts);
        w.EndObject();
        Answer(reply, "presence", t0,
               Json(200, std::string(buffer.GetString(), buffer.GetSize())));
      });
}

// The member list of a presence group: {"ok":true,"group_id":G,
// "members":[{"user":U,"info":{...}},...]}.
void ApiServer::Members(const HttpRequest& request, HttpReply reply) {
  const auto t0 = Clock::now();
  const std::string group = QueryParam(request, "group_id");
  if (group.empty() || group.size() > options_.limits.max_id_bytes) {
    Answer(reply, "members", t0, BadGroupId());
    return;
  }
  struct Job {
    std::string group;
    bool has_list = false;
    std::string members;  // MemberListJson
  };
  auto job = std::make_shared<Job>();
  job->group = group;
  ApiBackend* broker = broker_;
  hop_->Call(
      [job, broker] {
        job->has_list =
            broker->presence_rules().ForGroup(job->group) != nullptr;
        if (job->has_list) {
          job->members = MemberListJson(broker->presence().Members(job->group));
        }
      },
      [this, job, reply = std::move(reply), t0](BrokerHop::Outcome outcome) {
        if (outcome == BrokerHop::Outcome::kNotRun) {
          Answer(reply, "members", t0, NotAnswered());
          return;
        }
        if (!job->has_list) {
          Answer(reply, "members", t0,
                 Error(404, "no_member_list",
                       "this group keeps no member list (no --presence rule "
                       "matches it); GET /api/presence counts its members"));
          return;
        }
        rapidjson::StringBuffer buffer;
        JsonWriter w(buffer);
        w.StartObject();
        w.Key("ok");
        w.Bool(true);
        w.Key("group_id");
        w.String(job->group.data(),
                 static_cast<rapidjson::SizeType>(job->group.size()));
        w.Key("members");
        w.RawValue(job->members.data(), job->members.size(),
                   rapidjson::kArrayType);
        w.EndObject();
        Answer(reply, "members", t0,
               Json(200, std::string(buffer.GetString(), buffer.GetSize())));
      });
}

void ApiServer::History(const HttpRequest& request, HttpReply reply) {
  const auto t0 = Clock::now();
  absl::StatusOr<v1::HistoryQuery> query =
      ParseApiHistory(request.Query(), options_.limits);
  if (!query.ok()) {
    Answer(reply, "history", t0,
           Error(400, "invalid_field", query.status().message()));
    return;
  }
  struct Job {
    v1::HistoryQuery query;
    v1::HistoryReply reply;
    absl::Status status;
  };
  auto job = std::make_shared<Job>();
  job->query = *std::move(query);
  ApiBackend* broker = broker_;
  hop_->Call(
      [job, broker] {
        job->status = broker->ReadHistoryFromApi(job->query, &job->reply);
      },
      [this, job, reply = std::move(reply), t0](BrokerHop::Outcome outcome) {
        if (outcome == BrokerHop::Outcome::kNotRun) {
          Answer(reply, "history", t0, NotAnswered());
        } else if (absl::IsFailedPrecondition(job->status)) {
          Answer(reply, "history", t0,
                 Error(404, "history_not_enabled", job->status.message()));
        } else if (!job->status.ok()) {
          Answer(reply, "history", t0,
                 Error(400, "invalid_field", job->status.message()));
        } else {
          const std::string& channel = job->query.channel();
          Answer(reply, "history", t0,
                 Json(200, ApiHistoryJson(absl::string_view(channel).substr(
                                              strlen(kGroupChannelPrefix)),
                                          job->reply)));
        }
      });
}

void ApiServer::Groups(const HttpRequest& request, HttpReply reply) {
  const auto t0 = Clock::now();
  struct Job {
    std::string prefix;
    std::string after;
    size_t limit = 100;
    std::vector<std::pair<std::string, PresenceTable::Counts>> page;
  };
  auto job = std::make_shared<Job>();
  job->prefix = QueryParam(request, "prefix");
  job->after = QueryParam(request, "after");
  if (std::optional<std::string> limit =
          ApiQueryParam(request.Query(), "limit");
      limit && (!absl::SimpleAtoi(*limit, &job->limit) || job->limit == 0 ||
                job->limit > 1000)) {
    Answer(reply, "groups", t0,
           Error(400, "invalid_field", "limit: 1 to 1000"));
    return;
  }
  if (job->prefix.size() > options_.limits.max_id_bytes ||
      job->after.size() > options_.limits.max_id_bytes) {
    Answer(reply, "groups", t0,
           Error(400, "invalid_field", "prefix and after: 128 bytes"));
    return;
  }
  ApiBackend* broker = broker_;
  hop_->Call(
      [job, broker] {
        // One more than asked: tells whether a next page exists.
        job->page =
            broker->presence().List(job->prefix, job->after, job->limit + 1);
      },
      [this, job, reply = std::move(reply), t0](BrokerHop::Outcome outcome) {
        if (outcome == BrokerHop::Outcome::kNotRun) {
          Answer(reply, "groups", t0, NotAnswered());
          return;
        }
        auto& page = job->page;
        const bool more = page.size() > job->limit;
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
          w.String(group.data(),
                   static_cast<rapidjson::SizeType>(group.size()));
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
        Answer(reply, "groups", t0,
               Json(200, std::string(buffer.GetString(), buffer.GetSize())));
      });
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
