#include "common/backoff.h"

#include <algorithm>

namespace channel {

Backoff::Backoff(std::chrono::milliseconds initial,
                 std::chrono::milliseconds max, uint64_t seed)
    : initial_(std::max<std::chrono::milliseconds>(
          initial, std::chrono::milliseconds(1))),
      max_(std::max(max, initial_)),
      rng_(seed) {}

std::chrono::milliseconds Backoff::Next() {
  int64_t ceiling = initial_.count();
  for (int i = 0; i < attempt_ && ceiling < max_.count(); ++i) ceiling *= 2;
  ceiling = std::min<int64_t>(ceiling, max_.count());
  if (attempt_ < 62) ++attempt_;
  const int64_t floor = std::min<int64_t>(initial_.count() / 2, ceiling);
  std::uniform_int_distribution<int64_t> dist(floor, ceiling);
  return std::chrono::milliseconds(dist(rng_));
}

}  // namespace channel
