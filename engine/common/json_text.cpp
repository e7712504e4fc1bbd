// SPDX-License-Identifier: MPL-2.0
#include "engine/common/json_text.hpp"

#include <utility>
#include <vector>

namespace engine {

Result<Json> parse_json(std::string_view text, std::string_view what) {
  // nlohmann tells the callback the depth of each value as it starts; a
  // container that would start below the bound is discarded, so nothing
  // deeper is ever built, and the flag turns the discard into an error.
  bool too_deep = false;
  auto bound = [&too_deep](int depth, Json::parse_event_t event, Json&) {
    if ((event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start) &&
        depth >= kMaxJsonDepth) {
      too_deep = true;
      return false;
    }
    return !too_deep;
  };
  Json parsed = Json::parse(text.begin(), text.end(), bound, /*allow_exceptions=*/false);
  if (too_deep) {
    return Error::invalid(std::string(what) + " nested too deep (more than " + std::to_string(kMaxJsonDepth) +
                          " levels)");
  }
  if (parsed.is_discarded()) return Error::invalid("malformed " + std::string(what));
  return parsed;
}

bool json_depth_within(const Json& value, int limit) {
  std::vector<std::pair<const Json*, int>> todo{{&value, 0}};
  while (!todo.empty()) {
    auto [v, depth] = todo.back();
    todo.pop_back();
    if (!v->is_structured()) continue;
    if (depth + 1 > limit) return false;
    for (const Json& child : *v) todo.emplace_back(&child, depth + 1);
  }
  return true;
}

}  // namespace engine
