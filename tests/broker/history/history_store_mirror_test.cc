// HistoryStore in mirror mode (a cluster: offsets are a JetStream stream's
// sequence, shared by every channel of a rule, with holes per channel):
// which recoveries are exact, and which must say recovered:false.
#include <string>
#include <vector>

#include "broker/history/history_store.h"
#include "gtest/gtest.h"

namespace channel {
namespace {

constexpr const char* kEpoch = "e1";

class HistoryMirrorTest : public ::testing::Test {
 protected:
  HistoryStore Make(const std::string& spec, size_t max_bytes = 1 << 30) {
    HistoryStoreOptions options;
    options.rules = *HistoryRules::Parse({spec});
    options.max_bytes = max_bytes;
    options.mirror = true;
    options.broadcast_offsets = false;
    return HistoryStore(std::move(options), [this] { return now_; });
  }
  // The feed brings event `seq` of `channel`.
  bool Feed(HistoryStore& store, const std::string& channel, uint64_t seq,
            const std::string& epoch = kEpoch) {
    v1::Event e;
    e.set_channel(channel);
    e.set_payload(PayloadOf(seq));
    e.set_offset(seq);
    e.set_epoch(epoch);
    return store.AppendAt(e, now_);
  }
  static std::string PayloadOf(uint64_t seq) {
    return "m" + std::to_string(seq);
  }
  static v1::StreamPosition Since(uint64_t offset,
                                  const std::string& epoch = kEpoch) {
    v1::StreamPosition p;
    p.set_offset(offset);
    p.set_epoch(epoch);
    return p;
  }
  static std::vector<uint64_t> Offsets(const HistoryStore::Read& read) {
    std::vector<uint64_t> out;
    for (const HistoryEntry* e : read.entries) out.push_back(e->offset);
    return out;
  }
  int64_t now_ = 1000000;
};

TEST_F(HistoryMirrorTest, NothingIsSequencedHere) {
  HistoryStore store = Make("room-*:size=10");
  v1::Event e;
  e.set_channel("group:room-1");
  EXPECT_FALSE(store.Append(&e));                // only the feed gives offsets
  EXPECT_FALSE(Feed(store, "group:room-1", 5));  // not begun: no epoch
  store.BeginMirror(0, kEpoch, 0);
  EXPECT_TRUE(Feed(store, "group:room-1", 5));
  EXPECT_FALSE(Feed(store, "group:room-1", 5));        // not newer
  EXPECT_FALSE(Feed(store, "group:room-2", 4));        // older than applied
  EXPECT_FALSE(Feed(store, "group:room-2", 9, "e2"));  // another epoch
  EXPECT_FALSE(Feed(store, "group:lobby", 10));        // no rule
  EXPECT_EQ(store.applied(0), 5u);
}

struct RecoverCase {
  const char* name;
  uint64_t since;
  const char* epoch;
  bool recovered;
  std::vector<uint64_t> events;
};

// The stream began here at offset 100 (its kept past, up to 100, is
// loaded: channel A's 90 and 95), then live: A at 103, 107, 110; B at 104.
TEST_F(HistoryMirrorTest, RecoveriesAreExactOrRefused) {
  const std::vector<RecoverCase> cases = {
      {"from the last loaded", 95, kEpoch, true, {103, 107, 110}},
      {"from the first loaded", 90, kEpoch, true, {95, 103, 107, 110}},
      // Before its first loaded event: older ones may have been trimmed.
      {"before the loaded past", 80, kEpoch, false, {}},
      {"from 0", 0, kEpoch, false, {}},
      {"between two of its events", 105, kEpoch, true, {107, 110}},
      {"at the top", 110, kEpoch, true, {}},
      // Ahead of what this broker applied (another one's feed is ahead):
      // what follows arrives live here.
      {"ahead", 120, kEpoch, true, {}},
      {"another epoch", 103, "old", false, {}},
  };
  for (const RecoverCase& c : cases) {
    HistoryStore store = Make("room-*:size=10");
    store.BeginMirror(0, kEpoch, 100);
    for (uint64_t seq : {90, 95}) Feed(store, "group:room-a", seq);
    for (uint64_t seq : {103, 107, 110}) Feed(store, "group:room-a", seq);
    Feed(store, "group:room-b", 104);
    auto read = store.Recover("group:room-a", Since(c.since, c.epoch));
    ASSERT_TRUE(read.ok()) << c.name;
    EXPECT_EQ(read->position.recovered(), c.recovered) << c.name;
    EXPECT_EQ(Offsets(*read), c.events) << c.name;
  }
}

TEST_F(HistoryMirrorTest, ChannelsWithoutEventsRecoverFromWhereTheStreamBegan) {
  HistoryStore store = Make("room-*:size=10");
  store.BeginMirror(0, kEpoch, 100);
  Feed(store, "group:room-a", 103);
  // A joiner of room-b now is told the rule's applied offset...
  v1::StreamPosition p;
  ASSERT_TRUE(store.Position("group:room-b", &p));
  EXPECT_EQ(p.offset(), 103u);
  EXPECT_EQ(p.epoch(), kEpoch);
  // ...from which its first event is recovered.
  Feed(store, "group:room-b", 108);
  auto read = store.Recover("group:room-b", Since(103));
  ASSERT_TRUE(read.ok());
  EXPECT_TRUE(read->position.recovered());
  EXPECT_EQ(Offsets(*read), (std::vector<uint64_t>{108}));
  // Before the stream began here, room-c may have had events (expired
  // before this broker began): not recoverable; after it, exactly.
  EXPECT_FALSE(store.Recover("group:room-c", Since(99))->position.recovered());
  EXPECT_TRUE(store.Recover("group:room-c", Since(100))->position.recovered());
}

TEST_F(HistoryMirrorTest, SizeAndByteBoundRaiseTheFloor) {
  HistoryStore store = Make("room-*:size=2");
  store.BeginMirror(0, kEpoch, 0);
  for (uint64_t seq : {1, 5, 9}) Feed(store, "group:room-a", seq);
  // Size 2 keeps 5 and 9 and pushed 1 out: from 1 or later exact; from
  // before 1 not (whether the client saw 1 is unknown).
  EXPECT_TRUE(store.Recover("group:room-a", Since(5))->position.recovered());
  EXPECT_TRUE(store.Recover("group:room-a", Since(1))->position.recovered());
  EXPECT_FALSE(store.Recover("group:room-a", Since(0))->position.recovered());

  // A stream dropped for the byte bound takes its knowledge with it: a
  // channel without a stream then recovers only from past its top.
  HistoryStore tight = Make("room-*:size=100", 1);
  tight.BeginMirror(0, kEpoch, 0);
  Feed(tight, "group:room-a", 7);
  EXPECT_EQ(tight.stream_count(), 0u);
  EXPECT_FALSE(tight.Recover("group:room-a", Since(3))->position.recovered());
  EXPECT_TRUE(tight.Recover("group:room-a", Since(7))->position.recovered());
}

TEST_F(HistoryMirrorTest, ANewEpochStartsTheRuleOver) {
  HistoryStore store = Make("room-*:size=10");
  store.BeginMirror(0, kEpoch, 0);
  Feed(store, "group:room-a", 3);
  store.BeginMirror(0, "e2", 0);  // the stream was made again
  EXPECT_EQ(store.stream_count(), 0u);
  EXPECT_EQ(store.entry_count(), 0u);
  EXPECT_FALSE(store.Recover("group:room-a", Since(3))->position.recovered());
  EXPECT_TRUE(Feed(store, "group:room-a", 1, "e2"));
  auto read = store.Recover("group:room-a", Since(0, "e2"));
  EXPECT_TRUE(read->position.recovered());
  EXPECT_EQ(Offsets(*read), (std::vector<uint64_t>{1}));
}

TEST_F(HistoryMirrorTest, ReadsPageBackOverHoles) {
  HistoryStore store = Make("room-*:size=10");
  store.BeginMirror(0, kEpoch, 0);
  for (uint64_t seq : {2, 4, 8, 16, 32}) Feed(store, "group:room-a", seq);
  auto last = store.Last("group:room-a", 2, 0);
  EXPECT_EQ(Offsets(*last), (std::vector<uint64_t>{16, 32}));
  auto before = store.Last("group:room-a", 2, 16);
  EXPECT_EQ(Offsets(*before), (std::vector<uint64_t>{4, 8}));
  auto between = store.Last("group:room-a", 10, 5);
  EXPECT_EQ(Offsets(*between), (std::vector<uint64_t>{2, 4}));
}

TEST_F(HistoryMirrorTest, AnOverrunRefusesRecoveriesFromBeforeIt) {
  HistoryStore store = Make("room-*:size=10");
  store.BeginMirror(0, kEpoch, 0);
  for (uint64_t seq : {1, 2, 3}) Feed(store, "group:room-a", seq);
  // The feed lagged at offset 40: events of any channel before it may
  // have been dropped by JetStream unseen.
  Feed(store, "group:room-a", 40);
  store.Overrun(0, 40);
  EXPECT_FALSE(store.Recover("group:room-a", Since(2))->position.recovered());
  EXPECT_FALSE(store.Recover("group:room-b", Since(30))->position.recovered());
  EXPECT_TRUE(store.Recover("group:room-a", Since(40))->position.recovered());
  EXPECT_TRUE(store.Recover("group:room-b", Since(40))->position.recovered());
  // Reads still show what was kept.
  EXPECT_EQ(Offsets(*store.Last("group:room-a", 10, 0)),
            (std::vector<uint64_t>{1, 2, 3, 40}));
}

}  // namespace
}  // namespace channel
