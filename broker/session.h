#ifndef CHANNEL_BROKER_SESSION_H_
#define CHANNEL_BROKER_SESSION_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "asio/ip/tcp.hpp"
#include "asio/steady_timer.hpp"
#include "broker/subscriber.h"
#include "common/frame_decoder.h"
#include "common/frame_encoder.h"
#include "common/frame_queue.h"
#include "proto/channel.pb.h"

namespace channel {

class BrokerServer;

// One client connection of the broker: reads frames, answers the handshake,
// hands requests to the Router and writes queued frames.
//
// Lives on the broker's io thread for life. Owned by BrokerServer (and by
// its own pending handlers); the Router holds it by raw pointer until Close.
// Frames queued during one pass of the event loop go out in one sendmsg
// (hundreds of shared frames per syscall, none copied); when the socket is
// full the session waits for writability. The output queue is bounded by
// max_queued_bytes: a session past it is closed as a slow consumer, never
// silently skipped.
class Session : public Subscriber,
                public std::enable_shared_from_this<Session> {
 public:
  Session(asio::ip::tcp::socket socket, uint64_t id, BrokerServer* server);

  // Starts reading and the handshake timer.
  void Start();

  // Queues `frame` for writing. Returns false (and queues nothing) when the
  // session is closing, or when this frame would exceed the output bound, in
  // which case the session is closed with SLOW_CONSUMER.
  bool Send(const SharedFrame& frame) override;

  // Sends an Error with `code` and closes after it is written (or after a
  // short grace period if the peer does not read). Leaves every channel at
  // once. drop_queued discards frames not yet written (slow consumer).
  void Close(v1::Error::Code code, absl::string_view reason, bool drop_queued,
             absl::string_view kind = {});

  // Called by BrokerServer's flush pass: starts a write if one is due.
  void Flush();

  uint64_t id() const { return id_; }
  bool closing() const { return closing_; }

 private:
  void DoRead();
  // The socket is readable: one non-blocking recv, then the frames in it.
  void ReadReady();
  void OnRead(size_t bytes);
  void HandleBody(absl::string_view body);
  void HandleHello(const v1::Hello& hello);
  void Reply(const v1::Envelope& envelope);
  void ReplyError(v1::Error::Code code, absl::string_view message,
                  uint64_t request_id, absl::string_view kind);
  // Writes as much of out_ as the socket takes; waits for writability if
  // some is left.
  void WriteNow();
  void ArmTimer(std::chrono::steady_clock::duration after);
  void OnTimer();
  // Final teardown: closes the socket and unregisters. Idempotent.
  void Finish(absl::string_view why);

  asio::ip::tcp::socket socket_;
  asio::steady_timer timer_;
  const uint64_t id_;
  BrokerServer* const server_;
  std::string peer_;
  std::string client_name_;

  FrameDecoder decoder_;
  std::array<char, 64 * 1024> read_buffer_;

  FrameQueue out_;
  bool waiting_writable_ = false;  // an async_wait(write) is pending
  bool flush_scheduled_ = false;

  bool authenticated_ = false;
  bool closing_ = false;
  bool finished_ = false;
  std::string close_reason_;
  std::chrono::steady_clock::time_point last_read_;
  std::chrono::steady_clock::time_point last_write_;
  std::chrono::steady_clock::time_point close_deadline_;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_SESSION_H_
