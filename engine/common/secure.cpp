// SPDX-License-Identifier: MPL-2.0
#include "engine/common/secure.hpp"

#include <sodium.h>

namespace engine {

void secure_zero(void* p, std::size_t n) noexcept {
  if (p != nullptr && n != 0) sodium_memzero(p, n);
}

SecureString render_pretty(const Json& value) {
  SecureString out = value.dump(2);
  out.push_back('\n');
  return out;
}

SecureString field_text(const Json& value) {
  if (value.is_string()) return value.get_ref<const SecureString&>();
  return value.dump();
}

// nlohmann's dump(2) (render_pretty) writes an object's members one to a
// line, each "\n" + 2 spaces per level + the member; it escapes '"', '\\' and
// bytes below 0x20 in keys and strings (a raw newline is never inside one)
// and leaves all else as it is (ensure_ascii off). So "\n  \"" begins the
// top-level members alone, and a name without those three kinds of byte is
// its key's own rendering. A scalar's text is the same pretty or compact.
std::optional<std::string_view> field_in_rendering(std::string_view rendered, std::string_view name) {
  for (const char c : name) {
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) return std::nullopt;
  }
  constexpr std::string_view kMember = "\n  \"";
  std::size_t at = 0;
  std::string_view line;
  for (;;) {
    at = rendered.find(kMember, at);
    if (at == std::string_view::npos) return std::nullopt;
    at += kMember.size();
    std::string_view rest = rendered.substr(at);
    if (rest.starts_with(name) && rest.substr(name.size()).starts_with("\": ")) {
      rest.remove_prefix(name.size() + 3);
      const std::size_t eol = rest.find('\n');
      if (eol == std::string_view::npos) return std::nullopt;
      line = rest.substr(0, eol);
      break;
    }
  }
  if (line.ends_with(',')) line.remove_suffix(1);
  if (line.empty() || line.front() == '{' || line.front() == '[') return std::nullopt;
  if (line.front() != '"') return line;  // a number, true, false or null
  if (line.size() < 2 || line.back() != '"') return std::nullopt;
  line = line.substr(1, line.size() - 2);
  if (line.find_first_of("\"\\") != std::string_view::npos) return std::nullopt;  // escaped: parse
  return line;
}

}  // namespace engine
