// The broker's per-frame hot paths: frame decoding, envelope parsing and
// encoding, the subscription index. Speed is reported, never asserted.
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "common/framing/envelope_codec.h"
#include "common/framing/frame_decoder.h"
#include "common/framing/frame_encoder.h"
#include "common/framing/frame_queue.h"
#include "common/subscription_index.h"

namespace channel {
namespace {

std::string PublishFrames(int count, size_t payload) {
  v1::Envelope envelope;
  envelope.mutable_publish()->add_channels("group:123");
  envelope.mutable_publish()->set_payload(std::string(payload, 'x'));
  std::string out;
  for (int i = 0; i < count; ++i) AppendFrame(envelope, &out);
  return out;
}

void BM_DecodeAndParse(benchmark::State& state) {
  const std::string stream = PublishFrames(64, state.range(0));
  FrameDecoder decoder(16 << 20);
  v1::Envelope envelope;
  for (auto _ : state) {
    decoder.Append(stream.data(), stream.size());
    absl::string_view body;
    while (decoder.Next(&body) == FrameDecoder::Result::kFrame) {
      benchmark::DoNotOptimize(ParseBody(body, &envelope));
    }
  }
  state.SetItemsProcessed(state.iterations() * 64);
}
BENCHMARK(BM_DecodeAndParse)->Arg(64)->Arg(4096);

void BM_EncodeEvent(benchmark::State& state) {
  v1::Envelope envelope;
  envelope.mutable_event()->set_channel("group:123");
  envelope.mutable_event()->set_payload(std::string(state.range(0), 'x'));
  for (auto _ : state) {
    SharedFrame frame = EncodeFrame(envelope);
    benchmark::DoNotOptimize(frame->data());
  }
}
BENCHMARK(BM_EncodeEvent)->Arg(64)->Arg(4096);

// Queueing one shared frame to 1,000 connections and gathering it: the
// broker's per-recipient work on fan-out (no payload copy).
void BM_FanOutQueue(benchmark::State& state) {
  std::vector<FrameQueue> queues(1000);
  const SharedFrame frame = std::make_shared<std::string>(80, 'x');
  iovec iov[16];
  for (auto _ : state) {
    for (auto& q : queues) q.Push(frame);
    for (auto& q : queues) {
      const int n = q.Fill(iov, 16);
      benchmark::DoNotOptimize(n);
      q.Consume(q.bytes());
    }
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_FanOutQueue);

void BM_SubscriptionIndexJoinLeave(benchmark::State& state) {
  SubscriptionIndex<int> index;
  std::vector<std::string> channels;
  for (int i = 0; i < 1000; ++i)
    channels.push_back("group:" + std::to_string(i));
  int sub = 0;
  for (auto _ : state) {
    const std::string& ch = channels[sub % 1000];
    index.Add(sub, ch);
    index.Remove(sub, ch);
    ++sub;
  }
}
BENCHMARK(BM_SubscriptionIndexJoinLeave);

void BM_SubscriptionIndexFind(benchmark::State& state) {
  SubscriptionIndex<int> index;
  for (int s = 0; s < 10000; ++s)
    index.Add(s, "group:" + std::to_string(s % 2000));
  int i = 0;
  std::vector<std::string> names;
  for (int c = 0; c < 2000; ++c) names.push_back("group:" + std::to_string(c));
  for (auto _ : state) {
    benchmark::DoNotOptimize(index.Find(names[i++ % 2000]));
  }
}
BENCHMARK(BM_SubscriptionIndexFind);

}  // namespace
}  // namespace channel

BENCHMARK_MAIN();
