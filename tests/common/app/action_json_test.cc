// ActionJson: the sending side's spelling of actions.
#include "common/app/action_json.h"

#include "gtest/gtest.h"

namespace channel {
namespace {

TEST(ActionJsonTest, BuildsEachActionAndRefusesWhatItCannot) {
  ActionRequest r;
  r.action = "send";
  r.client = "abc-0.12";
  r.message = "hi \"you\"";
  EXPECT_EQ(*ActionJson(r),
            R"({"action":"send","client":"abc-0.12","message":"hi \"you\""})");
  r.message = R"({"x":1})";
  r.message_is_json = true;
  r.reply_to = "app:reply:1";
  r.ref = "7";
  EXPECT_EQ(
      *ActionJson(r),
      R"({"action":"send","client":"abc-0.12","message":{"x":1},"reply_to":"app:reply:1","ref":"7"})");
  r.message = "{not json";
  EXPECT_FALSE(ActionJson(r).ok());
  ActionRequest close;
  close.action = "close";
  close.client = "abc-0.12";
  close.code = 4000;
  close.reason = "bye";
  EXPECT_EQ(
      *ActionJson(close),
      R"({"action":"close","client":"abc-0.12","code":4000,"reason":"bye"})");
  close.client = "no-dot";
  EXPECT_FALSE(ActionJson(close).ok());
  ActionRequest join;
  join.action = "join";
  join.client = "abc-0.12";
  EXPECT_FALSE(ActionJson(join).ok());  // no group
  join.group = "g";
  EXPECT_EQ(*ActionJson(join),
            R"({"action":"join","client":"abc-0.12","group_id":"g"})");
  join.action = "reply";
  EXPECT_FALSE(ActionJson(join).ok());
}

}  // namespace
}  // namespace channel
