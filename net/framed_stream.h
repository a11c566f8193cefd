#ifndef CHANNEL_NET_FRAMED_STREAM_H_
#define CHANNEL_NET_FRAMED_STREAM_H_

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "asio/ip/tcp.hpp"
#include "asio/steady_timer.hpp"
#include "common/framing/frame_decoder.h"
#include "common/framing/frame_encoder.h"
#include "common/framing/frame_queue.h"

namespace channel {

// Byte and frame counters a stream adds to. The owner decides the scope:
// the broker shares one among all its sessions, a client keeps its own.
// Same thread as the streams that write them.
struct StreamCounters {
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t frames_in = 0;  // heartbeats included
  uint64_t frames_out = 0;
  uint64_t heartbeats_in = 0;
};

// One socket speaking length-prefixed frames (Workerman's Frame protocol),
// for the broker's sessions and the broker client alike. It owns the
// decoder, the bounded output queue, the gathered write (hundreds of shared
// frames per sendmsg, none copied), the wait for writability, one flush per
// loop turn, the handshake deadline and the heartbeat/idle policy. What the
// frames mean is the Handler's business.
//
// Threading and lifetime: lives on its socket's executor (one thread) for
// life; every method must be called there. Held by shared_ptr; pending
// asynchronous operations keep it alive, not its owner. The owner must call
// Detach() before it goes away; no Handler callback runs after Detach or
// after OnFinished.
//
// Fairness: at most one read buffer (64 KiB) is taken from a socket per
// loop turn, so a flooding peer cannot starve the others.
class FramedStream : public std::enable_shared_from_this<FramedStream> {
 public:
  using Clock = std::chrono::steady_clock;
  using NowFn = std::function<Clock::time_point()>;

  enum class Timeout {
    kHandshake,  // not established within options.handshake_timeout
    kIdle,       // established, and nothing received for idle_timeout
  };

  class Handler {
   public:
    virtual ~Handler() = default;
    // One non-empty frame body, valid during the call. The handler may Send,
    // CloseAfterFlush or Abort from here; once the stream is closing, no
    // further frame of the same read is delivered.
    virtual void OnFrame(absl::string_view body) = 0;
    // The byte stream is not valid framing (`error` says why). Nothing more
    // is read; the handler may CloseAfterFlush with a reason, else the
    // stream finishes at once.
    virtual void OnInvalidFrame(absl::string_view error) = 0;
    // A deadline passed. The stream stays open: the handler decides
    // (usually CloseAfterFlush with a reason, or Abort). Reported once per
    // kind until the stream is established again / receives again.
    virtual void OnTimeout(Timeout which) = 0;
    // The stream is done: peer closed, socket error, invalid framing, or a
    // CloseAfterFlush completed. Called once, last.
    virtual void OnFinished(absl::string_view reason) = 0;
    // Called once per flush, before queued frames are written: a place for
    // one frame per loop turn (a cumulative Ack).
    virtual void BeforeFlush() {}
  };

  // Collects streams that have frames to write and flushes them all once
  // per loop turn (the broker: one post per turn, not one per session).
  class FlushScheduler {
   public:
    virtual ~FlushScheduler() = default;
    virtual void ScheduleFlush(std::shared_ptr<FramedStream> stream) = 0;
  };

  struct Options {
    uint32_t max_frame_bytes = 16 << 20;  // total frame length, header incl.
    // The bound until SetEstablished (0: max_frame_bytes): a peer that has
    // not authenticated may not make the owner buffer a large frame.
    uint32_t max_frame_bytes_before_established = 0;
    size_t max_queued_bytes = 32 << 20;  // unsent bytes; Send refuses past it
    std::chrono::milliseconds handshake_timeout{5000};
  };

  enum class SendResult {
    kQueued,
    kClosing,   // closing or finished: nothing queued
    kOverflow,  // the frame would exceed max_queued_bytes: nothing queued
  };

