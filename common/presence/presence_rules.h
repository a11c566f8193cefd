#ifndef CHANNEL_COMMON_PRESENCE_PRESENCE_RULES_H_
#define CHANNEL_COMMON_PRESENCE_PRESENCE_RULES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/channel.pb.h"

namespace channel {

// One --presence rule: groups whose id matches `pattern` keep a member
// list (distinct users, each with its info), at most `max_members` users,
// each info a JSON object of at most `info_bytes`.
struct PresenceRule {
  std::string pattern;  // '*' matches any run of bytes, nothing else special
  uint32_t max_members = 100;
  uint32_t info_bytes = 1024;
};

// The broker's presence policy, first match wins. Owned by the broker
// (flags) and told to its clients in the Welcome (v1::PresenceRule), so a
// gateway knows which of its groups have members without a flag of its
// own. Matching costs what HistoryRules' does (bounded patterns and rules).
class PresenceRules {
 public:
  static constexpr size_t kMaxRules = 64;
  static constexpr size_t kMaxPatternBytes = 256;
  static constexpr uint32_t kMaxMembers = 10000;
  static constexpr uint32_t kMaxInfoBytes = 16384;

  // One flag value: "PATTERN[:max_members=N][,info_bytes=B]".
  // InvalidArgument with the reason.
  static absl::StatusOr<PresenceRule> ParseRule(absl::string_view spec);
  // Every value of a repeated flag, or of CHANNEL_PRESENCE (values
  // separated by ';').
  static absl::StatusOr<PresenceRules> Parse(
      const std::vector<std::string>& specs);

  PresenceRules() = default;
  explicit PresenceRules(std::vector<PresenceRule> rules)
      : rules_(std::move(rules)) {}

  // The rule of group `group_id`, or nullptr: no member list.
  const PresenceRule* ForGroup(absl::string_view group_id) const;
  // The same for a broker channel name: only "group:G" channels have rules.
  const PresenceRule* ForChannel(absl::string_view channel) const;

  bool empty() const { return rules_.empty(); }
  const std::vector<PresenceRule>& rules() const { return rules_; }

  // To and from the Welcome.
  void ToProto(google::protobuf::RepeatedPtrField<v1::PresenceRule>* out) const;
  static PresenceRules FromProto(
      const google::protobuf::RepeatedPtrField<v1::PresenceRule>& rules);
  // "pattern:max_members=N,info_bytes=B", for logs.
  static std::string Describe(const PresenceRule& rule);

 private:
  std::vector<PresenceRule> rules_;
};

}  // namespace channel

#endif  // CHANNEL_COMMON_PRESENCE_PRESENCE_RULES_H_
