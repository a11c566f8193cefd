#include "common/presence/member_json.h"

#include "absl/strings/str_cat.h"
#include "common/json/bounded_json.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace channel {
namespace {

constexpr size_t kMaxInfoDepth = 8;

bool Parse(absl::string_view text, size_t depth, rapidjson::Document* doc) {
  DepthLimitedParse parse{text, depth, {}, false};
  doc->Populate(parse);
  return !parse.exceeded && !parse.result.IsError();
}

void String(rapidjson::Writer<rapidjson::StringBuffer>& w,
            absl::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void Raw(rapidjson::Writer<rapidjson::StringBuffer>& w, absl::string_view s) {
  w.RawValue(s.data(), s.size(), rapidjson::kObjectType);
}

}  // namespace

absl::StatusOr<std::string> NormalizeMemberInfo(absl::string_view text,
                                                size_t max_bytes) {
  if (text.empty()) return std::string("{}");
  // Parsing costs what the text's size allows; a text far over the bound
  // is refused unparsed (re-encoding never more than halves it).
  if (text.size() > 2 * max_bytes + 64) {
    return absl::InvalidArgumentError(absl::StrCat(
        "member info has ", text.size(), " bytes; the limit is ", max_bytes));
  }
  rapidjson::Document doc;
  if (!Parse(text, kMaxInfoDepth, &doc) || !doc.IsObject()) {
    return absl::InvalidArgumentError(
        absl::StrCat("member info must be a JSON object nested at most ",
                     kMaxInfoDepth, " deep"));
  }
  std::string out = ToJson(doc);
  if (out.size() > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "member info has ", out.size(), " bytes; the limit is ", max_bytes));
  }
  return out;
}

std::string MemberEventJson(bool added, absl::string_view group,
                            absl::string_view user, absl::string_view info) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("type");
  w.String(added ? "member_added" : "member_removed");
  w.Key("group");
  String(w, group);
  w.Key("user");
  String(w, user);
  w.Key("info");
  Raw(w, info.empty() ? absl::string_view("{}") : info);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string MemberListJson(const MemberList& members) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartArray();
  for (const auto& [user, info] : members) {
    w.StartObject();
    w.Key("user");
    String(w, user);
    w.Key("info");
    Raw(w, info.empty() ? absl::string_view("{}") : info);
    w.EndObject();
  }
  w.EndArray();
  return std::string(buffer.GetString(), buffer.GetSize());
}

absl::StatusOr<MemberList> ParseMemberList(absl::string_view text,
                                           size_t max_members) {
  rapidjson::Document doc;
  if (!Parse(text, kMaxInfoDepth + 2, &doc) || !doc.IsArray() ||
      doc.Size() > max_members) {
    return absl::InvalidArgumentError(
        absl::StrCat("a member list must be a JSON array of at most ",
                     max_members, " members"));
  }
  MemberList out;
  for (const rapidjson::Value& m : doc.GetArray()) {
    if (!m.IsObject() || !m.HasMember("user") || !m["user"].IsString() ||
        (m.HasMember("info") && !m["info"].IsObject())) {
      return absl::InvalidArgumentError(
          "a member must be {\"user\":string,\"info\":object}");
    }
    out[std::string(m["user"].GetString(), m["user"].GetStringLength())] =
        m.HasMember("info") ? ToJson(m["info"]) : "{}";
  }
  return out;
}

absl::StatusOr<std::string> MemberEventInfo(absl::string_view text) {
  rapidjson::Document doc;
  if (!Parse(text, kMaxInfoDepth + 1, &doc) || !doc.IsObject()) {
    return absl::InvalidArgumentError("a member event must be a JSON object");
  }
  auto it = doc.FindMember("info");
  if (it == doc.MemberEnd()) return std::string("{}");
  if (!it->value.IsObject()) {
    return absl::InvalidArgumentError("a member's info must be an object");
  }
  return ToJson(it->value);
}

}  // namespace channel
