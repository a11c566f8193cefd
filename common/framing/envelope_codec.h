#ifndef CHANNEL_COMMON_FRAMING_ENVELOPE_CODEC_H_
#define CHANNEL_COMMON_FRAMING_ENVELOPE_CODEC_H_

#include <cstdint>

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

// The protocol version this code speaks (Hello/Welcome).
inline constexpr uint32_t kProtocolVersion = 1;

// The Error code a refused request is answered with: ResourceExhausted ->
// LIMIT_EXCEEDED, InvalidArgument -> INVALID_REQUEST, Unauthenticated ->
// UNAUTHENTICATED, Unavailable -> CLUSTER_UNAVAILABLE, Aborted ->
// BACKPRESSURE (nothing delivered, retry), anything else -> UNKNOWN.
v1::Error::Code ErrorCodeFromStatus(const absl::Status& status);

// The Status a client reports for a broker Error: the inverse of
// ErrorCodeFromStatus; codes that close the link map to Unavailable. The
// message is "CODE_NAME: message".
absl::Status StatusFromError(const v1::Error& error);

// Classifies and parses one frame body (the empty heartbeat body is the
// caller's business). Never throws; cost is one protobuf parse.
BodyKind ParseBody(absl::string_view body, v1::Envelope* out);

}  // namespace channel

#endif  // CHANNEL_COMMON_FRAMING_ENVELOPE_CODEC_H_
