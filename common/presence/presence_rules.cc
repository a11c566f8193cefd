#include "common/presence/presence_rules.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/channel_names.h"
#include "common/history/history_rules.h"  // GlobMatch

namespace channel {

absl::StatusOr<PresenceRule> PresenceRules::ParseRule(absl::string_view spec) {
  PresenceRule rule;
  const size_t colon = spec.rfind(':');
  absl::string_view options;
  if (colon != absl::string_view::npos &&
      absl::StrContains(spec.substr(colon + 1), '=')) {
    rule.pattern = std::string(spec.substr(0, colon));
    options = spec.substr(colon + 1);
  } else {
    rule.pattern = std::string(spec);  // the defaults
  }
  if (rule.pattern.empty() || rule.pattern.size() > kMaxPatternBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("--presence \"", spec, "\": the pattern must have 1 to ",
                     kMaxPatternBytes, " bytes"));
  }
  for (absl::string_view item :
       absl::StrSplit(options, ',', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(item, absl::MaxSplits('=', 1));
    uint32_t value = 0;
    const bool number = absl::SimpleAtoi(kv.second, &value);
    if (kv.first == "max_members") {
      if (!number || value == 0 || value > kMaxMembers) {
        return absl::InvalidArgumentError(
            absl::StrCat("--presence \"", spec, "\": max_members must be 1 to ",
                         kMaxMembers));
      }
      rule.max_members = value;
    } else if (kv.first == "info_bytes") {
      if (!number || value > kMaxInfoBytes) {
        return absl::InvalidArgumentError(
            absl::StrCat("--presence \"", spec, "\": info_bytes must be 0 to ",
                         kMaxInfoBytes));
      }
      rule.info_bytes = value;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--presence \"", spec, "\": unknown option \"", kv.first,
                       "\" (expected max_members or info_bytes), e.g. "
                       "chat-*:max_members=100,info_bytes=1024"));
    }
  }
  return rule;
}

absl::StatusOr<PresenceRules> PresenceRules::Parse(
    const std::vector<std::string>& specs) {
  std::vector<PresenceRule> rules;
  for (const std::string& value : specs) {
    for (absl::string_view spec :
         absl::StrSplit(value, ';', absl::SkipWhitespace())) {
      absl::StatusOr<PresenceRule> rule =
          ParseRule(absl::StripAsciiWhitespace(spec));
      if (!rule.ok()) return rule.status();
      rules.push_back(*std::move(rule));
      if (rules.size() > kMaxRules) {
        return absl::InvalidArgumentError(
            absl::StrCat("more than ", kMaxRules, " --presence rules"));
      }
    }
  }
  return PresenceRules(std::move(rules));
}

const PresenceRule* PresenceRules::ForGroup(absl::string_view group_id) const {
  for (const PresenceRule& rule : rules_) {
    if (GlobMatch(rule.pattern, group_id)) return &rule;
  }
  return nullptr;
}

const PresenceRule* PresenceRules::ForChannel(absl::string_view channel) const {
  if (rules_.empty()) return nullptr;
  if (!absl::ConsumePrefix(&channel, kGroupChannelPrefix)) return nullptr;
  return ForGroup(channel);
}

void PresenceRules::ToProto(
    google::protobuf::RepeatedPtrField<v1::PresenceRule>* out) const {
  for (const PresenceRule& rule : rules_) {
    v1::PresenceRule* r = out->Add();
    r->set_pattern(rule.pattern);
    r->set_max_members(rule.max_members);
    r->set_info_bytes(rule.info_bytes);
  }
}

PresenceRules PresenceRules::FromProto(
    const google::protobuf::RepeatedPtrField<v1::PresenceRule>& rules) {
  std::vector<PresenceRule> out;
  // A peer's list is cut at the parser's bounds, so matching stays cheap.
  for (const v1::PresenceRule& r : rules) {
    if (out.size() == kMaxRules) break;
    if (r.pattern().empty() || r.pattern().size() > kMaxPatternBytes) continue;
    PresenceRule rule;
    rule.pattern = r.pattern();
    rule.max_members = std::clamp<uint32_t>(r.max_members(), 1, kMaxMembers);
    rule.info_bytes = std::min(r.info_bytes(), kMaxInfoBytes);
    out.push_back(std::move(rule));
  }
  return PresenceRules(std::move(out));
}

std::string PresenceRules::Describe(const PresenceRule& rule) {
  return absl::StrCat(rule.pattern, ":max_members=", rule.max_members,
                      ",info_bytes=", rule.info_bytes);
}

}  // namespace channel
