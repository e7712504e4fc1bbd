// SPDX-License-Identifier: MPL-2.0
// Reply values made from plain containers, as Vault's JSON shows them: a Go
// nil slice or map is null, an empty one [] or {}.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/common/secure.hpp"

namespace engine {

inline Json string_list(const std::vector<std::string>& v) {
  Json out = Json::array();
  auto& items = out.get_ref<Json::array_t&>();
  items.reserve(v.size());
  for (const auto& s : v) items.emplace_back(to_secure(s));
  return out;
}

inline Json string_list_or_null(const std::vector<std::string>& v) {
  return v.empty() ? Json(nullptr) : string_list(v);
}

inline Json string_map(const std::map<std::string, std::string>& m) {
  Json out = Json::object();
  for (const auto& [k, v] : m) out[to_secure(k)] = v;
  return out;
}

inline Json string_map_or_null(const std::map<std::string, std::string>& m) {
  return m.empty() ? Json(nullptr) : string_map(m);
}

}  // namespace engine
