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

// Serves `auth/token/<rel>` in ctx.ns, with Vault's texts (token_store.go):
// InvalidArgument for its 400s ("child policies must be subset of parent",
// "missing token ID", "invalid accessor"...), PermissionDenied for its 403
// ("bad token"), Unsupported ("unsupported path"). Replies carry Vault's
// warnings (a policy that does not exist, a capped period or TTL).
Result<Response> handle_token(TokenContext& ctx, Operation op, std::string_view rel, const Json& body);

// True when the token belongs to ns or to a namespace below it: the only
// tokens a request in ns may look up, renew or revoke by id or accessor
// (others are answered as unknown).
bool token_within_namespace(Core::Impl& core, const TokenEntry& token, const NamespaceNode& ns);

// The lookup view of a token (shared with sys/ and tests).
Json token_lookup_data(Core::Impl& core, const TokenEntry& entry, std::string_view id);

}  // namespace engine
