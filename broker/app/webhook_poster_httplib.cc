// The webhook module (libchannel-webhook-http.so): cpp-httplib's client
// (Debian's libcpp-httplib-dev, with OpenSSL for https) and OpenSSL's HMAC,
// loaded by the broker only when --webhook_url is set (webhook_poster.h).
// Plain std:: here: Debian's static Abseil is not position independent.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <exception>
#include <memory>
#include <string>

#include "broker/app/webhook_poster.h"
#include "httplib.h"

namespace channel {
namespace {

class HttplibPoster : public WebhookPoster {
 public:
  // `host` as the URL has it ([IPv6] in brackets); made from the parts,
  // not from a URL string: this cpp-httplib's URL pattern takes IPv6
  // addresses of decimal digits only.
  HttplibPoster(bool https, const std::string& host, int port, std::string path,
                std::string secret, int timeout_ms)
      : secret_(std::move(secret)), path_(std::move(path)) {
    const bool bracketed =
        host.size() >= 2 && host.front() == '[' && host.back() == ']';
    const std::string bare = bracketed ? host.substr(1, host.size() - 2) : host;
    if (https) {
      client_ = std::make_unique<httplib::SSLClient>(bare, port);
    } else {
      client_ = std::make_unique<httplib::ClientImpl>(bare, port);
    }
    host_header_ =
        port == (https ? 443 : 80) ? host : host + ":" + std::to_string(port);
    const auto timeout = std::chrono::milliseconds(timeout_ms);
    client_->set_connection_timeout(timeout);
    client_->set_read_timeout(timeout);
    client_->set_write_timeout(timeout);
  }

  // No exception leaves the module (CMakeLists.txt, CHANNEL_STATIC_LIBSTDCXX:
  // the broker may hold a libstdc++ of its own).
  std::string Post(const std::string& body) override {
    try {
      return PostOrThrow(body);
    } catch (const std::exception& e) {
      return std::string("exception: ") + e.what();
    } catch (...) {
      return "exception";
    }
  }

 private:
  std::string PostOrThrow(const std::string& body) {
    httplib::Headers headers;
    headers.emplace("Host", host_header_);
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
  const std::string path_;
  std::string host_header_;
  std::unique_ptr<httplib::ClientImpl> client_;
};

}  // namespace
}  // namespace channel

extern "C" __attribute__((visibility("default"))) channel::WebhookPoster*
channel_create_webhook_poster_v2(int https, const char* host, int port,
                                 const char* path, const char* secret,
                                 int timeout_ms) {
  try {
    return new channel::HttplibPoster(https != 0, host, port, path, secret,
                                      timeout_ms);
  } catch (...) {
    return nullptr;  // the broker says it could not make the poster
  }
}
