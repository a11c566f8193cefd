#include "broker/app/webhook_url.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace channel {
namespace {

absl::Status Bad(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("--webhook_url: ", why));
}

bool IsHostChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
         c == '-' || c == '_';
}

bool IsIpv6Char(char c) {
  return absl::ascii_isxdigit(static_cast<unsigned char>(c)) || c == ':' ||
         c == '.';
}

}  // namespace

std::string WebhookUrl::Origin() const {
  return absl::StrCat(https ? "https" : "http", "://", host, ":", port);
}

std::string WebhookUrl::Normalized() const {
  return absl::StrCat(Origin(), path);
}

absl::StatusOr<WebhookUrl> ParseWebhookUrl(absl::string_view url) {
  if (url.size() > WebhookUrl::kMaxBytes) {
    return Bad(absl::StrCat("longer than ", WebhookUrl::kMaxBytes, " bytes"));
  }
  WebhookUrl out;
  if (absl::ConsumePrefix(&url, "https://")) {
    out.https = true;
  } else if (!absl::ConsumePrefix(&url, "http://")) {
    return Bad("must start with http:// or https://");
  }
  const size_t end = url.find_first_of("/?#");
  absl::string_view authority = url.substr(0, end);
  absl::string_view rest =
      end == absl::string_view::npos ? absl::string_view() : url.substr(end);
  if (absl::StrContains(authority, '@')) {
    return Bad(
        "credentials in the URL are not supported (sign with "
        "--webhook_secret)");
  }
  absl::string_view port;
  if (absl::ConsumePrefix(&authority, "[")) {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos || close == 0) {
      return Bad("an IPv6 address needs its closing ]");
    }
    for (char c : authority.substr(0, close)) {
      if (!IsIpv6Char(c)) return Bad("not an IPv6 address in [ ]");
    }
    out.host = absl::StrCat("[", authority.substr(0, close), "]");
    authority.remove_prefix(close + 1);
    if (!authority.empty() && !absl::ConsumePrefix(&authority, ":")) {
      return Bad("only :PORT may follow [IPv6]");
    }
    port = authority;
    if (port.empty() && absl::EndsWith(url.substr(0, end), ":")) {
      return Bad("empty port");
    }
  } else {
    const size_t colon = authority.find(':');
    absl::string_view host = authority.substr(0, colon);
    if (host.empty()) return Bad("no host");
    for (char c : host) {
      if (!IsHostChar(c)) {
        return Bad("a host is letters, digits, '.', '-' and '_'");
      }
    }
    out.host = std::string(host);
    if (colon != absl::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return Bad("empty port");
    }
  }
  if (port.empty()) {
    out.port = out.https ? 443 : 80;
  } else {
    uint32_t n = 0;
    if (port.size() > 5 ||
        !std::all_of(port.begin(), port.end(),
                     [](char c) { return c >= '0' && c <= '9'; }) ||
        !absl::SimpleAtoi(port, &n) || n == 0 || n > 65535) {
      return Bad("the port must be 1-65535");
    }
    out.port = static_cast<uint16_t>(n);
  }
  if (absl::StrContains(rest, '#')) return Bad("no #fragment");
  for (char c : rest) {
    if (c <= 0x20 || c >= 0x7f) {
      return Bad("the path must be visible ASCII (percent-encode the rest)");
    }
  }
  out.path = rest.empty() || rest[0] != '/' ? absl::StrCat("/", rest)
                                            : std::string(rest);
  return out;
}

}  // namespace channel
