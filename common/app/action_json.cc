#include "common/app/action_json.h"

#include "absl/strings/str_cat.h"
#include "common/channel_names.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace channel {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Field(Writer& w, const char* key, absl::string_view value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

}  // namespace

absl::StatusOr<std::string> ActionJson(const ActionRequest& r) {
  const absl::string_view a = r.action;
  if (a != "send" && a != "reply" && a != "join" && a != "leave" &&
      a != "bind" && a != "close" && a != "info") {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown action \"", a.substr(0, 32),
        "\"; expected send, reply, join, leave, bind, close or info"));
  }
  if (a == "reply" && r.request == 0) {
    return absl::InvalidArgumentError("a reply needs the event's request");
  }
  if (ClientNode(r.client).empty()) {
    return absl::InvalidArgumentError(
        "not a client id (whoami's answer, or an event's \"client\")");
  }
  if ((a == "join" || a == "leave") && r.group.empty()) {
    return absl::InvalidArgumentError("a group id is required");
  }
  if (a == "bind" && r.user.empty()) {
    return absl::InvalidArgumentError("a user id is required");
  }
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  Field(w, "action", a);
  Field(w, "client", r.client);
  if (a == "send") {
    w.Key("message");
    if (r.message_is_json) {
      rapidjson::Document doc;
      doc.Parse<rapidjson::kParseIterativeFlag>(r.message.data(),
                                                r.message.size());
      if (doc.HasParseError()) {
        return absl::InvalidArgumentError("the message is not valid JSON");
      }
      doc.Accept(w);
    } else {
      w.String(r.message.data(),
               static_cast<rapidjson::SizeType>(r.message.size()));
    }
  }
  if (a == "reply") {
    w.Key("request");
    w.Uint64(r.request);
    if (!r.error.empty()) {
      Field(w, "error", r.error);
      if (!r.message.empty()) Field(w, "message", r.message);
    } else if (!r.data_json.empty()) {
      rapidjson::Document doc;
      doc.Parse<rapidjson::kParseIterativeFlag>(r.data_json.data(),
                                                r.data_json.size());
      if (doc.HasParseError()) {
        return absl::InvalidArgumentError("the data is not valid JSON");
      }
      w.Key("data");
      doc.Accept(w);
    }
  }
  if (a == "join" || a == "leave") Field(w, "group_id", r.group);
  if (a == "bind") Field(w, "user", r.user);
  if (a == "close") {
    if (r.code != 0) {
      w.Key("code");
      w.Uint(r.code);
    }
    if (!r.reason.empty()) Field(w, "reason", r.reason);
  }
  if (!r.reply_to.empty()) Field(w, "reply_to", r.reply_to);
  if (!r.ref.empty()) Field(w, "ref", r.ref);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace channel
