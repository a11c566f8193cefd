#include "tools/bench/broker/load_run.h"

namespace channel::bench {

LoadRun::LoadRun(const LoadShape& shape)
    : shape_(shape), payload_(shape.payload_bytes, 'x'), deadline_(io_) {}

LoadResult LoadRun::Go() {
  Setup();
  deadline_.expires_after(std::chrono::seconds(120));
  deadline_.async_wait([this](const std::error_code& ec) {
    if (!ec) Fail("timed out after 120 s");
  });
  io_.run();
  result_.deliveries = delivered_;
  return result_;
}

void LoadRun::SubscriberReady() {
  ++subscribed_;
  MaybeStart();
}

void LoadRun::PublisherReady() {
  ++publishers_up_;
  MaybeStart();
}

void LoadRun::MaybeStart() {
  if (subscribed_ < shape_.subscriber_count() ||
      publishers_up_ < shape_.publishers || started_) {
    return;
  }
  started_ = true;
  start_ = std::chrono::steady_clock::now();
  for (int p = 0; p < shape_.publishers; ++p) {
    for (int w = 0; w < shape_.window; ++w) PublishNext(p);
  }
}

void LoadRun::Published(int p) { PublishNext(p); }

void LoadRun::PublishNext(int p) {
  if (finished_ || next_publish_ >= shape_.publishes) return;
  Publish(p, next_publish_++);
}

void LoadRun::Delivered() {
  if (++delivered_ == shape_.expected_deliveries()) {
    result_.ok = true;
    result_.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
            .count();
    Finish();
  }
}

void LoadRun::Fail(std::string why) {
  if (finished_) return;
  result_.error = std::move(why);
  Finish();
}

void LoadRun::Finish() {
  finished_ = true;
  deadline_.cancel();
  CloseAll();
  io_.stop();
}

}  // namespace channel::bench
