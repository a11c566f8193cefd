#ifndef CHANNEL_TOOLS_BENCH_BROKER_LOAD_RUN_H_
#define CHANNEL_TOOLS_BENCH_BROKER_LOAD_RUN_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"
#include "tools/bench/common/load_shape.h"

namespace channel::bench {

// The control flow every backend shares: once every subscriber is
// subscribed and every publisher connected, keep `window` publishes in
// flight per publisher until `publishes` are sent; done when every expected
// delivery has arrived, failed on the first error or after 120 s. A backend
// opens its connections in Setup and reports back through the protected
// calls; everything runs on io_ (one thread).
class LoadRun {
 public:
  explicit LoadRun(const LoadShape& shape);
  virtual ~LoadRun() = default;

  LoadResult Go();

 protected:
  // Opens the subscriber and publisher connections.
  virtual void Setup() = 0;
  // Sends publish number k on publisher p; the backend calls Published(p)
  // when the server acknowledges it.
  virtual void Publish(int p, int64_t k) = 0;
  virtual void CloseAll() = 0;

  void SubscriberReady();
  void PublisherReady();
  void Published(int p);
  void Delivered();
  void Fail(std::string why);

  asio::io_context io_{1};
  const LoadShape shape_;
  const std::string payload_;

 private:
  void MaybeStart();
  void PublishNext(int p);
  void Finish();

  asio::steady_timer deadline_;
  int subscribed_ = 0;
  int publishers_up_ = 0;
  bool started_ = false;
  bool finished_ = false;
  int64_t next_publish_ = 0;
  int64_t delivered_ = 0;
  std::chrono::steady_clock::time_point start_;
  LoadResult result_;
};

}  // namespace channel::bench

#endif  // CHANNEL_TOOLS_BENCH_BROKER_LOAD_RUN_H_
