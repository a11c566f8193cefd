// ApiServer and BrokerServer in one process: the broker's loop is stalled
// on purpose, which no real-daemon test can do.
#include "broker/api/api_server.h"

#include <httplib.h>

#include <future>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asio/post.hpp"
#include "broker/broker_server.h"
#include "gtest/gtest.h"
#include "tests/support/clients/test_broker_client.h"

namespace channel {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A stalled broker loop: publishes are answered 503 "not published" and
// never run later; the read routes 503 "did not answer in time".
TEST(ApiServerTest, BrokerLoopStallAnswers503NotPublishedAndNeverPublishes) {
  asio::io_context io;
  BrokerOptions broker_options;
  broker_options.listen_host = "127.0.0.1";
  broker_options.port = 0;
  BrokerServer broker(io, broker_options);
  ASSERT_TRUE(broker.Listen().ok());
  ApiOptions api_options;
  api_options.broker_wait = milliseconds(300);
  ApiServer api(io, &broker, api_options);
  ASSERT_TRUE(api.Start().ok());
  broker.set_extra_metrics([&api](PrometheusText* m) { api.AppendMetrics(m); });
  std::thread loop([&io] { io.run(); });

  testing::TestBrokerClient subscriber(broker.port());
  ASSERT_TRUE(subscriber.WaitConnected());
  ASSERT_TRUE(subscriber.Subscribe({"group:g"}).ok());
  // One request before the threads below: cpp-httplib's function-local
  // static regexes are made here, not first in several threads at once
  // (the library is not instrumented: TSan would not see their guard and
  // would report the threads' first uses as a race).
  {
    httplib::Client warm_up("127.0.0.1", api.port());
    auto r = warm_up.Get("/api/groups");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }
  auto post = [&api](const std::string& message) {
    httplib::Client c("127.0.0.1", api.port());
    c.set_read_timeout(30, 0);
    auto r =
        c.Post("/api/publish",
               absl::StrCat(R"({"group_id":"g","message":")", message, "\"}"),
               "application/json");
    return r ? std::make_pair(r->status, r->body)
             : std::make_pair(0, std::string("no response"));
  };

  // Stall the broker's loop well past the API's wait.
  std::promise<void> stalled;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  asio::post(io, [&stalled, released] {
    stalled.set_value();
    released.wait();
  });
  stalled.get_future().wait();
  std::vector<std::future<std::pair<int, std::string>>> answers;
  for (int i = 0; i < 4; ++i) {
    answers.push_back(
        std::async(std::launch::async, post, absl::StrCat("lost-", i)));
  }
  // Every read route meanwhile: 503, never a crash of the API thread.
  auto get = [&api](const std::string& path) {
    httplib::Client c("127.0.0.1", api.port());
    c.set_read_timeout(30, 0);
    auto r = c.Get(path);
    return r ? std::make_pair(r->status, r->body)
             : std::make_pair(0, std::string("no response"));
  };
  std::vector<std::future<std::pair<int, std::string>>> reads;
  for (const char* path :
       {"/api/presence?group_id=g", "/api/presence/members?group_id=g",
        "/api/history?group_id=g", "/api/groups"}) {
    reads.push_back(std::async(std::launch::async, get, path));
  }
  for (auto& answer : answers) {
    const auto [status, body] = answer.get();
    EXPECT_EQ(status, 503) << body;
    EXPECT_NE(body.find(R"("published":false)"), std::string::npos) << body;
    EXPECT_NE(body.find(R"("code":"unavailable")"), std::string::npos) << body;
    EXPECT_NE(body.find("not published"), std::string::npos) << body;
  }
  for (auto& read : reads) {
    const auto [status, body] = read.get();
    EXPECT_EQ(status, 503) << body;
    EXPECT_NE(body.find(R"("code":"unavailable")"), std::string::npos) << body;
    EXPECT_NE(body.find("did not answer in time"), std::string::npos) << body;
  }
  release.set_value();

  // The loop runs its queue in order: had any refused publish run, it
  // would reach the subscriber before this one.
  const auto [status, body] = post("after");
  ASSERT_EQ(status, 200) << body;
  const auto events = subscriber.WaitForEvents(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].payload, "after");

  api.Stop();
  io.stop();
  loop.join();
}

}  // namespace
}  // namespace channel
