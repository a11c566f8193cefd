#include "common/framing/frame_queue.h"

#include <utility>

namespace channel {

void FrameQueue::Push(SharedFrame frame) {
  if (count_ == capacity_) {
    const size_t grown = capacity_ == 0 ? 4 : capacity_ * 2;
    std::unique_ptr<SharedFrame[]> slots(new SharedFrame[grown]);
    for (size_t i = 0; i < count_; ++i) {
      slots[i] = std::move(slots_[(head_ + i) & (capacity_ - 1)]);
    }
    slots_ = std::move(slots);
    capacity_ = grown;
    head_ = 0;
  }
  bytes_ += frame->size();
  slots_[(head_ + count_) & (capacity_ - 1)] = std::move(frame);
  ++count_;
}

void FrameQueue::PopFront() {
  slots_[head_].reset();
  head_ = (head_ + 1) & (capacity_ - 1);
  --count_;
  front_offset_ = 0;
}

void FrameQueue::PopBack() {
  slots_[(head_ + count_ - 1) & (capacity_ - 1)].reset();
  --count_;
}

int FrameQueue::Fill(iovec* iov, int max) const {
  int n = 0;
  for (size_t i = 0; i < count_ && n < max; ++i) {
    const SharedFrame& frame = At(i);
    const size_t skip = i == 0 ? front_offset_ : 0;
    iov[n].iov_base = const_cast<char*>(frame->data()) + skip;
    iov[n].iov_len = frame->size() - skip;
    ++n;
  }
  return n;
}

void FrameQueue::Consume(size_t n) {
  bytes_ -= n;
  while (n > 0) {
    const size_t left = At(0)->size() - front_offset_;
    if (n < left) {
      front_offset_ += n;
      return;
    }
    n -= left;
    PopFront();
  }
}

size_t FrameQueue::DropUnstarted() {
  size_t dropped = 0;
  const size_t keep = front_offset_ > 0 ? 1 : 0;
  while (count_ > keep) {
    dropped += At(count_ - 1)->size();
    PopBack();
  }
  bytes_ -= dropped;
  return dropped;
}

}  // namespace channel
