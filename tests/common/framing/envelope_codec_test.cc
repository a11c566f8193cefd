#include "common/framing/envelope_codec.h"

#include <string>

#include "gtest/gtest.h"

namespace channel {
namespace {

// A body starting with 'a' (0x61: field 12, wire type 1) is never an
// Envelope field: field 12 is reserved, so whatever follows the tag lands in
// the unknown fields, and no serialized Envelope starts with it. (The generated
// code is protobuf-lite: no descriptors to walk, so the rule is checked on the
// wire.)
TEST(EnvelopeCodecTest, FieldTwelveIsNoEnvelopeField) {
  const std::string body = std::string("a") + std::string(8, '\x01');
  v1::Envelope envelope;
  ASSERT_TRUE(envelope.ParseFromString(body));
  EXPECT_EQ(envelope.msg_case(), v1::Envelope::MSG_NOT_SET);
  EXPECT_EQ(envelope.SerializeAsString(), body);  // kept as unknown
}

TEST(EnvelopeCodecTest, ParsesValidEnvelope) {
  v1::Envelope in;
  in.mutable_publish()->add_channels("c");
  in.mutable_publish()->set_payload("p");
  v1::Envelope out;
  EXPECT_EQ(ParseBody(in.SerializeAsString(), &out), BodyKind::kEnvelope);
  EXPECT_EQ(out.publish().payload(), "p");
}

TEST(EnvelopeCodecTest, RecognisesPhpSerialize) {
  v1::Envelope out;
  EXPECT_EQ(ParseBody(R"(a:1:{s:4:"type";s:7:"reserve";})", &out),
            BodyKind::kPhpSerialize);
}

TEST(EnvelopeCodecTest, RejectsTruncatedAndGarbageBodies) {
  v1::Envelope in;
  in.mutable_publish()->add_channels("channel-name");
  in.mutable_publish()->set_payload(std::string(100, 'x'));
  const std::string bytes = in.SerializeAsString();
  v1::Envelope out;
  for (size_t cut = 1; cut < bytes.size(); ++cut) {
    // Some prefixes are valid protobuf (a shorter message); none may crash,
    // and a cut inside a length-delimited field must be rejected.
    ParseBody(absl::string_view(bytes.data(), cut), &out);
  }
  EXPECT_EQ(ParseBody(absl::string_view(bytes.data(), bytes.size() - 1), &out),
            BodyKind::kInvalid);
  EXPECT_EQ(ParseBody("\xff\xff\xff\xff\xff", &out), BodyKind::kInvalid);
}

}  // namespace
}  // namespace channel
