#include "common/history/history_rules.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/channel_names.h"

namespace channel {
namespace {

absl::StatusOr<std::chrono::milliseconds> ParseDuration(absl::string_view v) {
  struct Unit {
    absl::string_view suffix;
    int64_t ms;
  };
  // "ms" before "s": the longest suffix first.
  static constexpr Unit kUnits[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}};
  for (const Unit& unit : kUnits) {
    absl::string_view number = v;
    if (!absl::ConsumeSuffix(&number, unit.suffix)) continue;
    int64_t n = 0;
    // A year at most: anything longer is a typo, and the product must not
    // overflow.
    if (!absl::SimpleAtoi(number, &n) || n < 0 ||
        n > 366LL * 24 * 3600 * 1000 / unit.ms) {
      break;
    }
    return std::chrono::milliseconds(n * unit.ms);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "ttl \"", v, "\" is not a duration such as 500ms, 300s, 5m or 2h"));
}

}  // namespace

bool GlobMatch(absl::string_view pattern, absl::string_view text) {
  size_t p = 0, t = 0;
  size_t star = absl::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != absl::string_view::npos) {
      // The last '*' takes one more byte; earlier stars never need to be
      // revisited, which keeps this quadratic at worst.
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

absl::StatusOr<HistoryRule> HistoryRules::ParseRule(absl::string_view spec) {
  const size_t colon = spec.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--history \"", spec,
                     "\": expected PATTERN:size=N[,ttl=DURATION], e.g. "
                     "room-*:size=100,ttl=300s"));
  }
  HistoryRule rule;
  rule.pattern = std::string(spec.substr(0, colon));
  if (rule.pattern.empty() || rule.pattern.size() > kMaxPatternBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("--history \"", spec, "\": the pattern must have 1 to ",
                     kMaxPatternBytes, " bytes"));
  }
  bool have_size = false;
  for (absl::string_view item :
       absl::StrSplit(spec.substr(colon + 1), ',', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.first == "size") {
      if (!absl::SimpleAtoi(kv.second, &rule.size) || rule.size > kMaxSize) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--history \"", spec, "\": size must be 0 to ", kMaxSize));
      }
      have_size = true;
    } else if (kv.first == "ttl") {
      absl::StatusOr<std::chrono::milliseconds> ttl = ParseDuration(kv.second);
      if (!ttl.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--history \"", spec, "\": ", ttl.status().message()));
      }
      rule.ttl = *ttl;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--history \"", spec, "\": unknown option \"", kv.first,
                       "\" (expected size or ttl)"));
    }
  }
  if (!have_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("--history \"", spec, "\": size=N is required"));
  }
  return rule;
}

absl::StatusOr<HistoryRules> HistoryRules::Parse(
    const std::vector<std::string>& specs) {
  std::vector<HistoryRule> rules;
  for (const std::string& value : specs) {
    for (absl::string_view spec :
         absl::StrSplit(value, ';', absl::SkipWhitespace())) {
      absl::StatusOr<HistoryRule> rule =
          ParseRule(absl::StripAsciiWhitespace(spec));
      if (!rule.ok()) return rule.status();
      rules.push_back(*std::move(rule));
      if (rules.size() > kMaxRules) {
        return absl::InvalidArgumentError(
            absl::StrCat("more than ", kMaxRules, " --history rules"));
      }
    }
  }
  return HistoryRules(std::move(rules));
}

const HistoryRule* HistoryRules::ForGroup(absl::string_view group_id) const {
  for (const HistoryRule& rule : rules_) {
    if (GlobMatch(rule.pattern, group_id)) return &rule;
  }
  return nullptr;
}

const HistoryRule* HistoryRules::ForChannel(absl::string_view channel) const {
  if (rules_.empty()) return nullptr;
  if (!absl::ConsumePrefix(&channel, kGroupChannelPrefix)) return nullptr;
  return ForGroup(channel);
}

void HistoryRules::ToProto(
    google::protobuf::RepeatedPtrField<v1::HistoryRule>* out) const {
  for (const HistoryRule& rule : rules_) {
    v1::HistoryRule* r = out->Add();
    r->set_pattern(rule.pattern);
    r->set_size(rule.size);
    r->set_ttl_ms(static_cast<uint64_t>(rule.ttl.count()));
  }
}

HistoryRules HistoryRules::FromProto(
    const google::protobuf::RepeatedPtrField<v1::HistoryRule>& rules) {
  std::vector<HistoryRule> out;
  // A broker's list is bounded by its own parser; a peer's is cut at the
  // same bound, and its patterns too, so matching stays cheap.
  for (const v1::HistoryRule& r : rules) {
    if (out.size() == kMaxRules) break;
    if (r.pattern().empty() || r.pattern().size() > kMaxPatternBytes) continue;
    HistoryRule rule;
    rule.pattern = r.pattern();
    rule.size = std::min(r.size(), kMaxSize);
    rule.ttl = std::chrono::milliseconds(
        std::min<uint64_t>(r.ttl_ms(), uint64_t{366} * 24 * 3600 * 1000));
    out.push_back(std::move(rule));
  }
  return HistoryRules(std::move(out));
}

std::string HistoryRules::Describe(const HistoryRule& rule) {
  std::string out = absl::StrCat(rule.pattern, ":size=", rule.size);
  if (rule.ttl.count() > 0)
    absl::StrAppend(&out, ",ttl=", rule.ttl.count(), "ms");
  return out;
}

}  // namespace channel
