#include "common/framing/frame_queue.h"

#include <utility>

namespace channel {

void FrameQueue::Push(SharedFrame frame) {
  bytes_ += frame->size();
  frames_.push_back(std::move(frame));
}

int FrameQueue::Fill(iovec* iov, int max) const {
  int n = 0;
  for (auto it = frames_.begin(); it != frames_.end() && n < max; ++it) {
    const size_t skip = it == frames_.begin() ? front_offset_ : 0;
    iov[n].iov_base = const_cast<char*>((*it)->data()) + skip;
    iov[n].iov_len = (*it)->size() - skip;
    ++n;
  }
  return n;
}

void FrameQueue::Consume(size_t n) {
  bytes_ -= n;
  while (n > 0) {
    const size_t left = frames_.front()->size() - front_offset_;
    if (n < left) {
      front_offset_ += n;
      return;
    }
    n -= left;
    frames_.pop_front();
    front_offset_ = 0;
  }
}

size_t FrameQueue::DropUnstarted() {
  size_t dropped = 0;
  const size_t keep = front_offset_ > 0 ? 1 : 0;
  while (frames_.size() > keep) {
    dropped += frames_.back()->size();
    frames_.pop_back();
  }
  bytes_ -= dropped;
  return dropped;
}

}  // namespace channel
