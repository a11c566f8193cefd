#ifndef CHANNEL_BROKER_APP_WEBHOOK_SINK_H_
#define CHANNEL_BROKER_APP_WEBHOOK_SINK_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "absl/strings/string_view.h"
#include "broker/app/webhook_poster.h"
#include "broker/routing/subscriber.h"

namespace channel {

struct WebhookOptions {
  std::string url;     // http(s)://host[:port]/path; empty: no webhooks
  std::string secret;  // HMAC-SHA256 key of X-Channel-Signature
  size_t batch_max_events = 100;
  std::chrono::milliseconds batch_delay{100};  // the oldest waits this long
  std::chrono::milliseconds timeout{5000};     // one POST
  std::chrono::milliseconds retry_for{60000};  // one batch, then dropped
  size_t max_queued_bytes = 16 << 20;          // events waiting, in bytes
};

// Application events to the application's URL (--webhook_url,
// docs/API.md "Webhooks"): every event of app:events published through
// this broker (so that brokers of a cluster configured alike send each
// event once) is queued and POSTed in batches as
//   {"time_ms":T,"events":[EVENT,...]}
// signed with X-Channel-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
// "<t>.<body>" under the secret>. A batch that gets no 2xx is retried with
// exponential backoff (100 ms doubling, at most 5 s apart) for retry_for,
// then dropped (counted); meanwhile new events queue up to
// max_queued_bytes, past which they are dropped (counted). The POSTs run
// on a thread of their own through a WebhookPoster (cpp-httplib's client,
// loaded as a module): a receiver that hangs or fails never slows the
// broker's delivery.
//
// Deliver runs on the broker's thread; the counters are read by any.
class WebhookSink : public Subscriber {
 public:
  WebhookSink(WebhookOptions options, std::unique_ptr<WebhookPoster> poster);
  ~WebhookSink() override;  // stops the sender; what is queued is dropped

  void Start();
  void Stop();

  bool Deliver(OutgoingEvent& event) override;
  bool LocalOnly() const override { return true; }

  struct Counters {
    std::atomic<uint64_t> queued{0};           // events taken into the queue
    std::atomic<uint64_t> sent{0};             // events in batches answered 2xx
    std::atomic<uint64_t> batches{0};          // batches answered 2xx
    std::atomic<uint64_t> attempts_failed{0};  // POSTs without a 2xx
    std::atomic<uint64_t> dropped_queue_full{0};
    std::atomic<uint64_t> dropped_retries{0};  // batches' events given up
    std::atomic<int64_t> waiting_bytes{0};
  };
  const Counters& counters() const { return counters_; }

 private:
  void Run();
  // One batch's POSTs until a 2xx, retry_for or Stop. True when sent.
  bool Send(const std::string& body, size_t events);

  const WebhookOptions options_;
  const std::unique_ptr<WebhookPoster> poster_;  // the sender thread's
  Counters counters_;
  std::mutex mu_;  // std::mutex: tools/lint.sh says why
  std::condition_variable cv_;
  std::deque<std::string> queue_;  // event JSON texts, oldest first
  std::chrono::steady_clock::time_point oldest_;
  size_t bytes_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_APP_WEBHOOK_SINK_H_
