#include "gateway/commands/command.h"

#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "common/json/bounded_json.h"
#include "gateway/commands/command_error.h"
#include "rapidjson/document.h"
#include "rapidjson/encodedstream.h"
#include "rapidjson/error/en.h"
#include "rapidjson/memorystream.h"
#include "rapidjson/reader.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace channel {
namespace {

absl::Status Refuse(absl::string_view code, absl::string_view message) {
  return MakeCommandError(code, message);
}

// Reads a group id: a non-empty string, or an integer meaning its decimal
// text ("123" and 123 are one group).
absl::Status ReadGroupId(const rapidjson::Value& object,
                         const CommandLimits& limits, std::string* out) {
  auto it = object.FindMember("group_id");
  if (it == object.MemberEnd()) {
    return Refuse("missing_field", "\"group_id\" is required");
  }
  const rapidjson::Value& v = it->value;
  if (v.IsString()) {
    out->assign(v.GetString(), v.GetStringLength());
  } else if (v.IsInt64()) {
    *out = absl::StrCat(v.GetInt64());
  } else if (v.IsUint64()) {
    *out = absl::StrCat(v.GetUint64());
  } else {
    return Refuse("invalid_field",
                  "\"group_id\" must be a string or an integer");
  }
  if (out->empty()) {
    return Refuse("invalid_field", "\"group_id\" must not be empty");
  }
  if (out->size() > limits.max_group_id_bytes) {
    return Refuse(
        "group_id_too_long",
        absl::StrCat("\"group_id\" is ", out->size(), " bytes; the limit is ",
                     limits.max_group_id_bytes));
  }
  return absl::OkStatus();
}

// An optional (or required) "token": a string of at most max_token_bytes.
absl::Status ReadToken(const rapidjson::Value& object,
                       const CommandLimits& limits, bool required,
                       std::string* out) {
  out->clear();
  auto it = object.FindMember("token");
  if (it == object.MemberEnd()) {
    return required ? Refuse("missing_field", "\"token\" is required")
                    : absl::OkStatus();
  }
  if (!it->value.IsString()) {
    return Refuse("invalid_field", "\"token\" must be a string");
  }
  if (it->value.GetStringLength() > limits.max_token_bytes) {
    return Refuse("invalid_field",
                  absl::StrCat("\"token\" is longer than ",
                               limits.max_token_bytes, " bytes"));
  }
  out->assign(it->value.GetString(), it->value.GetStringLength());
  return absl::OkStatus();
}

absl::Status ReadMessage(const rapidjson::Value& object,
                         const CommandLimits& limits, std::string* out) {
  auto it = object.FindMember("message");
  if (it == object.MemberEnd()) {
    return Refuse("missing_field", "\"message\" is required");
  }
  const rapidjson::Value& v = it->value;
  if (v.IsString()) {
    out->assign(v.GetString(), v.GetStringLength());
    return absl::OkStatus();
  }
  if (Depth(v, limits.max_message_depth) > limits.max_message_depth) {
    return Refuse("invalid_field",
                  absl::StrCat("\"message\" is nested deeper than ",
                               limits.max_message_depth, " levels"));
  }
  *out = ToJson(v);
  return absl::OkStatus();
}

// An optional non-negative integer field (a JSON number without fraction).
absl::Status ReadCount(const rapidjson::Value& object, const char* name,
                       bool positive, uint64_t* out) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd()) return absl::OkStatus();
  if (!it->value.IsUint64() || (positive && it->value.GetUint64() == 0)) {
    return Refuse(
        "invalid_field",
        absl::StrCat("\"", name, "\" must be a ",
                     positive ? "positive" : "non-negative", " integer"));
  }
  *out = it->value.GetUint64();
  return absl::OkStatus();
}

// add_group's optional "since":{"offset":N,"epoch":"E"}.
absl::Status ReadSince(const rapidjson::Value& object,
                       const CommandLimits& limits, Command* command) {
  auto it = object.FindMember("since");
  if (it == object.MemberEnd()) return absl::OkStatus();
  const rapidjson::Value& since = it->value;
  if (!since.IsObject()) {
    return Refuse("invalid_field",
                  "\"since\" must be an object {\"offset\":N,\"epoch\":\"E\"}");
  }
  auto offset = since.FindMember("offset");
  auto epoch = since.FindMember("epoch");
  if (offset == since.MemberEnd() || !offset->value.IsUint64() ||
      epoch == since.MemberEnd() || !epoch->value.IsString() ||
      epoch->value.GetStringLength() > limits.max_epoch_bytes) {
    return Refuse("invalid_field",
                  absl::StrCat("\"since\" needs \"offset\" (a non-negative "
                               "integer) and \"epoch\" (a string of at most ",
                               limits.max_epoch_bytes, " bytes)"));
  }
  command->has_since = true;
  command->since_offset = offset->value.GetUint64();
  command->since_epoch.assign(epoch->value.GetString(),
                              epoch->value.GetStringLength());
  return absl::OkStatus();
}

