// SPDX-License-Identifier: MPL-2.0
#include "engine/authz/acl_cache.hpp"

#include <algorithm>

#include "engine/policy/policy.hpp"

namespace engine {
namespace {

// Bounds on the memo tables: beyond them they are simply emptied (a rebuild
// costs one compile, and memory stays bounded under token churn).
constexpr std::size_t kMaxTokens = 100'000;
constexpr std::size_t kMaxSets = 10'000;

std::string set_key(const AclSource& s) {
  std::vector<std::string> names = s.policies;
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::string key = s.namespace_id;
  for (const auto& n : names) {
    key.push_back('\0');
    key.append(n);
  }
  // Identity policies and templates make the ACL the entity's own.
  if (!s.entity_id.empty() || !s.identity_policies.empty()) {
    key.push_back('\x01');
    key.append(s.entity_id);
    for (const auto& [ns, list] : s.identity_policies) {
      key.push_back('\x02');
      key.append(ns);
      for (const auto& n : list) {
        key.push_back('\0');
        key.append(n);
      }
    }
  }
  return key;
}

}  // namespace

AclCache::AclCache(PolicyStore& policies) : policies_(policies) {}

void AclCache::invalidate() {
  std::unique_lock lock(mu_);
  by_token_.clear();
  by_set_.clear();
  ++epoch_;
}

Result<std::shared_ptr<const policy::Acl>> AclCache::for_token(
    const std::string& token_key, const std::function<AclSource()>& source,
    const std::function<std::optional<std::string>(std::string_view)>& ns_path_of) {
  std::uint64_t epoch = 0;
  {
    std::shared_lock lock(mu_);
    if (auto it = by_token_.find(token_key); it != by_token_.end()) return it->second;
    epoch = epoch_;
  }
  COFFER_TRY(auto acl, for_source(source(), ns_path_of));
  std::unique_lock lock(mu_);
  if (epoch == epoch_) {
    if (by_token_.size() >= kMaxTokens) by_token_.clear();
    by_token_[token_key] = acl;
  }
  return acl;
}

Result<std::shared_ptr<const policy::Acl>> AclCache::for_source(
    const AclSource& source, const std::function<std::optional<std::string>(std::string_view)>& ns_path_of) {
  const std::string key = set_key(source);
  std::uint64_t epoch = 0;
  {
    std::shared_lock lock(mu_);
    if (auto it = by_set_.find(key); it != by_set_.end()) return it->second;
    epoch = epoch_;
  }
  // (namespace id -> names): the token's own, then its entity's; each policy
  // is looked up in, and relative to, the namespace that owns it (§9.1).
  std::map<std::string, std::vector<std::string>> by_ns = source.identity_policies;
  // Policy names are case-insensitive: an entity's or group's
  // "Training-Admin" is the policy stored as "training-admin" (Vault's
  // policy store trims and lower-cases every name it looks up). Identity
  // never grants root, whatever its case (writes refuse it too).
  for (auto& [ns_id, names] : by_ns) {
    for (auto& name : names) name = policy::normalize_policy_name(name);
    std::erase(names, std::string(policy::kRootPolicyName));
  }
  auto& own = by_ns[source.namespace_id];
  own.insert(own.end(), source.policies.begin(), source.policies.end());
  std::vector<std::shared_ptr<const policy::Policy>> held;
  for (auto& [ns_id, names] : by_ns) {
    auto ns_path = ns_path_of(ns_id);
    if (!ns_path) continue;
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    for (const auto& name : names) {
      if (name.empty()) continue;
      COFFER_TRY(auto p, policies_.get(ns_id, *ns_path, name));
      if (p) held.push_back(std::move(p));
    }
  }
  // Templates see the entity; `identity.groups.names` looks in the policy's
  // own namespace (template.hpp), so each templated policy gets its copy.
  std::vector<policy::IdentityContext> per_policy;
  per_policy.reserve(held.size());
  std::vector<policy::AclInput> inputs;
  inputs.reserve(held.size());
  for (const auto& p : held) {
    if (!source.identity || !p->templated) {
      inputs.push_back({p.get(), source.identity.get()});
      continue;
    }
    per_policy.push_back(*source.identity);
    per_policy.back().namespace_id = p->namespace_id;
    inputs.push_back({p.get(), &per_policy.back()});
  }
  COFFER_TRY(auto acl, policy::Acl::compile(inputs));
  auto shared = std::make_shared<const policy::Acl>(std::move(acl));
  std::unique_lock lock(mu_);
  if (epoch == epoch_) {
    if (by_set_.size() >= kMaxSets) by_set_.clear();
    by_set_[key] = shared;
  }
  return shared;
}

void AclCache::forget_token(const std::string& token_key) {
  std::unique_lock lock(mu_);
  by_token_.erase(token_key);
}

}  // namespace engine
