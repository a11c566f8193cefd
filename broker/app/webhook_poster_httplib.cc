// The webhook module (libchannel-webhook-http.so): cpp-httplib's client
// (Debian's libcpp-httplib-dev, with OpenSSL for https) and OpenSSL's HMAC,
// loaded by the broker only when --webhook_url is set (webhook_poster.h).
// Plain std:: here: Debian's static Abseil is not position independent.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <string>

#include "broker/app/webhook_poster.h"
#include "httplib.h"

namespace channel {
namespace {

class HttplibPoster : public WebhookPoster {
 public:
  HttplibPoster(const std::string& url, std::string secret, int timeout_ms)
      : secret_(std::move(secret)) {
    const size_t scheme = url.find("://");
    const size_t slash = scheme == std::string::npos
                             ? std::string::npos
                             : url.find('/', scheme + 3);
    origin_ = url.substr(0, slash);
    path_ = slash == std::string::npos ? "/" : url.substr(slash);
    client_ = std::make_unique<httplib::Client>(origin_);
    const auto timeout = std::chrono::milliseconds(timeout_ms);
    client_->set_connection_timeout(timeout);
    client_->set_read_timeout(timeout);
    client_->set_write_timeout(timeout);
  }

  std::string Post(const std::string& body) override {
    httplib::Headers headers;
    if (!secret_.empty()) {
      const int64_t t = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
      headers.emplace("X-Channel-Signature", Signature(t, body));
    }
    httplib::Result r = client_->Post(path_, headers, body, "application/json");
    if (r && r->status >= 200 && r->status < 300) return "";
    return r ? "HTTP " + std::to_string(r->status)
             : httplib::to_string(r.error());
  }

 private:
  // t=<seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>.
  std::string Signature(int64_t t, const std::string& body) const {
    const std::string text = std::to_string(t) + "." + body;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
         reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac,
         &size);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "t=" + std::to_string(t) + ",v1=";
    for (unsigned int i = 0; i < size; ++i) {
      out += kHex[mac[i] >> 4];
      out += kHex[mac[i] & 15];
    }
    return out;
  }

  const std::string secret_;
  std::string origin_;
  std::string path_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace
}  // namespace channel

extern "C" __attribute__((visibility("default"))) channel::WebhookPoster*
channel_create_webhook_poster(const char* url, const char* secret,
                              int timeout_ms) {
  return new channel::HttplibPoster(url, secret, timeout_ms);
}
