#ifndef CHANNEL_COMMON_FRAMING_FRAME_DECODER_H_
#define CHANNEL_COMMON_FRAMING_FRAME_DECODER_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace channel {

// Incremental decoder for Workerman's Frame protocol: a u32 big-endian total
// length that counts its own 4 bytes, then the body. An empty body (length 4)
// is a heartbeat.
//
// Pure: no sockets, no allocation per frame. Memory is bounded by
// max_frame_bytes plus the largest single Append.
class FrameDecoder {
 public:
  enum class Result {
    kFrame,     // *body holds one complete body (possibly empty: heartbeat)
    kNeedMore,  // no complete frame buffered; Append more bytes
    kInvalid,   // length < 4 or > max_frame_bytes; error() says which. Sticky.
  };

  // max_frame_bytes bounds the total length, header included.
  explicit FrameDecoder(uint32_t max_frame_bytes);

  // Buffers bytes read from the peer. Invalidates any body view handed out.
  void Append(const char* data, size_t size);

  // Extracts the next frame. On kFrame, *body stays valid until the next
  // Append or Next call.
  Result Next(absl::string_view* body);

  // Changes the bound for frames whose header is not yet read (a stream
  // that authenticated may send larger frames than before).
  void set_max_frame_bytes(uint32_t max_frame_bytes) {
    max_frame_bytes_ = max_frame_bytes;
  }

  // Why the stream is invalid; empty while it is not.
  const std::string& error() const { return error_; }

  // Bytes buffered and not yet returned as frames.
  size_t buffered() const { return buffer_.size() - read_pos_; }

  // The declared length of the frame being assembled, 0 when unknown.
  // Lets a reader size its next read.
  uint32_t pending_frame_length() const;

 private:
  uint32_t max_frame_bytes_;
  std::string buffer_;
  size_t read_pos_ = 0;
  std::string error_;
};

}  // namespace channel

#endif  // CHANNEL_COMMON_FRAMING_FRAME_DECODER_H_
