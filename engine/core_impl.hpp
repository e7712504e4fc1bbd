// SPDX-License-Identifier: MPL-2.0
// The core's state, shared by the request pipeline (core.cpp), the system
// backend (sys/) and the file view. Internal to the engine.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#include "engine/audit/audit_broker.hpp"
#include "engine/auth/lockout.hpp"
#include "engine/token/login.hpp"
#include "engine/authz/acl_cache.hpp"
#include "engine/authz/policy_store.hpp"
#include "engine/barrier/barrier.hpp"
#include "engine/common/change_bus.hpp"
#include "engine/core_changes.hpp"
#include "engine/core.hpp"
#include "engine/identity/identity_store.hpp"
#include "engine/router/router.hpp"
#include "engine/seal/seal.hpp"
#include "engine/token/auth.hpp"
#include "engine/token/token_backend.hpp"
#include "engine/token/token_store.hpp"

namespace engine {

namespace auth {
struct PreparedRenewal;
}

struct Core::Impl {
  Impl(std::unique_ptr<Storage> physical_storage, CoreOptions options);

  CoreOptions opts;
  ChangeBus bus;  // every committed change, announced once (core_changes.hpp)
  std::unique_ptr<Storage> physical;
  Barrier barrier;
  SealManager seal;
  Router router;
  ChangeRecorder changes;  // the barrier's commits → bus
  TokenStore tokens;
  PolicyStore policies;
  IdentityStore identity;  // entities, groups, aliases (identity/ of every namespace)
  AclCache acls;
  AuditBroker audit;           // audit devices (sys/audit), engine/audit/
  auth::LockoutTable lockout;  // Vault's user lockout (engine/auth/lockout.hpp)
  // auth/token/ of every namespace: a backend without a mount entry (sys/auth
  // shows token/ from the namespace). sys/ and identity/ mounts get theirs
  // from the router (Router::set_backend_factory).
  TokenBackend token_backend;
  TimePoint started;

  // Guards the router's contents and seal transitions. Requests hold it
  // shared for their whole run, so a mount or namespace cannot disappear
  // under a backend; topology changes and seal/unseal hold it exclusively.
  mutable std::shared_mutex mu;
  // The store revision the feed thread has absorbed up to (Core::fed).
  std::mutex fed_mu;
  std::condition_variable fed_cv;
  std::int64_t fed_revision = 0;  // guarded by fed_mu
  // After a Conflict: until everything up to the fleet store's revision is
  // absorbed, or `most` has passed (the request then runs anyway).
  void wait_fed(std::chrono::milliseconds most);

  // The core's own subscriptions (the ACL cache); dropped before the bus.
  ChangeBus::Subscription acl_changes;

  // *failed_login is set when the request was a login that failed (the
  // caller slows it down, outside the lock).
  Result<Response> handle(const Request& req, bool* failed_login = nullptr);

  // Seal endpoints, answered also while sealed (root namespace only).
  Result<Response> init(const Json& body);
  Result<Response> unseal(const Json& body);
  Response seal_status() const;
  Response health() const;
  // sys/rekey/{init,update} and sys/generate-root/{attempt,update}
  // (core_seal.cpp): no token, unsealed only, audited. Takes mu shared.
  Result<Response> seal_operation(const Request& req);
  Result<Response> rekey(const Request& req, bool update);
  Result<Response> generate_root(const Request& req, bool update);
  // Seals the store: keys forgotten, namespaces and mounts unloaded.
  void seal_now();
  // After the barrier opens: load tokens and topology (or seal again).
  Status finish_unseal();

  // The token's entry and compiled ACL, or PermissionDenied (missing,
  // unknown, expired, revoked or spent token). Takes no core lock; callers
  // hold mu (shared) when they need the namespace tree to stay put.
  Result<Auth> authenticate(const SecureString& token, TimePoint now);
  // The ACL of any token entry (capabilities-accessor). Caller holds mu.
  Result<std::shared_ptr<const policy::Acl>> acl_of(const TokenEntry& token);
  // What a token's ACL is built from: its policies and its entity's
  // identity policies (vault-semantics §9.3). Caller holds mu.
  AclSource acl_source(const TokenEntry& token);
  // The identity policies of a token's entity, by namespace id (token
  // lookup's identity_policies / external_namespace_policies). Caller holds mu.
  EntityPolicies identity_policies_of(const TokenEntry& token);
  // Loads the identity store for every namespace of the loaded router.
  Status load_identity();

  // For the file view: capability bits of the caller on an absolute path
  // (list-style fallback, as sys/capabilities), and whether the caller has
  // any capability at or below an absolute directory prefix ("ns1/secret/").
  // Unauthenticated callers get PermissionDenied. Take mu shared.
  Result<std::uint32_t> capability_bits(const SecureString& token, std::string_view abs_path);
  Result<bool> may_see(const SecureString& token, std::string_view abs_prefix);

 private:
  // *delay is cleared when the login was refused without being tried (a
  // locked user: Vault answers at once).
  Result<Response> login(const Route& route, const Request& req, std::shared_lock<std::shared_mutex>& lock,
                         bool* delay);
  Result<Response> try_login(const Route& route, const Request& req, std::shared_lock<std::shared_mutex>& lock,
                             std::optional<auth::LockoutTable::Attempt>& attempt);
  Result<Response> handle_routed(const Request& req, std::unique_lock<std::shared_mutex>* exclusive,
                                 const auth::PreparedRenewal* renewal = nullptr);
  Result<Response> dispatch(const Route& route, Operation op, const Request& req, const Auth& auth, TimePoint now,
                            std::unique_lock<std::shared_mutex>* exclusive, const auth::PreparedRenewal* renewal);

 public:
  // The backend serving a routed path, the path below it and the storage it
  // is given: the mount's, or the token store's for auth/token/ (which has no
  // mount entry). backend null: no backend serves the route.
  struct Target {
    Backend* backend = nullptr;
    Storage* storage = nullptr;
    std::string rel;
  };
  Target target_of(const Route& route);
  // The target's path properties for op (none without a backend).
  static PathProperties properties_of(const Target& target, Operation op);
  // The stores a login touches.
  auth::LoginStores login_stores() { return {router, tokens, identity, acls}; }
  // The backend of a built-in mount (Router::set_backend_factory).
  std::unique_ptr<Backend> builtin_backend(const MountEntry& entry);
};

// Vault-style version string reported by sys/health and seal-status.
inline constexpr const char* kVersion = "0.1.0+coffer";

}  // namespace engine
