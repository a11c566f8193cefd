#ifndef CHANNEL_GATEWAY_LIFECYCLE_HEAP_TRIMMER_H_
#define CHANNEL_GATEWAY_LIFECYCLE_HEAP_TRIMMER_H_

#include <malloc.h>

#include <cstdint>

namespace channel {

// Gives the memory of a burst of TLS handshakes back to the system once
// the burst is over. Each handshake in flight holds ~20 KiB of OpenSSL
// temporaries (a 16 KiB handshake buffer, record buffers, key exchange)
// that are freed when it completes, but the long-lived session state
// allocated meanwhile is scattered between them: glibc keeps the holes, and
// after 2,000 simultaneous wss handshakes RSS stayed 5 - 15 KiB per
// connection above what is in use (docs/BENCHMARKS.md). malloc_trim(0)
// returns the free pages inside the heap.
//
// Cost: one malloc_trim (a walk of every arena's free chunks, ~1 ms for a
// 50 MB heap, briefly locking each arena) per burst and worker, only after
// at least kMinHandshakes handshakes and a sweep with none. Worker thread.
class HeapTrimmer {
 public:
  static constexpr uint64_t kMinHandshakes = 64;

  // A TLS handshake ended (completed or failed).
  void Handshake() { ++handshakes_; }

  // Called every sweep: trims once the handshakes stopped.
  void Sweep() {
    const bool quiet = handshakes_ == at_last_sweep_;
    at_last_sweep_ = handshakes_;
    if (quiet && handshakes_ - at_last_trim_ >= kMinHandshakes) {
      at_last_trim_ = handshakes_;
      malloc_trim(0);
    }
  }

 private:
  uint64_t handshakes_ = 0;
  uint64_t at_last_sweep_ = 0;
  uint64_t at_last_trim_ = 0;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_LIFECYCLE_HEAP_TRIMMER_H_
