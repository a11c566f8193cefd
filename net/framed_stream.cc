#include "net/framed_stream.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "asio/post.hpp"
#include "net/socket_io.h"

namespace channel {

FramedStream::FramedStream(asio::ip::tcp::socket socket, const Options& options,
                           Handler* handler, StreamCounters* counters,
                           FlushScheduler* scheduler, NowFn now)
    : socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      options_(options),
      handler_(handler),
      counters_(counters),
      scheduler_(scheduler),
      now_(now ? std::move(now) : NowFn([] { return Clock::now(); })),
      decoder_(options.max_frame_bytes_before_established != 0
                   ? std::min(options.max_frame_bytes,
                              options.max_frame_bytes_before_established)
                   : options.max_frame_bytes) {
  std::error_code ec;
  const auto remote = socket_.remote_endpoint(ec);
  peer_ = ec ? "unknown"
             : absl::StrCat(remote.address().to_string(), ":", remote.port());
  if (!ec) remote_address_ = remote.address();
  // Small frames, latency matters: no Nagle delay. (Fails harmlessly on a
  // non-TCP socket such as a test's socketpair.)
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

FramedStream::~FramedStream() = default;

void FramedStream::Start() {
  last_read_ = last_write_ = now_();
  handshake_deadline_ = last_read_ + options_.handshake_timeout;
  ArmTimer();
  WaitReadable();
}

void FramedStream::SetEstablished(std::chrono::milliseconds heartbeat_interval,
                                  std::chrono::milliseconds idle_timeout) {
  established_ = true;
  decoder_.set_max_frame_bytes(options_.max_frame_bytes);
  heartbeat_interval_ =
      heartbeat_interval.count() == 0
          ? heartbeat_interval
          : std::max(heartbeat_interval, std::chrono::milliseconds(2));
  idle_timeout_ = std::max(idle_timeout, std::chrono::milliseconds(2));
  // Without heartbeats the timer still has to notice idleness.
  tick_ = heartbeat_interval_.count() != 0 ? heartbeat_interval_ / 2
                                           : idle_timeout_ / 4;
  if (!closing_ && !finished_) ArmTimer();
}

void FramedStream::WaitReadable() {
  // Wait for readability, then read: unlike async_read_some, which tries a
  // recv at once and mostly gets EAGAIN, this costs one syscall per read.
  socket_.async_wait(asio::ip::tcp::socket::wait_read,
                     [self = shared_from_this()](const std::error_code& ec) {
                       if (self->finished_) return;
                       if (ec) {
                         self->Finish(ec.message());
                         return;
                       }
                       self->ReadReady();
                     });
}

void FramedStream::ReadReady() {
  char* buffer = ThreadReadBuffer();
  const ssize_t n = ::recv(socket_.native_handle(), buffer,
                           kThreadReadBufferBytes, MSG_DONTWAIT);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      WaitReadable();
    } else {
      Finish(std::error_code(errno, std::system_category()).message());
    }
    return;
  }
  if (n == 0) {
    Finish("peer closed");
    return;
  }
  counters_->bytes_in += static_cast<uint64_t>(n);
  auto self = shared_from_this();  // the handler may drop its reference
  // While closing, input is read and discarded: unread input at close
  // would make the kernel answer with a reset, which can destroy the final
  // frames before the peer reads them.
  if (!closing_) {
    last_read_ = now_();
    idle_reported_ = false;
    decoder_.Append(buffer, static_cast<size_t>(n));
    absl::string_view body;
    while (!closing_ && !finished_) {
      const FrameDecoder::Result result = decoder_.Next(&body);
      if (result == FrameDecoder::Result::kNeedMore) break;
      if (result == FrameDecoder::Result::kInvalid) {
        if (handler_ != nullptr) handler_->OnInvalidFrame(decoder_.error());
        if (!closing_) Finish(absl::StrCat("bad frame: ", decoder_.error()));
        break;
      }
      ++counters_->frames_in;
      if (body.empty()) {
        ++counters_->heartbeats_in;
        continue;
      }
      if (handler_ != nullptr) handler_->OnFrame(body);
    }
  }
  if (finished_) return;
  if (static_cast<size_t>(n) == kThreadReadBufferBytes) {
    // More may be waiting: read it on a later turn (fairness).
    asio::post(socket_.get_executor(), [self] {
      if (!self->finished_) self->ReadReady();
    });
  } else {
    WaitReadable();
  }
}

