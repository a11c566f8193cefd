#include "gateway/ws/ws_text_frame.h"

#include <string>

#include "gtest/gtest.h"

namespace channel {
namespace {

// RFC 6455 5.2 length encodings at each boundary.
TEST(WsTextFrameTest, LengthEncodings) {
  struct Case {
    size_t size;
    std::string header;
  } cases[] = {
      {0, std::string("\x81\x00", 2)},
      {125, "\x81\x7d"},
      {126, std::string("\x81\x7e\x00\x7e", 4)},
      {65535, "\x81\x7e\xff\xff"},
      {65536, std::string("\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10)},
  };
  for (const auto& c : cases) {
    std::string out;
    AppendTextFrame(std::string(c.size, 'a'), &out);
    ASSERT_EQ(out.size(), c.header.size() + c.size) << c.size;
    EXPECT_EQ(out.substr(0, c.header.size()), c.header) << c.size;
  }
}

TEST(WsTextFrameTest, FramesConcatenate) {
  std::string out;
  AppendTextFrame("hi", &out);
  AppendTextFrame("é", &out);
  EXPECT_EQ(out, "\x81\x02hi\x81\x02\xc3\xa9");
}

}  // namespace
}  // namespace channel
