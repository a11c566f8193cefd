#include "broker/session.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "broker/broker_server.h"
#include "broker/php_codec.h"
#include "broker/protobuf_codec.h"
#include "common/envelope_codec.h"
#include "common/log_limiter.h"
#include "common/logging.h"

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
                 BrokerServer* server)
    : id_(id), server_(server) {
  std::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  const bool limit = !ec && server->LimitFramesBeforeHello(remote.address());
  stream_ = std::make_shared<FramedStream>(
      std::move(socket), StreamOptions(server->options(), limit), this,
      &server->stats().stream, server);
}

Session::~Session() { stream_->Detach(); }

void Session::Start() {
  spdlog::debug("conn {} connected from {}", id_, stream_->peer());
  stream_->Start();
}

void Session::OnFrame(absl::string_view body) {
  if (codec_ == nullptr && !server_->ClusterReady()) {
    Close(v1::Error::CLUSTER_UNAVAILABLE,
          "this broker has lost its cluster (NATS); connect to another broker",
          false);
    return;
  }
  if (codec_ == nullptr) {
    // The first frame decides the codec for the connection's life: a PHP
    // serialize() array starts with 'a' (0x61), which no protobuf Envelope
    // can (proto/channel.proto reserves field 12).
    if (body[0] == 'a') {
      if (!server_->options().php_enabled) {
        Close(v1::Error::PROTOCOL_ERROR,
              "PHP serialize() bodies (Workerman Channel clients) are not "
              "enabled on this broker (--php_codec); send a protobuf Envelope",
              false, "php_codec");
        return;
      }
      if (!server_->PhpAllowedFrom(stream_->remote_address())) {
        ++server_->stats().php_refused;
        CountError(v1::Error::UNAUTHENTICATED, "php_not_allowed");
        CHANNEL_LOG_LIMITED(
            spdlog::level::warn,
            "conn {} from {}: PHP client refused: the PHP protocol has no "
            "token, and this source is not in --php_allow_from",
            id_, stream_->peer());
        left_channels_ = true;
        stream_->Abort("PHP client not allowed from this source");
        return;
      }
      codec_ = std::make_unique<PhpCodec>(this);
      const BrokerOptions& options = server_->options();
      // No heartbeats: PHP clients cannot parse them.
      SetEstablished(std::chrono::milliseconds(0), options.php_idle_timeout);
    } else {
      codec_ = std::make_unique<ProtobufCodec>(this);
    }
    ++server_->stats().connections_by_codec[std::string(codec_->name())];
    spdlog::debug("conn {} speaks {}", id_, codec_->name());
  }
  codec_->OnBody(body);
}

void Session::Leave() {
  if (left_channels_) return;
  left_channels_ = true;
  server_->router().RemoveAll(this);
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
  const BrokerOptions& options = server_->options();
  if (which == FramedStream::Timeout::kHandshake) {
    ++server_->stats().auth_failures;
    Close(
        v1::Error::UNAUTHENTICATED,
        absl::StrCat("no Hello within ", options.hello_timeout.count(), " ms"),
        false);
    return;
  }
  ++server_->stats().idle_timeouts;
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
  server_->SessionEstablished(id_);
}

bool Session::Deliver(OutgoingEvent& event) {
  if (codec_ == nullptr) return false;
  return Send(codec_->EventFrame(event));
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
  const size_t bound = server_->options().max_queued_bytes;
  const size_t queued = stream_->queued_bytes();
  return queued >= bound ? 0 : bound - queued;
}

bool Session::CloseIfStalled() {
  const auto timeout = server_->options().link_stall_timeout;
  if (stream_->closing() || !stream_->WriteStalled(timeout)) return false;
  ++server_->stats().slow_consumer_disconnects;
  Close(v1::Error::SLOW_CONSUMER,
        absl::StrCat("link wrote nothing for ", timeout.count(), " ms with ",
                     stream_->queued_bytes(),
                     " bytes queued; the subscriber stopped reading"),
        true);
  return true;
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
  ++server_->stats().slow_consumer_disconnects;
  Close(v1::Error::SLOW_CONSUMER,
        absl::StrCat("output queue exceeded ",
                     server_->options().max_queued_bytes,
                     " bytes; the subscriber is not reading fast enough"),
        true);
  return false;
}

void Session::CountError(v1::Error::Code code, absl::string_view kind) {
  ++server_->stats()
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
    --server_->stats().connections_by_codec[std::string(codec_->name())];
  }
  CHANNEL_LOG_LIMITED(spdlog::level::info, "conn {} from {} ('{}') closed: {}",
                      id_, stream_->peer(), client_name_, reason);
  server_->OnSessionFinished(id_);  // may destroy this session: last
}

}  // namespace channel
