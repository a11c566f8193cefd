#ifndef CHANNEL_COMMON_HISTORY_HISTORY_RULES_H_
#define CHANNEL_COMMON_HISTORY_HISTORY_RULES_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/channel.pb.h"

namespace channel {

// One --history rule: groups whose id matches `pattern` keep their last
// `size` messages for at most `ttl` (0: no age limit). size 0: offsets and
// an epoch only (exact gap detection, nothing kept).
struct HistoryRule {
  std::string pattern;  // '*' matches any run of bytes, nothing else special
  uint32_t size = 0;
  std::chrono::milliseconds ttl{0};
};

// The broker's history policy, first match wins. Owned by the broker
// (flags) and told to its clients in the Welcome (v1::HistoryRule), so a
// gateway knows which of its groups have offsets without a flag of its own.
//
// Cost: a match is O(pattern x id) at worst, both bounded (kMaxPatternBytes,
// the broker's channel name limit), over at most kMaxRules rules.
class HistoryRules {
 public:
  static constexpr size_t kMaxRules = 64;
  static constexpr size_t kMaxPatternBytes = 256;
  static constexpr uint32_t kMaxSize = 1000000;

  // Parses one flag value: "PATTERN:size=N,ttl=DURATION" (DURATION: 300s,
  // 5m, 2h, 500ms; ttl optional). InvalidArgument with the reason.
  static absl::StatusOr<HistoryRule> ParseRule(absl::string_view spec);
  // Every value of a repeated flag, or of CHANNEL_HISTORY (values separated
  // by ';').
  static absl::StatusOr<HistoryRules> Parse(
      const std::vector<std::string>& specs);

  HistoryRules() = default;
  explicit HistoryRules(std::vector<HistoryRule> rules)
      : rules_(std::move(rules)) {}

  // The rule of group `group_id`, or nullptr: no history.
  const HistoryRule* ForGroup(absl::string_view group_id) const;
  // The same for a broker channel name: only "group:G" channels have rules.
  const HistoryRule* ForChannel(absl::string_view channel) const;

  bool empty() const { return rules_.empty(); }
  const std::vector<HistoryRule>& rules() const { return rules_; }

  // To and from the Welcome.
  void ToProto(google::protobuf::RepeatedPtrField<v1::HistoryRule>* out) const;
  static HistoryRules FromProto(
      const google::protobuf::RepeatedPtrField<v1::HistoryRule>& rules);

  // "room-*:size=100,ttl=300s" (for logs and /readyz-style output).
  static std::string Describe(const HistoryRule& rule);

 private:
  std::vector<HistoryRule> rules_;
};

// True when `text` matches `pattern`, where '*' matches any run of bytes
// (including none). Linear backtracking on the last '*': O(|p| x |t|) at
// worst, never exponential.
bool GlobMatch(absl::string_view pattern, absl::string_view text);

}  // namespace channel

#endif  // CHANNEL_COMMON_HISTORY_HISTORY_RULES_H_