  // `scheduler` may be null: the stream then posts its own flush. `now`
  // may be null: std::chrono::steady_clock::now.
  FramedStream(asio::ip::tcp::socket socket, const Options& options,
               Handler* handler, StreamCounters* counters,
               FlushScheduler* scheduler = nullptr, NowFn now = nullptr);
  ~FramedStream();
  FramedStream(const FramedStream&) = delete;
  FramedStream& operator=(const FramedStream&) = delete;

  // Starts reading and the handshake deadline.
  void Start();

  // The handshake is done: from now on a heartbeat goes out whenever
  // nothing was written for heartbeat_interval / 2 (never when it is 0: a
  // peer that cannot parse heartbeats), and OnTimeout(kIdle) fires after
  // idle_timeout without a received byte.
  void SetEstablished(std::chrono::milliseconds heartbeat_interval,
                      std::chrono::milliseconds idle_timeout);

  // Queues `frame` to go out at the end of this loop turn.
  SendResult Send(SharedFrame frame);
  // Runs BeforeFlush and writes at the end of this turn even if nothing is
  // queued yet.
  void RequestFlush();

  // Stops reading, optionally drops frames not yet started, queues `last`
  // (may be null) past the bound, and finishes once everything is written
  // or `grace` has passed. `reason` goes to OnFinished.
  void CloseAfterFlush(SharedFrame last, bool drop_queued,
                       std::chrono::milliseconds grace, std::string reason);
  // Closes the socket now; OnFinished(reason) runs before this returns.
  void Abort(absl::string_view reason);
  // The owner is going away: closes the socket, no callback ever again.
  void Detach();
  // Hands the stream to another handler: every later callback, including
  // one for a frame of the same read pass, goes to `handler` (a client
  // that dials with one handler and keeps the link with another).
  void set_handler(Handler* handler) { handler_ = handler; }

  // Applies the deadline and heartbeat policy at now(). Run by the stream's
  // timer; tests with a fake clock call it directly.
  void Tick();
  // Writes what is queued (FlushScheduler's side). No-op once finished.
  void Flush();

  size_t queued_bytes() const { return out_.bytes(); }
  // True when frames have been queued, and no byte written, for `timeout`:
  // the peer stopped reading.
  bool WriteStalled(std::chrono::milliseconds timeout) const {
    return !out_.empty() &&
           now_() - std::max(last_write_, queued_since_) >= timeout;
  }
  asio::any_io_executor executor() { return socket_.get_executor(); }
  bool closing() const { return closing_; }
  bool finished() const { return finished_; }
  bool established() const { return established_; }
  // "address:port" of the peer, or "unknown".
  const std::string& peer() const { return peer_; }
  // The peer's address; unspecified when unknown.
  const asio::ip::address& remote_address() const { return remote_address_; }

 private:
  void WaitReadable();
  void ReadReady();
  void WriteNow();
  void ScheduleFlush();
  void ArmTimer();
  void Finish(absl::string_view reason);

  asio::ip::tcp::socket socket_;
  asio::steady_timer timer_;
  const Options options_;
  Handler* handler_;
  StreamCounters* const counters_;
  FlushScheduler* const scheduler_;
  const NowFn now_;
  std::string peer_;
  asio::ip::address remote_address_;

  FrameDecoder decoder_;
  FrameQueue out_;
  bool waiting_writable_ = false;  // an async_wait(write) is pending
  bool flush_scheduled_ = false;

  bool established_ = false;
  bool handshake_reported_ = false;
  bool idle_reported_ = false;
  bool closing_ = false;
  bool finished_ = false;
  std::string close_reason_;
  std::chrono::milliseconds heartbeat_interval_{0};
  std::chrono::milliseconds idle_timeout_{0};
  std::chrono::milliseconds tick_{0};  // timer period once established
  Clock::time_point handshake_deadline_;
  Clock::time_point close_deadline_;
  Clock::time_point last_read_;
  Clock::time_point last_write_;
  Clock::time_point queued_since_;  // when out_ last became non-empty
};

}  // namespace channel

#endif  // CHANNEL_NET_FRAMED_STREAM_H_
