#include "gateway/presence/member_mirror.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace channel {
namespace {

v1::Metadata Meta(const char* codec, const std::string& user = "",
                  const std::string& key = "") {
  v1::Metadata meta;
  meta.set_payload_codec(codec);
  meta.set_sender(user);
  meta.set_key(key);
  return meta;
}

std::vector<std::string> Told(const std::vector<MemberMirror::Tell>& tells) {
  std::vector<std::string> out;
  for (const auto& t : tells) out.push_back(t.user + " " + t.json);
  return out;
}

TEST(MemberMirrorTest, AChangeIsToldOnceAndAListAsItsDifferences) {
  MemberMirror mirror;
  std::vector<MemberMirror::Tell> tells;
  // Events before the group's list: not for anyone here.
  const std::string added_b = MemberEventJson(true, "g", "b", R"({"n":2})");
  ASSERT_TRUE(
      mirror.OnEvent("g", Meta(kMemberAddedCodec, "b"), added_b, &tells));
  EXPECT_EQ(mirror.Find("g"), nullptr);
  // The first list: loaded, nobody told.
  ASSERT_TRUE(mirror.OnEvent("g", Meta(kMembersCodec),
                             MemberListJson({{"a", "{}"}}), &tells));
  EXPECT_TRUE(tells.empty());
  ASSERT_NE(mirror.Find("g"), nullptr);
  // An arrival, told as it came; twice: once.
  ASSERT_TRUE(
      mirror.OnEvent("g", Meta(kMemberAddedCodec, "b"), added_b, &tells));
  ASSERT_TRUE(
      mirror.OnEvent("g", Meta(kMemberAddedCodec, "b"), added_b, &tells));
  EXPECT_EQ(Told(tells), std::vector<std::string>{"b " + added_b});
  EXPECT_EQ(mirror.Find("g")->at("b"), R"({"n":2})");
  tells.clear();
  // A departure of someone not listed: nothing.
  ASSERT_TRUE(mirror.OnEvent("g", Meta(kMemberRemovedCodec, "zed"),
                             MemberEventJson(false, "g", "zed", ""), &tells));
  EXPECT_TRUE(tells.empty());
  // A partial list (restart grace) changes nothing.
  ASSERT_TRUE(mirror.OnEvent("g", Meta(kMembersCodec, "", "partial"),
                             MemberListJson({}), &tells));
  EXPECT_TRUE(tells.empty());
  EXPECT_EQ(mirror.Find("g")->size(), 2u);
  // A whole list: its differences (a gone, c new), nothing about b.
  ASSERT_TRUE(mirror.OnEvent("g", Meta(kMembersCodec),
                             MemberListJson({{"b", R"({"n":2})"}, {"c", "{}"}}),
                             &tells));
  EXPECT_EQ(Told(tells), (std::vector<std::string>{
                             "a " + MemberEventJson(false, "g", "a", "{}"),
                             "c " + MemberEventJson(true, "g", "c", "{}")}));
  // Malformed events are refused, the copy unchanged.
  tells.clear();
  EXPECT_FALSE(mirror.OnEvent("g", Meta(kMembersCodec), "[{", &tells));
  EXPECT_FALSE(
      mirror.OnEvent("g", Meta(kMemberAddedCodec, "d"), "not json", &tells));
  EXPECT_EQ(mirror.Find("g")->size(), 2u);
  mirror.Drop("g");
  EXPECT_EQ(mirror.group_count(), 0u);
}

}  // namespace
}  // namespace channel
