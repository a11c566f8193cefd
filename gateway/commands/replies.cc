#include "gateway/commands/replies.h"

#include "absl/strings/str_cat.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace channel {
namespace {

// Opens a reply object and writes its "id" (raw JSON, as the client sent
// it) when the command had one.
void StartReply(rapidjson::Writer<rapidjson::StringBuffer>& writer,
                absl::string_view id_json) {
  writer.StartObject();
  if (!id_json.empty()) {
    writer.Key("id");
    writer.RawValue(id_json.data(), id_json.size(), rapidjson::kStringType);
  }
}

}  // namespace

std::string OkReply(absl::string_view id_json) {
  return absl::StrCat("{\"id\":", id_json, ",\"ok\":true}");
}

std::string WhoamiReply(absl::string_view id_json, absl::string_view client) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  StartReply(writer, id_json);
  writer.Key("ok");
  writer.Bool(true);
  writer.Key("client");
  writer.String(client.data(), static_cast<rapidjson::SizeType>(client.size()));
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string PresenceReply(absl::string_view id_json, absl::string_view group,
                          uint64_t connections, uint64_t users) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  StartReply(writer, id_json);
  writer.Key("ok");
  writer.Bool(true);
  writer.Key("group_id");
  writer.String(group.data(), static_cast<rapidjson::SizeType>(group.size()));
  writer.Key("connections");
  writer.Uint64(connections);
  writer.Key("users");
  writer.Uint64(users);
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string ErrorReply(absl::string_view id_json, absl::string_view code,
                       absl::string_view message) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  StartReply(writer, id_json);
  writer.Key("error");
  writer.StartObject();
  writer.Key("code");
  writer.String(code.data(), static_cast<rapidjson::SizeType>(code.size()));
  writer.Key("message");
  writer.String(message.data(),
                static_cast<rapidjson::SizeType>(message.size()));
  writer.EndObject();
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void String(Writer& w, absl::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

std::string Text(const rapidjson::StringBuffer& buffer) {
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

std::string JoinReply(absl::string_view id_json, const JoinPosition& position) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  StartReply(w, id_json);
  w.Key("ok");
  w.Bool(true);
  if (position.asked_recovery) {
    w.Key("recovered");
    w.Bool(position.recovered);
  }
  if (position.has_position) {
    w.Key("offset");
    w.Uint64(position.offset);
    w.Key("epoch");
    String(w, position.epoch);
  }
  if (!position.members_json.empty()) {
    w.Key("members");
    w.RawValue(position.members_json.data(), position.members_json.size(),
               rapidjson::kArrayType);
  }
  w.EndObject();
  return Text(buffer);
}

std::string HistoryReply(absl::string_view id_json, uint64_t offset,
                         absl::string_view epoch,
                         const std::vector<HistoryItem>& items,
                         bool truncated) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  StartReply(w, id_json);
  w.Key("ok");
  w.Bool(true);
  w.Key("offset");
  w.Uint64(offset);
  w.Key("epoch");
  String(w, epoch);
  w.Key("messages");
  w.StartArray();
  for (const HistoryItem& item : items) {
    w.StartObject();
    w.Key("offset");
    w.Uint64(item.offset);
    w.Key("message");
    String(w, item.message);
    if (!item.from.empty()) {
      w.Key("from");
      String(w, item.from);
    }
    w.EndObject();
  }
  w.EndArray();
  if (truncated) {
    w.Key("truncated");
    w.Bool(true);
  }
  w.EndObject();
  return Text(buffer);
}

std::string GapNotice(bool json_framing, const GapInfo& gap) {
  const std::string message = absl::StrCat(
      "the gateway's broker link was down for ", gap.down_ms,
      " ms: messages sent meanwhile to the groups named here",
      gap.all ? " (and to all)" : "", gap.user ? " (and to your user)" : "",
      " may be missing; your groups are joined again");
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  if (json_framing) {
    w.Key("type");
    w.String("gap");
    w.Key("message");
    String(w, message);
  } else {
    w.Key("error");
    w.StartObject();
    w.Key("code");
    w.String("gap");
    w.Key("message");
    String(w, message);
    w.EndObject();
  }
  w.Key("groups");
  w.StartArray();
  for (absl::string_view g : gap.groups) String(w, g);
  w.EndArray();
  w.Key("all");
  w.Bool(gap.all);
  w.Key("user");
  w.Bool(gap.user);
  w.EndObject();
  return Text(buffer);
}

}  // namespace channel
