// SPDX-License-Identifier: MPL-2.0
// Auth methods as mounts: which types exist, their backends, and which of
// their paths are logins (answered without a token, outside the ACL).
//
// An auth mount is an ordinary entry of its namespace's mount table whose
// path starts with "auth/" ("auth/userpass/"); secret mounts can never start
// with "auth/", so the path alone tells the two tables apart. The token
// store (auth/token/) is served by the core itself and has no mount entry;
// sys/auth shows it with token_accessor().
#pragma once

#include <memory>
#include <string_view>

#include "engine/backend/backend.hpp"
#include "engine/router/mount.hpp"

namespace engine::auth {

// "userpass", "approle", "ldap", "peer": the types sys/auth may enable.
bool is_enableable_type(std::string_view type);
// Those types as error messages list them.
inline constexpr std::string_view kEnableableTypes = "userpass, approle, ldap, peer";

// The backend of an auth mount (entry.type userpass or approle).
// InvalidArgument for other types.
Result<std::unique_ptr<Backend>> make_auth_backend(const MountEntry& entry);

// Is rel (the path below the auth mount) a login endpoint of its type?
// userpass and ldap: "login/NAME" (so "login" is a directory); approle and
// peer: "login".
bool is_login_path(const MountEntry& entry, std::string_view rel);
bool is_login_path(std::string_view type, std::string_view rel);

// The accessor sys/auth shows for a namespace's token store: derived from
// its sys/ mount's uuid, so it is stable and needs no record of its own.
std::string token_accessor(std::string_view sys_mount_uuid);

// Checks the path below auth/ of a new auth mount (canonical, one trailing
// '/'): not empty, not "token/", segments not "." or "..", no control
// characters. InvalidArgument otherwise.
Status validate_auth_path(std::string_view path);

}  // namespace engine::auth
