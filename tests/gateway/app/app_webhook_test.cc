// Webhooks end to end (issue 22): the broker posts connection events to a
// receiver on loopback, signed, in batches, retried; https with the
// system's trust; a receiver that hangs never slows delivery.
#include <httplib.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/gateway/gateway_fixture.h"
#include "tests/support/clients/test_broker_client.h"
#include "tests/support/clients/ws_test_clients.h"
#include "tests/support/credentials/test_certificate.h"

namespace channel::testing {
namespace {

using std::chrono::seconds;

// A webhook receiver on loopback: checks every request's signature the way
// docs/API.md tells receivers to, records the batches, and answers 500 to
// the first `fail_first` requests, or holds every request until released
// (a receiver that hangs).
class WebhookReceiver {
 public:
  // With `tls`, an https receiver serving that certificate; on `address`
  // (port() < 0 when it cannot be bound there).
  WebhookReceiver(std::string secret, int fail_first, bool hang,
                  const TestCertificate* tls = nullptr,
                  std::string address = "127.0.0.1")
      : secret_(std::move(secret)),
        address_(std::move(address)),
        fail_first_(fail_first),
        hang_(hang),
        scheme_(tls != nullptr ? "https" : "http"),
        server_(tls != nullptr
                    ? std::make_unique<httplib::SSLServer>(
                          tls->cert_file().c_str(), tls->key_file().c_str())
                    : std::make_unique<httplib::Server>()) {
    server_->Post(
        "/hook", [this](const httplib::Request& req, httplib::Response& res) {
          std::unique_lock<std::mutex> lock(mu_);
          ++requests_;
          host_header_ = req.get_header_value("Host");
          if (hang_) {
            cv_.wait(lock, [this] { return released_; });
            res.status = 503;
            return;
          }
          if (requests_ <= fail_first_) {
            res.status = 500;
            return;
          }
          if (!Verify(req.get_header_value("X-Channel-Signature"), req.body)) {
            ++bad_signatures_;
            res.status = 401;
            cv_.notify_all();
            return;
          }
          rapidjson::Document doc;
          doc.Parse(req.body.c_str());
          if (doc.IsObject() && doc["events"].IsArray()) {
            batches_.push_back(doc["events"].Size());
            for (const auto& e : doc["events"].GetArray()) {
              types_.push_back(e["type"].GetString());
            }
          }
          res.status = 204;
          cv_.notify_all();
        });
    port_ = server_->bind_to_any_port(address_);
    if (port_ >= 0) {
      thread_ = std::thread([this] { server_->listen_after_bind(); });
    }
  }
  ~WebhookReceiver() {
    Release();
    server_->stop();
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return port_; }
  // The address as a URL names it ([IPv6] in brackets) and its port.
  std::string authority() const {
    const bool v6 = address_.find(':') != std::string::npos;
    return absl::StrCat(v6 ? "[" : "", address_, v6 ? "]" : "", ":", port_);
  }
  std::string url() const {
    return absl::StrCat(scheme_, "://", authority(), "/hook");
  }
  std::string host_header() {
    std::lock_guard<std::mutex> lock(mu_);
    return host_header_;
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  // Waits until `n` events arrived; returns their types.
  std::vector<std::string> WaitForEvents(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, seconds(20), [&] { return types_.size() >= n; });
    return types_;
  }
  std::vector<size_t> batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }
  int requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  int bad_signatures() {
    std::lock_guard<std::mutex> lock(mu_);
    return bad_signatures_;
  }

 private:
  // t=<seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>, t recent.
  bool Verify(const std::string& header, const std::string& body) const {
    std::string t, v1;
    for (absl::string_view part : absl::StrSplit(header, ',')) {
      if (absl::ConsumePrefix(&part, "t=")) t = std::string(part);
      if (absl::ConsumePrefix(&part, "v1=")) v1 = std::string(part);
    }
    int64_t when = 0;
    if (!absl::SimpleAtoi(t, &when)) return false;
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    if (when < now - 300 || when > now + 300) return false;
    const std::string text = t + "." + body;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
         reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac,
         &size);
    return v1 == absl::BytesToHexString(absl::string_view(
                     reinterpret_cast<const char*>(mac), size));
  }

