#include "gateway/app/app_action.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/json/bounded_json.h"
#include "rapidjson/error/en.h"

namespace channel {
namespace {

using Value = rapidjson::Value;

absl::Status Bad(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

// A required (or optional) string field of at most `max` bytes.
absl::Status ReadString(const Value& object, const char* name, size_t max,
                        bool required, std::string* out) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd()) {
    return required ? Bad(absl::StrCat("\"", name, "\" is required"))
                    : absl::OkStatus();
  }
  if (!it->value.IsString()) {
    return Bad(absl::StrCat("\"", name, "\" must be a string"));
  }
  if (it->value.GetStringLength() > max) {
    return Bad(absl::StrCat("\"", name, "\" is longer than ", max, " bytes"));
  }
  if (required && it->value.GetStringLength() == 0) {
    return Bad(absl::StrCat("\"", name, "\" must not be empty"));
  }
  out->assign(it->value.GetString(), it->value.GetStringLength());
  return absl::OkStatus();
}

// A group id: a non-empty string, or an integer meaning its decimal text
// (as in client commands).
absl::Status ReadGroup(const Value& object, size_t max, std::string* out) {
  auto it = object.FindMember("group_id");
  if (it != object.MemberEnd() && it->value.IsUint64()) {
    *out = absl::StrCat(it->value.GetUint64());
    return absl::OkStatus();
  }
  if (it != object.MemberEnd() && it->value.IsInt64()) {
    *out = absl::StrCat(it->value.GetInt64());
    return absl::OkStatus();
  }
  return ReadString(object, "group_id", max, true, out);
}

// A JSON value field bounded in nesting, re-encoded; `text_if_string`: a
// string is taken as its text, not its JSON.
absl::Status ReadValue(const Value& object, const char* name, size_t depth,
                       bool required, bool text_if_string, std::string* out) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd()) {
    return required ? Bad(absl::StrCat("\"", name, "\" is required"))
                    : absl::OkStatus();
  }
  if (text_if_string && it->value.IsString()) {
    out->assign(it->value.GetString(), it->value.GetStringLength());
    return absl::OkStatus();
  }
  if (Depth(it->value, depth) > depth) {
    return Bad(absl::StrCat("\"", name, "\" is nested deeper than ", depth,
                            " levels"));
  }
  *out = ToJson(it->value);
  return absl::OkStatus();
}

absl::Status ReadFields(const Value& doc, absl::string_view action,
                        const AppActionLimits& limits, AppAction* out) {
  if (action == "send") {
    out->type = AppAction::Type::kSend;
    return ReadValue(doc, "message", limits.max_message_depth, true, true,
                     &out->message);
  }
  if (action == "reply") {
    out->type = AppAction::Type::kReply;
    auto it = doc.FindMember("request");
    if (it == doc.MemberEnd() || !it->value.IsUint64() ||
        it->value.GetUint64() == 0) {
      return Bad("\"request\" (the event's request number) is required");
    }
    out->request = it->value.GetUint64();
    if (absl::Status s = ReadString(doc, "error", limits.max_code_bytes, false,
                                    &out->error_code);
        !s.ok()) {
      return s;
    }
    if (!out->error_code.empty()) {
      return ReadString(doc, "message", 1024, false, &out->message);
    }
    return ReadValue(doc, "data", limits.max_message_depth, false, false,
                     &out->data_json);
  }
  if (action == "join" || action == "leave") {
    out->type =
        action == "join" ? AppAction::Type::kJoin : AppAction::Type::kLeave;
    return ReadGroup(doc, limits.max_group_id_bytes, &out->group);
  }
  if (action == "bind") {
    out->type = AppAction::Type::kBind;
    return ReadString(doc, "user", limits.max_user_bytes, true, &out->user);
  }
  if (action == "close") {
    out->type = AppAction::Type::kClose;
    if (auto it = doc.FindMember("code"); it != doc.MemberEnd()) {
      // RFC 6455 7.4: 1000 or an application code; 1001-2999 belong to
      // the protocol and its extensions.
      if (!it->value.IsUint() ||
          (it->value.GetUint() != 1000 &&
           (it->value.GetUint() < 3000 || it->value.GetUint() > 4999))) {
        return Bad("\"code\" must be 1000 or 3000-4999");
      }
      out->code = static_cast<uint16_t>(it->value.GetUint());
    }
    return ReadString(doc, "reason", limits.max_reason_bytes, false,
                      &out->reason);
  }
  if (action == "info") {
    out->type = AppAction::Type::kInfo;
    if (out->reply_to.empty()) return Bad("\"info\" needs \"reply_to\"");
    return absl::OkStatus();
  }
  return Bad(
      "unknown \"action\"; expected send, reply, join, leave, bind, close or "
      "info");
}

}  // namespace

absl::StatusOr<AppAction> ParseAppAction(absl::string_view text,
                                         const AppActionLimits& limits) {
  rapidjson::Document doc;
  DepthLimitedParse parse{text, limits.max_depth, {}};
  doc.Populate(parse);
  if (parse.exceeded) {
    return Bad(absl::StrCat("the action is nested deeper than ",
                            limits.max_depth, " levels"));
  }
  if (parse.result.IsError()) {
    return Bad(absl::StrCat("invalid JSON at offset ", parse.result.Offset(),
                            ": ",
                            rapidjson::GetParseError_En(parse.result.Code())));
  }
  if (!doc.IsObject()) return Bad("an action must be a JSON object");
  AppAction action;
  if (absl::Status s = ReadString(doc, "client", limits.max_client_bytes, true,
                                  &action.client);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ReadString(doc, "reply_to", limits.max_channel_bytes,
                                  false, &action.reply_to);
      !s.ok()) {
    return s;
  }
  if (auto ref = doc.FindMember("ref"); ref != doc.MemberEnd()) {
    if (!ref->value.IsString() && !ref->value.IsNumber()) {
      return Bad("\"ref\" must be a string or a number");
    }
    action.ref_json = ToJson(ref->value);
    if (action.ref_json.size() > limits.max_ref_bytes) {
      return Bad(absl::StrCat("\"ref\" is longer than ", limits.max_ref_bytes,
                              " bytes"));
    }
  }
  std::string name;
  if (absl::Status s = ReadString(doc, "action", 16, true, &name); !s.ok()) {
    return s;
  }
  if (absl::Status s = ReadFields(doc, name, limits, &action); !s.ok()) {
    return s;
  }
  return action;
}

}  // namespace channel
