#ifndef CHANNEL_COMMON_TOKEN_BUCKET_H_
#define CHANNEL_COMMON_TOKEN_BUCKET_H_

#include <chrono>

namespace channel {

// A token bucket: `rate` tokens per second, at most `burst` stored. Pure:
// the caller passes the time, so tests need no clock. 24 bytes per
// connection.
class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  // rate <= 0 disables limiting (TryTake always succeeds).
  TokenBucket(double rate, double burst, Clock::time_point now)
      : rate_(rate), burst_(burst), tokens_(burst), last_(now) {}

  // Takes one token if available. False means "over the limit".
  bool TryTake(Clock::time_point now) { return TryTake(now, 1); }

  // Takes `cost` tokens (a message's bytes, say) if that many are stored;
  // otherwise takes nothing. A cost over the burst never passes.
  bool TryTake(Clock::time_point now, double cost) {
    if (rate_ <= 0) return true;
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    tokens_ = tokens_ + elapsed * rate_;
    if (tokens_ > burst_) tokens_ = burst_;
    if (tokens_ < cost) return false;
    tokens_ -= cost;
    return true;
  }

 private:
  double rate_;
  double burst_;
  double tokens_;
  Clock::time_point last_;
};

}  // namespace channel

#endif  // CHANNEL_COMMON_TOKEN_BUCKET_H_
