#ifndef CHANNEL_COMMON_JSON_BOUNDED_JSON_H_
#define CHANNEL_COMMON_JSON_BOUNDED_JSON_H_

// RapidJSON with bounds, for JSON whose author is not trusted (client
// commands, application actions): nesting bounded while parsing, depth
// measured without recursion, values re-encoded.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "rapidjson/document.h"
#include "rapidjson/encodedstream.h"
#include "rapidjson/memorystream.h"
#include "rapidjson/reader.h"

namespace channel {

// `value` as compact JSON text.
std::string ToJson(const rapidjson::Value& value);

// Nesting depth of `root`, computed without recursion (RapidJSON's Writer
// recurses, so depth is bounded before anything is serialized); stops
// counting once past `limit`.
size_t Depth(const rapidjson::Value& root, size_t limit);

// RapidJSON's Document as the SAX handler of its Reader, with nesting
// counted: the reader stops at the first array or object deeper than
// `limit`, so a deeply nested frame (1 MB of '[') costs the parse of its
// first `limit` bytes, never a DOM of a million levels.
class DepthLimitedHandler {
 public:
  using Ch = char;
  DepthLimitedHandler(rapidjson::Document& doc, size_t limit)
      : doc_(doc), limit_(limit) {}
  bool Null() { return doc_.Null(); }
  bool Bool(bool b) { return doc_.Bool(b); }
  bool Int(int i) { return doc_.Int(i); }
  bool Uint(unsigned u) { return doc_.Uint(u); }
  bool Int64(int64_t i) { return doc_.Int64(i); }
  bool Uint64(uint64_t u) { return doc_.Uint64(u); }
  bool Double(double d) { return doc_.Double(d); }
  bool RawNumber(const Ch* str, rapidjson::SizeType length, bool copy) {
    return doc_.RawNumber(str, length, copy);
  }
  bool String(const Ch* str, rapidjson::SizeType length, bool copy) {
    return doc_.String(str, length, copy);
  }
  bool Key(const Ch* str, rapidjson::SizeType length, bool copy) {
    return doc_.Key(str, length, copy);
  }
  bool StartObject() { return Deeper() && doc_.StartObject(); }
  bool EndObject(rapidjson::SizeType members) {
    --depth_;
    return doc_.EndObject(members);
  }
  bool StartArray() { return Deeper() && doc_.StartArray(); }
  bool EndArray(rapidjson::SizeType elements) {
    --depth_;
    return doc_.EndArray(elements);
  }
  bool exceeded() const { return exceeded_; }

 private:
  bool Deeper() {
    if (++depth_ <= limit_) return true;
    exceeded_ = true;
    return false;
  }
  rapidjson::Document& doc_;
  const size_t limit_;
  size_t depth_ = 0;
  bool exceeded_ = false;
};

// Fills a Document from `text` (Document::Populate's generator).
struct DepthLimitedParse {
  absl::string_view text;
  size_t limit;
  rapidjson::ParseResult result;
  bool exceeded = false;
  bool operator()(rapidjson::Document& doc) {
    DepthLimitedHandler handler(doc, limit);
    rapidjson::MemoryStream memory(text.data(), text.size());
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream>
        in(memory);
    rapidjson::Reader reader;
    // Iterative: no recursion, whatever the nesting.
    result = reader.Parse<rapidjson::kParseIterativeFlag>(in, handler);
    exceeded = handler.exceeded();
    return !result.IsError();
  }
};

}  // namespace channel

#endif  // CHANNEL_COMMON_JSON_BOUNDED_JSON_H_
