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

std::string role_key(std::string_view name) { return "role/" + std::string(name); }

Result<bool> role_exists(const BackendRequest& req) {
  std::string_view rel = req.path;
  if (!rel.starts_with("role/")) return true;
  std::string_view name = rel.substr(5);
  if (name.empty() || name.find('/') != std::string_view::npos) return true;
  COFFER_TRY(auto bytes, req.storage.get(role_key(name)));
  return bytes.has_value();
}

Result<Response> list_roles(Storage& storage) {
  COFFER_TRY(auto names, storage.list("role/"));
  Json keys = Json::array();
  for (const auto& n : names) {
    if (!n.empty() && n.back() != '/') keys.push_back(n);
  }
  return keys_reply(std::move(keys));
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
