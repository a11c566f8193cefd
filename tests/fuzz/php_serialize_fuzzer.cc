// libFuzzer target: a PHP serialize() body from a Workerman Channel client.
// The strict parser, key lookups and the JSON conversion the bridge uses,
// with invariants: a parsed value's raw text re-parses to the same raw
// text, and every array's entries stay within the element limit.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/php/php_serialize.h"

namespace {

size_t CountElements(const channel::PhpValue& v) {
  size_t n = v.items.size();
  for (const auto& [key, value] : v.items) n += CountElements(value);
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  channel::PhpLimits limits;
  limits.max_depth = 16;
  limits.max_elements = 4096;
  absl::StatusOr<channel::PhpValue> parsed = channel::ParsePhp(input, limits);
  if (!parsed.ok()) {
    if (parsed.status().message().empty()) std::abort();  // must say why
    return 0;
  }
  const channel::PhpValue& value = *parsed;
  if (CountElements(value) > limits.max_elements) std::abort();
  const std::string raw(value.raw);
  absl::StatusOr<channel::PhpValue> again = channel::ParsePhp(raw, limits);
  if (!again.ok() || again->raw != raw) std::abort();
  (void)value.Find("type");
  (void)value.Find("123");
  std::string key;
  (void)value.AsKeyText(&key);
  const std::string json = channel::PhpToJson(value);
  if (json.empty()) std::abort();
  std::string out;
  channel::AppendPhpKey(input.substr(0, 32), &out);
  return 0;
}
