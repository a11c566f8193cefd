#include <cstring>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "broker/api/api_replies.h"
#include "broker/api/api_server.h"
#include "broker/api/json/api_history.h"
#include "common/channel_names.h"
#include "common/presence/member_json.h"

// The routes that read: presence counts and members, history, groups.
namespace channel {

using api_replies::BadGroupId;
using api_replies::Error;
using api_replies::GroupIdParam;
using api_replies::Json;
using api_replies::JsonWriter;
using api_replies::NotAnswered;
using api_replies::QueryParam;
using api_replies::StartGroupReply;
using api_replies::WriteCounts;
using Clock = std::chrono::steady_clock;

void ApiServer::Presence(const HttpRequest& request, HttpReply reply) {
  const auto t0 = Clock::now();
  std::optional<std::string> group =
      GroupIdParam(request, options_.limits.max_id_bytes);
  if (!group) {
    Answer(reply, "presence", t0, BadGroupId());
    return;
  }
  struct Job {
    std::string group;
    PresenceTable::Counts counts;
  };
  auto job = std::make_shared<Job>();
  job->group = *std::move(group);
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
        StartGroupReply(w, job->group);
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
  std::optional<std::string> group =
      GroupIdParam(request, options_.limits.max_id_bytes);
  if (!group) {
    Answer(reply, "members", t0, BadGroupId());
    return;
  }
  struct Job {
    std::string group;
    bool has_list = false;
    std::string members;  // MemberListJson
  };
  auto job = std::make_shared<Job>();
  job->group = *std::move(group);
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
        StartGroupReply(w, job->group);
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

}  // namespace channel
