#ifndef CHANNEL_COMMON_PHP_PHP_SERIALIZE_H_
#define CHANNEL_COMMON_PHP_PHP_SERIALIZE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace channel {

// A value decoded from PHP serialize() text (the Workerman Channel wire
// format). Views point into the input, which must outlive the value.
struct PhpValue {
  enum class Kind { kNull, kBool, kInt, kDouble, kString, kArray };
  Kind kind = Kind::kNull;
  bool boolean = false;
  int64_t integer = 0;
  double number = 0;
  absl::string_view str;  // kString: the bytes between the quotes
  absl::string_view raw;  // the value's own serialized text, e.g. s:2:"hi";
  std::vector<std::pair<PhpValue, PhpValue>> items;  // kArray, in order

  // For an array: the value under string key `key` (or the integer key
  // spelled the same), or nullptr.
  const PhpValue* Find(absl::string_view key) const;
  // A string, or an integer as its decimal text (PHP treats the key "123"
  // and 123 alike); false for other kinds.
  bool AsKeyText(std::string* out) const;
};

struct PhpLimits {
  size_t max_depth = 32;          // arrays inside arrays
  size_t max_elements = 1 << 16;  // array entries in the whole body
};

// Parses one PHP serialize() value that spans `input` entirely (one
// trailing "\n" is allowed: Channel versions up to 1.2.1 append it).
// Strict and bounded: the types serialize() emits for scalars and arrays
// only (N b i d s a); objects (O, C), references (r, R), enums (E) and
// escaped strings (S) are refused; every length and count is checked
// against the bytes left before anything is allocated; nesting and
// element counts are capped. Work is linear in the input. On failure
// InvalidArgument, whose message says what and where ("bad length at byte
// 4"); the broker quotes it to the peer as it is.
absl::StatusOr<PhpValue> ParsePhp(absl::string_view input,
                                  const PhpLimits& limits);

// Appends serialize()'s text for a string: s:LEN:"BYTES";
void AppendPhpString(absl::string_view bytes, std::string* out);
// Appends the text PHP would use for an array key `key`: i:N; when it is a
// decimal integer without leading zeros that fits in 64 bits (as PHP keys
// it), otherwise s:LEN:"KEY";
void AppendPhpKey(absl::string_view key, std::string* out);

// JSON text of a PHP value, as PHP's json_encode would write it: arrays
// with keys 0..n-1 in order become JSON arrays, other arrays objects (keys
// as strings); non-finite doubles become null; bytes that are not UTF-8
// are replaced by U+FFFD. Bounded by the value's size.
std::string PhpToJson(const PhpValue& value);

}  // namespace channel

#endif  // CHANNEL_COMMON_PHP_PHP_SERIALIZE_H_
