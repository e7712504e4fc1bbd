// SPDX-License-Identifier: MPL-2.0
#include "engine/common/fields.hpp"

#include <algorithm>
#include <charconv>

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

Result<std::int64_t> parse_count(std::string_view text, std::string_view what, std::int64_t max) {
  const bool digits = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits) return Error::invalid("invalid " + std::string(what) + " \"" + std::string(text) + "\"");
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec == std::errc::result_out_of_range || (ec == std::errc() && n > max)) {
    return Error::invalid(std::string(what) + " out of range");
  }
  if (ec != std::errc() || p != text.data() + text.size()) {
    return Error::invalid("invalid " + std::string(what) + " \"" + std::string(text) + "\"");
  }
  return n;
}

Result<std::int64_t> parse_duration(std::string_view text) {
  if (text.empty()) return Error::invalid("empty duration");
  std::int64_t plain = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), plain);
  if (ec == std::errc() && p == text.data() + text.size()) {
    if (plain < 0) return Error::invalid("duration must not be negative");
    return plain;
  }
  // Go durations: sequence of <number><unit>, units h m s (ms/us/ns round down).
  double total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t start = i;
    while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    if (start == i) return Error::invalid("invalid duration \"" + std::string(text) + "\"");
    double number = 0;
    auto [np, nec] = std::from_chars(text.data() + start, text.data() + i, number);
    if (nec != std::errc() || np != text.data() + i) {
      return Error::invalid("invalid duration \"" + std::string(text) + "\"");
    }
    std::size_t ustart = i;
    while (i < text.size() && !((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    std::string_view unit = text.substr(ustart, i - ustart);
    double scale = 0;
    if (unit == "h") scale = 3600;
    else if (unit == "m") scale = 60;
    else if (unit == "s") scale = 1;
    else if (unit == "ms") scale = 1e-3;
    else if (unit == "us" || unit == "µs") scale = 1e-6;
    else if (unit == "ns") scale = 1e-9;
    else if (unit == "d") scale = 86400;  // Vault's parseutil accepts days
    else return Error::invalid("invalid duration \"" + std::string(text) + "\"");
    total += number * scale;
  }
  if (total > 9.2e18) return Error::invalid("duration too large");
  return static_cast<std::int64_t>(total);
}

Result<std::optional<std::int64_t>> get_duration(const Json& body, std::string_view key) {
  const Json* v = find(body, key);
  if (v == nullptr) return std::optional<std::int64_t>{};
  if (v->is_number_integer()) {
    if (v->get<std::int64_t>() < 0) return wrong_type(key, "a non-negative duration");
    return std::optional<std::int64_t>{v->get<std::int64_t>()};
  }
  if (v->is_string()) {
    auto d = parse_duration(v->get<std::string>());
    if (!d.ok()) return wrong_type(key, "a duration such as \"30s\", \"1h\" or seconds");
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
    if (item.is_string()) out.push_back(item.get<std::string>());
    else if (item.is_number_integer()) out.push_back(to_plain(item.dump()));
    else return wrong_type(key, "a list of strings");
  }
  return std::optional<std::vector<std::string>>{std::move(out)};
}

Result<std::optional<std::map<std::string, std::string>>> get_string_map(const Json& body,
                                                                          std::string_view key) {
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
