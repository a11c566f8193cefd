// FramedStream over a socketpair, with a fake clock driving the deadline and
// heartbeat policy. The peer end is a plain blocking descriptor.
#include "net/framed_stream.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "asio/io_context.hpp"
#include "gtest/gtest.h"

namespace channel {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = FramedStream::Clock;

std::string Frame(const std::string& body) {
  std::string out(4, '\0');
  WriteFrameHeader(body.size(), out.data());
  return out + body;
}

SharedFrame Shared(const std::string& body) {
  return std::make_shared<const std::string>(Frame(body));
}

class RecordingHandler : public FramedStream::Handler {
 public:
  void OnFrame(absl::string_view body) override {
    bodies.emplace_back(body);
    if (on_frame) on_frame(body);
  }
  void OnInvalidFrame(absl::string_view error) override {
    invalid = std::string(error);
  }
  void OnTimeout(FramedStream::Timeout which) override {
    timeouts.push_back(which);
  }
  void OnFinished(absl::string_view reason) override {
    finished = std::string(reason);
    ++finish_calls;
  }
  void BeforeFlush() override { ++flushes; }

  std::vector<std::string> bodies;
  std::function<void(absl::string_view)> on_frame;
  std::string invalid;
  std::vector<FramedStream::Timeout> timeouts;
  std::string finished;
  int finish_calls = 0;
  int flushes = 0;
};

class FramedStreamTest : public ::testing::Test {
 protected:
  void SetUp() override { Make(FramedStream::Options{}); }

  void Make(FramedStream::Options options) {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    peer_ = fds[1];
    asio::ip::tcp::socket socket(io_);
    std::error_code ec;
    socket.assign(asio::ip::tcp::v4(), fds[0], ec);
    ASSERT_FALSE(ec);
    stream_ = std::make_shared<FramedStream>(std::move(socket), options,
                                             &handler_, &counters_, nullptr,
                                             [this] { return now_; });
    stream_->Start();
  }

  void TearDown() override {
    if (stream_) stream_->Detach();
    if (peer_ >= 0) ::close(peer_);
  }

  // Runs the loop until `done` holds (or 5 s of real time pass).
  bool RunUntil(const std::function<bool()>& done) {
    const auto deadline = Clock::now() + seconds(5);
    while (!done() && Clock::now() < deadline) {
      io_.run_one_for(milliseconds(10));
    }
    return done();
  }

