#include "broker/app/webhook_sink.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ops/log_limiter.h"
#include "common/ops/logging.h"
#include "httplib.h"

namespace channel {
namespace {

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t UnixNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "http(s)://host[:port]" and the path of a URL.
bool SplitUrl(const std::string& url, std::string* origin, std::string* path) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return false;
  const size_t slash = url.find('/', scheme + 3);
  *origin = url.substr(0, slash);
  *path = slash == std::string::npos ? "/" : url.substr(slash);
  return true;
}

}  // namespace

WebhookSink::WebhookSink(WebhookOptions options)
    : options_(std::move(options)) {}

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

std::string WebhookSink::Signature(absl::string_view secret,
                                   int64_t unix_seconds,
                                   absl::string_view body) {
  const std::string signed_text = absl::StrCat(unix_seconds, ".", body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signed_text.data()),
       signed_text.size(), mac, &size);
  return absl::StrCat("t=", unix_seconds, ",v1=",
                      absl::BytesToHexString(absl::string_view(
                          reinterpret_cast<const char*>(mac), size)));
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
  std::string origin, path;
  if (!SplitUrl(options_.url, &origin, &path)) return false;
  httplib::Client client(origin);
  client.set_connection_timeout(options_.timeout);
  client.set_read_timeout(options_.timeout);
  client.set_write_timeout(options_.timeout);
  const auto give_up = std::chrono::steady_clock::now() + options_.retry_for;
  auto delay = std::chrono::milliseconds(100);
  for (;;) {
    httplib::Headers headers;
    if (!options_.secret.empty()) {
      headers.emplace("X-Channel-Signature",
                      Signature(options_.secret, UnixNow(), body));
    }
    httplib::Result r = client.Post(path, headers, body, "application/json");
    if (r && r->status >= 200 && r->status < 300) return true;
    counters_.attempts_failed.fetch_add(1, std::memory_order_relaxed);
    CHANNEL_LOG_LIMITED(
        spdlog::level::warn, "webhook POST of {} event(s) failed: {}", events,
        r ? absl::StrCat("HTTP ", r->status) : httplib::to_string(r.error()));
    std::unique_lock<std::mutex> lock(mu_);
    if (std::chrono::steady_clock::now() + delay > give_up) return false;
    if (cv_.wait_for(lock, delay, [this] { return stopping_; })) return false;
    delay = std::min(delay * 2, std::chrono::milliseconds(5000));
  }
}

}  // namespace channel
