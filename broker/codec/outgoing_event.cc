#include "broker/codec/outgoing_event.h"

#include "common/php/php_serialize.h"

namespace channel {

SharedFrame OutgoingEvent::EncodePhpMessage(absl::string_view type,
                                            const v1::Event& event) {
  std::string frame(4, '\0');
  frame.reserve(64 + event.channel().size() + event.payload().size());
  frame.append("a:3:{s:4:\"type\";");
  AppendPhpString(type, &frame);
  frame.append("s:7:\"channel\";");
  AppendPhpString(event.channel(), &frame);
  frame.append("s:4:\"data\";");
  if (event.meta().payload_codec() == "php") {
    frame.append(event.payload());
  } else {
    AppendPhpString(event.payload(), &frame);
  }
  frame.append("}");
  WriteFrameHeader(frame.size() - 4, frame.data());
  return std::make_shared<const std::string>(std::move(frame));
}

}  // namespace channel
