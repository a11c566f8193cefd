#include "broker/app/webhook_sink.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging/log_limiter.h"
#include "common/logging/logging.h"

namespace channel {
namespace {

int64_t UnixNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

WebhookSink::WebhookSink(WebhookOptions options,
                         std::unique_ptr<WebhookPoster> poster)
    : options_(std::move(options)), poster_(std::move(poster)) {}

WebhookSink::~WebhookSink() { Stop(); }

void WebhookSink::Start() {
  thread_ = std::thread([this] { Run(); });
}

void WebhookSink::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool WebhookSink::Deliver(OutgoingEvent& event) {
  const std::string& payload = event.event().payload();
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (bytes_ + payload.size() > options_.max_queued_bytes) {
      counters_.dropped_queue_full.fetch_add(1, std::memory_order_relaxed);
      return true;  // taken: dropped and counted, never a slow consumer
    }
    if (queue_.empty()) oldest_ = std::chrono::steady_clock::now();
    queue_.push_back(payload);
    bytes_ += payload.size();
    counters_.waiting_bytes.store(static_cast<int64_t>(bytes_),
                                  std::memory_order_relaxed);
    wake = queue_.size() == 1 || queue_.size() >= options_.batch_max_events;
  }
  counters_.queued.fetch_add(1, std::memory_order_relaxed);
  if (wake) cv_.notify_one();
  return true;
}

void WebhookSink::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (queue_.empty()) {
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      continue;
    }
    // A batch is due when full, or when its oldest event has waited
    // batch_delay.
    if (queue_.size() < options_.batch_max_events &&
        cv_.wait_until(lock, oldest_ + options_.batch_delay, [this] {
          return stopping_ || queue_.size() >= options_.batch_max_events;
        })) {
      if (stopping_) break;
    }
    const size_t n = std::min(queue_.size(), options_.batch_max_events);
    std::string body =
        absl::StrCat(R"({"time_ms":)", UnixNowMs(), R"(,"events":[)");
    size_t taken = 0;
    for (size_t i = 0; i < n; ++i) {
      if (i > 0) body += ',';
      body += queue_.front();
      taken += queue_.front().size();
      queue_.pop_front();
    }
    body += "]}";
    bytes_ -= taken;
    if (!queue_.empty()) oldest_ = std::chrono::steady_clock::now();
    counters_.waiting_bytes.store(static_cast<int64_t>(bytes_),
                                  std::memory_order_relaxed);
    lock.unlock();
    const bool sent = Send(body, n);
    if (sent) {
      counters_.sent.fetch_add(n, std::memory_order_relaxed);
      counters_.batches.fetch_add(1, std::memory_order_relaxed);
    } else {
      counters_.dropped_retries.fetch_add(n, std::memory_order_relaxed);
    }
    lock.lock();
  }
}

bool WebhookSink::Send(const std::string& body, size_t events) {
  const auto give_up = std::chrono::steady_clock::now() + options_.retry_for;
  auto delay = std::chrono::milliseconds(100);
  for (;;) {
    const std::string failure = poster_->Post(body);
    if (failure.empty()) return true;
    counters_.attempts_failed.fetch_add(1, std::memory_order_relaxed);
    CHANNEL_LOG_LIMITED(spdlog::level::warn,
                        "webhook POST of {} event(s) failed: {}", events,
                        failure);
    std::unique_lock<std::mutex> lock(mu_);
    if (std::chrono::steady_clock::now() + delay > give_up) return false;
    if (cv_.wait_for(lock, delay, [this] { return stopping_; })) return false;
    delay = std::min(delay * 2, std::chrono::milliseconds(5000));
  }
}

}  // namespace channel
