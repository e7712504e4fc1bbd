// SPDX-License-Identifier: MPL-2.0
#include "engine/auth/auth_method.hpp"

#include "engine/auth/approle.hpp"
#include "engine/auth/ldap.hpp"
#include "engine/auth/userpass.hpp"

namespace engine::auth {

bool is_enableable_type(std::string_view type) { return type == "userpass" || type == "approle" || type == "ldap"; }

Result<std::unique_ptr<Backend>> make_auth_backend(const MountEntry& entry) {
  if (entry.type == "userpass") return std::unique_ptr<Backend>(std::make_unique<UserpassBackend>());
  if (entry.type == "approle") return std::unique_ptr<Backend>(std::make_unique<AppRoleBackend>());
  if (entry.type == "ldap") return std::unique_ptr<Backend>(std::make_unique<LdapBackend>());
  return Error::invalid("unknown auth method type \"" + entry.type + "\" (supported: " + std::string(kEnableableTypes) + ")");
}

bool is_login_path(std::string_view type, std::string_view rel) {
  if (type == "userpass") return UserpassBackend::is_login_path(rel);
  if (type == "approle") return AppRoleBackend::is_login_path(rel);
  if (type == "ldap") return LdapBackend::is_login_path(rel);
  return false;
}

bool is_login_path(const MountEntry& entry, std::string_view rel) { return is_login_path(entry.type, rel); }

std::string token_accessor(std::string_view sys_mount_uuid) {
  return "auth_token_" + std::string(sys_mount_uuid.substr(0, 8));
}

Status validate_auth_path(std::string_view path) {
  if (path.empty() || path == "/") return Error::invalid("auth method path must not be empty");
  if (path == "token/" || path.starts_with("token/")) return Error::invalid("path is already in use at token/");
  if (path.size() > 1024) return Error::name_too_long("auth method path is too long");
  std::string_view rest = path.substr(0, path.size() - 1);
  while (true) {
    auto slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    if (seg.empty() || seg == "." || seg == "..") {
      return Error::invalid("invalid auth method path \"" + std::string(path) + "\"");
    }
    if (seg.size() > 255) return Error::name_too_long("auth method path segment longer than 255 bytes");
    for (unsigned char c : seg) {
      if (c < 0x20 || c == 0x7f || c == '@' || c == '#') {
        return Error::invalid("auth method path \"" + std::string(path) + "\" contains a control character, '@' or '#'");
      }
    }
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return {};
}

}  // namespace engine::auth
