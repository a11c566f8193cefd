#ifndef CHANNEL_COMMON_FRAMING_FRAME_QUEUE_H_
#define CHANNEL_COMMON_FRAMING_FRAME_QUEUE_H_

#include <sys/uio.h>

#include <cstddef>
#include <deque>

#include "common/framing/frame_encoder.h"

namespace channel {

// The output queue of one connection: shared immutable frames waiting to be
// written, in order, plus how much of the first one is already written.
//
// Pure (no socket): the owner asks for iovecs, hands them to one
// sendmsg/writev, and reports how many bytes went out. One syscall can then
// carry hundreds of frames, none copied (Asio's async_write gathers at most
// 16 buffers per syscall, which made the broker do 4x the syscalls Redis
// does for small events).
class FrameQueue {
 public:
  void Push(SharedFrame frame);

  // Unsent bytes.
  size_t bytes() const { return bytes_; }
  bool empty() const { return frames_.empty(); }
  size_t frame_count() const { return frames_.size(); }

  // Describes up to `max` buffers of unsent data, oldest first. Returns how
  // many were filled. Valid until the next Push/Consume/Drop.
  int Fill(iovec* iov, int max) const;

  // Marks the first `n` unsent bytes as written.
  void Consume(size_t n);

  // Drops every frame not yet partly written (the partly written one must
  // still be finished, or the stream would be corrupt). Returns bytes
  // dropped.
  size_t DropUnstarted();

 private:
  std::deque<SharedFrame> frames_;
  size_t front_offset_ = 0;  // bytes of frames_.front() already written
  size_t bytes_ = 0;
};

}  // namespace channel

#endif  // CHANNEL_COMMON_FRAMING_FRAME_QUEUE_H_
