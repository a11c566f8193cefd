#include "common/framing/frame_queue.h"

#include <algorithm>
#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace channel {
namespace {

SharedFrame F(const std::string& s) { return std::make_shared<std::string>(s); }

std::string Gather(const FrameQueue& q, int max = 1024) {
  iovec iov[1024];
  const int n = q.Fill(iov, max);
  std::string out;
  for (int i = 0; i < n; ++i) {
    out.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
  }
  return out;
}

TEST(FrameQueueTest, WritesInOrderWithPartialWrites) {
  FrameQueue q;
  q.Push(F("abc"));
  q.Push(F("defg"));
  q.Push(F("h"));
  EXPECT_EQ(q.bytes(), 8u);
  EXPECT_EQ(Gather(q), "abcdefgh");
  // Every split point of a partial write.
  for (size_t first = 0; first <= 8; ++first) {
    FrameQueue r;
    r.Push(F("abc"));
    r.Push(F("defg"));
    r.Push(F("h"));
    r.Consume(first);
    EXPECT_EQ(Gather(r), std::string("abcdefgh").substr(first)) << first;
    EXPECT_EQ(r.bytes(), 8 - first);
    r.Consume(8 - first);
    EXPECT_TRUE(r.empty());
  }
}

TEST(FrameQueueTest, FillRespectsMax) {
  FrameQueue q;
  for (int i = 0; i < 10; ++i)
    q.Push(F(std::string(1, static_cast<char>('0' + i))));
  EXPECT_EQ(Gather(q, 3), "012");
}

TEST(FrameQueueTest, SharedFrameIsNotCopied) {
  auto frame = F("payload");
  FrameQueue a, b;
  a.Push(frame);
  b.Push(frame);
  iovec ia[1], ib[1];
  a.Fill(ia, 1);
  b.Fill(ib, 1);
  EXPECT_EQ(ia[0].iov_base, ib[0].iov_base);
  EXPECT_EQ(frame.use_count(), 3);
}

TEST(FrameQueueTest, DropUnstartedKeepsThePartlyWrittenFrame) {
  FrameQueue q;
  q.Push(F("abcd"));
  q.Push(F("efgh"));
  q.Push(F("ijkl"));
  q.Consume(2);
  EXPECT_EQ(q.DropUnstarted(), 8u);
  EXPECT_EQ(Gather(q), "cd");
  q.Consume(2);
  q.Push(F("mn"));
  EXPECT_EQ(q.DropUnstarted(), 2u);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
}

// The ring wraps and grows while wrapped: order and bytes hold through
// every step of a long interleaving.
TEST(FrameQueueTest, OrderAndBytesHoldAcrossWrapAndGrowth) {
  FrameQueue q;
  std::string expected;  // what is queued, unsent
  int next = 0;
  for (int round = 0; round < 200; ++round) {
    const int pushes = 1 + round % 7;
    for (int i = 0; i < pushes; ++i) {
      const std::string s = std::to_string(next++) + ",";
      q.Push(F(s));
      expected += s;
    }
    ASSERT_EQ(Gather(q), expected) << round;
    ASSERT_EQ(q.bytes(), expected.size());
    // Write a little less than what was pushed: the queue keeps growing
    // slowly while its front moves round the ring.
    const size_t n = std::min(expected.size(), static_cast<size_t>(round % 23));
    q.Consume(n);
    expected.erase(0, n);
    ASSERT_EQ(q.empty(), expected.empty());
  }
  EXPECT_EQ(Gather(q), expected);
  q.Consume(expected.size());
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.frame_count(), 0u);
}

TEST(FrameQueueTest, AWrittenOrDroppedFrameIsReleased) {
  FrameQueue q;
  auto a = F("aa"), b = F("bb"), c = F("cc");
  for (int i = 0; i < 3; ++i) {  // move the front off slot 0 first
    q.Push(F("x"));
    q.Consume(1);
  }
  q.Push(a);
  q.Push(b);
  q.Push(c);
  q.Consume(3);  // all of a, half of b
  EXPECT_EQ(a.use_count(), 1);
  EXPECT_EQ(b.use_count(), 2);
  EXPECT_EQ(q.DropUnstarted(), 2u);
  EXPECT_EQ(c.use_count(), 1);
  EXPECT_EQ(Gather(q), "b");
  EXPECT_EQ(q.frame_count(), 1u);
}

}  // namespace
}  // namespace channel
