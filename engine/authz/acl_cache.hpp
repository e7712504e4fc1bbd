// SPDX-License-Identifier: MPL-2.0
// Compiled ACLs, cached so one request's decision is a hash lookup plus
// Acl::allow (O(path length)), however many policies and rules there are.
//
// Two levels: per token (by the token's storage hash: O(1), no work over
// the token's policy list) and per (namespace, policy set), shared by every
// token with the same policies. The core drops both whenever a change the
// ACLs are built from is announced (a policy, identity, namespace or seal
// change on the change bus): invalidate(). A build that began before an
// invalidation is returned to its caller but never kept.
// Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/authz/policy_store.hpp"
#include "engine/policy/acl.hpp"

namespace engine {

// What an ACL is built from: policy names looked up in one namespace, plus
// the identity policies of the token's entity (vault-semantics §9.3).
struct AclSource {
  std::string namespace_id;
  std::vector<std::string> policies;
  // Namespace id -> policy names of that namespace, from the entity and its
  // groups (already filtered by the group policy application mode).
  std::map<std::string, std::vector<std::string>> identity_policies;
  // The entity and its groups, for templated policies; null: no entity.
  std::shared_ptr<const policy::IdentityContext> identity;
  std::string entity_id;  // "" without an entity (part of the set key)
};

class AclCache {
 public:
  // policies must outlive the cache.
  explicit AclCache(PolicyStore& policies);

  // The ACL for the token with storage hash `token_key`, built from
  // `source()` (called only on a miss) in the namespace whose path
  // `ns_path_of(id)` gives (nullopt: the namespace is gone → an ACL that
  // grants nothing). Policy names that do not exist are skipped (Vault
  // accepts them on tokens). Errors: storage errors, Corrupt.
  Result<std::shared_ptr<const policy::Acl>> for_token(
      const std::string& token_key, const std::function<AclSource()>& source,
      const std::function<std::optional<std::string>(std::string_view)>& ns_path_of);

  // The ACL of a policy set, uncached by token (capabilities-accessor).
  Result<std::shared_ptr<const policy::Acl>> for_source(
      const AclSource& source, const std::function<std::optional<std::string>(std::string_view)>& ns_path_of);

  // Drops every memo: what ACLs are built from changed. Cheap; a change-bus
  // handler (takes only the cache's own lock).
  void invalidate();
  // Drops a token's memo (revoked tokens: memory only, a revoked token
  // never authenticates again).
  void forget_token(const std::string& token_key);
  void clear() { invalidate(); }

 private:
  PolicyStore& policies_;
  std::shared_mutex mu_;
  std::uint64_t epoch_ = 0;  // moves at every invalidate(); guarded by mu_
  std::unordered_map<std::string, std::shared_ptr<const policy::Acl>> by_token_;
  std::unordered_map<std::string, std::shared_ptr<const policy::Acl>> by_set_;
};

}  // namespace engine