  const std::string secret_;
  const std::string address_;
  std::string host_header_;  // of the last request
  const int fail_first_;
  const bool hang_;
  const std::string scheme_;
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  int requests_ = 0;
  int bad_signatures_ = 0;
  std::vector<size_t> batches_;
  std::vector<std::string> types_;
};

const char kHookSecret[] = "webhook-secret-0123456789";

// 20 connections open and close: 40 events reach the receiver in signed
// batches, after its first three answers were 500 (retried).
TEST(WebhookTest, SignedBatchesRetriedUntilTheReceiverTakesThem) {
  WebhookReceiver receiver(kHookSecret, /*fail_first=*/3, /*hang=*/false);
  BrokerProcess broker =
      BrokerProcess::Start({"--webhook_url=" + receiver.url(),
                            std::string("--webhook_secret=") + kHookSecret,
                            "--webhook_batch_ms=50", "--webhook_batch_max=16"});
  GatewayProcess gw = GatewayProcess::Start(broker.port, {"--events"});
  WsTestClients ws;
  std::vector<int> clients;
  for (int i = 0; i < 20; ++i) clients.push_back(ws.Connect(gw.uri()));
  for (int c : clients) ws.Close(c);
  const std::vector<std::string> types = receiver.WaitForEvents(40);
  ASSERT_EQ(types.size(), 40u);
  EXPECT_EQ(std::count(types.begin(), types.end(), "connect"), 20);
  EXPECT_EQ(std::count(types.begin(), types.end(), "close"), 20);
  EXPECT_EQ(receiver.bad_signatures(), 0);
  const std::vector<size_t> batches = receiver.batches();
  EXPECT_LT(batches.size(), 40u);  // batched
  for (size_t n : batches) EXPECT_LE(n, 16u);
  EXPECT_GE(broker.Metric("channel_broker_webhook_attempts_failed_total"), 3);
  EXPECT_EQ(
      broker.Metric(
          R"(channel_broker_webhook_events_dropped_total{reason="retries_exhausted"})"),
      0);
}

// https: the broker verifies the receiver's certificate against the
// system's trust store (OpenSSL's default paths; SSL_CERT_FILE here names
// the test's self-signed certificate). Trusted, the signed events arrive;
// untrusted, not one request is made and the failures are counted.
// A receiver at an IPv6 address (cpp-httplib's own URL pattern would not
// take one with hex letters: the poster is made from the URL's parts).
TEST(WebhookTest, AnIpv6ReceiverGetsTheEventsWithItsHostHeader) {
  WebhookReceiver receiver(kHookSecret, 0, /*hang=*/false, nullptr,
                           "::ffff:127.0.0.1");
  if (receiver.port() < 0) GTEST_SKIP() << "no IPv6 here";
  BrokerProcess broker =
      BrokerProcess::Start({"--webhook_url=" + receiver.url(),
                            std::string("--webhook_secret=") + kHookSecret,
                            "--webhook_batch_ms=20"});
  GatewayProcess gw = GatewayProcess::Start(broker.port, {"--events"});
  WsTestClients ws;
  ws.Close(ws.Connect(gw.uri()));
  const std::vector<std::string> types = receiver.WaitForEvents(2);
  ASSERT_EQ(types.size(), 2u);
  EXPECT_EQ(types[0], "connect");
  EXPECT_EQ(receiver.bad_signatures(), 0);
  EXPECT_EQ(receiver.host_header(), receiver.authority());
}

