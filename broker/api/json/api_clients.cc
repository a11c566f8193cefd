#include "broker/api/json/api_clients.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/channel_names.h"
#include "common/json/bounded_json.h"

namespace channel {
namespace {

constexpr absl::string_view kPrefix = "/api/clients/";

// "/api/clients/{id}[/{action}]" -> id, action ("" for none).
bool Split(absl::string_view path, absl::string_view* id,
           absl::string_view* action) {
  if (!absl::ConsumePrefix(&path, kPrefix)) return false;
  const size_t slash = path.find('/');
  *id = path.substr(0, slash);
  *action = slash == absl::string_view::npos ? "" : path.substr(slash + 1);
  return !id->empty() && action->find('/') == absl::string_view::npos;
}

bool KnownPost(absl::string_view action) {
  return action == "send" || action == "reply" || action == "join" ||
         action == "leave" || action == "bind" || action == "close";
}

absl::Status ReadString(const rapidjson::Value& doc, const char* name,
                        size_t max, std::string* out) {
  auto it = doc.FindMember(name);
  if (it == doc.MemberEnd()) {
    return ApiRefusal("missing_field",
                      absl::StrCat("\"", name, "\" is required"));
  }
  if (it->value.IsUint64()) {
    *out = absl::StrCat(it->value.GetUint64());
  } else if (it->value.IsString() && it->value.GetStringLength() > 0 &&
             it->value.GetStringLength() <= max) {
    out->assign(it->value.GetString(), it->value.GetStringLength());
  } else {
    return ApiRefusal("invalid_field",
                      absl::StrCat("\"", name, "\" must be a string of 1 to ",
                                   max, " bytes"));
  }
  return absl::OkStatus();
}

}  // namespace

bool IsApiClientRoute(absl::string_view method, absl::string_view path) {
  absl::string_view id, action;
  if (!Split(path, &id, &action)) return false;
  if (method == "GET") return action.empty();
  return method == "POST" && KnownPost(action);
}

absl::StatusOr<ActionRequest> ParseApiClientAction(absl::string_view method,
                                                   absl::string_view path,
                                                   absl::string_view body,
                                                   const ApiLimits& limits) {
  absl::string_view id, action;
  if (!Split(path, &id, &action) || (method == "GET") != action.empty()) {
    return ApiRefusal("not_found", "no such client route");
  }
  ActionRequest request;
  request.client = std::string(id);
  if (ClientNode(request.client).empty() ||
      request.client.size() > limits.max_id_bytes) {
    return ApiRefusal("invalid_field",
                      "not a client id (whoami's answer, or an event's "
                      "\"client\")");
  }
  if (method == "GET") {
    request.action = "info";
    return request;
  }
  request.action = std::string(action);
  rapidjson::Document doc;
  if (!body.empty() || action != "close") {
    DepthLimitedParse parse{body, limits.max_message_depth + 1, {}};
    doc.Populate(parse);
    if (parse.exceeded) {
      return ApiRefusal("invalid_field",
                        absl::StrCat("the body is nested deeper than ",
                                     limits.max_message_depth, " levels"));
    }
    if (parse.result.IsError() || !doc.IsObject()) {
      return ApiRefusal("invalid_json", "the body must be a JSON object");
    }
  }
  if (action == "send") {
    auto it = doc.FindMember("message");
    if (it == doc.MemberEnd()) {
      return ApiRefusal("missing_field", "\"message\" is required");
    }
    if (it->value.IsString()) {
      request.message.assign(it->value.GetString(),
                             it->value.GetStringLength());
    } else {
      request.message = ToJson(it->value);
      request.message_is_json = true;
    }
  } else if (action == "reply") {
    auto it = doc.FindMember("request");
    if (it == doc.MemberEnd() || !it->value.IsUint64() ||
        it->value.GetUint64() == 0) {
      return ApiRefusal("missing_field",
                        "\"request\" (the event's request number) is required");
    }
    request.request = it->value.GetUint64();
    if (auto e = doc.FindMember("error"); e != doc.MemberEnd()) {
      if (!e->value.IsString() || e->value.GetStringLength() == 0 ||
          e->value.GetStringLength() > 64) {
        return ApiRefusal("invalid_field",
                          "\"error\" must be a code of 1 to 64 bytes");
      }
      request.error.assign(e->value.GetString(), e->value.GetStringLength());
      if (auto m = doc.FindMember("message");
          m != doc.MemberEnd() && m->value.IsString() &&
          m->value.GetStringLength() <= 1024) {
        request.message.assign(m->value.GetString(),
                               m->value.GetStringLength());
      }
    } else if (auto d = doc.FindMember("data"); d != doc.MemberEnd()) {
      request.data_json = ToJson(d->value);
    }
  } else if (action == "join" || action == "leave") {
    if (absl::Status s =
            ReadString(doc, "group_id", limits.max_id_bytes, &request.group);
        !s.ok()) {
      return s;
    }
  } else if (action == "bind") {
    if (absl::Status s =
            ReadString(doc, "user", limits.max_id_bytes, &request.user);
        !s.ok()) {
      return s;
    }
  } else if (doc.IsObject()) {  // close
    if (auto it = doc.FindMember("code"); it != doc.MemberEnd()) {
      if (!it->value.IsUint() ||
          (it->value.GetUint() != 1000 &&
           (it->value.GetUint() < 3000 || it->value.GetUint() > 4999))) {
        return ApiRefusal("invalid_field",
                          "\"code\" must be 1000 or 3000-4999");
      }
      request.code = it->value.GetUint();
    }
    if (auto it = doc.FindMember("reason"); it != doc.MemberEnd()) {
      if (!it->value.IsString() || it->value.GetStringLength() > 123) {
        return ApiRefusal("invalid_field",
                          "\"reason\" must be a string of at most 123 bytes");
      }
      request.reason.assign(it->value.GetString(), it->value.GetStringLength());
    }
  }
  return request;
}

}  // namespace channel
