#ifndef CHANNEL_CLIENT_LINK_DIALER_H_
#define CHANNEL_CLIENT_LINK_DIALER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "asio/io_context.hpp"
#include "net/framed_stream.h"
#include "net/tcp_connector.h"
#include "proto/channel.pb.h"

namespace channel {

// Dials one broker: resolve, TCP connect, Hello, and the broker's Welcome,
// within one deadline. One attempt at a time. Hands the caller a stream
// that is established (heartbeats and idle timeout running, as the Welcome
// asks) and whose handler the caller sets at once (FramedStream::
// set_handler) inside `done`.
//
// Whatever answers on the broker's address cannot make the client buffer a
// large frame before it has said Welcome: frames are bounded by
// kMaxFrameBytesBeforeWelcome until then.
//
// Thread: the io_context's. `done` runs once per Dial, never after Cancel
// or destruction.
class LinkDialer : public FramedStream::Handler {
 public:
  static constexpr uint32_t kMaxFrameBytesBeforeWelcome = 64 << 10;

  struct Options {
    std::chrono::milliseconds connect_timeout{5000};
    uint32_t max_frame_bytes = 16 << 20;
    size_t max_queued_bytes = 64 << 20;
    // Heartbeat when idle this long, and the idle timeout when the broker
    // does not advertise one (the heartbeat then stays within a third of
    // the broker's).
    std::chrono::milliseconds heartbeat_interval{10000};
    std::chrono::milliseconds idle_timeout{35000};
  };
  // OK: `stream` is established with the broker that sent `welcome`.
  // Otherwise why the attempt failed (Unavailable for the network, the
  // broker's own error for a refusal).
  using Done = std::function<void(const absl::Status& status,
                                  std::shared_ptr<FramedStream> stream,
                                  const v1::Welcome& welcome)>;

  LinkDialer(asio::io_context& io, Options options, StreamCounters* counters);
  ~LinkDialer() override;
  LinkDialer(const LinkDialer&) = delete;
  LinkDialer& operator=(const LinkDialer&) = delete;

  // Starts an attempt (cancelling one in progress).
  void Dial(const std::string& host, uint16_t port, v1::Envelope hello,
            Done done);
  void Cancel();
  bool busy() const { return done_ != nullptr; }

  // FramedStream::Handler (the stream being dialled).
  void OnFrame(absl::string_view body) override;
  void OnInvalidFrame(absl::string_view error) override;
  void OnTimeout(FramedStream::Timeout which) override;
  void OnFinished(absl::string_view reason) override;

 private:
  void OnConnected(asio::ip::tcp::socket socket);
  void Finish(const absl::Status& status);

  const Options options_;
  StreamCounters* const counters_;
  TcpConnector connector_;
  std::string host_;
  uint16_t port_ = 0;
  v1::Envelope hello_;
  v1::Envelope envelope_;  // the received frame
  std::shared_ptr<FramedStream> stream_;
  Done done_;
};

}  // namespace channel

#endif  // CHANNEL_CLIENT_LINK_DIALER_H_
