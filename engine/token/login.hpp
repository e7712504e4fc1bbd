// SPDX-License-Identifier: MPL-2.0
// The core's half of a login: an auth method has accepted the credentials
// and described the login (Response::login); this finds or creates the
// entity behind the alias, makes the token, and builds Vault's reply.
#pragma once

#include <string_view>

#include "engine/authz/acl_cache.hpp"
#include "engine/identity/identity_store.hpp"
#include "engine/router/router.hpp"
#include "engine/token/token_store.hpp"

namespace engine::auth {

// The stores a login and a login token's life touch.
struct LoginStores {
  Router& router;
  TokenStore& tokens;
  IdentityStore& identity;
  AclCache& acls;
};

// Turns `login` (from the backend of `mount`, in namespace ns) into a token:
// an orphan service token of ns, with path `login_path` (below the
// namespace: "auth/userpass/login/bob"), display name "<mount path with
// '-'>-<display_name>" ("userpass-bob", "approle"), entity_id from the
// identity store. Returns the reply: {"auth": {...}} as Vault's login, and
// issued_token. Errors: InvalidArgument "auth methods cannot create root
// tokens"; PermissionDenied for a disabled entity; storage errors.
// Caller holds the core lock (shared).
Result<Response> finish_login(LoginStores& core, NamespaceNode& ns, const Mount& mount, std::string_view login_path,
                              LoginAuth login, TimePoint now);

// The policies a login's token gets: its policies sanitized, "default"
// added unless refused, sorted, without duplicates.
std::vector<std::string> login_token_policies(const LoginAuth& login);

// A login token's renewal check, done ahead of the request with the core
// lock released while the method waits on its server (renew-self).
struct PreparedRenewal {
  std::string token_hash;  // the token it was made for
  std::string mount_uuid;  // the auth method that made it
  Status status;           // the check's failure, if it failed
  std::optional<LoginAuth> login;
};

// The auth mount whose login made `token` (route.mount null when none:
// not a login token, or its method is gone). Caller holds the core lock.
Route login_route_of(const Router& router, const TokenEntry& token);

// Vault's renewal of a login token: the token's auth method checks the
// login again (LDAP binds as the user and reads their groups); the renewal
// is refused when that fails or the token's policies would now differ
// ("policies have changed, not renewing"), and the entity's external groups
// on the mount follow what the method reports. Tokens of methods with
// nothing to check pass. `prepared`, when it was made for this token and
// mount, is used instead of asking the method now. Caller holds the core
// lock (shared).
Status renew_login_token(LoginStores& core, const TokenEntry& token, TimePoint now,
                         const PreparedRenewal* prepared = nullptr);

// Revokes every token made by a login through `mount` (their subtrees too),
// as Vault does when an auth method is disabled; with `meta`, only those
// whose meta[meta->first] is meta->second (a deleted role's). Caller holds
// the core lock.
Status revoke_mount_tokens(LoginStores& core, const NamespaceNode& ns, const MountEntry& mount, TimePoint now,
                           const std::pair<std::string, std::string>* meta = nullptr);

}  // namespace engine::auth
