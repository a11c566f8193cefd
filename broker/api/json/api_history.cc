#include "broker/api/json/api_history.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/channel_names.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace channel {

absl::StatusOr<v1::HistoryQuery> ParseApiHistory(absl::string_view query,
                                                 const ApiLimits& limits) {
  const std::string group = ApiQueryParam(query, "group_id").value_or("");
  if (group.empty() || group.size() > limits.max_id_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "group_id: 1 to ", limits.max_id_bytes, " bytes, in the query string"));
  }
  v1::HistoryQuery out;
  out.set_channel(GroupChannel(group));
  uint32_t limit = 50;
  if (auto v = ApiQueryParam(query, "limit");
      v && (!absl::SimpleAtoi(*v, &limit) || limit == 0)) {
    return absl::InvalidArgumentError("limit: a positive integer");
  }
  out.set_limit(limit);
  uint64_t before = 0;
  if (auto v = ApiQueryParam(query, "before");
      v && (!absl::SimpleAtoi(*v, &before) || before == 0)) {
    return absl::InvalidArgumentError("before: a positive offset");
  }
  out.set_before(before);
  return out;
}

std::string ApiHistoryJson(absl::string_view group,
                           const v1::HistoryReply& reply) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto string = [&w](absl::string_view s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  };
  w.StartObject();
  w.Key("ok");
  w.Bool(true);
  w.Key("group_id");
  string(group);
  w.Key("offset");
  w.Uint64(reply.position().offset());
  w.Key("epoch");
  string(reply.position().epoch());
  w.Key("messages");
  w.StartArray();
  for (const v1::Event& e : reply.events()) {
    w.StartObject();
    w.Key("offset");
    w.Uint64(e.offset());
    w.Key("message");
    string(e.payload());
    if (!e.meta().sender().empty()) {
      w.Key("from");
      string(e.meta().sender());
    }
    w.EndObject();
  }
  w.EndArray();
  if (reply.truncated()) {
    w.Key("truncated");
    w.Bool(true);
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace channel
