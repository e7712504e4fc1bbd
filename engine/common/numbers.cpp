// SPDX-License-Identifier: MPL-2.0
#include "engine/common/numbers.hpp"

#include <algorithm>
#include <charconv>
#include <string>

namespace engine {
namespace {

bool is_digit_of(char c, int base) {
  int v = -1;
  if (c >= '0' && c <= '9')
    v = c - '0';
  else if (c >= 'a' && c <= 'z')
    v = c - 'a' + 10;
  else if (c >= 'A' && c <= 'Z')
    v = c - 'A' + 10;
  return v >= 0 && v < base;
}

}  // namespace

Result<std::int64_t> parse_count(std::string_view text, std::string_view what, std::int64_t max, int base) {
  const bool digits =
      !text.empty() && std::all_of(text.begin(), text.end(), [base](char c) { return is_digit_of(c, base); });
  if (!digits) return Error::invalid("invalid " + std::string(what) + " \"" + std::string(text) + "\"");
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n, base);
  if (ec == std::errc::result_out_of_range || (ec == std::errc() && n > max)) {
    return Error::invalid(std::string(what) + " out of range");
  }
  if (ec != std::errc() || p != text.data() + text.size()) {
    return Error::invalid("invalid " + std::string(what) + " \"" + std::string(text) + "\"");
  }
  return n;
}

}  // namespace engine
