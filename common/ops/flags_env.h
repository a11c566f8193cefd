#ifndef CHANNEL_COMMON_OPS_FLAGS_ENV_H_
#define CHANNEL_COMMON_OPS_FLAGS_ENV_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace channel {

// Command-line handling shared by the daemons (their main.cc or *_flags.cc).
//
// ParseFlagsWithEnvironment:
//  1. every registered absl flag NAME may be set from the environment variable
//     CHANNEL_<NAME upper-cased> (e.g. --auth_token from CHANNEL_AUTH_TOKEN);
//  2. flags may be spelled with dashes (--auth-token) or underscores;
//  3. the command line wins over the environment, the environment over the
//     default.
// Exits with status 1 and a clear message on an unparsable value (from either
// source). --version prints VersionLine(argv[0]) and exits 0. Returns the
// positional arguments, argv[0] first.
std::vector<char*> ParseFlagsWithEnvironment(int argc, char** argv,
                                             absl::string_view usage);

// Makes flag `name` repeatable: returns argv with every occurrence of
// --NAME=V or --NAME V (dashes or underscores, one or two leading dashes)
// folded into one "--NAME=V1<sep>V2..." where the first was (absl keeps only
// a flag's last value). Everything else is left as it is.
std::vector<std::string> JoinRepeatedFlag(int argc, char** argv,
                                          absl::string_view name, char sep);

// What --version prints: the program's file name and the project version,
// e.g. "channel-broker 0.1.0\n".
std::string VersionLine(absl::string_view argv0);

// A comma-separated flag value as its items, each without surrounding
// whitespace, empty ones left out ("a, b,,c" -> a, b, c).
std::vector<std::string> CommaList(absl::string_view value);

// The environment variable that sets flag `flag_name`.
std::string EnvironmentNameForFlag(absl::string_view flag_name);

}  // namespace channel

#endif  // CHANNEL_COMMON_OPS_FLAGS_ENV_H_
