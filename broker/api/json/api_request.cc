#include "broker/api/json/api_request.h"

#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/channel_names.h"
#include "common/json/bounded_json.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace channel {
namespace {

absl::Status ReadId(const rapidjson::Value& v, const ApiLimits& limits,
                    absl::string_view field, std::string* out) {
  if (v.IsString()) {
    out->assign(v.GetString(), v.GetStringLength());
  } else if (v.IsInt64()) {
    *out = absl::StrCat(v.GetInt64());
  } else if (v.IsUint64()) {
    *out = absl::StrCat(v.GetUint64());
  } else {
    return ApiRefusal(
        "invalid_field",
        absl::StrCat("\"", field, "\" must hold strings or integers"));
  }
  if (out->empty() || out->size() > limits.max_id_bytes) {
    return ApiRefusal("invalid_field",
                      absl::StrCat("ids in \"", field, "\" must have 1 to ",
                                   limits.max_id_bytes, " bytes"));
  }
  return absl::OkStatus();
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

absl::StatusOr<ApiPublish> ParseApiPublish(absl::string_view body,
                                           const ApiLimits& limits) {
  ApiPublish publish;
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (doc.HasParseError()) {
    return ApiRefusal("invalid_json", absl::StrCat("invalid JSON at offset ",
                                                   doc.GetErrorOffset()));
  }
  if (!doc.IsObject()) {
    return ApiRefusal("invalid_json", "the body must be a JSON object");
  }
  int kinds = 0;
  struct Field {
    const char* name;
    const char* prefix;
    bool many;
  };
  for (const Field& f : {Field{"group_id", kGroupChannelPrefix, false},
                         Field{"group_ids", kGroupChannelPrefix, true},
                         Field{"user_id", kUserChannelPrefix, false},
                         Field{"user_ids", kUserChannelPrefix, true}}) {
    auto it = doc.FindMember(f.name);
    if (it == doc.MemberEnd()) continue;
    ++kinds;
    std::string id;
    if (!f.many) {
      if (absl::Status s = ReadId(it->value, limits, f.name, &id); !s.ok()) {
        return s;
      }
      publish.channels.push_back(absl::StrCat(f.prefix, id));
      continue;
    }
    if (!it->value.IsArray() || it->value.Empty()) {
      return ApiRefusal(
          "invalid_field",
          absl::StrCat("\"", f.name, "\" must be a non-empty array"));
    }
    if (it->value.Size() > limits.max_targets) {
      return ApiRefusal(
          "too_many_targets",
          absl::StrCat("at most ", limits.max_targets, " targets per request"));
    }
    for (const auto& v : it->value.GetArray()) {
      if (absl::Status s = ReadId(v, limits, f.name, &id); !s.ok()) return s;
      publish.channels.push_back(absl::StrCat(f.prefix, id));
    }
  }
  if (auto all = doc.FindMember("all"); all != doc.MemberEnd()) {
    if (!all->value.IsBool()) {
      return ApiRefusal("invalid_field", "\"all\" must be true");
    }
    if (all->value.GetBool()) {
      ++kinds;
      publish.channels.emplace_back(kBroadcastChannel);
    }
  }
  if (kinds == 0) {
    return ApiRefusal(
        "missing_target",
        "name one target: group_id, group_ids, user_id, user_ids or "
        "\"all\": true");
  }
  if (kinds > 1) {
    return ApiRefusal("invalid_field", "name exactly one target kind");
  }
  auto message = doc.FindMember("message");
  if (message == doc.MemberEnd()) {
    return ApiRefusal("missing_field", "\"message\" is required");
  }
  if (message->value.IsString()) {
    publish.message.assign(message->value.GetString(),
                           message->value.GetStringLength());
    return publish;
  }
  if (Depth(message->value, limits.max_message_depth) >
      limits.max_message_depth) {
    return ApiRefusal("invalid_field",
                      absl::StrCat("\"message\" is nested deeper than ",
                                   limits.max_message_depth, " levels"));
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  message->value.Accept(writer);
  publish.message.assign(buffer.GetString(), buffer.GetSize());
  return publish;
}

absl::Status ApiRefusal(absl::string_view code, absl::string_view message) {
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kApiErrorCodeUrl, absl::Cord(code));
  return status;
}

ApiError ApiErrorOf(const absl::Status& status) {
  ApiError error;
  error.status = 400;
  if (const auto code = status.GetPayload(kApiErrorCodeUrl); code) {
    error.code = std::string(*code);
  }
  error.message = std::string(status.message());
  return error;
}

std::string ApiErrorJson(const ApiError& error) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("ok");
  w.Bool(false);
  if (error.not_published) {
    w.Key("published");
    w.Bool(false);
  }
  w.Key("error");
  w.StartObject();
  w.Key("code");
  w.String(error.code.data(),
           static_cast<rapidjson::SizeType>(error.code.size()));
  w.Key("message");
  w.String(error.message.data(),
           static_cast<rapidjson::SizeType>(error.message.size()));
  w.EndObject();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::optional<std::string> ApiQueryParam(absl::string_view query,
                                         absl::string_view name) {
  for (absl::string_view pair : absl::StrSplit(query, '&')) {
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    const absl::string_view raw = eq == absl::string_view::npos
                                      ? absl::string_view()
                                      : pair.substr(eq + 1);
    std::string value;
    value.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
      int hi, lo;
      if (raw[i] == '+') {
        value += ' ';
      } else if (raw[i] == '%' && i + 2 < raw.size() &&
                 (hi = HexValue(raw[i + 1])) >= 0 &&
                 (lo = HexValue(raw[i + 2])) >= 0) {
        value += static_cast<char>(hi * 16 + lo);
        i += 2;
      } else {
        value += raw[i];
      }
    }
    return value;
  }
  return std::nullopt;
}

}  // namespace channel
