#include "common/envelope_codec.h"

namespace channel {

BodyKind ParseBody(absl::string_view body, v1::Envelope* out) {
  // Field 12 of Envelope is reserved, so a protobuf Envelope never begins
  // with 0x61 (see proto/channel.proto); the byte alone tells the codecs
  // apart.
  if (!body.empty() && body[0] == 'a') return BodyKind::kPhpSerialize;
  if (!out->ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return BodyKind::kInvalid;
  }
  return BodyKind::kEnvelope;
}

}  // namespace channel
