#ifndef CHANNEL_COMMON_FRAMING_FRAME_ENCODER_H_
#define CHANNEL_COMMON_FRAMING_FRAME_ENCODER_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "proto/channel.pb.h"

namespace channel {

// An encoded frame, header included. Immutable once built, so one buffer can
// be queued to any number of connections (encode once, fan out).
using SharedFrame = std::shared_ptr<const std::string>;

// The 4-byte heartbeat frame (empty body).
const SharedFrame& HeartbeatFrame();

// Serializes `envelope` behind a big-endian length header. Allocates once.
SharedFrame EncodeFrame(const v1::Envelope& envelope);

// Appends the frame for `envelope` to *out (for batching several frames
// into one buffer).
void AppendFrame(const v1::Envelope& envelope, std::string* out);

// Writes the 4-byte header for a body of `body_size` bytes into out[0..3].
void WriteFrameHeader(size_t body_size, char* out);

// Convenience builders for the common replies.
v1::Envelope MakeError(v1::Error::Code code, absl::string_view message,
                       uint64_t request_id = 0);

}  // namespace channel

#endif  // CHANNEL_COMMON_FRAMING_FRAME_ENCODER_H_
