#ifndef CHANNEL_BROKER_CODEC_SESSION_CODECS_H_
#define CHANNEL_BROKER_CODEC_SESSION_CODECS_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "broker/codec/session_codec.h"
#include "proto/channel.pb.h"

namespace channel {

class Session;

// The codec a session speaks, chosen once from its first frame body by a
// table keyed by the body's first bytes (session_codecs.cc): a PHP
// serialize() array starts with 'a' (0x61), which no protobuf Envelope can
// (proto/channel.proto reserves field 12); anything else is protobuf. A
// third wire format is one more row and one more SessionCodec.
struct CodecChoice {
  enum class Action {
    kSpeak,   // `codec` speaks for the session's life
    kRefuse,  // close with `code` and `reason` (counted as `error_kind`)
    kAbort,   // cut without a word: the codec cannot say why (`reason`)
  };
  Action action = Action::kSpeak;
  std::unique_ptr<SessionCodec> codec;
  v1::Error::Code code = v1::Error::PROTOCOL_ERROR;
  std::string reason;
  const char* error_kind = "";
};

// `first_body` is non-empty. May refuse by the session's source and the
// broker's options (a PHP client where PHP is off or not allowed).
CodecChoice ChooseCodec(absl::string_view first_body, Session* session);

}  // namespace channel

#endif  // CHANNEL_BROKER_CODEC_SESSION_CODECS_H_
