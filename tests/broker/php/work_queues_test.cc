// WorkQueues: every bound, and the byte accounting against what the items
// really cost on the heap (issue 19 item 10: "N;" counted 2 bytes and cost
// ~33, so the 64 MiB bound let the broker grow to ~1 GiB).
#include "broker/php/work_queues.h"

#include <malloc.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// The sanitizers' allocator statistics (their runtimes define it; GCC ships
// no header for it).
extern "C" size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace channel {
namespace {

// Bytes the process's heap has handed out and not taken back.
size_t HeapInUse() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return __sanitizer_get_current_allocated_bytes();
#else
  return mallinfo2().uordblks;
#endif
}

using Result = WorkQueues::EnqueueResult;

struct BoundCase {
  const char* name;
  WorkQueues::Limits limits;
  int queues;  // items go round-robin over this many queues
  size_t item_bytes;
  int attempts;
  int accepted;  // then every further one is refused with:
  Result refusal;
};

class WorkQueuesBoundTest : public ::testing::TestWithParam<BoundCase> {};

TEST_P(WorkQueuesBoundTest, AcceptsUpToTheBoundThenRefuses) {
  const BoundCase& c = GetParam();
  WorkQueues queues(c.limits);
  const std::string item(c.item_bytes, 'x');
  int accepted = 0;
  for (int i = 0; i < c.attempts; ++i) {
    const Result r = queues.Enqueue(absl::StrCat("q", i % c.queues), item);
    if (r == Result::kQueued) {
      ++accepted;
      continue;
    }
    EXPECT_EQ(r, c.refusal) << "attempt " << i;
  }
  EXPECT_EQ(accepted, c.accepted);
  EXPECT_EQ(queues.item_count(), static_cast<size_t>(c.accepted));
  // Names "q0".."q4": two bytes each.
  EXPECT_EQ(queues.bytes(),
            c.accepted * WorkQueues::ItemCost(c.item_bytes) +
                queues.queue_count() * WorkQueues::QueueCost(2));
  EXPECT_LE(queues.bytes(), c.limits.max_bytes);
}

WorkQueues::Limits L(size_t per_queue, size_t queues, size_t bytes,
                     size_t items) {
  return WorkQueues::Limits{per_queue, queues, bytes, items};
}

INSTANTIATE_TEST_SUITE_P(
    Cases, WorkQueuesBoundTest,
    ::testing::Values(
        BoundCase{"items_per_queue", L(10, 100, 1 << 20, 1000), 1, 2, 20, 10,
                  Result::kQueueFull},
        BoundCase{"items_in_all", L(1000, 100, 1 << 20, 25), 5, 2, 40, 25,
                  Result::kTooManyItems},
        BoundCase{"queues", L(1000, 3, 1 << 20, 1000), 5, 2, 5, 3,
                  Result::kTooManyQueues},
        // A two-byte "N;" costs its bookkeeping: 4000 bytes (besides the
        // queue's own cost) hold 100.
        BoundCase{"tiny_items_cost_their_slot",
                  L(100000, 10, WorkQueues::QueueCost(2) + 4000, 100000), 1, 2,
                  1000, 100, Result::kNoMemory},
        BoundCase{"large_items",
                  L(1000, 10, WorkQueues::QueueCost(2) + 10 * 1100, 1000), 1,
                  1000, 20, 10, Result::kNoMemory}),
    [](const auto& info) { return std::string(info.param.name); });

// Consumed items give their cost back exactly.
class Sink : public WorkQueues::Consumer {
 public:
  bool SendQueueItem(absl::string_view, absl::string_view) override {
    ++got;
    return true;
  }
  int got = 0;
};

TEST(WorkQueuesTest, DispatchGivesTheCostBack) {
  WorkQueues queues(L(1000, 10, 1 << 20, 1000));
  for (size_t n : {0, 2, 15, 16, 100, 5000}) {
    ASSERT_EQ(queues.Enqueue("q", std::string(n, 'x')), Result::kQueued);
  }
  EXPECT_GT(queues.bytes(), 5000u);
  Sink sink;
  queues.Watch(&sink, "q");
  for (int i = 0; i < 6; ++i) queues.Reserve(&sink);
  EXPECT_EQ(sink.got, 6);
  // The watched queue stays, and so does its own cost.
  EXPECT_EQ(queues.bytes(), WorkQueues::QueueCost(1));
  EXPECT_EQ(queues.item_count(), 0u);
  queues.RemoveAll(&sink);
  EXPECT_EQ(queues.bytes(), 0u);
}

// The accounting is an upper bound of what the heap really holds for the
// items, and not a loose one: held within [50 %, 100 %] of it, for tiny
// items (the attack's "N;") and for texts on the heap.
TEST(WorkQueuesTest, CountedBytesMatchTheHeap) {
  for (size_t n : {2, 40, 300}) {
    auto queues =
        std::make_unique<WorkQueues>(L(1000000, 10, 1 << 30, 1000000));
    const std::string item(n, 'x');
    const size_t before = HeapInUse();
    for (int i = 0; i < 200000; ++i) {
      ASSERT_EQ(queues->Enqueue("q", item), Result::kQueued);
    }
    const double grown = static_cast<double>(HeapInUse() - before);
    const double counted = static_cast<double>(queues->bytes());
    EXPECT_LE(grown, counted) << n << "-byte items";
    EXPECT_GE(grown, counted * 0.5) << n << "-byte items";
  }
}

// A queue costs more than its items: a map slot and two deques, each with
// a map and a block even when empty. Many queues of one tiny item each
// (what `enqueue` to distinct names makes) are counted at that cost too,
// and so are queues that only have watchers.
TEST(WorkQueuesTest, ManyQueuesAreCountedAtWhatTheyCost) {
  auto queues =
      std::make_unique<WorkQueues>(L(1000000, 100000, 1 << 30, 1000000));
  std::vector<std::string> names;
  for (int i = 0; i < 5000; ++i) names.push_back("queue-" + std::to_string(i));
  const size_t before = HeapInUse();
  for (const std::string& name : names) {
    ASSERT_EQ(queues->Enqueue(name, "N;"), Result::kQueued);
  }
  const double grown = static_cast<double>(HeapInUse() - before);
  const double counted = static_cast<double>(queues->bytes());
  EXPECT_LE(grown, counted);
  EXPECT_GE(grown, counted * 0.5);
  // Watching creates a queue; unwatching the last one gives its cost back.
  Sink sink;
  const size_t held = queues->bytes();
  queues->Watch(&sink, "watched-only");
  EXPECT_EQ(queues->bytes(), held + WorkQueues::QueueCost(12));
  queues->Unwatch(&sink, "watched-only");
  EXPECT_EQ(queues->bytes(), held);
}

// Past the memory bound a new queue is refused even for a tiny item.
TEST(WorkQueuesTest, ANewQueueMustFitTheMemoryBound) {
  WorkQueues queues(L(
      1000, 100, WorkQueues::QueueCost(1) + 3 * WorkQueues::ItemCost(2), 1000));
  ASSERT_EQ(queues.Enqueue("a", "N;"), Result::kQueued);
  EXPECT_EQ(queues.Enqueue("b", "N;"), Result::kNoMemory);
  EXPECT_EQ(queues.Enqueue("a", "N;"), Result::kQueued);
  EXPECT_EQ(queues.queue_count(), 1u);
}

}  // namespace
}  // namespace channel
