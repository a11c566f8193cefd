#ifndef CHANNEL_COMMON_BACKOFF_H_
#define CHANNEL_COMMON_BACKOFF_H_

#include <chrono>
#include <cstdint>
#include <random>

namespace channel {

// Exponential backoff with full jitter (AWS architecture blog, "Exponential
// Backoff And Jitter"): attempt n waits a uniform random time in
// [initial/2, min(max, initial * 2^n)], so a fleet of gateways that lost the
// broker together does not reconnect in lockstep.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
          uint64_t seed);

  // The delay before the next attempt; grows the ceiling.
  std::chrono::milliseconds Next();

  // Call after a successful connection.
  void Reset() { attempt_ = 0; }

  int attempt() const { return attempt_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  int attempt_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace channel

#endif  // CHANNEL_COMMON_BACKOFF_H_
