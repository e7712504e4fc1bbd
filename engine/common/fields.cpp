// SPDX-License-Identifier: MPL-2.0
#include "engine/common/fields.hpp"

#include <algorithm>
#include <charconv>

#include "engine/common/duration.hpp"

namespace engine::fields {
namespace {

const Json* find(const Json& body, std::string_view key) {
  if (!body.is_object()) return nullptr;
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

Error wrong_type(std::string_view key, const char* want) {
  return Error::invalid("field \"" + std::string(key) + "\" must be " + want);
}

}  // namespace

Status only(const Json& body, std::initializer_list<std::string_view> allowed) {
  if (!body.is_object()) return Error::invalid("request body must be a JSON object");
  for (const auto& [key, value] : body.items()) {
    bool known = false;
    for (std::string_view a : allowed) known = known || a == key;
    if (!known) return Error::invalid("unknown field \"" + std::string(key) + "\"");
  }
  return {};
}

Result<std::optional<std::string>> get_string(const Json& body, std::string_view key) {
  const Json* v = find(body, key);
  if (v == nullptr) return std::optional<std::string>{};
  if (v->is_string()) return std::optional<std::string>{v->get<std::string>()};
  if (v->is_number_integer() || v->is_boolean()) return std::optional<std::string>{to_plain(v->dump())};
  return wrong_type(key, "a string");
}

Result<std::optional<std::int64_t>> get_int(const Json& body, std::string_view key) {
  const Json* v = find(body, key);
  if (v == nullptr) return std::optional<std::int64_t>{};
  if (v->is_number_unsigned()) {
    // A JSON number above INT64_MAX would wrap to a negative one.
    if (v->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
      return Error::invalid("field \"" + std::string(key) + "\" is out of range");
    }
    return std::optional<std::int64_t>{static_cast<std::int64_t>(v->get<std::uint64_t>())};
  }
  if (v->is_number_integer()) return std::optional<std::int64_t>{v->get<std::int64_t>()};
  if (v->is_number_float()) {
    // Range-check before the cast: converting an out-of-range double is undefined.
    const double d = v->get<double>();
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) {
      return Error::invalid("field \"" + std::string(key) + "\" is out of range");
    }
    if (d == static_cast<double>(static_cast<std::int64_t>(d))) {
      return std::optional<std::int64_t>{static_cast<std::int64_t>(d)};
    }
  }
  if (v->is_string()) {
    std::string s = v->get<std::string>();
    std::int64_t n = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec == std::errc() && ptr == s.data() + s.size() && !s.empty()) return std::optional<std::int64_t>{n};
    if (ec == std::errc::result_out_of_range) {
      return Error::invalid("field \"" + std::string(key) + "\" is out of range");
    }
  }
  return wrong_type(key, "an integer");
}

Result<std::optional<bool>> get_bool(const Json& body, std::string_view key) {
  const Json* v = find(body, key);
  if (v == nullptr) return std::optional<bool>{};
  if (v->is_boolean()) return std::optional<bool>{v->get<bool>()};
  if (v->is_string()) {
    std::string s = v->get<std::string>();
    if (s == "true" || s == "1") return std::optional<bool>{true};
    if (s == "false" || s == "0") return std::optional<bool>{false};
  }
  return wrong_type(key, "a boolean");
}

Result<std::optional<std::int64_t>> get_duration(const Json& body, std::string_view key) {
  const Json* v = find(body, key);
  if (v == nullptr) return std::optional<std::int64_t>{};
  if (v->is_number_integer()) {
    if (v->get<std::int64_t>() < 0) return wrong_type(key, "a non-negative duration");
    return std::optional<std::int64_t>{v->get<std::int64_t>()};
  }
  if (v->is_string()) {
    auto d = parse_duration_seconds(v->get<std::string>());
    if (!d.ok()) return wrong_type(key, "a duration such as \"30s\", \"1h\" or seconds");
    if (*d < 0) return wrong_type(key, "a non-negative duration");
    return std::optional<std::int64_t>{d.value()};
  }
  return wrong_type(key, "a duration");
}

Result<std::optional<std::vector<std::string>>> get_string_list(const Json& body, std::string_view key) {
  const Json* v = find(body, key);
  if (v == nullptr) return std::optional<std::vector<std::string>>{};
  std::vector<std::string> out;
  if (v->is_string()) {
    std::string s = v->get<std::string>();
    std::size_t pos = 0;
    while (pos <= s.size() && !s.empty()) {
      std::size_t comma = s.find(',', pos);
      std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      while (!item.empty() && item.front() == ' ') item.erase(item.begin());
      while (!item.empty() && item.back() == ' ') item.pop_back();
      if (!item.empty()) out.push_back(item);
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
    return std::optional<std::vector<std::string>>{std::move(out)};
  }
  if (!v->is_array()) return wrong_type(key, "a list of strings");
  for (const Json& item : *v) {
    if (item.is_string())
      out.push_back(item.get<std::string>());
    else if (item.is_number_integer())
      out.push_back(to_plain(item.dump()));
    else
      return wrong_type(key, "a list of strings");
  }
  return std::optional<std::vector<std::string>>{std::move(out)};
}

Result<std::optional<std::map<std::string, std::string>>> get_string_map(const Json& body, std::string_view key) {
  const Json* v = find(body, key);
  if (v == nullptr) return std::optional<std::map<std::string, std::string>>{};
  if (!v->is_object()) return wrong_type(key, "an object of strings");
  std::map<std::string, std::string> out;
  for (const auto& [k, item] : v->items()) {
    if (!item.is_string()) return wrong_type(key, "an object whose values are strings");
    out.emplace(std::string(k), item.get<std::string>());
  }
  return std::optional<std::map<std::string, std::string>>{std::move(out)};
}

}  // namespace engine::fields
