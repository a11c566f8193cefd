#include "gateway/app/app_event.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace channel {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(Writer& w, absl::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void Start(Writer& w, absl::string_view type, const EventBase& base) {
  w.StartObject();
  w.Key("type");
  Str(w, type);
  w.Key("client");
  Str(w, base.client);
  w.Key("time_ms");
  w.Int64(base.time_ms);
  if (!base.user.empty()) {
    w.Key("user");
    Str(w, base.user);
  }
}

std::string Finish(Writer& w, rapidjson::StringBuffer& buffer) {
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

void Pairs(Writer& w, const char* key,
           const std::vector<std::pair<std::string, std::string>>& pairs) {
  w.Key(key);
  w.StartObject();
  for (const auto& [name, value] : pairs) {
    Str(w, name);
    Str(w, value);
  }
  w.EndObject();
}

}  // namespace

std::string ConnectEvent(const EventBase& base, const ConnectInfo& info) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  Start(w, "connect", base);
  w.Key("address");
  Str(w, info.address);
  w.Key("path");
  Str(w, info.path);
  if (!info.query.empty()) {
    w.Key("query");
    Str(w, info.query);
  }
  if (!info.headers.empty()) Pairs(w, "headers", info.headers);
  if (!info.cookies.empty()) Pairs(w, "cookies", info.cookies);
  return Finish(w, buffer);
}

std::string MessageEvent(const EventBase& base, uint64_t request,
                         absl::string_view command_json) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  Start(w, "message", base);
  if (request != 0) {
    w.Key("request");
    w.Uint64(request);
  }
  w.Key("command");
  w.RawValue(command_json.data(), command_json.size(), rapidjson::kObjectType);
  return Finish(w, buffer);
}

std::string GroupEvent(const EventBase& base, bool joined,
                       absl::string_view group) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  Start(w, joined ? "join" : "leave", base);
  w.Key("group");
  Str(w, group);
  return Finish(w, buffer);
}

std::string JoinRequestEvent(const EventBase& base, uint64_t request,
                             absl::string_view group) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  Start(w, "join_request", base);
  w.Key("request");
  w.Uint64(request);
  w.Key("group");
  Str(w, group);
  return Finish(w, buffer);
}

std::string CloseEvent(const EventBase& base, uint16_t code,
                       absl::string_view reason,
                       const std::vector<std::string>& groups) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  Start(w, "close", base);
  w.Key("code");
  w.Uint(code);
  w.Key("reason");
  Str(w, reason);
  w.Key("groups");
  w.StartArray();
  for (const std::string& g : groups) Str(w, g);
  w.EndArray();
  return Finish(w, buffer);
}

std::string ActionResultJson(const ActionResult& r) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  if (!r.ref_json.empty()) {
    w.Key("ref");
    w.RawValue(r.ref_json.data(), r.ref_json.size(), rapidjson::kStringType);
  }
  w.Key("client");
  Str(w, r.client);
  w.Key("ok");
  w.Bool(r.ok);
  if (!r.ok) {
    w.Key("error");
    Str(w, r.error);
    w.Key("message");
    Str(w, r.message);
  }
  if (r.info) {
    w.Key("online");
    w.Bool(r.online);
    if (r.online) {
      if (!r.user.empty()) {
        w.Key("user");
        Str(w, r.user);
      }
      w.Key("groups");
      w.StartArray();
      for (const std::string& g : r.groups) Str(w, g);
      w.EndArray();
    }
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

bool FindCookie(absl::string_view header, absl::string_view name,
                std::string* value) {
  for (absl::string_view part : absl::StrSplit(header, ';')) {
    part = absl::StripAsciiWhitespace(part);
    const size_t eq = part.find('=');
    if (eq == absl::string_view::npos) continue;
    if (absl::StripAsciiWhitespace(part.substr(0, eq)) != name) continue;
    absl::string_view v = absl::StripAsciiWhitespace(part.substr(eq + 1));
    value->assign(v.data(), v.size());
    return true;
  }
  return false;
}

}  // namespace channel
