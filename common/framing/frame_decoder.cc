#include "common/framing/frame_decoder.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace channel {
namespace {

constexpr size_t kHeaderBytes = 4;

uint32_t ReadBigEndian32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) |
         (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

}  // namespace

FrameDecoder::FrameDecoder(uint32_t max_frame_bytes)
    : max_frame_bytes_(max_frame_bytes) {}

void FrameDecoder::Append(const char* data, size_t size) {
  // Compact once the consumed prefix dominates, so the buffer never grows
  // beyond one frame plus one read.
  if (read_pos_ > 0 && read_pos_ >= buffer_.size() / 2) {
    buffer_.erase(0, read_pos_);
    read_pos_ = 0;
  }
  buffer_.append(data, size);
}

FrameDecoder::Result FrameDecoder::Next(absl::string_view* body) {
  if (!error_.empty()) return Result::kInvalid;
  const size_t available = buffer_.size() - read_pos_;
  if (available < kHeaderBytes) {
    if (available == 0 && read_pos_ > 0) {
      buffer_.clear();
      read_pos_ = 0;
    }
    return Result::kNeedMore;
  }
  const uint32_t length = ReadBigEndian32(buffer_.data() + read_pos_);
  if (length < kHeaderBytes) {
    error_ =
        absl::StrCat("frame length ", length, " is below the 4-byte minimum");
    return Result::kInvalid;
  }
  if (length > max_frame_bytes_) {
    error_ = absl::StrCat("frame length ", length, " exceeds the limit of ",
                          max_frame_bytes_, " bytes");
    return Result::kInvalid;
  }
  if (available < length) return Result::kNeedMore;
  *body = absl::string_view(buffer_.data() + read_pos_ + kHeaderBytes,
                            length - kHeaderBytes);
  read_pos_ += length;
  return Result::kFrame;
}

uint32_t FrameDecoder::pending_frame_length() const {
  if (buffer_.size() - read_pos_ < kHeaderBytes) return 0;
  return ReadBigEndian32(buffer_.data() + read_pos_);
}

}  // namespace channel