  // Returns false when the stream's end is closed.
  bool PeerWrite(const std::string& bytes) {
    return ::send(peer_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }

  // Reads exactly n bytes from the peer end, running the loop meanwhile.
  std::string PeerRead(size_t n) {
    std::string out;
    const auto deadline = Clock::now() + seconds(5);
    while (out.size() < n && Clock::now() < deadline) {
      io_.poll();
      pollfd p{peer_, POLLIN, 0};
      if (::poll(&p, 1, 10) == 1) {
        char buf[65536];
        const ssize_t r =
            ::recv(peer_, buf, std::min(sizeof(buf), n - out.size()), 0);
        if (r <= 0) break;
        out.append(buf, static_cast<size_t>(r));
      }
    }
    return out;
  }

  bool PeerSeesEof() {
    const auto deadline = Clock::now() + seconds(5);
    while (Clock::now() < deadline) {
      io_.poll();
      pollfd p{peer_, POLLIN, 0};
      if (::poll(&p, 1, 10) == 1) {
        char buf[4096];
        const ssize_t r = ::recv(peer_, buf, sizeof(buf), 0);
        if (r <= 0) return true;
      }
    }
    return false;
  }

  asio::io_context io_;
  Clock::time_point now_ = Clock::time_point() + seconds(1000);
  RecordingHandler handler_;
  StreamCounters counters_;
  std::shared_ptr<FramedStream> stream_;
  int peer_ = -1;
};

TEST_F(FramedStreamTest, SplitFramesArriveWholeAndHeartbeatsAreCounted) {
  const std::string bytes = Frame("one") + Frame("") + Frame("two");
  for (char c : bytes)
    ASSERT_TRUE(PeerWrite(std::string(1, c)));  // one byte at a time
  ASSERT_TRUE(RunUntil([&] { return handler_.bodies.size() == 2; }));
  EXPECT_EQ(handler_.bodies, (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(counters_.heartbeats_in, 1u);
  EXPECT_EQ(counters_.frames_in, 3u);
  EXPECT_EQ(counters_.bytes_in, bytes.size());
}

TEST_F(FramedStreamTest, FramesQueuedInOneTurnGoOutTogetherInOrder) {
  std::string expected;
  for (int i = 0; i < 1000; ++i) {
    const std::string body = "m" + std::to_string(i);
    EXPECT_EQ(stream_->Send(Shared(body)), FramedStream::SendResult::kQueued);
    expected += Frame(body);
  }
  EXPECT_EQ(PeerRead(expected.size()), expected);
  EXPECT_EQ(handler_.flushes, 1);  // one flush for the whole turn
  EXPECT_EQ(counters_.frames_out, 1000u);
  EXPECT_EQ(counters_.bytes_out, expected.size());
}

TEST_F(FramedStreamTest, SendPastTheBoundIsRefusedAndQueuesNothing) {
  FramedStream::Options options;
  options.max_queued_bytes = 100;
  stream_->Detach();
  Make(options);
  EXPECT_EQ(stream_->Send(Shared(std::string(90, 'a'))),
            FramedStream::SendResult::kQueued);
  EXPECT_EQ(stream_->Send(Shared(std::string(10, 'b'))),
            FramedStream::SendResult::kOverflow);
  EXPECT_EQ(stream_->queued_bytes(), 94u);
}

TEST_F(FramedStreamTest, HeartbeatWhenQuietAndIdleTimeoutOnce) {
  stream_->SetEstablished(seconds(10), seconds(30));
  now_ += seconds(4);
  stream_->Tick();
  EXPECT_EQ(stream_->queued_bytes(), 0u);  // wrote 4 s ago: not yet
  now_ += seconds(1);
  stream_->Tick();
  EXPECT_EQ(PeerRead(4), Frame(""));  // 5 s = half the interval
  EXPECT_TRUE(handler_.timeouts.empty());
  now_ += seconds(25);
  stream_->Tick();
  stream_->Tick();
  ASSERT_EQ(handler_.timeouts.size(), 1u);  // reported once
  EXPECT_EQ(handler_.timeouts[0], FramedStream::Timeout::kIdle);
  // Input resets the idle clock.
  ASSERT_TRUE(PeerWrite(Frame("x")));
  ASSERT_TRUE(RunUntil([&] { return handler_.bodies.size() == 1; }));
  now_ += seconds(29);
  stream_->Tick();
  EXPECT_EQ(handler_.timeouts.size(), 1u);
}

TEST_F(FramedStreamTest, NoHeartbeatsWhenIntervalIsZeroButIdleStillFires) {
  stream_->SetEstablished(seconds(0), seconds(130));
  now_ += seconds(100);
  stream_->Tick();
  EXPECT_EQ(stream_->queued_bytes(), 0u);
  EXPECT_TRUE(handler_.timeouts.empty());
  now_ += seconds(30);
  stream_->Tick();
  ASSERT_EQ(handler_.timeouts.size(), 1u);
  EXPECT_EQ(handler_.timeouts[0], FramedStream::Timeout::kIdle);
}

TEST_F(FramedStreamTest, HandshakeDeadline) {
  now_ += milliseconds(4999);
  stream_->Tick();
  EXPECT_TRUE(handler_.timeouts.empty());
  now_ += milliseconds(1);
  stream_->Tick();
  ASSERT_EQ(handler_.timeouts.size(), 1u);
  EXPECT_EQ(handler_.timeouts[0], FramedStream::Timeout::kHandshake);
}

TEST_F(FramedStreamTest, InvalidLengthIsReportedAndTheStreamFinishes) {
  ASSERT_TRUE(PeerWrite(std::string("\x00\x00\x00\x02", 4)));
  ASSERT_TRUE(RunUntil([&] { return handler_.finish_calls == 1; }));
  EXPECT_FALSE(handler_.invalid.empty());
  EXPECT_NE(handler_.finished.find("bad frame"), std::string::npos);
}

TEST_F(FramedStreamTest, CloseAfterFlushWritesTheLastFrameThenCloses) {
  stream_->Send(Shared("queued"));
  stream_->CloseAfterFlush(Shared("bye"), false, seconds(2), "done here");
  EXPECT_EQ(stream_->Send(Shared("late")), FramedStream::SendResult::kClosing);
  const std::string expected = Frame("queued") + Frame("bye");
  EXPECT_EQ(PeerRead(expected.size()), expected);
  EXPECT_TRUE(PeerSeesEof());
  EXPECT_EQ(handler_.finished, "done here");
}

TEST_F(FramedStreamTest, CloseDropsUnstartedFramesWhenAsked) {
  stream_->Send(Shared("dropped"));
  stream_->CloseAfterFlush(Shared("reason"), true, seconds(2), "slow");
  EXPECT_EQ(PeerRead(10), Frame("reason"));
  EXPECT_TRUE(PeerSeesEof());
}

TEST_F(FramedStreamTest, ClosingPeerThatNeverReadsIsCutAfterGrace) {
  // Fill the socket so the final frame cannot be written.
  const std::string big(1 << 20, 'x');
  for (int i = 0; i < 16; ++i) stream_->Send(Shared(big));
  io_.poll();
  stream_->CloseAfterFlush(Shared("bye"), false, seconds(2), "closing");
  io_.poll();
  EXPECT_FALSE(stream_->finished());
  now_ += seconds(2);
  stream_->Tick();
  EXPECT_TRUE(stream_->finished());
  EXPECT_NE(handler_.finished.find("did not read"), std::string::npos);
}

TEST_F(FramedStreamTest, PeerCloseFinishesOnce) {
  ::close(peer_);
  peer_ = -1;
  ASSERT_TRUE(RunUntil([&] { return handler_.finish_calls == 1; }));
  EXPECT_EQ(handler_.finished, "peer closed");
  io_.poll();
  EXPECT_EQ(handler_.finish_calls, 1);
}

TEST_F(FramedStreamTest, HandlerMayCloseFromOnFrameAndLaterFramesAreDropped) {
  handler_.on_frame = [this](absl::string_view) {
    stream_->CloseAfterFlush(nullptr, false, seconds(1), "first only");
  };
  ASSERT_TRUE(PeerWrite(Frame("a") + Frame("b")));
  ASSERT_TRUE(RunUntil([&] { return handler_.finish_calls == 1; }));
  EXPECT_EQ(handler_.bodies, std::vector<std::string>{"a"});
}

TEST_F(FramedStreamTest, DetachStopsEveryCallback) {
  stream_->Detach();
  EXPECT_FALSE(PeerWrite(Frame("ignored")));  // the socket is closed
  io_.poll();
  EXPECT_TRUE(handler_.bodies.empty());
  EXPECT_EQ(handler_.finish_calls, 0);
}

}  // namespace
}  // namespace channel
