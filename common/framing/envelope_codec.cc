#include "common/framing/envelope_codec.h"

#include "absl/strings/str_cat.h"

namespace channel {

v1::Error::Code ErrorCodeFromStatus(const absl::Status& status) {
  if (absl::IsResourceExhausted(status)) return v1::Error::LIMIT_EXCEEDED;
  if (absl::IsAborted(status)) return v1::Error::BACKPRESSURE;
  if (absl::IsInvalidArgument(status)) return v1::Error::INVALID_REQUEST;
  if (absl::IsUnauthenticated(status)) return v1::Error::UNAUTHENTICATED;
  if (absl::IsUnavailable(status)) return v1::Error::CLUSTER_UNAVAILABLE;
  if (absl::IsFailedPrecondition(status)) return v1::Error::HISTORY_NOT_ENABLED;
  return v1::Error::UNKNOWN;
}

absl::Status StatusFromError(const v1::Error& error) {
  const std::string text =
      absl::StrCat(v1::Error::Code_Name(error.code()), ": ", error.message());
  switch (error.code()) {
    case v1::Error::LIMIT_EXCEEDED:
      return absl::ResourceExhaustedError(text);
    case v1::Error::INVALID_REQUEST:
      return absl::InvalidArgumentError(text);
    case v1::Error::UNAUTHENTICATED:
      return absl::UnauthenticatedError(text);
    case v1::Error::BACKPRESSURE:
      return absl::AbortedError(text);
    case v1::Error::HISTORY_NOT_ENABLED:
      return absl::FailedPreconditionError(text);
    default:
      return absl::UnavailableError(text);
  }
}

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
