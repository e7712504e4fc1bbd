// SPDX-License-Identifier: MPL-2.0
// The token store's API, `auth/token/` of every namespace (vault-semantics
// §9.5): create, create-orphan, lookup(-self, -accessor), renew(-self,
// -accessor), revoke(-self, -accessor, -orphan), LIST accessors. A Backend
// the core reaches without a mount entry (sys/auth lists token/ from the
// namespace itself); it runs after the ACL check, so root-protected paths
// (accessors, revoke-orphan/) have needed sudo by then.
#pragma once

#include <string_view>

#include "engine/authz/acl_cache.hpp"
#include "engine/authz/policy_store.hpp"
#include "engine/backend/backend.hpp"
#include "engine/identity/identity_store.hpp"
#include "engine/router/router.hpp"
#include "engine/token/token_store.hpp"

namespace engine {

// The stores the token store's API reads and changes.
struct TokenStores {
  Router& router;  // namespaces (token_within_namespace), login routes
  TokenStore& tokens;
  PolicyStore& policies;    // warnings for policies that do not exist
  IdentityStore& identity;  // identity policies in lookups, external groups on renewal
  AclCache& acls;           // forgets revoked tokens
};

class TokenBackend final : public Backend {
 public:
  // The path below the namespace the token store answers at.
  static constexpr std::string_view kMountPath = "auth/token/";

  explicit TokenBackend(TokenStores stores) : stores_(stores) {}

  // Serves `auth/token/<req.path>` in req.ctx->ns (req.ctx and its auth
  // required; req.storage is unused: the token store keeps its own), with
  // Vault's texts (token_store.go): InvalidArgument for its 400s ("child
  // policies must be subset of parent", "missing token ID", "invalid
  // accessor"...), PermissionDenied for its 403 ("bad token"), Unsupported
  // ("unsupported path"). Replies carry Vault's warnings (a policy that does
  // not exist, a capped period or TTL).
  Result<Response> handle(const BackendRequest& req) override;

  // Sudo on revoke-orphan/... and on listing accessors (Vault's
  // PathsSpecial.Root "revoke-orphan/*", "accessors*"). No existence checks:
  // token roles, the one path Vault checks, are not supported.
  PathProperties path_properties(std::string_view rel, Operation op) const override;

  // The renewal requests: "renew-self", "renew" (body token),
  // "renew-accessor" (body accessor) written; "" for anything else.
  static std::string_view renewal_endpoint(std::string_view rel, Operation op);

 private:
  TokenStores stores_;
};

// True when the token belongs to ns or to a namespace below it: the only
// tokens a request in ns may look up, renew or revoke by id or accessor
// (others are answered as unknown). Caller holds the core lock.
bool token_within_namespace(const Router& router, const TokenEntry& token, const NamespaceNode& ns);

// The lookup view of a token (shared with sys/ and tests). Caller holds the
// core lock.
Json token_lookup_data(const IdentityStore& identity, const Router& router, const TokenEntry& entry,
                       std::string_view id);

}  // namespace engine
