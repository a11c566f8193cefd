#include "broker/codec/protobuf_codec.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "broker/broker_context.h"
#include "broker/session.h"
#include "common/constant_time.h"
#include "common/framing/envelope_codec.h"
#include "common/logging/log_limiter.h"
#include "common/logging/logging.h"
#include "common/version.h"

namespace channel {
namespace {

// Longest a cumulative Ack waits for other frames to travel with.
constexpr std::chrono::milliseconds kCumulativeAckDelay{20};

}  // namespace

ProtobufCodec::ProtobufCodec(Session* session)
    : session_(session), ack_timer_(session->executor()) {}

ProtobufCodec::~ProtobufCodec() { *alive_ = false; }

void ProtobufCodec::OnBody(absl::string_view body) {
  switch (ParseBody(body, &envelope_)) {
    case BodyKind::kEnvelope:
      break;
    case BodyKind::kPhpSerialize:
      // A PHP body after the first frame: a connection speaks one codec.
      session_->Close(v1::Error::PROTOCOL_ERROR,
                      "a connection that began with protobuf must stay "
                      "protobuf; PHP serialize() bodies were not its first "
                      "frame",
                      false, "php_codec");
      return;
    case BodyKind::kInvalid:
      session_->Close(v1::Error::PROTOCOL_ERROR,
                      absl::StrCat("frame body of ", body.size(),
                                   " bytes is not a valid Envelope"),
                      false, "bad_body");
      return;
  }
  if (!authenticated_ && envelope_.msg_case() != v1::Envelope::kHello) {
    session_->Close(v1::Error::PROTOCOL_ERROR,
                    "the first frame must be a Hello", false, "no_hello");
    return;
  }
  Router& router = session_->context().router;
  switch (envelope_.msg_case()) {
    case v1::Envelope::kHello:
      HandleHello(envelope_.hello());
      return;
    case v1::Envelope::kSubscribe:
      HandleSubscribe(envelope_.subscribe());
      return;
    case v1::Envelope::kUnsubscribe: {
      const auto& request = envelope_.unsubscribe();
      if (absl::Status s = router.Unsubscribe(session_, request); !s.ok()) {
        ReplyError(ErrorCodeFromStatus(s), s.message(), request.request_id());
      } else if (request.request_id() != 0) {
        Ack(request.request_id());
      }
      return;
    }
    case v1::Envelope::kPublish:
      HandlePublish(envelope_.mutable_publish());
      return;
    case v1::Envelope::kInterest: {
      const v1::Interest& interest = envelope_.interest();
      if (interest.sole()) {
        ReplyError(v1::Error::INVALID_REQUEST,
                   "clients only release grants (Interest with sole false)", 0);
        return;
      }
      router.ReleaseSole(session_, interest.channel(), interest.grant());
      return;
    }
    case v1::Envelope::kPresence: {
      const uint64_t request_id = envelope_.presence().request_id();
      absl::Status s = session_->context().presence.Apply(
          session_, session_->id(), envelope_.presence());
      if (!s.ok()) {
        ReplyError(ErrorCodeFromStatus(s), s.message(), request_id);
      } else if (request_id != 0) {
        v1::Envelope ack;
        ack.mutable_ack()->set_request_id(request_id);
        Reply(ack);
      }
      return;
    }
    case v1::Envelope::kHistoryQuery: {
      const v1::HistoryQuery& query = envelope_.history_query();
      HistorySink* sink = router.history_sink();
      // A position ahead of this broker's feed: answered once the feed has
      // caught up, so that what follows it is history or live, once.
      if (query.has_since() && sink != nullptr &&
          sink->WaitApplied(query.channel(), query.since(),
                            [this, alive = alive_, query] {
                              if (*alive) AnswerHistory(query);
                            })) {
        return;
      }
      AnswerHistory(query);
      return;
    }
    case v1::Envelope::kPresenceQuery: {
      const auto& query = envelope_.presence_query();
      const PresenceTable::Counts counts =
          session_->context().presence.table().Get(query.group());
      v1::Envelope reply;
      v1::PresenceInfo* info = reply.mutable_presence_info();
      info->set_request_id(query.request_id());
      info->set_connections(counts.connections);
      info->set_users(counts.users);
      Reply(reply);
      return;
    }
    default:
      ReplyError(v1::Error::INVALID_REQUEST,
                 absl::StrCat("message type ", envelope_.msg_case(),
                              " is not accepted from clients"),
                 0);
      return;
  }
}

void ProtobufCodec::OnClose() {
  // A gateway's members leave with its connection.
  session_->context().presence.Gone(session_, session_->id());
}

void ProtobufCodec::BeforeFlush() {
  if (cumulative_due_ == 0) return;
  // Confirms every quiet publish up to its id: never past one still
  // awaiting the cluster's history store.
  uint64_t upto = cumulative_due_;
  if (!deferred_.empty() && *deferred_.begin() < upto) {
    upto = *deferred_.begin() - 1;
    if (upto <= cumulative_sent_) return;  // nothing new to confirm yet
  }
  // A link delivers its own publishes to its members once confirmed
  // (ShardLink): no waiting for company there.
  if (session_->queued_bytes() == 0 && !ack_overdue_ && !session_->IsLink()) {
    // Nothing to travel with: wait a little for company.
    if (!ack_timer_armed_) {
      ack_timer_armed_ = true;
      ack_timer_.expires_after(kCumulativeAckDelay);
      // A wait that expired before the codec went away cannot be cancelled
      // any more (its handler is already queued, with success): `alive`
      // tells the handler whether `this` still exists.
      ack_timer_.async_wait([this, alive = alive_](const std::error_code& ec) {
        if (ec || !*alive) return;
        ack_timer_armed_ = false;
        if (cumulative_due_ == 0) return;  // went out with other frames
        ack_overdue_ = true;
        session_->RequestFlush();
      });
    }
    return;
  }
  ack_overdue_ = false;
  v1::Envelope ack;
  ack.mutable_ack()->set_request_id(upto);
  ack.mutable_ack()->set_cumulative(true);
  cumulative_sent_ = upto;
  if (upto == cumulative_due_) cumulative_due_ = 0;
  Reply(ack);
}

void ProtobufCodec::HandleHello(const v1::Hello& hello) {
  if (authenticated_) {
    ReplyError(v1::Error::INVALID_REQUEST, "already said Hello", 0);
    return;
  }
  // Names are for logs only; keep them short and printable.
  std::string name = hello.client_name().substr(0, 64);
  for (char& c : name) {
    if (!absl::ascii_isprint(static_cast<unsigned char>(c))) c = '?';
  }
  session_->set_client_name(std::move(name));
  BrokerContext& ctx = session_->context();
  if (hello.protocol_version() != kProtocolVersion) {
    session_->Close(
        v1::Error::VERSION_MISMATCH,
        absl::StrCat("protocol version ", hello.protocol_version(),
                     " is not supported; this broker speaks version ",
                     kProtocolVersion),
        false);
    return;
  }
  const std::string& token = ctx.options.auth_token;
  if (!token.empty() && !ConstantTimeEquals(hello.auth_token(), token)) {
    ++ctx.stats.auth_failures;
    CHANNEL_LOG_LIMITED(
        spdlog::level::warn, "conn {} from {} ({}): authentication failed",
        session_->id(), session_->peer(), session_->client_name());
    session_->Close(v1::Error::UNAUTHENTICATED,
                    hello.auth_token().empty()
                        ? "this broker requires an auth token"
                        : "wrong auth token",
                    false);
    return;
  }
  authenticated_ = true;
  wants_sole_interest_ = hello.sole_interest();
  session_->set_link(hello.link());
  if (!hello.resuming_from().empty() &&
      hello.resuming_from() != ctx.broker_id) {
    ctx.grace.NoteResumingClient();
  }
  ++ctx.stats.handshakes;
  CHANNEL_LOG_LIMITED(spdlog::level::info,
                      "conn {} from {} authenticated as '{}'", session_->id(),
                      session_->peer(), session_->client_name());
  const BrokerOptions& options = ctx.options;
  v1::Envelope reply;
  v1::Welcome* welcome = reply.mutable_welcome();
  welcome->set_broker_id(ctx.broker_id);
  welcome->set_broker_version(kVersion);
  welcome->set_protocol_version(kProtocolVersion);
  welcome->set_heartbeat_interval_ms(
      static_cast<uint32_t>(options.heartbeat_interval.count()));
  welcome->set_idle_timeout_ms(
      static_cast<uint32_t>(options.idle_timeout.count()));
  welcome->set_max_frame_bytes(options.max_frame_bytes);
  if (const HistoryStore* history = ctx.router.history()) {
    history->options().rules.ToProto(welcome->mutable_history());
    welcome->set_history_recover_max(history->options().recover_max);
  }
  ctx.presence.rules().ToProto(welcome->mutable_presence());
  welcome->set_keeps_events(options.events_keep_bytes > 0);
  Reply(reply);
  session_->SetEstablished(options.heartbeat_interval, options.idle_timeout);
}

SharedFrame ProtobufCodec::CloseFrame(v1::Error::Code code,
                                      absl::string_view reason) {
  return EncodeFrame(MakeError(code, reason));
}

SharedFrame ProtobufCodec::MoveFrame(uint32_t close_in_ms,
                                     absl::string_view reason) {
  if (!authenticated_) return nullptr;
  v1::Envelope envelope;
  envelope.mutable_go_away()->set_close_in_ms(close_in_ms);
  envelope.mutable_go_away()->set_reason(reason.data(), reason.size());
  return EncodeFrame(envelope);
}

void ProtobufCodec::Reply(const v1::Envelope& envelope) {
  session_->Send(EncodeFrame(envelope));
}

void ProtobufCodec::Ack(uint64_t request_id, uint64_t receivers) {
  v1::Envelope ack;
  ack.mutable_ack()->set_request_id(request_id);
  if (receivers != 0) ack.mutable_ack()->set_receivers(receivers);
  Reply(ack);
}

void ProtobufCodec::ReplyError(v1::Error::Code code, absl::string_view message,
                               uint64_t request_id) {
  session_->CountError(code);
  Reply(MakeError(code, message, request_id));
}

}  // namespace channel
