#include "gateway/ws/ws_text_frame.h"

#include <cstdint>

namespace channel {

void AppendTextFrame(absl::string_view payload, std::string* out) {
  const uint64_t n = payload.size();
  out->push_back(static_cast<char>(0x81));  // FIN | text
  if (n < 126) {
    out->push_back(static_cast<char>(n));
  } else if (n <= 0xFFFF) {
    out->push_back(126);
    out->push_back(static_cast<char>(n >> 8));
    out->push_back(static_cast<char>(n));
  } else {
    out->push_back(127);
    for (int shift = 56; shift >= 0; shift -= 8) {
      out->push_back(static_cast<char>(n >> shift));
    }
  }
  out->append(payload.data(), payload.size());
}

}  // namespace channel