// The fields of the command named `name` into *command; its id is already
// there.
absl::Status ReadFields(const rapidjson::Document& doc, absl::string_view name,
                        const CommandLimits& limits, Command* command) {
  if (name == "add_group") {
    command->type = Command::Type::kAddGroup;
    if (absl::Status s = ReadGroupId(doc, limits, &command->group_id);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = ReadSince(doc, limits, command); !s.ok()) return s;
    return ReadToken(doc, limits, false, &command->token);
  }
  if (name == "history") {
    command->type = Command::Type::kHistory;
    if (absl::Status s = ReadGroupId(doc, limits, &command->group_id);
        !s.ok()) {
      return s;
    }
    command->limit = kDefaultHistoryLimit;
    if (absl::Status s = ReadCount(doc, "limit", true, &command->limit);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = ReadCount(doc, "before", true, &command->before);
        !s.ok()) {
      return s;
    }
    return ReadToken(doc, limits, false, &command->token);
  }
  if (name == "whoami") {
    command->type = Command::Type::kWhoami;
    return absl::OkStatus();
  }
  if (name == "presence") {
    command->type = Command::Type::kPresence;
    return ReadGroupId(doc, limits, &command->group_id);
  }
  if (name == "auth") {
    command->type = Command::Type::kAuth;
    return ReadToken(doc, limits, true, &command->token);
  }
  if (name == "leave_group") {
    command->type = Command::Type::kLeaveGroup;
    return ReadGroupId(doc, limits, &command->group_id);
  }
  if (name == "send_to_group" || name == "send_to_all") {
    const bool to_all = name == "send_to_all";
    command->type =
        to_all ? Command::Type::kSendToAll : Command::Type::kSendToGroup;
    if (!to_all) {
      if (absl::Status s = ReadGroupId(doc, limits, &command->group_id);
          !s.ok()) {
        return s;
      }
    }
    command->exclude_self = false;
    if (auto ex = doc.FindMember("exclude_self"); ex != doc.MemberEnd()) {
      if (!ex->value.IsBool()) {
        return Refuse("invalid_field", "\"exclude_self\" must be a boolean");
      }
      command->exclude_self = ex->value.GetBool();
    }
    return ReadMessage(doc, limits, &command->message);
  }
  if (limits.custom_commands) {
    if (name.empty() || name.size() > limits.max_cmd_bytes) {
      return Refuse("invalid_field",
                    absl::StrCat("\"cmd\" must be 1 to ", limits.max_cmd_bytes,
                                 " bytes"));
    }
    command->type = Command::Type::kCustom;
    command->name.assign(name.data(), name.size());
    return absl::OkStatus();
  }
  // Name the command back only when it is short: replies never echo
  // unbounded input.
  if (name.size() <= 32) {
    rapidjson::Value quoted(name.data(),
                            static_cast<rapidjson::SizeType>(name.size()));
    return Refuse(
        "unknown_cmd",
        absl::StrCat("unknown cmd ", ToJson(quoted),
                     "; expected add_group, leave_group, "
                     "send_to_group, send_to_all, presence, history, whoami or "
                     "auth"));
  }
  return Refuse("unknown_cmd",
                "unknown cmd; expected add_group, leave_group, send_to_group, "
                "send_to_all, presence, history, whoami or auth");
}

// ParseCommand without the id on a refusal (ParseCommand adds it from
// command->id_json, set as soon as the id is read).
absl::Status Decode(absl::string_view text, const CommandLimits& limits,
                    Command* command) {
  rapidjson::Document doc;
  // Nesting is bounded for the whole command while it is parsed, before
  // anything deeper is built; the message's own (smaller) bound is checked
  // below.
  DepthLimitedParse parse{text, limits.max_command_depth, {}};
  doc.Populate(parse);
  if (parse.exceeded) {
    return Refuse("invalid_field",
                  absl::StrCat("the command is nested deeper than ",
                               limits.max_command_depth, " levels"));
  }
  if (parse.result.IsError()) {
    return Refuse(
        "invalid_json",
        absl::StrCat("invalid JSON at offset ", parse.result.Offset(), ": ",
                     rapidjson::GetParseError_En(parse.result.Code())));
  }
  if (!doc.IsObject()) {
    return Refuse("not_an_object", "a command must be a JSON object");
  }
  if (auto id = doc.FindMember("id"); id != doc.MemberEnd()) {
    if (!id->value.IsString() && !id->value.IsNumber()) {
      return Refuse("invalid_field", "\"id\" must be a string or a number");
    }
    if (id->value.IsString() &&
        id->value.GetStringLength() > limits.max_id_bytes) {
      return Refuse("invalid_field",
                    absl::StrCat("\"id\" is longer than ", limits.max_id_bytes,
                                 " bytes"));
    }
    command->id_json = ToJson(id->value);
  }
  auto cmd = doc.FindMember("cmd");
  if (cmd == doc.MemberEnd()) {
    return Refuse("missing_field", "\"cmd\" is required");
  }
  if (!cmd->value.IsString()) {
    return Refuse("invalid_field", "\"cmd\" must be a string");
  }
  absl::Status s = ReadFields(
      doc,
      absl::string_view(cmd->value.GetString(), cmd->value.GetStringLength()),
      limits, command);
  // The backend gets the command as the client sent it (valid JSON: it
  // parsed, within the nesting bound).
  if (s.ok() && command->type == Command::Type::kCustom) {
    command->message.assign(text.data(), text.size());
  }
  return s;
}

}  // namespace

absl::StatusOr<Command> ParseCommand(absl::string_view text,
                                     const CommandLimits& limits) {
  // Decoded in place and returned as one named object (no Command moved).
  absl::StatusOr<Command> command(absl::in_place);
  if (absl::Status s = Decode(text, limits, &*command); !s.ok()) {
    if (!command->id_json.empty()) {
      s.SetPayload(kCommandErrorIdUrl, absl::Cord(command->id_json));
    }
    command = std::move(s);
  }
  return command;
}

}  // namespace channel
