#include "gateway/ws/http_request.h"

#include "absl/strings/match.h"
#include "gateway/demo_assets.h"

namespace channel {

absl::string_view QueryParam(absl::string_view resource,
                             absl::string_view name) {
  const size_t query = resource.find('?');
  if (query == absl::string_view::npos) return {};
  absl::string_view rest = resource.substr(query + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const absl::string_view pair = rest.substr(0, amp);
    if (pair.size() > name.size() && absl::StartsWith(pair, name) &&
        pair[name.size()] == '=') {
      return pair.substr(name.size() + 1);
    }
    if (amp == absl::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return {};
}

PlainHttpReply PlainHttpResponse(absl::string_view resource, bool demo_page) {
  const absl::string_view path = resource.substr(0, resource.find('?'));
  if (demo_page && (path == "/" || path == "/index.html")) {
    return {200, "text/html; charset=utf-8", DemoPageHtml()};
  }
  if (demo_page && path == "/channel-client.js") {
    return {200, "text/javascript; charset=utf-8", ClientModuleJs()};
  }
  return {426, "", "ws-gateway: connect with a WebSocket client\n"};
}

}  // namespace channel
