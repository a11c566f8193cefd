#ifndef CHANNEL_GATEWAY_DEMO_ASSETS_H_
#define CHANNEL_GATEWAY_DEMO_ASSETS_H_

#include "absl/strings/string_view.h"

namespace channel {

// The browser client (clients/js/channel-client.js) and the demo chat page
// (clients/js/demo/index.html), built into the gateway by CMake so that
// GET / works from a clean build with no other files.
absl::string_view DemoPageHtml();
absl::string_view ClientModuleJs();

}  // namespace channel

#endif  // CHANNEL_GATEWAY_DEMO_ASSETS_H_
