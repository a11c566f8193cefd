#include "client/request_tracker.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace channel {
namespace {

// What the callbacks saw, in order.
struct Log {
  std::vector<std::string> lines;
  RequestTracker::Done Done(const std::string& name) {
    return [this, name](const absl::Status& s, uint64_t receivers) {
      lines.push_back(name + " " +
                      std::string(absl::StatusCodeToString(s.code())) + " " +
                      std::to_string(receivers));
    };
  }
  void Quiet(uint64_t tag, const absl::Status& s) {
    lines.push_back("quiet " + std::to_string(tag) + " " +
                    std::string(absl::StatusCodeToString(s.code())));
  }
};

v1::Ack MakeAck(uint64_t id, bool cumulative, uint64_t receivers = 0) {
  v1::Ack ack;
  ack.set_request_id(id);
  ack.set_cumulative(cumulative);
  ack.set_receivers(receivers);
  return ack;
}

TEST(RequestTrackerTest, AnswersEachTrackedRequestOnce) {
  RequestTracker t;
  Log log;
  EXPECT_EQ(t.Track(nullptr), 0u);  // no answer wanted
  const uint64_t a = t.Track(log.Done("a"));
  const uint64_t b = t.Track(log.Done("b"));
  EXPECT_GT(b, a);
  t.OnAck(MakeAck(b, false, 7));
  t.OnAck(MakeAck(b, false, 7));    // late duplicate: ignored
  t.OnAck(MakeAck(999, false, 1));  // unknown: ignored
  auto quiet = [&](uint64_t tag, const absl::Status& s) { log.Quiet(tag, s); };
  EXPECT_TRUE(t.OnError(a, absl::NotFoundError("x"), quiet));
  EXPECT_FALSE(t.OnError(a, absl::NotFoundError("x"), quiet));
  EXPECT_FALSE(t.OnError(0, absl::NotFoundError("x"), quiet));
  EXPECT_EQ(log.lines, (std::vector<std::string>{"b OK 7", "a NOT_FOUND 0"}));
}

TEST(RequestTrackerTest, QuietPublishesConfirmCumulativelyFailSingly) {
  RequestTracker t;
  Log log;
  auto quiet = [&](uint64_t tag, const absl::Status& s) { log.Quiet(tag, s); };
  for (uint64_t tag = 1; tag <= 5; ++tag) t.AddQuiet(t.NextId(), tag * 10);
  EXPECT_EQ(t.unconfirmed(), 5u);
  t.OnAck(MakeAck(2, true));  // confirms ids 1 and 2
  EXPECT_EQ(t.unconfirmed(), 3u);
  EXPECT_TRUE(t.OnError(4, absl::ResourceExhaustedError("x"), quiet));
  EXPECT_FALSE(t.OnError(2, absl::ResourceExhaustedError("x"), quiet));
  t.FailAll(absl::UnavailableError("lost"), quiet);
  EXPECT_EQ(t.unconfirmed(), 0u);
  EXPECT_EQ(log.lines, (std::vector<std::string>{"quiet 40 RESOURCE_EXHAUSTED",
                                                 "quiet 30 UNAVAILABLE",
                                                 "quiet 50 UNAVAILABLE"}));
}

TEST(RequestTrackerTest, PresenceAnsweredByInfoOrError) {
  RequestTracker t;
  std::vector<std::string> got;
  auto presence = [&](const std::string& name) {
    return [&got, name](const absl::Status& s, uint64_t c, uint64_t u) {
      got.push_back(name + " " +
                    std::string(absl::StatusCodeToString(s.code())) + " " +
                    std::to_string(c) + "/" + std::to_string(u));
    };
  };
  const uint64_t p1 = t.NextId();
  t.TrackPresence(p1, presence("p1"));
  const uint64_t p2 = t.NextId();
  t.TrackPresence(p2, presence("p2"));
  const uint64_t p3 = t.NextId();
  t.TrackPresence(p3, presence("p3"));
  v1::PresenceInfo info;
  info.set_request_id(p1);
  info.set_connections(3);
  info.set_users(2);
  t.OnPresenceInfo(info);
  t.OnPresenceInfo(info);  // duplicate: ignored
  EXPECT_TRUE(t.OnError(p2, absl::InvalidArgumentError("bad group"),
                        [](uint64_t, const absl::Status&) {}));
  t.FailAll(absl::UnavailableError("lost"),
            [](uint64_t, const absl::Status&) {});
  EXPECT_EQ(got,
            (std::vector<std::string>{"p1 OK 3/2", "p2 INVALID_ARGUMENT 0/0",
                                      "p3 UNAVAILABLE 0/0"}));
}

// A callback run by FailAll may track a new request: it is not failed by
// the same FailAll.
TEST(RequestTrackerTest, FailAllEmptiesBeforeCallingBack) {
  RequestTracker t;
  Log log;
  uint64_t fresh = 0;
  t.Track([&](const absl::Status&, uint64_t) {
    fresh = t.Track(log.Done("fresh"));
  });
  t.FailAll(absl::UnavailableError("lost"),
            [](uint64_t, const absl::Status&) {});
  EXPECT_NE(fresh, 0u);
  EXPECT_TRUE(log.lines.empty());
  t.OnAck(MakeAck(fresh, false, 1));
  EXPECT_EQ(log.lines, std::vector<std::string>{"fresh OK 1"});
}

}  // namespace
}  // namespace channel
