#include "common/json/bounded_json.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace channel {

std::string ToJson(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

size_t Depth(const rapidjson::Value& root, size_t limit) {
  std::vector<std::pair<const rapidjson::Value*, size_t>> stack{{&root, 1}};
  size_t max_depth = 0;
  while (!stack.empty()) {
    auto [value, depth] = stack.back();
    stack.pop_back();
    max_depth = std::max(max_depth, depth);
    if (max_depth > limit) return max_depth;
    if (value->IsArray()) {
      for (const auto& v : value->GetArray()) stack.emplace_back(&v, depth + 1);
    } else if (value->IsObject()) {
      for (const auto& m : value->GetObject()) {
        stack.emplace_back(&m.value, depth + 1);
      }
    }
  }
  return max_depth;
}

}  // namespace channel
