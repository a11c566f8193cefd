#ifndef CHANNEL_COMMON_FRAMING_FRAME_QUEUE_H_
#define CHANNEL_COMMON_FRAMING_FRAME_QUEUE_H_

#include <sys/uio.h>

#include <cstddef>
#include <memory>

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
//
// Memory: a ring of frame pointers that allocates nothing until the first
// Push and then grows by doubling from 4 slots (16 bytes each), so an idle
// connection's queue costs its 48 bytes and a short one a few slots;
// std::deque took a 64-byte map and a 512-byte block at construction.
class FrameQueue {
 public:
  FrameQueue() = default;
  FrameQueue(const FrameQueue&) = delete;
  FrameQueue& operator=(const FrameQueue&) = delete;

  void Push(SharedFrame frame);

  // Unsent bytes.
  size_t bytes() const { return bytes_; }
  bool empty() const { return count_ == 0; }
  size_t frame_count() const { return count_; }

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
  // The i-th frame from the front (i < count_).
  const SharedFrame& At(size_t i) const {
    return slots_[(head_ + i) & (capacity_ - 1)];
  }
  void PopFront();
  void PopBack();

  std::unique_ptr<SharedFrame[]> slots_;  // capacity_ slots, a power of two
  size_t capacity_ = 0;
  size_t head_ = 0;          // slot of the front frame
  size_t count_ = 0;         // frames queued
  size_t front_offset_ = 0;  // bytes of the front frame already written
  size_t bytes_ = 0;
};

}  // namespace channel

#endif  // CHANNEL_COMMON_FRAMING_FRAME_QUEUE_H_
