#include "gateway/fanout_batch.h"

#include "gateway/ws_text_frame.h"

namespace channel {

void FanoutBatch::Append(const std::string& payload, Segment* segment) {
  AppendTextFrame(payload, &segment->frames);
  ++segment->count;
}

}  // namespace channel
