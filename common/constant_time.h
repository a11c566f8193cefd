#ifndef CHANNEL_COMMON_CONSTANT_TIME_H_
#define CHANNEL_COMMON_CONSTANT_TIME_H_

#include "absl/strings/string_view.h"

namespace channel {

// True when a == b. Time depends only on the lengths, never on where the
// contents differ, so an attacker cannot find a secret byte by byte.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

}  // namespace channel

#endif  // CHANNEL_COMMON_CONSTANT_TIME_H_
