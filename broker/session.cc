#include "broker/session.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "broker/broker_context.h"
#include "broker/codec/session_codecs.h"
#include "common/framing/envelope_codec.h"
#include "common/logging/log_limiter.h"
#include "common/logging/logging.h"

namespace channel {
namespace {

// How long a closing session may take to read its final frames.
constexpr std::chrono::seconds kCloseGrace{2};

std::string CodeKind(v1::Error::Code code) {
  return absl::AsciiStrToLower(v1::Error::Code_Name(code));
}

FramedStream::Options StreamOptions(const BrokerOptions& options,
                                    bool limit_before_hello) {
  FramedStream::Options o;
  o.max_frame_bytes = options.max_frame_bytes;
  if (limit_before_hello) {
    o.max_frame_bytes_before_established =
        options.max_unauthenticated_frame_bytes;
  }
  o.max_queued_bytes = options.max_queued_bytes;
  o.handshake_timeout = options.hello_timeout;
  return o;
}

}  // namespace

Session::Session(asio::ip::tcp::socket socket, uint64_t id,
                 BrokerContext* context)
    : id_(id), ctx_(context) {
  std::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  const bool limit =
      !ec && ctx_->sources.LimitFramesBeforeHello(remote.address());
  stream_ = std::make_shared<FramedStream>(
      std::move(socket), StreamOptions(ctx_->options, limit), this,
      &ctx_->stats.stream, &ctx_->host);
}

Session::~Session() { stream_->Detach(); }

void Session::Start() {
  spdlog::debug("conn {} connected from {}", id_, stream_->peer());
  stream_->Start();
}

void Session::OnFrame(absl::string_view body) {
  if (codec_ == nullptr && !ctx_->host.ClusterReady()) {
    Close(v1::Error::CLUSTER_UNAVAILABLE,
          "this broker has lost its cluster (NATS); connect to another broker",
          false);
    return;
  }
  if (codec_ == nullptr) {
    // The first frame decides the codec for the connection's life.
    CodecChoice choice = ChooseCodec(body, this);
    switch (choice.action) {
      case CodecChoice::Action::kSpeak:
        break;
      case CodecChoice::Action::kRefuse:
        Close(choice.code, choice.reason, false, choice.error_kind);
        return;
      case CodecChoice::Action::kAbort:
        CountError(choice.code, choice.error_kind);
        left_channels_ = true;
        stream_->Abort(choice.reason);
        return;
    }
    codec_ = std::move(choice.codec);
    ++ctx_->stats.connections_by_codec[std::string(codec_->name())];
    spdlog::debug("conn {} speaks {}", id_, codec_->name());
  }
  codec_->OnBody(body);
}

void Session::Leave() {
  if (left_channels_) return;
  left_channels_ = true;
  ctx_->router.RemoveAll(this);
  if (codec_ != nullptr) codec_->OnClose();
}

void Session::OnInvalidFrame(absl::string_view error) {
  if (!stream_->established()) {
    Close(v1::Error::PROTOCOL_ERROR,
          absl::StrCat(error,
                       " (before its Hello a connection may send only "
                       "small frames: --max_unauthenticated_frame_"
                       "bytes)"),
          false, "bad_length");
    return;
  }
  Close(v1::Error::PROTOCOL_ERROR, error, false, "bad_length");
}

void Session::OnTimeout(FramedStream::Timeout which) {
  const BrokerOptions& options = ctx_->options;
  if (which == FramedStream::Timeout::kHandshake) {
    ++ctx_->stats.auth_failures;
    Close(
        v1::Error::UNAUTHENTICATED,
        absl::StrCat("no Hello within ", options.hello_timeout.count(), " ms"),
        false);
    return;
  }
  ++ctx_->stats.idle_timeouts;
  Close(v1::Error::IDLE_TIMEOUT,
        absl::StrCat("nothing received for ", options.idle_timeout.count(),
                     " ms"),
        false);
}

void Session::BeforeFlush() {
  if (codec_ != nullptr) codec_->BeforeFlush();
}

void Session::SetEstablished(std::chrono::milliseconds heartbeat_interval,
                             std::chrono::milliseconds idle_timeout) {
  stream_->SetEstablished(heartbeat_interval, idle_timeout);
  ctx_->host.SessionEstablished(id_);
}

bool Session::Deliver(OutgoingEvent& event) {
  if (codec_ == nullptr) return false;
  return Send(codec_->EventFrame(event));
}

bool Session::DeliverQueued(OutgoingEvent& event, const std::string& group) {
  if (codec_ == nullptr) return false;
  return Send(codec_->QueuedEventFrame(event, group));
}

bool Session::SendInterest(const std::string& channel, uint64_t grant,
                           bool sole) {
  v1::Envelope envelope;
  v1::Interest* interest = envelope.mutable_interest();
  interest->set_channel(channel);
  interest->set_grant(grant);
  interest->set_sole(sole);
  return TrySend(EncodeFrame(envelope));
}

void Session::CloseUnreleased(absl::string_view reason) {
  Close(v1::Error::PROTOCOL_ERROR, reason, false, "sole_unreleased");
}

size_t Session::QueueRoom() const {
  const size_t bound = ctx_->options.max_queued_bytes;
  const size_t queued = stream_->queued_bytes();
  return queued >= bound ? 0 : bound - queued;
}

bool Session::CloseIfStalled() {
  const auto timeout = ctx_->options.link_stall_timeout;
  if (stream_->closing() || !stream_->WriteStalled(timeout)) return false;
  ++ctx_->stats.slow_consumer_disconnects;
  Close(v1::Error::SLOW_CONSUMER,
        absl::StrCat("link wrote nothing for ", timeout.count(), " ms with ",
                     stream_->queued_bytes(),
                     " bytes queued; the subscriber stopped reading"),
        true);
  return true;
}

bool Session::AskToMove(uint32_t close_in_ms, absl::string_view reason) {
  if (codec_ == nullptr || stream_->closing()) return false;
  SharedFrame frame = codec_->MoveFrame(close_in_ms, reason);
  // Past the output bound the peer is not reading: it will not read this
  // either, and is closed at the drain's end.
  return frame != nullptr && TrySend(std::move(frame));
}

bool Session::Send(SharedFrame frame) {
  switch (stream_->Send(std::move(frame))) {
    case FramedStream::SendResult::kQueued:
      return true;
    case FramedStream::SendResult::kClosing:
      return false;
    case FramedStream::SendResult::kOverflow:
      break;
  }
  ++ctx_->stats.slow_consumer_disconnects;
  Close(v1::Error::SLOW_CONSUMER,
        absl::StrCat("output queue exceeded ", ctx_->options.max_queued_bytes,
                     " bytes; the subscriber is not reading fast enough"),
        true);
  return false;
}

void Session::CountError(v1::Error::Code code, absl::string_view kind) {
  ++ctx_->stats
        .errors_by_kind[kind.empty() ? CodeKind(code) : std::string(kind)];
}

void Session::Close(v1::Error::Code code, absl::string_view reason,
                    bool drop_queued, absl::string_view kind) {
  if (stream_->closing()) return;
  CountError(code, kind);
  if (code == v1::Error::PROTOCOL_ERROR || code == v1::Error::UNAUTHENTICATED ||
      code == v1::Error::SLOW_CONSUMER || code == v1::Error::VERSION_MISMATCH) {
    CHANNEL_LOG_LIMITED(spdlog::level::warn,
                        "conn {} from {} ('{}'): closing: {}", id_,
                        stream_->peer(), client_name_, reason);
  } else {
    CHANNEL_LOG_LIMITED(spdlog::level::info,
                        "conn {} from {} ('{}'): closing: {}", id_,
                        stream_->peer(), client_name_, reason);
  }
  Leave();
  // Before the codec is known the peer has sent nothing: answer in the
  // native codec.
  SharedFrame last = codec_ != nullptr ? codec_->CloseFrame(code, reason)
                                       : EncodeFrame(MakeError(code, reason));
  stream_->CloseAfterFlush(std::move(last), drop_queued, kCloseGrace,
                           std::string(reason));
}

void Session::OnFinished(absl::string_view reason) {
  Leave();
  if (codec_ != nullptr) {
    --ctx_->stats.connections_by_codec[std::string(codec_->name())];
  }
  CHANNEL_LOG_LIMITED(spdlog::level::info, "conn {} from {} ('{}') closed: {}",
                      id_, stream_->peer(), client_name_, reason);
  ctx_->host.OnSessionFinished(id_);  // may destroy this session: last
}

}  // namespace channel
