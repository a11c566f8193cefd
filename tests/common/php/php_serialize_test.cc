// The PHP serialize() codec: what PHP 8.2's serialize() emits parses, what
// the strict parser refuses is refused with a reason, and the encoders
// write what PHP would. tests/php/ checks the same against real php-cli.
#include "common/php/php_serialize.h"

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace channel {
namespace {

struct GoodCase {
  const char* name;
  std::string text;
  PhpValue::Kind kind;
};

class PhpParseGoodTest : public ::testing::TestWithParam<GoodCase> {};

TEST_P(PhpParseGoodTest, Parses) {
  absl::StatusOr<PhpValue> v = ParsePhp(GetParam().text, PhpLimits{});
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->kind, GetParam().kind);
  std::string text = GetParam().text;
  if (!text.empty() && text.back() == '\n') text.pop_back();
  EXPECT_EQ(v->raw, text);
}

INSTANTIATE_TEST_SUITE_P(
    Values, PhpParseGoodTest,
    ::testing::Values(
        GoodCase{"null", "N;", PhpValue::Kind::kNull},
        GoodCase{"true", "b:1;", PhpValue::Kind::kBool},
        GoodCase{"int", "i:-42;", PhpValue::Kind::kInt},
        GoodCase{"int_max", "i:9223372036854775807;", PhpValue::Kind::kInt},
        GoodCase{"double", "d:0.1;", PhpValue::Kind::kDouble},
        GoodCase{"double_exp", "d:1.0E+25;", PhpValue::Kind::kDouble},
        GoodCase{"inf", "d:-INF;", PhpValue::Kind::kDouble},
        GoodCase{"string", "s:5:\"a\"b;c\";", PhpValue::Kind::kString},
        GoodCase{"binary", std::string("s:3:\"\0\xff\n\";", 10),
                 PhpValue::Kind::kString},
        GoodCase{"empty_array", "a:0:{}", PhpValue::Kind::kArray},
        GoodCase{"seed_subscribe",
                 "a:2:{s:4:\"type\";s:9:\"subscribe\";s:8:\"channels\";a:1:{"
                 "i:0;s:13:\"send_to_group\";}}",
                 PhpValue::Kind::kArray},
        GoodCase{"trailing_newline", "a:1:{i:0;N;}\n", PhpValue::Kind::kArray}),
    [](const auto& info) { return std::string(info.param.name); });

struct BadCase {
  const char* name;
  std::string text;
  const char* error_part;
};

class PhpParseBadTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(PhpParseBadTest, RefusedWithReason) {
  PhpLimits limits;
  limits.max_depth = 4;
  limits.max_elements = 8;
  absl::StatusOr<PhpValue> v = ParsePhp(GetParam().text, limits);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(v.status().message(), GetParam().error_part))
      << v.status();
}

INSTANTIATE_TEST_SUITE_P(
    Values, PhpParseBadTest,
    ::testing::Values(
        BadCase{"empty", "", "truncated"},
        BadCase{"object", "O:8:\"stdClass\":0:{}", "objects are refused"},
        BadCase{"custom", "C:3:\"Foo\":0:{}", "objects are refused"},
        BadCase{"reference", "a:2:{i:0;i:1;i:1;R:2;}", "references"},
        BadCase{"ref_lower", "a:1:{i:0;r:1;}", "references"},
        BadCase{"enum", "E:7:\"Foo:Bar\";", "unsupported type"},
        BadCase{"escaped", "S:1:\"\\61\";", "unsupported type"},
        BadCase{"string_too_long", "s:100:\"ab\";", "beyond the input"},
        BadCase{"string_no_quote", "s:2:xab\";", "expected '\"'"},
        BadCase{"huge_length", "s:99999999999999999999:\"\";", "length"},
        BadCase{"leading_zero", "s:01:\"a\";", "bad length"},
        BadCase{"array_count_lies", "a:1000000:{}", "count beyond the input"},
        BadCase{"too_deep",
                "a:1:{i:0;a:1:{i:0;a:1:{i:0;a:1:{i:0;a:1:{i:0;N;}}}}}",
                "nested too deep"},
        BadCase{"too_many",
                "a:9:{i:0;N;i:1;N;i:2;N;i:3;N;i:4;N;i:5;N;i:6;N;i:7;N;i:8;N;}",
                "too many array elements"},
        BadCase{"array_key", "a:1:{a:0:{}N;}", "array key"},
        BadCase{"bad_int", "i:1x;", "bad integer"},
        BadCase{"int_overflow", "i:9223372036854775808;", "out of range"},
        BadCase{"bad_bool", "b:2;", "bad boolean"},
        BadCase{"bad_double", "d:1;2;", "trailing"},
        BadCase{"trailing", "N;N;", "trailing bytes"},
        BadCase{"two_newlines", "N;\n\n", "trailing bytes"},
        BadCase{"unterminated", "i:12345", "unterminated"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(PhpValueTest, FindAcceptsIntegerAndStringKeysAlike) {
  absl::StatusOr<PhpValue> parsed = ParsePhp(
      "a:3:{i:123;s:1:\"a\";s:1:\"x\";i:5;s:2:\"07\";N;}", PhpLimits{});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const PhpValue& v = *parsed;
  ASSERT_NE(v.Find("123"), nullptr);
  EXPECT_EQ(v.Find("123")->str, "a");
  EXPECT_EQ(v.Find("x")->integer, 5);
  EXPECT_NE(v.Find("07"), nullptr);
  EXPECT_EQ(v.Find("7"), nullptr);
  std::string key;
  ASSERT_TRUE(v.items[0].first.AsKeyText(&key));
  EXPECT_EQ(key, "123");
}

TEST(PhpEncodeTest, StringsAndKeysAsPhpWritesThem) {
  struct Case {
    std::string key;
    std::string expected;
  } cases[] = {
      {"123", "i:123;"},
      {"0", "i:0;"},
      {"-5", "i:-5;"},
      {"007", "s:3:\"007\";"},
      {"-0", "s:2:\"-0\";"},
      {"abc", "s:3:\"abc\";"},
      {"99999999999999999999", "s:20:\"99999999999999999999\";"},
  };
  for (const auto& c : cases) {
    std::string out;
    AppendPhpKey(c.key, &out);
    EXPECT_EQ(out, c.expected) << c.key;
  }
  std::string s;
  AppendPhpString("Esta é", &s);
  EXPECT_EQ(s, "s:7:\"Esta é\";");
}

TEST(PhpJsonTest, AsJsonEncodeWouldWriteIt) {
  struct Case {
    std::string php;
    std::string json;
  } cases[] = {
      {"N;", "null"},
      {"b:0;", "false"},
      {"i:7;", "7"},
      {"d:0.5;", "0.5"},
      {"d:NAN;", "null"},
      {"s:2:\"hi\";", "\"hi\""},
      {"s:1:\"\xff\";", "\"\xEF\xBF\xBD\""},
      {"a:2:{i:0;i:1;i:1;i:2;}", "[1,2]"},
      {"a:2:{i:1;i:1;i:0;i:2;}", "{\"1\":1,\"0\":2}"},
      {"a:1:{s:1:\"k\";a:0:{}}", "{\"k\":[]}"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<PhpValue> v = ParsePhp(c.php, PhpLimits{});
    ASSERT_TRUE(v.ok()) << c.php << v.status();
    EXPECT_EQ(PhpToJson(*v), c.json) << c.php;
  }
}

}  // namespace
}  // namespace channel
