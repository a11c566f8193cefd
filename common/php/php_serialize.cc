#include "common/php/php_serialize.h"

#include <cmath>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace channel {
namespace {

class Parser {
 public:
  Parser(absl::string_view input, const PhpLimits& limits)
      : in_(input), limits_(limits) {}

  absl::StatusOr<PhpValue> Parse() {
    PhpValue out;
    if (!Value(&out, 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat(error_, " at byte ", pos_));
    }
    if (pos_ < in_.size() && in_[pos_] == '\n') ++pos_;
    if (pos_ != in_.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("trailing bytes after the value at byte ", pos_));
    }
    return out;
  }

 private:
  bool Fail(absl::string_view what) {
    error_ = std::string(what);
    return false;
  }
  bool Expect(char c) {
    if (pos_ >= in_.size() || in_[pos_] != c) {
      return Fail(absl::StrCat("expected '", std::string(1, c), "'"));
    }
    ++pos_;
    return true;
  }
  // Reads the text up to (not including) `end`, at most `max` bytes.
  bool Until(char end, size_t max, absl::string_view* text) {
    const size_t limit = std::min(in_.size(), pos_ + max + 1);
    for (size_t i = pos_; i < limit; ++i) {
      if (in_[i] == end) {
        *text = in_.substr(pos_, i - pos_);
        pos_ = i + 1;
        return true;
      }
    }
    return Fail(
        absl::StrCat("unterminated number (want '", std::string(1, end), "')"));
  }
  // A non-negative decimal count or length, no sign, no leading zeros.
  bool Count(char end, size_t* out) {
    absl::string_view text;
    if (!Until(end, 20, &text)) return false;
    if (text.empty() || (text.size() > 1 && text[0] == '0')) {
      return Fail("bad length");
    }
    for (char c : text) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
        return Fail("bad length");
      }
    }
    uint64_t v;
    if (!absl::SimpleAtoi(text, &v)) return Fail("length out of range");
    *out = static_cast<size_t>(v);
    return true;
  }

  bool Value(PhpValue* out, size_t depth) {
    const size_t start = pos_;
    if (in_.size() - pos_ < 2) return Fail("truncated value");
    const char type = in_[pos_];
    if (type == 'N') {
      ++pos_;
      if (!Expect(';')) return false;
      out->kind = PhpValue::Kind::kNull;
    } else {
      if (in_[pos_ + 1] != ':') return Fail("expected ':' after the type");
      pos_ += 2;
      switch (type) {
        case 'b': {
          absl::string_view text;
          if (!Until(';', 1, &text)) return false;
          if (text != "0" && text != "1") return Fail("bad boolean");
          out->kind = PhpValue::Kind::kBool;
          out->boolean = text == "1";
          break;
        }
        case 'i': {
          absl::string_view text;
          if (!Until(';', 21, &text)) return false;
          absl::string_view digits = text;
          if (!digits.empty() && digits[0] == '-') digits.remove_prefix(1);
          if (digits.empty()) return Fail("bad integer");
          for (char c : digits) {
            if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
              return Fail("bad integer");
            }
          }
          if (!absl::SimpleAtoi(text, &out->integer)) {
            return Fail("integer out of range");
          }
          out->kind = PhpValue::Kind::kInt;
          break;
        }
        case 'd': {
          absl::string_view text;
          if (!Until(';', 64, &text)) return false;
          if (text == "INF") {
            out->number = HUGE_VAL;
          } else if (text == "-INF") {
            out->number = -HUGE_VAL;
          } else if (text == "NAN") {
            out->number = std::nan("");
          } else {
            for (char c : text) {
              if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) &&
                  std::strchr(".eE+-", c) == nullptr) {
                return Fail("bad double");
              }
            }
            if (!absl::SimpleAtod(text, &out->number)) {
              return Fail("bad double");
            }
          }
          out->kind = PhpValue::Kind::kDouble;
          break;
        }
        case 's': {
          size_t length;
          if (!Count(':', &length)) return false;
          // The bytes, two quotes and ';' must all be there.
          if (length > in_.size() - pos_ || in_.size() - pos_ - length < 3) {
            return Fail("string length beyond the input");
          }
          if (!Expect('"')) return false;
          out->str = in_.substr(pos_, length);
          pos_ += length;
          if (!Expect('"') || !Expect(';')) return false;
          out->kind = PhpValue::Kind::kString;
          break;
        }
        case 'a': {
          if (depth >= limits_.max_depth) return Fail("arrays nested too deep");
          size_t count;
          if (!Count(':', &count)) return false;
          // Each entry takes at least 6 bytes ("i:0;N;"): a count the input
          // cannot hold is refused before anything is allocated.
          if (count > (in_.size() - pos_) / 6) {
            return Fail("array count beyond the input");
          }
          elements_ += count;
          if (elements_ > limits_.max_elements) {
            return Fail("too many array elements");
          }
          if (!Expect('{')) return false;
          out->kind = PhpValue::Kind::kArray;
          out->items.resize(count);
          for (auto& [key, value] : out->items) {
            if (!Value(&key, depth + 1)) return false;
            if (key.kind != PhpValue::Kind::kInt &&
                key.kind != PhpValue::Kind::kString) {
              return Fail("array key must be an integer or a string");
            }
            if (!Value(&value, depth + 1)) return false;
          }
          if (!Expect('}')) return false;
          break;
        }
        case 'O':
        case 'C':
          return Fail("objects are refused");
        case 'r':
        case 'R':
          return Fail("references are refused");
        default:
          return Fail(absl::StrCat("unsupported type '",
                                   absl::CHexEscape(std::string(1, type)),
                                   "'"));
      }
    }
    out->raw = in_.substr(start, pos_ - start);
    return true;
  }

  absl::string_view in_;
  const PhpLimits& limits_;
  size_t pos_ = 0;
  size_t elements_ = 0;
  std::string error_;
};

