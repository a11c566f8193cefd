// A command refusal as a Status: the wire code and the id ride on it as
// payloads, the message is the client's text, unchanged.
#include "gateway/commands/command_error.h"

#include <string>

#include "gtest/gtest.h"

namespace channel {
namespace {

struct Case {
  const char* name;
  absl::Status status;
  std::string code;
  std::string id_json;
};

class CommandErrorTest : public ::testing::TestWithParam<Case> {};

TEST_P(CommandErrorTest, Reads) {
  const Case& c = GetParam();
  EXPECT_EQ(CommandErrorCode(c.status), c.code);
  EXPECT_EQ(CommandErrorId(c.status), c.id_json);
}

INSTANTIATE_TEST_SUITE_P(
    Statuses, CommandErrorTest,
    ::testing::Values(Case{"with_id",
                           MakeCommandError("unknown_cmd", "m", "\"q\""),
                           "unknown_cmd", "\"q\""},
                      Case{"numeric_id",
                           MakeCommandError("invalid_field", "m", "7"),
                           "invalid_field", "7"},
                      Case{"no_id", MakeCommandError("invalid_json", "m"),
                           "invalid_json", ""},
                      Case{"ok", absl::OkStatus(), "", ""},
                      Case{"foreign", absl::InvalidArgumentError("x"), "", ""}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(CommandErrorTest, MessageAndCodeAreKept) {
  const absl::Status s =
      MakeCommandError("missing_field", "\"cmd\" is required", "1");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "\"cmd\" is required");
}

}  // namespace
}  // namespace channel
