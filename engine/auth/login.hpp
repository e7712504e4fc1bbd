// SPDX-License-Identifier: MPL-2.0
// The core's half of a login: an auth method has accepted the credentials
// and described the login (Response::login); this finds or creates the
// entity behind the alias, makes the token, and builds Vault's reply.
#pragma once

#include <string_view>

#include "engine/core_impl.hpp"

namespace engine::auth {

// Turns `login` (from the backend of `mount`, in namespace ns) into a token:
// an orphan service token of ns, with path `login_path` (below the
// namespace: "auth/userpass/login/bob"), display name "<mount path with
// '-'>-<display_name>" ("userpass-bob", "approle"), entity_id from the
// identity store. Returns the reply: {"auth": {...}} as Vault's login, and
// issued_token. Errors: InvalidArgument "auth methods cannot create root
// tokens"; PermissionDenied for a disabled entity; storage errors.
// Caller holds core.mu (shared).
Result<Response> finish_login(Core::Impl& core, NamespaceNode& ns, const Mount& mount, std::string_view login_path,
                              LoginAuth login, TimePoint now);

// Revokes every token made by a login through `mount` (their subtrees too),
// as Vault does when an auth method is disabled. Caller holds core.mu.
Status revoke_mount_tokens(Core::Impl& core, const NamespaceNode& ns, const MountEntry& mount, TimePoint now);

}  // namespace engine::auth
