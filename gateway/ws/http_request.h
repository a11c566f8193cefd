#ifndef CHANNEL_GATEWAY_WS_HTTP_REQUEST_H_
#define CHANNEL_GATEWAY_WS_HTTP_REQUEST_H_

#include "absl/strings/string_view.h"

namespace channel {

// The value of query parameter `name` of a request target such as
// "/?token=abc&x=1", or empty. Values are taken as they are, not
// percent-decoded (tokens are base64url text and dots; anything else is
// left for the verifier). The first occurrence wins. Linear in the target.
absl::string_view QueryParam(absl::string_view resource,
                             absl::string_view name);

// What a plain HTTP request (no WebSocket upgrade) for `resource` gets:
// with `demo_page`, the demo chat at / and /index.html and the browser
// client at /channel-client.js; anything else a 426 naming WebSocket.
// `body` points at static data.
struct PlainHttpReply {
  int status;
  absl::string_view content_type;  // empty: none
  absl::string_view body;
};
PlainHttpReply PlainHttpResponse(absl::string_view resource, bool demo_page);

}  // namespace channel

#endif  // CHANNEL_GATEWAY_WS_HTTP_REQUEST_H_
