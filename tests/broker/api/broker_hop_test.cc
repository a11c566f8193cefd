// BrokerHop between two real io_contexts on two threads.
#include "broker/api/broker_hop.h"

#include <atomic>
#include <future>
#include <thread>

#include "asio/executor_work_guard.hpp"
#include "asio/post.hpp"
#include "gtest/gtest.h"

namespace channel {
namespace {

using std::chrono::milliseconds;
using Outcome = BrokerHop::Outcome;

class BrokerHopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api_thread_ = std::thread([this] { api_io_.run(); });
    broker_thread_ = std::thread([this] { broker_io_.run(); });
  }
  void TearDown() override {
    // The hop is stopped on the API thread, then both loops end.
    std::promise<void> stopped;
    asio::post(api_io_, [&] {
      hop_.Stop();
      stopped.set_value();
    });
    stopped.get_future().wait();
    api_guard_.reset();
    broker_guard_.reset();
    api_thread_.join();
    broker_thread_.join();
  }
  // Calls from the API thread; returns the outcome when done runs.
  std::future<Outcome> Call(std::function<void()> work) {
    auto result = std::make_shared<std::promise<Outcome>>();
    auto future = result->get_future();
    asio::post(api_io_, [this, work = std::move(work), result] {
      hop_.Call(work, [result](Outcome o) { result->set_value(o); });
    });
    return future;
  }

  asio::io_context api_io_;
  asio::io_context broker_io_;
  asio::executor_work_guard<asio::io_context::executor_type> api_guard_ =
      asio::make_work_guard(api_io_);
  asio::executor_work_guard<asio::io_context::executor_type> broker_guard_ =
      asio::make_work_guard(broker_io_);
  BrokerHop hop_{api_io_, broker_io_, milliseconds(200)};
  std::thread api_thread_;
  std::thread broker_thread_;
};

TEST_F(BrokerHopTest, WorkRunsOnTheBrokerThreadAndDoneOnTheApiThread) {
  std::thread::id ran_on;
  auto outcome = Call([&] { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(outcome.get(), Outcome::kRan);
  EXPECT_EQ(ran_on, broker_thread_.get_id());
}

TEST_F(BrokerHopTest, WorkNotStartedInTimeNeverRuns) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  asio::post(broker_io_, [released] { released.wait(); });  // a stalled loop
  auto ran = std::make_shared<std::atomic<bool>>(false);
  auto outcome = Call([ran] { *ran = true; });
  EXPECT_EQ(outcome.get(), Outcome::kNotRun);
  release.set_value();
  // Anything the loop had queued before this has run once this runs.
  std::promise<void> drained;
  asio::post(broker_io_, [&] { drained.set_value(); });
  drained.get_future().wait();
  EXPECT_FALSE(*ran);
}

TEST_F(BrokerHopTest, WorkStartedBeforeTheWaitEndsIsWaitedFor) {
  std::promise<void> started;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  auto outcome = Call([&started, released] {
    started.set_value();
    released.wait();  // runs past the 200 ms wait
  });
  started.get_future().wait();
  EXPECT_EQ(outcome.wait_for(milliseconds(600)), std::future_status::timeout);
  release.set_value();
  EXPECT_EQ(outcome.get(), Outcome::kRan);
}

}  // namespace
}  // namespace channel
