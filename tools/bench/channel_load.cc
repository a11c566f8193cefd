#include "tools/bench/channel_load.h"

#include <chrono>
#include <memory>
#include <vector>

#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"
#include "client/broker_client.h"

namespace channel::bench {
namespace {

using Clock = std::chrono::steady_clock;

class Run {
 public:
  Run(const std::string& host, int port, const LoadShape& shape)
      : shape_(shape), deadline_(io_) {
    BrokerClientOptions options;
    options.host = host;
    options.port = static_cast<uint16_t>(port);
    options.client_name = "broker-bench";
    options.backoff_max = std::chrono::milliseconds(200);
    options_ = options;
  }

  LoadResult Go() {
    const int subs = shape_.subscriber_count();
    for (int i = 0; i < subs; ++i) {
      auto client = std::make_unique<BrokerClient>(io_, options_);
      client->set_event_handler([this](v1::Event&) { OnDelivery(); });
      const std::string channel = shape_.channel_of_subscriber(i);
      client->set_state_handler(
          [this, c = client.get(), channel](bool up, absl::string_view reason) {
            if (!up) {
              Fail(std::string("subscriber link lost: ") + std::string(reason));
              return;
            }
            if (c->subscription_count() > 0) return;  // reconnect: already held
            c->Subscribe({channel}, [this](const absl::Status& s, uint64_t) {
              if (!s.ok()) return Fail(std::string(s.message()));
              if (++subscribed_ == shape_.subscriber_count()) MaybeStart();
            });
          });
      client->Start();
      subscribers_.push_back(std::move(client));
    }
    for (int p = 0; p < shape_.publishers; ++p) {
      auto client = std::make_unique<BrokerClient>(io_, options_);
      client->set_state_handler([this](bool up, absl::string_view) {
        if (up && ++publishers_up_ == shape_.publishers) MaybeStart();
      });
      client->Start();
      publishers_.push_back(std::move(client));
    }
    payload_.assign(shape_.payload_bytes, 'x');
    deadline_.expires_after(std::chrono::seconds(120));
    deadline_.async_wait([this](const std::error_code& ec) {
      if (!ec) Fail("timed out after 120 s");
    });
    io_.run();
    result_.deliveries = delivered_;
    return result_;
  }

 private:
  void MaybeStart() {
    if (subscribed_ < shape_.subscriber_count() ||
        publishers_up_ < shape_.publishers || started_) {
      return;
    }
    started_ = true;
    start_ = Clock::now();
    for (int p = 0; p < shape_.publishers; ++p) {
      for (int w = 0; w < shape_.window; ++w) PublishNext(p);
    }
  }

  void PublishNext(int p) {
    if (next_publish_ >= shape_.publishes) return;
    const int64_t k = next_publish_++;
    absl::Status s = publishers_[p]->Publish(
        {shape_.channel_of_publish(k)}, payload_, nullptr,
        [this, p](const absl::Status& status, uint64_t) {
          if (!status.ok()) return Fail(std::string(status.message()));
          PublishNext(p);
        });
    if (!s.ok()) Fail(std::string(s.message()));
  }

  void OnDelivery() {
    if (++delivered_ == shape_.expected_deliveries()) {
      result_.ok = true;
      result_.seconds =
          std::chrono::duration<double>(Clock::now() - start_).count();
      Finish();
    }
  }

  void Fail(std::string why) {
    if (finished_) return;
    result_.error = std::move(why);
    Finish();
  }

  void Finish() {
    finished_ = true;
    deadline_.cancel();
    for (auto& c : subscribers_) c->Stop();
    for (auto& c : publishers_) c->Stop();
    io_.stop();
  }

  const LoadShape shape_;
  BrokerClientOptions options_;
  asio::io_context io_{1};
  asio::steady_timer deadline_;
  std::vector<std::unique_ptr<BrokerClient>> subscribers_;
  std::vector<std::unique_ptr<BrokerClient>> publishers_;
  std::string payload_;
  int subscribed_ = 0;
  int publishers_up_ = 0;
  bool started_ = false;
  bool finished_ = false;
  int64_t next_publish_ = 0;
  int64_t delivered_ = 0;
  Clock::time_point start_;
  LoadResult result_;
};

}  // namespace

LoadResult RunChannelLoad(const std::string& host, int port,
                          const LoadShape& shape) {
  Run run(host, port, shape);
  return run.Go();
}

}  // namespace channel::bench
