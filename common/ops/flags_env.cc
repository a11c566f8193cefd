#include "common/ops/flags_env.h"

#include <cstdio>
#include <cstdlib>

#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/version.h"

namespace channel {

std::string EnvironmentNameForFlag(absl::string_view flag_name) {
  return absl::StrCat("CHANNEL_", absl::AsciiStrToUpper(flag_name));
}

std::string VersionLine(absl::string_view argv0) {
  const size_t slash = argv0.rfind('/');
  if (slash != absl::string_view::npos) argv0.remove_prefix(slash + 1);
  return absl::StrCat(argv0, " ", kVersion, "\n");
}

namespace {

// "--auth-token=x" -> "--auth_token=x"; leaves values and positionals alone.
std::string NormalizeFlagSpelling(absl::string_view arg) {
  if (!absl::StartsWith(arg, "-") || arg == "-" || arg == "--") {
    return std::string(arg);
  }
  std::string out(arg);
  size_t start = out.find_first_not_of('-');
  size_t end = out.find('=');
  if (end == std::string::npos) end = out.size();
  for (size_t i = start; i < end; ++i) {
    if (out[i] == '-') out[i] = '_';
  }
  return out;
}

bool IsUsageFlag(absl::string_view name) {
  return name == "help" || name == "helpfull" || name == "helpshort" ||
         name == "helppackage" || name == "version" ||
         name == "only_check_args" || name == "helpon" || name == "helpmatch" ||
         name == "flagfile" || name == "fromenv" || name == "tryfromenv" ||
         name == "undefok";
}

}  // namespace

std::vector<std::string> JoinRepeatedFlag(int argc, char** argv,
                                          absl::string_view name, char sep) {
  std::vector<std::string> out;
  size_t first = SIZE_MAX;  // index in out of the joined flag
  std::string joined;
  const std::string bare = absl::StrCat("--", name);
  for (int i = 0; i < argc; ++i) {
    std::string arg = NormalizeFlagSpelling(argv[i]);
    if (arg == "--") {  // the rest is positional
      for (; i < argc; ++i) out.emplace_back(argv[i]);
      break;
    }
    if (absl::StartsWith(arg, "-") && !absl::StartsWith(arg, "--")) {
      arg.insert(0, "-");
    }
    std::string value;
    if (absl::StartsWith(arg, bare + "=")) {
      value = arg.substr(bare.size() + 1);
    } else if (arg == bare && i + 1 < argc) {
      value = argv[++i];
    } else {
      out.emplace_back(argv[i]);
      continue;
    }
    if (first == SIZE_MAX) {
      first = out.size();
      out.emplace_back();
      joined = value;
    } else {
      joined.push_back(sep);
      joined.append(value);
    }
  }
  if (first != SIZE_MAX) out[first] = absl::StrCat(bare, "=", joined);
  return out;
}

std::vector<char*> ParseFlagsWithEnvironment(int argc, char** argv,
                                             absl::string_view usage) {
  absl::SetProgramUsageMessage(usage);
  absl::FlagsUsageConfig config;
  // --help lists the program's own flags (defined in its main.cc or its
  // *_flags.cc), not Abseil's internals.
  config.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "main.cc") || absl::EndsWith(file, "_flags.cc");
  };
  config.contains_helpshort_flags = config.contains_help_flags;
  // Abseil's default names the build mode of Abseil itself.
  config.version_string = [line = VersionLine(argc > 0 ? argv[0] : "")] {
    return line;
  };
  absl::SetFlagsUsageConfig(config);

  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (IsUsageFlag(name)) continue;
    const std::string env_name = EnvironmentNameForFlag(name);
    const char* value = std::getenv(env_name.c_str());
    if (value == nullptr) continue;
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      std::fprintf(stderr, "invalid value for %s (flag --%s): %s\n",
                   env_name.c_str(), std::string(name).c_str(), error.c_str());
      std::exit(1);
    }
  }

  // Rewritten argv strings must outlive absl's parse (it keeps pointers to
  // positionals), so they live as long as the process.
  static std::vector<std::string>* const storage = new std::vector<std::string>;
  static std::vector<char*>* const args = new std::vector<char*>;
  storage->reserve(argc);
  for (int i = 0; i < argc; ++i) {
    storage->push_back(i == 0 ? std::string(argv[0])
                              : NormalizeFlagSpelling(argv[i]));
  }
  for (auto& s : *storage) args->push_back(s.data());
  return absl::ParseCommandLine(static_cast<int>(args->size()), args->data());
}

std::vector<std::string> CommaList(absl::string_view value) {
  std::vector<std::string> out;
  for (absl::string_view item : absl::StrSplit(value, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (!item.empty()) out.emplace_back(item);
  }
  return out;
}

}  // namespace channel
