#ifndef CHANNEL_TESTS_BROKER_ROUTING_ROUTER_FIXTURE_H_
#define CHANNEL_TESTS_BROKER_ROUTING_ROUTER_FIXTURE_H_

#include <string>
#include <utility>
#include <vector>

#include "broker/routing/router.h"
#include "common/framing/envelope_codec.h"
#include "common/framing/frame_decoder.h"
#include "gtest/gtest.h"

// What the Router's tests share (router_test.cc, router_hooks_test.cc).
namespace channel::testing {

// Records the channel of every event it is sent; refuses past `capacity`.
class FakeSubscriber : public Subscriber {
 public:
  explicit FakeSubscriber(size_t capacity = 1000) : capacity_(capacity) {}
  bool Deliver(OutgoingEvent& event) override {
    const SharedFrame& frame = event.ProtobufFrame();
    if (channels.size() >= capacity_) return false;
    FrameDecoder decoder(1 << 20);
    decoder.Append(frame->data(), frame->size());
    absl::string_view body;
    EXPECT_EQ(decoder.Next(&body), FrameDecoder::Result::kFrame);
    v1::Envelope envelope;
    EXPECT_EQ(ParseBody(body, &envelope), BodyKind::kEnvelope);
    channels.push_back(envelope.event().channel());
    payloads.push_back(envelope.event().payload());
    return true;
  }
  std::vector<std::string> channels;
  std::vector<std::string> payloads;

 private:
  size_t capacity_;
};

inline BrokerOptions SmallLimits() {
  BrokerOptions options;
  options.max_channel_name_bytes = 8;
  options.max_channels_per_connection = 4;
  options.max_channels_per_request = 3;
  return options;
}

inline v1::Subscribe SubscribeTo(std::vector<std::string> names) {
  v1::Subscribe request;
  for (auto& n : names) request.add_channels(n);
  return request;
}

}  // namespace channel::testing

#endif  // CHANNEL_TESTS_BROKER_ROUTING_ROUTER_FIXTURE_H_
