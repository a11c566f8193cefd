#include "common/constant_time.h"

namespace channel {

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  // Compare over the expected secret's length whatever the input's length,
  // folding the length difference into the result.
  volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < b.size(); ++i) {
    const unsigned char x = i < a.size() ? a[i] : 0;
    diff = diff | (x ^ static_cast<unsigned char>(b[i]));
  }
  return diff == 0;
}

}  // namespace channel
