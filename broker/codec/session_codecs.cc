#include "broker/codec/session_codecs.h"

#include "broker/broker_context.h"
#include "broker/codec/php_codec.h"
#include "broker/codec/protobuf_codec.h"
#include "broker/session.h"
#include "common/logging/log_limiter.h"
#include "common/logging/logging.h"

namespace channel {
namespace {

CodecChoice Php(Session* session) {
  BrokerContext& ctx = session->context();
  CodecChoice choice;
  if (!ctx.options.php_enabled) {
    choice.action = CodecChoice::Action::kRefuse;
    choice.code = v1::Error::PROTOCOL_ERROR;
    choice.reason =
        "PHP serialize() bodies (Workerman Channel clients) are not enabled "
        "on this broker (--php_codec); send a protobuf Envelope";
    choice.error_kind = "php_codec";
    return choice;
  }
  if (!ctx.sources.PhpAllowedFrom(session->remote_address())) {
    ++ctx.stats.php_refused;
    CHANNEL_LOG_LIMITED(
        spdlog::level::warn,
        "conn {} from {}: PHP client refused: the PHP protocol has no token, "
        "and this source is not in --php_allow_from",
        session->id(), session->peer());
    choice.action = CodecChoice::Action::kAbort;
    choice.code = v1::Error::UNAUTHENTICATED;
    choice.reason = "PHP client not allowed from this source";
    choice.error_kind = "php_not_allowed";
    return choice;
  }
  choice.codec = std::make_unique<PhpCodec>(session);
  // No heartbeats: PHP clients cannot parse them.
  session->SetEstablished(std::chrono::milliseconds(0),
                          ctx.options.php_idle_timeout);
  return choice;
}

CodecChoice Protobuf(Session* session) {
  CodecChoice choice;
  choice.codec = std::make_unique<ProtobufCodec>(session);
  return choice;
}

struct CodecRow {
  bool (*matches)(absl::string_view first_body);
  CodecChoice (*choose)(Session* session);
};

// First match wins; the last row takes everything.
constexpr CodecRow kCodecs[] = {
    {[](absl::string_view body) { return body[0] == 'a'; }, Php},
    {[](absl::string_view) { return true; }, Protobuf},
};

}  // namespace

CodecChoice ChooseCodec(absl::string_view first_body, Session* session) {
  for (const CodecRow& row : kCodecs) {
    if (row.matches(first_body)) return row.choose(session);
  }
  return Protobuf(session);  // not reached: the last row matches all
}

}  // namespace channel
