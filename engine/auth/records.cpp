// SPDX-License-Identifier: MPL-2.0
#include "engine/auth/records.hpp"

#include <algorithm>
#include <cctype>

namespace engine::auth {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

Response keys_reply(Json keys) {
  Response resp;
  resp.data["keys"] = std::move(keys);
  return resp;
}

Status check_name(std::string_view name, std::string_view what) {
  if (name.empty()) return Error::invalid("missing " + std::string(what));
  if (name.size() > 255) return Error::invalid(std::string(what) + " is longer than 255 bytes");
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.' || c == '@';
    if (!ok) {
      return Error::invalid("invalid " + std::string(what) + " \"" + std::string(name) +
                            "\": only letters, digits, '_', '-', '.' and '@' are allowed");
    }
  }
  return {};
}

}  // namespace engine::auth
