// SPDX-License-Identifier: MPL-2.0
// What a token's ACL is built from, computed from the stores alone: the
// token's own policies and its entity's identity policies (vault-semantics
// §9.3). Shared by the pipeline (authentication) and the built-in backends
// (sys/capabilities, auth/token lookups, logins, the audit trail), so none
// of them needs the core.
#pragma once

#include <memory>

#include "engine/authz/acl_cache.hpp"
#include "engine/identity/identity_store.hpp"
#include "engine/router/router.hpp"
#include "engine/token/token_store.hpp"

namespace engine {

// Namespace id → canonical namespace path, from the loaded router (nullopt
// for a namespace that is gone). The router must outlive the function.
NamespacePathOf namespace_paths(const Router& router);

// The identity policies of a token's entity, by namespace id (empty for a
// token without an entity). Caller holds the core lock (the namespace tree
// stays put).
EntityPolicies identity_policies_of(const IdentityStore& identity, const Router& router, const TokenEntry& token);

// The token's policies plus its entity's identity policies and template
// inputs; a token whose entity was deleted keeps its own policies. Caller
// holds the core lock.
AclSource acl_source(const IdentityStore& identity, const Router& router, const TokenEntry& token);

// The compiled ACL of any token entry (not cached per token: capabilities
// of another token). Errors: policy parse errors. Caller holds the core lock.
Result<std::shared_ptr<const policy::Acl>> acl_of(AclCache& acls, const IdentityStore& identity, const Router& router,
                                                  const TokenEntry& token);

}  // namespace engine