// PHP's rule for integer-like array keys: "0" or -?[1-9][0-9]* within
// int64.
bool IsPhpIntegerKey(absl::string_view key, int64_t* value) {
  absl::string_view digits = key;
  if (!digits.empty() && digits[0] == '-') digits.remove_prefix(1);
  if (digits.empty() || digits.size() > 19) return false;
  if (digits[0] == '0' && (digits.size() > 1 || key.size() > 1)) return false;
  for (char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return absl::SimpleAtoi(key, value);
}

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void WriteJsonString(absl::string_view bytes, JsonWriter* w) {
  // Keep valid UTF-8, replace each invalid byte with U+FFFD (json_encode
  // would fail instead; a message must still arrive).
  std::string clean;
  clean.reserve(bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    size_t n = c < 0x80         ? 1
               : (c >> 5) == 6  ? 2
               : (c >> 4) == 14 ? 3
               : (c >> 3) == 30 ? 4
                                : 0;
    bool ok = n > 0 && i + n <= bytes.size();
    for (size_t k = 1; ok && k < n; ++k) {
      ok = (static_cast<unsigned char>(bytes[i + k]) & 0xC0) == 0x80;
    }
    if (ok && n == 2) ok = c >= 0xC2;
    if (ok && n == 3) {
      const auto c1 = static_cast<unsigned char>(bytes[i + 1]);
      ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);
    }
    if (ok && n == 4) {
      const auto c1 = static_cast<unsigned char>(bytes[i + 1]);
      ok = c <= 0xF4 && !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
    }
    if (ok) {
      clean.append(bytes.data() + i, n);
      i += n;
    } else {
      clean.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  w->String(clean.data(), static_cast<rapidjson::SizeType>(clean.size()));
}

void WriteJson(const PhpValue& v, JsonWriter* w) {
  switch (v.kind) {
    case PhpValue::Kind::kNull:
      w->Null();
      return;
    case PhpValue::Kind::kBool:
      w->Bool(v.boolean);
      return;
    case PhpValue::Kind::kInt:
      w->Int64(v.integer);
      return;
    case PhpValue::Kind::kDouble:
      if (std::isfinite(v.number)) {
        w->Double(v.number);
      } else {
        w->Null();
      }
      return;
    case PhpValue::Kind::kString:
      WriteJsonString(v.str, w);
      return;
    case PhpValue::Kind::kArray: {
      bool list = true;
      for (size_t i = 0; i < v.items.size() && list; ++i) {
        list = v.items[i].first.kind == PhpValue::Kind::kInt &&
               v.items[i].first.integer == static_cast<int64_t>(i);
      }
      if (list) {
        w->StartArray();
        for (const auto& item : v.items) WriteJson(item.second, w);
        w->EndArray();
        return;
      }
      w->StartObject();
      for (const auto& [key, value] : v.items) {
        if (key.kind == PhpValue::Kind::kInt) {
          const std::string text = absl::StrCat(key.integer);
          w->Key(text.data(), static_cast<rapidjson::SizeType>(text.size()));
        } else {
          WriteJsonString(key.str, w);
        }
        WriteJson(value, w);
      }
      w->EndObject();
      return;
    }
  }
}

}  // namespace

const PhpValue* PhpValue::Find(absl::string_view key) const {
  if (kind != Kind::kArray) return nullptr;
  int64_t as_int = 0;
  const bool int_key = IsPhpIntegerKey(key, &as_int);
  for (const auto& [k, v] : items) {
    if (k.kind == Kind::kString && k.str == key) return &v;
    if (int_key && k.kind == Kind::kInt && k.integer == as_int) return &v;
  }
  return nullptr;
}

bool PhpValue::AsKeyText(std::string* out) const {
  if (kind == Kind::kString) {
    out->assign(str.data(), str.size());
    return true;
  }
  if (kind == Kind::kInt) {
    *out = absl::StrCat(integer);
    return true;
  }
  return false;
}

absl::StatusOr<PhpValue> ParsePhp(absl::string_view input,
                                  const PhpLimits& limits) {
  return Parser(input, limits).Parse();
}

void AppendPhpString(absl::string_view bytes, std::string* out) {
  absl::StrAppend(out, "s:", bytes.size(), ":\"");
  out->append(bytes.data(), bytes.size());
  out->append("\";");
}

void AppendPhpKey(absl::string_view key, std::string* out) {
  int64_t value;
  if (IsPhpIntegerKey(key, &value)) {
    absl::StrAppend(out, "i:", value, ";");
  } else {
    AppendPhpString(key, out);
  }
}

std::string PhpToJson(const PhpValue& value) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  WriteJson(value, &writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace channel
