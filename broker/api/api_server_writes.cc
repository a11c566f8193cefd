#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "broker/api/api_replies.h"
#include "broker/api/api_server.h"
#include "broker/api/json/api_clients.h"

// The routes that act: POST /api/publish and the /api/clients actions.
namespace channel {

using api_replies::Error;
using api_replies::Json;
using Clock = std::chrono::steady_clock;

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

}  // namespace channel
