#include "tools/bench/broker/channel_load.h"

#include <memory>
#include <vector>

#include "client/broker_client.h"
#include "tools/bench/broker/load_run.h"

namespace channel::bench {
namespace {

// The load through the project's client library.
class ChannelRun : public LoadRun {
 public:
  ChannelRun(const std::string& host, int port, const LoadShape& shape)
      : LoadRun(shape) {
    options_.host = host;
    options_.port = static_cast<uint16_t>(port);
    options_.client_name = "broker-bench";
    options_.backoff_max = std::chrono::milliseconds(200);
  }

 private:
  void Setup() override {
    for (int i = 0; i < shape_.subscriber_count(); ++i) {
      auto client = std::make_unique<BrokerClient>(io_, options_);
      client->set_event_handler([this](v1::Event&) { Delivered(); });
      const std::string channel = shape_.channel_of_subscriber(i);
      client->set_state_handler(
          [this, c = client.get(), channel](bool up, absl::string_view reason) {
            if (!up)
              return Fail("subscriber link lost: " + std::string(reason));
            if (c->subscription_count() > 0) return;  // reconnect: already held
            c->Subscribe({channel}, [this](const absl::Status& s, uint64_t) {
              if (!s.ok()) return Fail(std::string(s.message()));
              SubscriberReady();
            });
          });
      client->Start();
      subscribers_.push_back(std::move(client));
    }
    for (int p = 0; p < shape_.publishers; ++p) {
      auto client = std::make_unique<BrokerClient>(io_, options_);
      client->set_state_handler([this](bool up, absl::string_view) {
        if (up) PublisherReady();
      });
      client->Start();
      publishers_.push_back(std::move(client));
    }
  }

  void Publish(int p, int64_t k) override {
    absl::Status s = publishers_[p]->Publish(
        {shape_.channel_of_publish(k)}, payload_, nullptr,
        [this, p](const absl::Status& status, uint64_t) {
          if (!status.ok()) return Fail(std::string(status.message()));
          Published(p);
        });
    if (!s.ok()) Fail(std::string(s.message()));
  }

  void CloseAll() override {
    for (auto& c : subscribers_) c->Stop();
    for (auto& c : publishers_) c->Stop();
  }

  BrokerClientOptions options_;
  std::vector<std::unique_ptr<BrokerClient>> subscribers_;
  std::vector<std::unique_ptr<BrokerClient>> publishers_;
};

}  // namespace

LoadResult RunChannelLoad(const std::string& host, int port,
                          const LoadShape& shape) {
  ChannelRun run(host, port, shape);
  return run.Go();
}

}  // namespace channel::bench