FramedStream::SendResult FramedStream::Send(SharedFrame frame) {
  if (closing_ || finished_) return SendResult::kClosing;
  if (out_.bytes() + frame->size() > options_.max_queued_bytes) {
    return SendResult::kOverflow;
  }
  if (out_.empty()) queued_since_ = now_();
  out_.Push(std::move(frame));
  ++counters_->frames_out;
  ScheduleFlush();
  return SendResult::kQueued;
}

void FramedStream::RequestFlush() {
  if (!finished_) ScheduleFlush();
}

void FramedStream::ScheduleFlush() {
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  if (scheduler_ != nullptr) {
    scheduler_->ScheduleFlush(shared_from_this());
  } else {
    asio::post(socket_.get_executor(),
               [self = shared_from_this()] { self->Flush(); });
  }
}

void FramedStream::Flush() {
  if (finished_) {
    flush_scheduled_ = false;
    return;
  }
  // Frames the handler sends from here join this flush (flush_scheduled_
  // is still set, so they schedule nothing new).
  if (handler_ != nullptr && !closing_) handler_->BeforeFlush();
  flush_scheduled_ = false;
  if (!waiting_writable_) WriteNow();
}

void FramedStream::WriteNow() {
  while (!out_.empty()) {
    const ssize_t n = SendGathered(socket_.native_handle(), &out_);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        waiting_writable_ = true;
        socket_.async_wait(
            asio::ip::tcp::socket::wait_write,
            [self = shared_from_this()](const std::error_code& ec) {
              self->waiting_writable_ = false;
              if (self->finished_) return;
              if (ec) {
                self->Finish(ec.message());
                return;
              }
              self->WriteNow();
            });
        return;
      }
      Finish(std::error_code(errno, std::system_category()).message());
      return;
    }
    counters_->bytes_out += static_cast<uint64_t>(n);
    last_write_ = now_();
  }
  if (closing_) Finish(close_reason_);
}

void FramedStream::CloseAfterFlush(SharedFrame last, bool drop_queued,
                                   std::chrono::milliseconds grace,
                                   std::string reason) {
  if (closing_ || finished_) return;
  closing_ = true;
  close_reason_ = std::move(reason);
  if (drop_queued) out_.DropUnstarted();
  if (last) {
    out_.Push(std::move(last));
    ++counters_->frames_out;
  }
  close_deadline_ = now_() + grace;
  ArmTimer();
  ScheduleFlush();
}

void FramedStream::Abort(absl::string_view reason) { Finish(reason); }

void FramedStream::Detach() {
  handler_ = nullptr;
  if (finished_) return;
  finished_ = true;
  std::error_code ec;
  timer_.cancel();
  socket_.close(ec);
}

void FramedStream::ArmTimer() {
  const auto now = now_();
  Clock::time_point next = Clock::time_point::max();
  if (closing_) {
    next = close_deadline_;
  } else if (!established_) {
    if (!handshake_reported_) next = handshake_deadline_;
  } else {
    next = now + tick_;
  }
  if (next == Clock::time_point::max()) {
    timer_.cancel();
    return;
  }
  timer_.expires_after(std::max(next - now, Clock::duration::zero()));
  timer_.async_wait([self = shared_from_this()](const std::error_code& ec) {
    if (!ec && !self->finished_) self->Tick();
  });
}

void FramedStream::Tick() {
  if (finished_) return;
  auto self = shared_from_this();
  const auto now = now_();
  if (closing_) {
    if (now >= close_deadline_) {
      Finish(close_reason_ + " (peer did not read the final frames)");
    } else {
      ArmTimer();
    }
    return;
  }
  if (!established_) {
    if (!handshake_reported_ && now >= handshake_deadline_) {
      handshake_reported_ = true;
      if (handler_ != nullptr) handler_->OnTimeout(Timeout::kHandshake);
    }
  } else {
    if (!idle_reported_ && now - last_read_ >= idle_timeout_) {
      idle_reported_ = true;
      if (handler_ != nullptr) handler_->OnTimeout(Timeout::kIdle);
    }
    if (!closing_ && !finished_ && heartbeat_interval_.count() != 0 &&
        out_.empty() && now - last_write_ >= heartbeat_interval_ / 2) {
      Send(HeartbeatFrame());
    }
  }
  if (!finished_) ArmTimer();
}

void FramedStream::Finish(absl::string_view reason) {
  if (finished_) return;
  finished_ = true;
  closing_ = true;
  std::error_code ec;
  timer_.cancel();
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  Handler* handler = handler_;
  handler_ = nullptr;
  if (handler != nullptr) handler->OnFinished(reason);
}

}  // namespace channel
