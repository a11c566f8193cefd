#include "common/framing/frame_decoder.h"

#include <string>
#include <vector>

#include "common/framing/frame_encoder.h"
#include "gtest/gtest.h"

namespace channel {
namespace {

std::string Frame(const std::string& body) {
  std::string out(4, '\0');
  WriteFrameHeader(body.size(), out.data());
  return out + body;
}

std::string Header(uint32_t length) {
  std::string out(4, '\0');
  out[0] = static_cast<char>(length >> 24);
  out[1] = static_cast<char>(length >> 16);
  out[2] = static_cast<char>(length >> 8);
  out[3] = static_cast<char>(length);
  return out;
}

// Feeds `stream` in the given chunk sizes, collecting bodies until the
// decoder asks for more or fails.
struct Decoded {
  std::vector<std::string> bodies;
  bool invalid = false;
  std::string error;
};

Decoded Decode(const std::string& stream, const std::vector<size_t>& cuts,
               uint32_t max = 1 << 20) {
  FrameDecoder decoder(max);
  Decoded out;
  size_t pos = 0;
  std::vector<size_t> points = cuts;
  points.push_back(stream.size());
  for (size_t cut : points) {
    decoder.Append(stream.data() + pos, cut - pos);
    pos = cut;
    absl::string_view body;
    for (;;) {
      auto r = decoder.Next(&body);
      if (r == FrameDecoder::Result::kFrame) {
        out.bodies.emplace_back(body);
        continue;
      }
      if (r == FrameDecoder::Result::kInvalid) {
        out.invalid = true;
        out.error = decoder.error();
        return out;
      }
      break;
    }
  }
  return out;
}

TEST(FrameDecoderTest, SplitAtEveryByte) {
  const std::string stream = Frame("hello") + Frame("") + Frame("world!");
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    SCOPED_TRACE(cut);
    Decoded d = Decode(stream, {cut});
    ASSERT_FALSE(d.invalid);
    EXPECT_EQ(d.bodies, (std::vector<std::string>{"hello", "", "world!"}));
  }
}

TEST(FrameDecoderTest, OneByteAtATime) {
  const std::string stream = Frame("abc") + Frame("defgh");
  std::vector<size_t> cuts;
  for (size_t i = 1; i < stream.size(); ++i) cuts.push_back(i);
  Decoded d = Decode(stream, cuts);
  EXPECT_EQ(d.bodies, (std::vector<std::string>{"abc", "defgh"}));
}

TEST(FrameDecoderTest, SeveralFramesInOneRead) {
  std::string stream;
  std::vector<std::string> want;
  for (int i = 0; i < 100; ++i) {
    want.push_back(std::string(i, 'x'));
    stream += Frame(want.back());
  }
  Decoded d = Decode(stream, {});
  EXPECT_EQ(d.bodies, want);
}

TEST(FrameDecoderTest, HeartbeatIsAnEmptyBody) {
  Decoded d = Decode(std::string("\0\0\0\4", 4), {});
  ASSERT_EQ(d.bodies.size(), 1u);
  EXPECT_TRUE(d.bodies[0].empty());
  EXPECT_EQ(*HeartbeatFrame(), std::string("\0\0\0\4", 4));
}

struct BadLengthCase {
  uint32_t length;
  const char* error_part;
};

class FrameDecoderBadLengthTest
    : public ::testing::TestWithParam<BadLengthCase> {};

TEST_P(FrameDecoderBadLengthTest, IsInvalidAndSticky) {
  const BadLengthCase& c = GetParam();
  FrameDecoder decoder(1024);
  const std::string header = Header(c.length);
  decoder.Append(header.data(), header.size());
  absl::string_view body;
  EXPECT_EQ(decoder.Next(&body), FrameDecoder::Result::kInvalid);
  EXPECT_NE(decoder.error().find(c.error_part), std::string::npos)
      << decoder.error();
  // Still invalid after more data: the connection must be closed.
  const std::string more = Frame("ok");
  decoder.Append(more.data(), more.size());
  EXPECT_EQ(decoder.Next(&body), FrameDecoder::Result::kInvalid);
}

INSTANTIATE_TEST_SUITE_P(
    Lengths, FrameDecoderBadLengthTest,
    ::testing::Values(BadLengthCase{0, "below the 4-byte minimum"},
                      BadLengthCase{1, "below the 4-byte minimum"},
                      BadLengthCase{2, "below the 4-byte minimum"},
                      BadLengthCase{3, "below the 4-byte minimum"},
                      BadLengthCase{1025, "exceeds the limit of 1024"},
                      BadLengthCase{0xFFFFFFFFu, "exceeds the limit"}));

TEST(FrameDecoderTest, ExactlyMaxIsAccepted) {
  const std::string body(1020, 'z');
  Decoded d = Decode(Frame(body), {}, 1024);
  ASSERT_FALSE(d.invalid);
  ASSERT_EQ(d.bodies.size(), 1u);
}

TEST(FrameDecoderTest, TruncatedFrameNeedsMore) {
  const std::string frame = Frame("truncated body");
  FrameDecoder decoder(1024);
  decoder.Append(frame.data(), frame.size() - 1);
  absl::string_view body;
  EXPECT_EQ(decoder.Next(&body), FrameDecoder::Result::kNeedMore);
  EXPECT_EQ(decoder.pending_frame_length(), frame.size());
  decoder.Append(frame.data() + frame.size() - 1, 1);
  EXPECT_EQ(decoder.Next(&body), FrameDecoder::Result::kFrame);
  EXPECT_EQ(body, "truncated body");
}

TEST(FrameDecoderTest, BufferDoesNotGrowWithManyFrames) {
  FrameDecoder decoder(1024);
  const std::string frame = Frame(std::string(100, 'q'));
  absl::string_view body;
  for (int i = 0; i < 10000; ++i) {
    decoder.Append(frame.data(), frame.size());
    ASSERT_EQ(decoder.Next(&body), FrameDecoder::Result::kFrame);
  }
  EXPECT_EQ(decoder.buffered(), 0u);
}

}  // namespace
}  // namespace channel
