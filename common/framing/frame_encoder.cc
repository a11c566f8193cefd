#include "common/framing/frame_encoder.h"

namespace channel {

const SharedFrame& HeartbeatFrame() {
  static const SharedFrame* const kFrame =
      new SharedFrame(std::make_shared<const std::string>("\0\0\0\4", 4));
  return *kFrame;
}

void WriteFrameHeader(size_t body_size, char* out) {
  const uint32_t total = static_cast<uint32_t>(body_size + 4);
  out[0] = static_cast<char>(total >> 24);
  out[1] = static_cast<char>(total >> 16);
  out[2] = static_cast<char>(total >> 8);
  out[3] = static_cast<char>(total);
}

void AppendFrame(const v1::Envelope& envelope, std::string* out) {
  const size_t body = envelope.ByteSizeLong();
  const size_t start = out->size();
  out->resize(start + 4 + body);
  WriteFrameHeader(body, out->data() + start);
  envelope.SerializeWithCachedSizesToArray(
      reinterpret_cast<uint8_t*>(out->data() + start + 4));
}

SharedFrame EncodeFrame(const v1::Envelope& envelope) {
  auto frame = std::make_shared<std::string>();
  AppendFrame(envelope, frame.get());
  return frame;
}

v1::Envelope MakeError(v1::Error::Code code, absl::string_view message,
                       uint64_t request_id) {
  v1::Envelope envelope;
  auto* error = envelope.mutable_error();
  error->set_code(code);
  error->set_message(std::string(message));
  error->set_request_id(request_id);
  return envelope;
}

}  // namespace channel
