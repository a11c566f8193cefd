#include "broker/history/history_store.h"

#include <string>
#include <vector>

#include "broker/history/history_replay.h"
#include "gtest/gtest.h"

namespace channel {
namespace {

class HistoryStoreTest : public ::testing::Test {
 protected:
  HistoryStore Make(std::vector<std::string> specs, size_t max_bytes = 1 << 30,
                    uint32_t recover_max = 300) {
    HistoryStoreOptions options;
    options.rules = *HistoryRules::Parse(specs);
    options.max_bytes = max_bytes;
    options.recover_max = recover_max;
    return HistoryStore(std::move(options), [this] { return now_; });
  }
  // Publishes `payload` on `channel`; returns the offset given (0: none).
  static uint64_t Publish(HistoryStore& store, const std::string& channel,
                          const std::string& payload) {
    v1::Event event;
    event.set_channel(channel);
    event.set_payload(payload);
    if (!store.Append(&event)) return 0;
    EXPECT_FALSE(event.epoch().empty());
    return event.offset();
  }
  static std::vector<std::string> Payloads(const HistoryStore::Read& read) {
    std::vector<std::string> out;
    for (const HistoryEntry* e : read.entries) out.push_back(e->payload);
    return out;
  }
  static v1::StreamPosition Since(uint64_t offset, const std::string& epoch) {
    v1::StreamPosition p;
    p.set_offset(offset);
    p.set_epoch(epoch);
    return p;
  }
  std::string EpochOf(HistoryStore& store, const std::string& channel) {
    v1::StreamPosition p;
    EXPECT_TRUE(store.Position(channel, &p));
    return p.epoch();
  }
  int64_t now_ = 1000000;
};

TEST_F(HistoryStoreTest, OnlyHistoryChannelsGetOffsets) {
  HistoryStore store = Make({"room-*:size=3"});
  EXPECT_EQ(Publish(store, "group:lobby", "x"), 0u);
  EXPECT_EQ(Publish(store, "user:room-1", "x"), 0u);
  EXPECT_EQ(Publish(store, "group:room-1", "a"), 1u);
  EXPECT_EQ(Publish(store, "group:room-1", "b"), 2u);
  EXPECT_EQ(Publish(store, "group:room-2", "c"), 1u);  // per channel
  // The broadcast channel: offsets only, nothing kept.
  EXPECT_EQ(Publish(store, "all", "x"), 1u);
  EXPECT_EQ(Publish(store, "all", "y"), 2u);
  EXPECT_EQ(store.entry_count(), 3u);
  EXPECT_NE(EpochOf(store, "group:room-1"), EpochOf(store, "group:room-2"));
}

TEST_F(HistoryStoreTest, PositionsBeforeTheFirstEventCreateNothing) {
  HistoryStore store = Make({"r*:size=10"});
  v1::StreamPosition p;
  ASSERT_TRUE(store.Position("group:r", &p));
  EXPECT_EQ(p.offset(), 0u);
  EXPECT_EQ(store.stream_count(), 0u);
  const std::string start = p.epoch();
  EXPECT_TRUE(store.Recover("group:r", Since(0, start))->position.recovered());
  EXPECT_EQ(store.stream_count(), 0u);
  for (int i = 1; i <= 3; ++i) Publish(store, "group:r", std::to_string(i));
  // "Nothing yet" resumes from the stream's first event...
  auto read = store.Recover("group:r", Since(0, start));
  EXPECT_TRUE(read->position.recovered());
  EXPECT_EQ(Payloads(*read), (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_NE(read->position.epoch(), start);
  // ...of this store only: another store (a restart) says not recovered.
  HistoryStore restarted = Make({"r*:size=10"});
  EXPECT_FALSE(
      restarted.Recover("group:r", Since(0, start))->position.recovered());
  // Once the first events are gone, "from the start" is not possible.
  for (int i = 4; i <= 20; ++i) Publish(store, "group:r", std::to_string(i));
  EXPECT_FALSE(store.Recover("group:r", Since(0, start))->position.recovered());
}

TEST_F(HistoryStoreTest, KeepsTheLastSizeOffsetsStayContiguousAcrossWrap) {
  HistoryStore store = Make({"r*:size=3"});
  for (int i = 1; i <= 10; ++i) {
    EXPECT_EQ(Publish(store, "group:r", "m" + std::to_string(i)),
              static_cast<uint64_t>(i));
  }
  auto read = store.Last("group:r", 100, 0);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(Payloads(*read), (std::vector<std::string>{"m8", "m9", "m10"}));
  EXPECT_EQ(read->entries.front()->offset, 8u);
  EXPECT_EQ(read->position.offset(), 10u);
  EXPECT_EQ(store.entry_count(), 3u);
}

TEST_F(HistoryStoreTest, RecoverGivesExactlyWhatFollowsSince) {
  HistoryStore store = Make({"r*:size=100"});
  for (int i = 1; i <= 60; ++i) Publish(store, "group:r", std::to_string(i));
  const std::string epoch = EpochOf(store, "group:r");
  auto read = store.Recover("group:r", Since(10, epoch));
  ASSERT_TRUE(read.ok());
  EXPECT_TRUE(read->position.recovered());
  ASSERT_EQ(read->entries.size(), 50u);
  for (size_t i = 0; i < 50; ++i) EXPECT_EQ(read->entries[i]->offset, 11 + i);
  EXPECT_EQ(read->position.offset(), 60u);
  // Up to date: recovered, nothing to send.
  read = store.Recover("group:r", Since(60, epoch));
  EXPECT_TRUE(read->position.recovered());
  EXPECT_TRUE(read->entries.empty());
}

struct NotRecoveredCase {
  const char* name;
  uint64_t since;
  bool same_epoch;
};

class NotRecoveredTest
    : public HistoryStoreTest,
      public ::testing::WithParamInterface<NotRecoveredCase> {};

TEST_P(NotRecoveredTest, IsToldNeverPartial) {
  HistoryStore store = Make({"r*:size=20"}, 1 << 30, /*recover_max=*/10);
  for (int i = 1; i <= 40; ++i) Publish(store, "group:r", std::to_string(i));
  const std::string epoch =
      GetParam().same_epoch ? EpochOf(store, "group:r") : "another";
  auto read = store.Recover("group:r", Since(GetParam().since, epoch));
  ASSERT_TRUE(read.ok());
  EXPECT_FALSE(read->position.recovered());
  EXPECT_TRUE(read->entries.empty());
  EXPECT_EQ(read->position.offset(), 40u);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, NotRecoveredTest,
    ::testing::Values(NotRecoveredCase{"other_epoch", 35, false},
                      NotRecoveredCase{"beyond_recover_max", 25, true},
                      NotRecoveredCase{"no_longer_kept", 5, true},
                      NotRecoveredCase{"far_in_the_past", 0, true},
                      NotRecoveredCase{"in_the_future", 41, true},
                      NotRecoveredCase{"huge", UINT64_MAX, true}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(HistoryStoreTest, TtlExpiresEventsButKeepsTheStream) {
  HistoryStore store = Make({"r*:size=100,ttl=10s"});
  Publish(store, "group:r", "old");
  now_ += 6000;
  Publish(store, "group:r", "new");
  now_ += 5000;  // "old" is 11 s old
  store.Tick();
  auto read = store.Last("group:r", 10, 0);
  EXPECT_EQ(Payloads(*read), (std::vector<std::string>{"new"}));
  const std::string epoch = read->position.epoch();
  // Since 0 needs "old", which expired: not recovered; since 1 is fine.
  EXPECT_FALSE(store.Recover("group:r", Since(0, epoch))->position.recovered());
  EXPECT_TRUE(store.Recover("group:r", Since(1, epoch))->position.recovered());
  now_ += 10000;
  // Expired between ticks: never returned, the offsets go on.
  EXPECT_TRUE(store.Last("group:r", 10, 0)->entries.empty());
  EXPECT_EQ(Publish(store, "group:r", "next"), 3u);
  EXPECT_EQ(EpochOf(store, "group:r"), epoch);
  EXPECT_GE(store.stats().expired, 2u);
}

TEST_F(HistoryStoreTest, ByteBoundDropsTheOldestFirstAcrossChannels) {
  const std::string big(10000, 'x');
  HistoryStore store = Make({"*:size=1000"}, /*max_bytes=*/100000);
  for (int i = 0; i < 30; ++i) {
    Publish(store, "group:" + std::to_string(i % 3), big);
  }
  EXPECT_LE(store.bytes(), 100000u);
  EXPECT_GT(store.stats().evicted, 0u);
  // What is left is the newest, and each stream's kept events are still
  // contiguous up to its top.
  for (int c = 0; c < 3; ++c) {
    auto read = store.Last("group:" + std::to_string(c), 1000, 0);
    ASSERT_FALSE(read->entries.empty());
    EXPECT_EQ(read->entries.back()->offset, 10u);
  }
}

TEST_F(HistoryStoreTest, HundredThousandStreamsStayWithinTheBound) {
  HistoryStore store = Make({"*:size=10"}, /*max_bytes=*/4 << 20);
  for (int i = 0; i < 100000; ++i) {
    Publish(store, "group:g" + std::to_string(i), "hello");
  }
  EXPECT_LE(store.bytes(), 4u << 20);
  EXPECT_GT(store.stats().streams_evicted, 0u);
  // An evicted stream starts again with a new epoch: its old clients are
  // told (not recovered), never given offsets from another epoch.
  EXPECT_EQ(Publish(store, "group:g0", "again"), 1u);
}

TEST_F(HistoryStoreTest, LastPagesBackwardsAndBoundsTheLimit) {
  HistoryStore store = Make({"r*:size=1000"}, 1 << 30, /*recover_max=*/5);
  for (int i = 1; i <= 20; ++i) Publish(store, "group:r", std::to_string(i));
  auto read = store.Last("group:r", 1000000000, 0);  // capped at 5
  EXPECT_EQ(Payloads(*read),
            (std::vector<std::string>{"16", "17", "18", "19", "20"}));
  read = store.Last("group:r", 3, 16);
  EXPECT_EQ(Payloads(*read), (std::vector<std::string>{"13", "14", "15"}));
  read = store.Last("group:r", 3, 2);
  EXPECT_EQ(Payloads(*read), (std::vector<std::string>{"1"}));
  read = store.Last("group:r", 3, 1);
  EXPECT_TRUE(read->entries.empty());
  // A read of a channel that never had an event creates nothing.
  const size_t streams = store.stream_count();
  EXPECT_TRUE(store.Last("group:rnever", 3, 0)->entries.empty());
  EXPECT_EQ(store.stream_count(), streams);
  EXPECT_TRUE(
      absl::IsFailedPrecondition(store.Last("group:lobby", 3, 0).status()));
}

TEST_F(HistoryStoreTest, RepliesStayWithinTheirByteBound) {
  HistoryStoreOptions options;
  options.rules = *HistoryRules::Parse({"r*:size=100"});
  options.max_reply_bytes = 25000;
  HistoryStore store(std::move(options), [this] { return now_; });
  for (int i = 0; i < 10; ++i)
    Publish(store, "group:r", std::string(10000, 'x'));
  auto read = store.Last("group:r", 10, 0);
  EXPECT_EQ(read->entries.size(), 2u);  // the newest two
  EXPECT_TRUE(read->truncated);
  EXPECT_EQ(read->entries.back()->offset, 10u);
  // A recovery that would not fit is refused whole.
  auto recover = store.Recover("group:r", Since(5, EpochOf(store, "group:r")));
  EXPECT_FALSE(recover->position.recovered());
  EXPECT_TRUE(recover->entries.empty());
  // A client may ask for less, never for more.
  read = store.Last("group:r", 10, 0, /*max_bytes=*/15000);
  EXPECT_EQ(read->entries.size(), 1u);
  read = store.Last("group:r", 10, 0, /*max_bytes=*/1 << 30);
  EXPECT_EQ(read->entries.size(), 2u);
  EXPECT_TRUE(
      store.Recover("group:r", Since(9, EpochOf(store, "group:r")), 15000)
          ->position.recovered());
  EXPECT_FALSE(
      store.Recover("group:r", Since(8, EpochOf(store, "group:r")), 15000)
          ->position.recovered());
}

TEST_F(HistoryStoreTest, LatestValue) {
  HistoryStore store = Make({"ticker-*:size=1"});
  for (int i = 1; i <= 5; ++i) {
    Publish(store, "group:ticker-eur", "price " + std::to_string(i));
  }
  auto read = store.Last("group:ticker-eur", 1, 0);
  EXPECT_EQ(Payloads(*read), (std::vector<std::string>{"price 5"}));
}

TEST_F(HistoryStoreTest, ReadHistoryValidatesTheQuery) {
  HistoryStore store = Make({"r*:size=10"});
  v1::HistoryQuery query;
  v1::HistoryReply reply;
  EXPECT_TRUE(absl::IsInvalidArgument(ReadHistory(&store, query, 256, &reply)));
  query.set_channel(std::string(300, 'r'));
  EXPECT_TRUE(absl::IsInvalidArgument(ReadHistory(&store, query, 256, &reply)));
  query.set_channel("group:lobby");
  EXPECT_TRUE(
      absl::IsFailedPrecondition(ReadHistory(&store, query, 256, &reply)));
  EXPECT_TRUE(
      absl::IsFailedPrecondition(ReadHistory(nullptr, query, 256, &reply)));
  Publish(store, "group:r1", "a");
  query.set_channel("group:r1");
  query.set_limit(10);
  ASSERT_TRUE(ReadHistory(&store, query, 256, &reply).ok());
  ASSERT_EQ(reply.events_size(), 1);
  EXPECT_EQ(reply.events(0).channel(), "group:r1");
  EXPECT_EQ(reply.events(0).offset(), 1u);
  EXPECT_EQ(reply.events(0).epoch(), reply.position().epoch());
}

}  // namespace
}  // namespace channel
