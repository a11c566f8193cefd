#include "gateway/commands/command.h"

#include <string>

#include "gateway/commands/command_error.h"
#include "gateway/commands/replies.h"
#include "gtest/gtest.h"

namespace channel {
namespace {

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

struct GoodCase {
  const char* name;
  std::string json;
  Command::Type type;
  std::string group;
  std::string message;
  bool exclude_self;
  std::string id_json;
};

void PrintTo(const GoodCase& c, std::ostream* os) { *os << c.name; }

class ParseCommandGoodTest : public ::testing::TestWithParam<GoodCase> {};

TEST_P(ParseCommandGoodTest, Decodes) {
  const GoodCase& c = GetParam();
  absl::StatusOr<Command> parsed = ParseCommand(c.json, CommandLimits{});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const Command& command = *parsed;
  EXPECT_EQ(command.type, c.type);
  EXPECT_EQ(command.group_id, c.group);
  EXPECT_EQ(command.message, c.message);
  EXPECT_EQ(command.exclude_self, c.exclude_self);
  EXPECT_EQ(command.id_json, c.id_json);
}

using T = Command::Type;
INSTANTIATE_TEST_SUITE_P(
    Commands, ParseCommandGoodTest,
    ::testing::Values(
        GoodCase{"seed_add", R"({"cmd":"add_group","group_id":"123"})",
                 T::kAddGroup, "123", "", false, ""},
        GoodCase{"int_group", R"({"cmd":"add_group","group_id":123})",
                 T::kAddGroup, "123", "", false, ""},
        GoodCase{"negative_group", R"({"cmd":"add_group","group_id":-5})",
                 T::kAddGroup, "-5", "", false, ""},
        GoodCase{"big_group",
                 R"({"cmd":"add_group","group_id":18446744073709551615})",
                 T::kAddGroup, "18446744073709551615", "", false, ""},
        GoodCase{"leave", R"({"cmd":"leave_group","group_id":"a","id":"x"})",
                 T::kLeaveGroup, "a", "", false, "\"x\""},
        GoodCase{
            "seed_send",
            R"({"cmd":"send_to_group","group_id":"123","message":"Esta é a mensagem"})",
            T::kSendToGroup, "123", "Esta é a mensagem", false, ""},
        GoodCase{
            "escapes",
            R"({"cmd":"send_to_group","group_id":"1","message":"a\u0000b\n\ud83d\ude00"})",
            T::kSendToGroup, "1", std::string("a\0b\n\xf0\x9f\x98\x80", 8),
            false, ""},
        GoodCase{
            "object_message",
            R"({"cmd":"send_to_group","group_id":"1","message":{ "a" : [1, true] }})",
            T::kSendToGroup, "1", R"({"a":[1,true]})", false, ""},
        GoodCase{"null_message",
                 R"({"cmd":"send_to_group","group_id":"1","message":null})",
                 T::kSendToGroup, "1", "null", false, ""},
        GoodCase{
            "exclude_self",
            R"({"cmd":"send_to_group","group_id":"1","message":"m","exclude_self":true,"id":3})",
            T::kSendToGroup, "1", "m", true, "3"},
        GoodCase{"send_to_all", R"({"cmd":"send_to_all","message":"hi"})",
                 T::kSendToAll, "", "hi", false, ""},
        GoodCase{"extra_fields_ignored",
                 R"({"cmd":"add_group","group_id":"g","extra":[1,2]})",
                 T::kAddGroup, "g", "", false, ""}),
    [](const auto& info) { return std::string(info.param.name); });

struct BadCase {
  const char* name;
  std::string json;
  const char* code;
  std::string id_json;
  // The exact text clients see, where a case pins it ("": not checked).
  std::string message = "";
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class ParseCommandBadTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(ParseCommandBadTest, Refuses) {
  const BadCase& c = GetParam();
  CommandLimits limits;
  limits.max_group_id_bytes = 8;
  absl::StatusOr<Command> parsed = ParseCommand(c.json, limits);
  ASSERT_FALSE(parsed.ok());
  const absl::Status& status = parsed.status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CommandErrorCode(status), c.code) << status;
  EXPECT_EQ(CommandErrorId(status), c.id_json);
  EXPECT_FALSE(status.message().empty());
  EXPECT_LT(status.message().size(), 200u);
  if (!c.message.empty()) {
    EXPECT_EQ(status.message(), c.message);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Commands, ParseCommandBadTest,
    ::testing::Values(
        BadCase{"empty", "", "invalid_json", "",
                "invalid JSON at offset 0: The document is empty."},
        BadCase{"truncated", R"({"cmd":"add_gr)", "invalid_json", ""},
        BadCase{"trailing", R"({"cmd":"add_group"} x)", "invalid_json", ""},
        BadCase{"array", "[]", "not_an_object", "",
                "a command must be a JSON object"},
        BadCase{"unknown", R"({"cmd":"x","id":1})", "unknown_cmd", "1",
                "unknown cmd \"x\"; expected add_group, leave_group, "
                "send_to_group, send_to_all, presence, history, whoami or "
                "auth"},
        BadCase{"huge_unknown", "{\"cmd\":\"" + std::string(5000, 'y') + "\"}",
                "unknown_cmd", "",
                "unknown cmd; expected add_group, leave_group, send_to_group, "
                "send_to_all, presence, history, whoami or auth"},
        BadCase{"no_cmd", R"({})", "missing_field", "", "\"cmd\" is required"},
        BadCase{
            "group_too_long", R"({"cmd":"add_group","group_id":"123456789"})",
            "group_id_too_long", "", "\"group_id\" is 9 bytes; the limit is 8"},
        BadCase{"auth_no_token", R"({"cmd":"auth","id":"a"})", "missing_field",
                "\"a\"", "\"token\" is required"},
        BadCase{"bad_exclude_self",
                R"({"cmd":"send_to_group","group_id":"g","exclude_self":1})",
                "invalid_field", "", "\"exclude_self\" must be a boolean"},
        BadCase{"group_array", R"({"cmd":"leave_group","group_id":[]})",
                "invalid_field", ""},
        BadCase{"no_message", R"({"cmd":"send_to_all","id":"q"})",
                "missing_field", "\"q\""},
        BadCase{"id_object", R"({"cmd":"send_to_all","id":{}})",
                "invalid_field", ""},
        BadCase{"id_too_long",
                "{\"cmd\":\"send_to_all\",\"id\":\"" + std::string(100, 'i') +
                    "\"}",
                "invalid_field", ""},
        BadCase{"deep",
                "{\"cmd\":\"send_to_all\",\"message\":" + std::string(40, '[') +
                    std::string(40, ']') + "}",
                "invalid_field", "",
                "\"message\" is nested deeper than 32 levels"},
        // Nesting is bounded for the whole frame while it is parsed (issue
        // 19 item 7): in any field, in garbage, of arrays or objects.
        BadCase{"bomb", std::string(1 << 20, '['), "invalid_field", "",
                "the command is nested deeper than 64 levels"},
        BadCase{"object_bomb", R"({"cmd":)" + Repeat(R"({"a":)", 100000),
                "invalid_field", ""},
        BadCase{"deep_unknown_field",
                R"({"cmd":"send_to_all","message":"m","x":)" +
                    std::string(70, '[') + std::string(70, ']') + "}",
                "invalid_field", ""},
        BadCase{"deep_group_id",
                R"({"cmd":"add_group","group_id":)" + std::string(70, '[') +
                    std::string(70, ']') + "}",
                "invalid_field", ""},
        // Under the frame's bound, a group_id that is an array is still
        // refused for its type.
        BadCase{"shallow_group_id_array",
                R"({"cmd":"add_group","group_id":[[1]]})", "invalid_field",
                ""}),
    [](const auto& info) { return std::string(info.param.name); });

// With application events on (--events), other cmds go to the backend:
// the whole object as sent; the built-ins stay built-in.
TEST(ParseCommandCustomTest, OtherCmdsAreCustomOnlyWithEvents) {
  CommandLimits limits;
  const std::string chat = R"({"cmd":"chat","text":"hi","id":7})";
  EXPECT_FALSE(ParseCommand(chat, limits).ok());
  limits.custom_commands = true;
  absl::StatusOr<Command> c = ParseCommand(chat, limits);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->type, Command::Type::kCustom);
  EXPECT_EQ(c->name, "chat");
  EXPECT_EQ(c->message, chat);
  EXPECT_EQ(c->id_json, "7");
  for (const char* builtin :
       {R"({"cmd":"add_group","group_id":1})", R"({"cmd":"whoami"})",
        R"({"cmd":"send_to_all","message":"m"})"}) {
    ASSERT_TRUE(ParseCommand(builtin, limits).ok());
    EXPECT_NE(ParseCommand(builtin, limits)->type, Command::Type::kCustom);
  }
  const absl::StatusOr<Command> long_name = ParseCommand(
      "{\"cmd\":\"" + std::string(65, 'n') + "\",\"id\":1}", limits);
  ASSERT_FALSE(long_name.ok());
  EXPECT_EQ(CommandErrorCode(long_name.status()), "invalid_field");
  EXPECT_EQ(CommandErrorId(long_name.status()), "1");
  EXPECT_EQ(WhoamiReply("\"w\"", "n-0.1"),
            R"({"id":"w","ok":true,"client":"n-0.1"})");
}

TEST(CommandRepliesTest, AreValidJson) {
  EXPECT_EQ(OkReply("\"a\""), R"({"id":"a","ok":true})");
  EXPECT_EQ(ErrorReply("", "invalid_json", "bad \"x\""),
            R"({"error":{"code":"invalid_json","message":"bad \"x\""}})");
  EXPECT_EQ(ErrorReply("7", "c", "m"),
            R"({"id":7,"error":{"code":"c","message":"m"}})");
}

}  // namespace
}  // namespace channel
