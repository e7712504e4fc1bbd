// SPDX-License-Identifier: MPL-2.0
#include "engine/auth/auth_method.hpp"

#include "engine/auth/approle.hpp"
#include "engine/auth/ldap.hpp"
#include "engine/auth/peer.hpp"
#include "engine/auth/userpass.hpp"

namespace engine::auth {

bool is_enableable_type(std::string_view type) {
  return type == "userpass" || type == "approle" || type == "ldap" || type == "peer";
}

Result<std::unique_ptr<Backend>> make_auth_backend(const MountEntry& entry) {
  if (entry.type == "userpass") return std::unique_ptr<Backend>(std::make_unique<UserpassBackend>());
  if (entry.type == "approle") return std::unique_ptr<Backend>(std::make_unique<AppRoleBackend>());
  if (entry.type == "ldap") return std::unique_ptr<Backend>(std::make_unique<LdapBackend>());
  if (entry.type == "peer") return std::unique_ptr<Backend>(std::make_unique<PeerBackend>());
  return Error::invalid("unknown auth method type \"" + entry.type + "\" (supported: " + std::string(kEnableableTypes) +
                        ")");
}

bool is_login_path(std::string_view type, std::string_view rel) {
  if (type == "userpass") return UserpassBackend::is_login_path(rel);
  if (type == "approle") return AppRoleBackend::is_login_path(rel);
  if (type == "ldap") return LdapBackend::is_login_path(rel);
  if (type == "peer") return PeerBackend::is_login_path(rel);
  return false;
}

bool is_login_path(const MountEntry& entry, std::string_view rel) { return is_login_path(entry.type, rel); }

std::string token_accessor(std::string_view sys_mount_uuid) {
  return "auth_token_" + std::string(sys_mount_uuid.substr(0, 8));
}

Status validate_auth_path(std::string_view path) {
  if (path == "token/" || path.starts_with("token/")) return Error::invalid("path is already in use at token/");
  COFFER_TRY_STATUS(check_path_size(path, "auth method path"));
  return check_path_segments(path, "auth method path", "@#");
}

}  // namespace engine::auth
