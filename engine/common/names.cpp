// SPDX-License-Identifier: MPL-2.0
#include "engine/common/names.hpp"

#include <string>

#include "engine/common/utf8.hpp"

namespace engine {
namespace {

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

}  // namespace

Status check_name_text(std::string_view name, std::string_view what) {
  // Messages quote the name only once it is known to be printable UTF-8.
  if (!utf8::valid(name)) return Error::invalid(std::string(what) + " is not valid UTF-8");
  for (std::size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f) return Error::invalid(std::string(what) + " contains a control character");
    if (c == '*') return Error::invalid(std::string(what) + " \"" + std::string(name) + "\" contains '*'");
    if (c == '%' && i + 2 < name.size() && is_hex(name[i + 1]) && is_hex(name[i + 2])) {
      return Error::invalid(std::string(what) + " \"" + std::string(name) + "\" contains a percent escape (%" +
                            std::string(name.substr(i + 1, 2)) + ")");
    }
  }
  return {};
}

bool glob_match(std::string_view pattern, std::string_view text) noexcept {
  std::size_t p = 0, t = 0;
  std::size_t star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace engine
