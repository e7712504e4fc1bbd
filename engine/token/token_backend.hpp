// SPDX-License-Identifier: MPL-2.0
// The token store's API, `auth/token/` of every namespace (vault-semantics
// §9.5): create, create-orphan, lookup(-self, -accessor), renew(-self,
// -accessor), revoke(-self, -accessor, -orphan), LIST accessors. Served by
// the core after the ACL check; root-protected paths (accessors,
// revoke-orphan) have needed sudo by then.
#pragma once

#include <string_view>

#include "engine/auth/login.hpp"
#include "engine/core_impl.hpp"

namespace engine {

struct TokenContext {
  Core::Impl& core;
  NamespaceNode& ns;   // the namespace whose auth/token/ this is
  const Auth& auth;    // the caller
  TimePoint now;
  // A renewal check made ahead, without the lock (renew-self of a login
  // token whose method asks a server); null otherwise.
  const auth::PreparedRenewal* renewal = nullptr;
};

// Serves `auth/token/<rel>` in ctx.ns. Errors: InvalidArgument with Vault's
// messages ("child policies must be subset of parent", "bad token"...),
// PermissionDenied, Unsupported ("unsupported path").
Result<Response> handle_token(TokenContext& ctx, Operation op, std::string_view rel, const Json& body);

// The lookup view of a token (shared with sys/ and tests).
Json token_lookup_data(Core::Impl& core, const TokenEntry& entry, std::string_view id);

}  // namespace engine