TEST(WebhookTest, HttpsReceiverTrustedGetsSignedEventsUntrustedNothing) {
  auto cert = TestCertificate::Make();
  ASSERT_NE(cert, nullptr);
  for (const bool trusted : {true, false}) {
    SCOPED_TRACE(trusted ? "trusted" : "untrusted");
    WebhookReceiver receiver(kHookSecret, 0, /*hang=*/false, cert.get());
    std::map<std::string, std::string> env;
    // Untrusted: a file that trusts nobody (no system store either).
    env["SSL_CERT_FILE"] = trusted ? cert->cert_file() : "/dev/null";
    env["SSL_CERT_DIR"] = "/nonexistent";
    BrokerProcess broker = BrokerProcess::Start(
        {"--webhook_url=" + receiver.url(),
         std::string("--webhook_secret=") + kHookSecret,
         "--webhook_batch_ms=20", "--webhook_retry_ms=2000"},
        0, env);
    GatewayProcess gw = GatewayProcess::Start(broker.port, {"--events"});
    WsTestClients ws;
    ws.Close(ws.Connect(gw.uri()));
    if (trusted) {
      const std::vector<std::string> types = receiver.WaitForEvents(2);
      ASSERT_EQ(types.size(), 2u);
      EXPECT_EQ(types[0], "connect");
      EXPECT_EQ(types[1], "close");
      EXPECT_EQ(receiver.bad_signatures(), 0);
    } else {
      const auto failure = broker.process->WaitForLine(
          "webhook POST of [0-9]+ event\\(s\\) failed: (.*)", seconds(20));
      ASSERT_TRUE(failure.has_value()) << broker.process->Output();
      // Refused for the certificate, not for want of a receiver.
      EXPECT_TRUE(absl::StrContains(*failure, "SSL")) << *failure;
      EXPECT_GE(broker.Metric("channel_broker_webhook_attempts_failed_total"),
                1);
      EXPECT_EQ(receiver.requests(), 0);
    }
  }
}

// A receiver that never answers: browsers' messages flow as before, the
// queue stays within its bound and what did not fit is counted.
TEST(WebhookTest, AHangingReceiverNeverSlowsDelivery) {
  WebhookReceiver receiver(kHookSecret, 0, /*hang=*/true);
  BrokerProcess broker = BrokerProcess::Start(
      {"--webhook_url=" + receiver.url(), "--webhook_timeout_ms=30000",
       "--webhook_max_queue_bytes=4096", "--webhook_batch_max=1"});
  GatewayProcess gw = GatewayProcess::Start(broker.port, {"--events"});
  WsTestClients ws;
  const int a = ws.Connect(gw.uri());
  const int b = ws.Connect(gw.uri());
  ASSERT_EQ(ws.Request(b, R"({"cmd":"add_group","group_id":"g","id":1})", "1"),
            R"({"id":1,"ok":true})");
  // Many events while the receiver holds its first request.
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(ws.Send(
        a,
        R"({"cmd":"note","text":"0123456789012345678901234567890123456789"})"));
  }
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(ws.Send(
        a, absl::StrCat(R"({"cmd":"send_to_group","group_id":"g","message":"m)",
                        i, R"("})")));
  }
  const std::vector<std::string> got = ws.WaitForMessages(b, 51);
  ASSERT_EQ(got.size(), 51u);
  EXPECT_EQ(got.back(), "m49");
  // The webhook took what fits in its bound and counted the rest.
  const std::string dropped =
      R"(channel_broker_webhook_events_dropped_total{reason="queue_full"})";
  for (int i = 0; i < 500 && broker.Metric(dropped) == 0; ++i) {
    std::this_thread::yield();
  }
  EXPECT_GT(broker.Metric(dropped), 0);
  EXPECT_LE(broker.Metric("channel_broker_webhook_queued_bytes"), 4096);
  EXPECT_EQ(receiver.requests(), 1);  // held: no second request meanwhile
}

}  // namespace
}  // namespace channel::testing
