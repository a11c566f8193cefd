#include "common/random_id.h"

#include <random>

#include "absl/strings/str_format.h"

namespace channel {

std::string RandomId() {
  std::random_device rd;
  return absl::StrFormat("%08x%08x", rd(), rd());
}

}  // namespace channel
