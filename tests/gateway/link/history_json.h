#ifndef CHANNEL_TESTS_GATEWAY_LINK_HISTORY_JSON_H_
#define CHANNEL_TESTS_GATEWAY_LINK_HISTORY_JSON_H_

#include <cstdint>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

// The history tests' commands and the fields they read from replies and
// deliveries (gateway_history*_test.cc, cluster_history*_test.cc).
namespace channel::testing {

// A reply's or delivery's string field `key` ("" when absent).
inline std::string Field(const std::string& json, const std::string& key) {
  std::smatch m;
  return std::regex_search(
             json, m, std::regex(absl::StrCat("\"", key, R"(":"([^"]*)\")")))
             ? std::string(m[1])
             : "";
}
inline uint64_t OffsetOf(const std::string& json) {
  std::smatch m;
  return std::regex_search(json, m, std::regex(R"("offset":(\d+))"))
             ? std::stoull(m[1])
             : 0;
}
inline std::string EpochOf(const std::string& json) {
  return Field(json, "epoch");
}
inline std::string MessageOf(const std::string& json) {
  return Field(json, "message");
}
// A delivery in the JSON framing (not a reply, notice or error).
inline bool IsDelivery(const std::string& m) {
  return m.rfind(R"({"type":"message")", 0) == 0;
}
inline std::vector<std::string> Deliveries(
    const std::vector<std::string>& got) {
  std::vector<std::string> out;
  for (const auto& m : got) {
    if (IsDelivery(m)) out.push_back(m);
  }
  return out;
}
// add_group resuming after `offset` of `epoch`.
inline std::string JoinSince(const std::string& group, int id, uint64_t offset,
                             const std::string& epoch) {
  return absl::StrCat(R"({"cmd":"add_group","group_id":")", group, R"(","id":)",
                      id, R"(,"since":{"offset":)", offset, R"(,"epoch":")",
                      epoch, R"("}})");
}
// {"cmd":"history",...} with `more` fields appended.
inline std::string History(const std::string& group, int id,
                           const std::string& more) {
  return absl::StrCat(R"({"cmd":"history","group_id":")", group, R"(","id":)",
                      id, more, "}");
}

}  // namespace channel::testing

#endif  // CHANNEL_TESTS_GATEWAY_LINK_HISTORY_JSON_H_
