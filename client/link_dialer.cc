#include "client/link_dialer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/framing/envelope_codec.h"
#include "common/framing/frame_encoder.h"

namespace channel {

LinkDialer::LinkDialer(asio::io_context& io, Options options,
                       StreamCounters* counters)
    : options_(options), counters_(counters), connector_(io) {}

LinkDialer::~LinkDialer() { Cancel(); }

void LinkDialer::Dial(const std::string& host, uint16_t port,
                      v1::Envelope hello, Done done) {
  Cancel();
  host_ = host;
  port_ = port;
  hello_ = std::move(hello);
  done_ = std::move(done);
  // The connector never calls back after Cancel, nor once this is gone.
  connector_.Connect(
      host_, port_, options_.connect_timeout,
      [this](const absl::Status& status, asio::ip::tcp::socket socket) {
        if (!status.ok()) {
          Finish(status);
          return;
        }
        OnConnected(std::move(socket));
      });
}

void LinkDialer::Cancel() {
  connector_.Cancel();
  if (stream_) {
    stream_->Detach();
    stream_.reset();
  }
  done_ = nullptr;
}

void LinkDialer::OnConnected(asio::ip::tcp::socket socket) {
  FramedStream::Options stream_options;
  stream_options.max_frame_bytes = options_.max_frame_bytes;
  stream_options.max_queued_bytes = options_.max_queued_bytes;
  stream_options.handshake_timeout = options_.connect_timeout;
  stream_options.max_frame_bytes_before_established =
      kMaxFrameBytesBeforeWelcome;
  stream_ = std::make_shared<FramedStream>(std::move(socket), stream_options,
                                           this, counters_);
  stream_->Send(EncodeFrame(hello_));
  stream_->Start();
}

void LinkDialer::OnFrame(absl::string_view body) {
  if (ParseBody(body, &envelope_) != BodyKind::kEnvelope) {
    Finish(absl::UnavailableError("unparsable frame body from broker"));
    return;
  }
  if (envelope_.has_error()) {
    Finish(StatusFromError(envelope_.error()));
    return;
  }
  if (!envelope_.has_welcome()) return;  // nothing else is expected yet
  const v1::Welcome& welcome = envelope_.welcome();
  auto heartbeat = options_.heartbeat_interval;
  auto idle_timeout = options_.idle_timeout;
  if (welcome.idle_timeout_ms() > 0) {
    idle_timeout = std::chrono::milliseconds(welcome.idle_timeout_ms());
    // Heartbeat well within the broker's idle timeout.
    heartbeat = std::min<std::chrono::milliseconds>(
        heartbeat, std::chrono::milliseconds(welcome.idle_timeout_ms() / 3));
  }
  stream_->SetEstablished(heartbeat, idle_timeout);
  std::shared_ptr<FramedStream> stream = std::move(stream_);
  Done done = std::move(done_);
  done_ = nullptr;
  stream->set_handler(nullptr);  // the caller sets its own in `done`
  done(absl::OkStatus(), std::move(stream), welcome);
}

void LinkDialer::OnInvalidFrame(absl::string_view error) {
  Finish(
      absl::UnavailableError(absl::StrCat("bad frame from broker: ", error)));
}

void LinkDialer::OnTimeout(FramedStream::Timeout) {
  Finish(absl::UnavailableError(
      absl::StrCat("no handshake with ", host_, ":", port_, " within ",
                   options_.connect_timeout.count(), " ms")));
}

void LinkDialer::OnFinished(absl::string_view reason) {
  Finish(absl::UnavailableError(
      reason == "peer closed" ? "broker closed the connection" : reason));
}

void LinkDialer::Finish(const absl::Status& status) {
  Done done = std::move(done_);
  done_ = nullptr;
  // `status` owns its text (never the stream's): safe past the detach.
  if (stream_) {
    stream_->Detach();
    stream_.reset();
  }
  if (done) done(status, nullptr, v1::Welcome());
}

}  // namespace channel
