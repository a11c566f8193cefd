#include "common/ops/dynamic_library.h"

#include <cstring>

#include "gtest/gtest.h"

namespace channel {
namespace {

TEST(DynamicLibraryTest, ResolvesAFunctionOfALoadedLibrary) {
  void* lib = nullptr;
  ASSERT_TRUE(OpenLibrary("libc.so.6", "the test", &lib).ok());
  decltype(&::strlen) fn = nullptr;
  ASSERT_TRUE(
      ResolveSymbol(lib, "libc.so.6", "strlen", reinterpret_cast<void**>(&fn))
          .ok());
  EXPECT_EQ(fn("four"), 4u);
}

TEST(DynamicLibraryTest, AMissingLibraryNamesWhatNeedsIt) {
  void* lib = nullptr;
  const absl::Status s =
      OpenLibrary("libchannel-no-such.so.9", "--some_flag", &lib);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("--some_flag needs libchannel-no-such.so.9"),
            absl::string_view::npos)
      << s;
  EXPECT_EQ(lib, nullptr);
}

TEST(DynamicLibraryTest, AMissingSymbolIsNamed) {
  void* lib = nullptr;
  ASSERT_TRUE(OpenLibrary("libc.so.6", "the test", &lib).ok());
  void* slot = &lib;
  const absl::Status s =
      ResolveSymbol(lib, "libc.so.6", "channel_no_such_function", &slot);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "libc.so.6 has no channel_no_such_function");
  EXPECT_EQ(slot, nullptr);
}

}  // namespace
}  // namespace channel
