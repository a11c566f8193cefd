// The byte-level example in docs/PROTOCOL.md ("A complete exchange, in
// bytes"), checked against the real encoder so the document cannot drift.
#include <string>

#include "absl/strings/escaping.h"
#include "common/framing/frame_encoder.h"
#include "gtest/gtest.h"

namespace channel {
namespace {

std::string Hex(const v1::Envelope& envelope) {
  std::string frame = *EncodeFrame(envelope);
  std::string hex = absl::BytesToHexString(frame);
  std::string spaced;
  for (size_t i = 0; i < hex.size(); i += 2) {
    if (i == 8)
      spaced += "  ";
    else if (i > 0)
      spaced += ' ';
    spaced += hex.substr(i, 2);
  }
  return spaced;
}

TEST(ProtocolExampleTest, MatchesDocumentedBytes) {
  v1::Envelope hello;
  hello.mutable_hello()->set_protocol_version(1);
  hello.mutable_hello()->set_auth_token("s3");
  EXPECT_EQ(Hex(hello), "00 00 00 0c  0a 06 10 01 1a 02 73 33");

  v1::Envelope subscribe;
  subscribe.mutable_subscribe()->add_channels("room1");
  subscribe.mutable_subscribe()->set_request_id(1);
  EXPECT_EQ(Hex(subscribe), "00 00 00 0f  1a 09 0a 05 72 6f 6f 6d 31 10 01");

  v1::Envelope ack;
  ack.mutable_ack()->set_request_id(1);
  EXPECT_EQ(Hex(ack), "00 00 00 08  3a 02 08 01");

  v1::Envelope publish;
  publish.mutable_publish()->add_channels("room1");
  publish.mutable_publish()->set_payload("hi");
  publish.mutable_publish()->set_request_id(2);
  EXPECT_EQ(Hex(publish),
            "00 00 00 13  2a 0d 0a 05 72 6f 6f 6d 31 12 02 68 69 20 02");

  v1::Envelope event;
  event.mutable_event()->set_channel("room1");
  event.mutable_event()->set_payload("hi");
  EXPECT_EQ(Hex(event), "00 00 00 11  32 0b 0a 05 72 6f 6f 6d 31 12 02 68 69");

  v1::Envelope ack2;
  ack2.mutable_ack()->set_request_id(2);
  ack2.mutable_ack()->set_receivers(1);
  EXPECT_EQ(Hex(ack2), "00 00 00 0a  3a 04 08 02 10 01");
}

}  // namespace
}  // namespace channel
