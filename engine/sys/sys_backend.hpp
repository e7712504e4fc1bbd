// SPDX-License-Identifier: MPL-2.0
// The system backend (`sys/` of every namespace): mounts, auth methods,
// namespaces, policies, capabilities, locked users, seal; sys/audit,
// sys/audit-hash and sys/monitor are handed to the audit backend
// (engine/audit/audit_api.hpp). It changes the core's own state, through
// the stores it is given (never the core itself).
#pragma once

#include <functional>
#include <string_view>

#include "engine/audit/audit_api.hpp"
#include "engine/auth/lockout.hpp"
#include "engine/authz/acl_cache.hpp"
#include "engine/authz/policy_store.hpp"
#include "engine/barrier/barrier.hpp"
#include "engine/backend/backend.hpp"
#include "engine/common/core_options.hpp"
#include "engine/identity/identity_store.hpp"
#include "engine/router/router.hpp"
#include "engine/token/token_store.hpp"

namespace engine {

// The stores the system backend reads and changes.
struct SysStores {
  Router& router;      // mounts, auth methods, namespaces
  TokenStore& tokens;  // capabilities of another token; revocations
  PolicyStore& policies;
  IdentityStore& identity;  // group policy application mode; namespaces' identities
  AclCache& acls;           // capabilities of another token; revocations
  auth::LockoutTable& lockout;
  AuditBroker& audit;          // for the audit backend
  const CoreOptions& opts;     // user lockout defaults, administrative namespace
  std::function<void()> seal;  // sys/seal: seals the store (the core lock held exclusively)
  Barrier& barrier;            // sys/rotate, sys/key-status
};

class SysBackend final : public Backend {
 public:
  explicit SysBackend(SysStores stores);

  // Serves `sys/<req.path>` in req.ctx->ns (req.ctx and its auth required).
  // Errors: NotFound, InvalidArgument, AlreadyExists, NotEmpty, Unsupported
  // ("unsupported path"); Internal for a topology change made without the
  // exclusive lock (the path table asks for it).
  Result<Response> handle(const BackendRequest& req) override;

  // The path table (vault-semantics §8.3, §9.5; OpenBao's SystemBackend
  // PathsSpecial.Root): root-only endpoints, sudo paths, and the writes that
  // need the core lock exclusively (mounts, auth methods, namespaces, seal).
  // No existence checks: OpenBao's sys paths (policies/acl/<name>,
  // mounts/<path>, auth/<path>, namespaces/<name>, audit/<path>) have none,
  // so a write there is an Update whether or not its target exists.
  PathProperties path_properties(std::string_view rel, Operation op) const override;

 private:
  SysStores stores_;
  AuditBackend audit_;
};

}  // namespace engine
