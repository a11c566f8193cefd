#ifndef CHANNEL_COMMON_ENVELOPE_CODEC_H_
#define CHANNEL_COMMON_ENVELOPE_CODEC_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/channel.pb.h"

namespace channel {

// What a non-empty frame body turned out to be.
enum class BodyKind {
  kEnvelope,      // *out holds the parsed Envelope
  kPhpSerialize,  // starts with 'a' (0x61): a Workerman Channel (PHP) body
  kInvalid,       // not a parsable Envelope
};

// Classifies and parses one frame body (the empty heartbeat body is the
// caller's business). Never throws; cost is one protobuf parse.
BodyKind ParseBody(absl::string_view body, v1::Envelope* out);

}  // namespace channel

#endif  // CHANNEL_COMMON_ENVELOPE_CODEC_H_
