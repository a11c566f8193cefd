#include "common/envelope_codec.h"

#include <string>

#include "gtest/gtest.h"

namespace channel {
namespace {

// Every kind of Envelope, serialized, must not start with 'a' (0x61): the
// byte the PHP codec's bodies start with.
TEST(EnvelopeCodecTest, NoEnvelopeStartsWithPhpByte) {
  const google::protobuf::OneofDescriptor* oneof =
      v1::Envelope::descriptor()->FindOneofByName("msg");
  ASSERT_NE(oneof, nullptr);
  for (int i = 0; i < oneof->field_count(); ++i) {
    const auto* field = oneof->field(i);
    v1::Envelope envelope;
    envelope.GetReflection()->MutableMessage(&envelope, field);
    const std::string bytes = envelope.SerializeAsString();
    ASSERT_FALSE(bytes.empty()) << field->name();
    EXPECT_NE(bytes[0], 'a') << field->name();
    EXPECT_NE(field->number(), 12) << "field 12 is reserved";
  }
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
