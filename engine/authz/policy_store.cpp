// SPDX-License-Identifier: MPL-2.0
#include "engine/authz/policy_store.hpp"

#include <algorithm>
#include <mutex>

#include "engine/common/names.hpp"
#include "engine/storage/serial.hpp"

namespace engine {
namespace {

using policy::kDefaultPolicyName;
using policy::kResponseWrappingPolicyName;
using policy::kRootPolicyName;

std::string policy_prefix(std::string_view ns_id) { return "ns/" + std::string(ns_id) + "/policy/"; }

}  // namespace

std::string policy_storage_key(std::string_view ns_id, std::string_view name) {
  return policy_prefix(ns_id) + std::string(name);
}

PolicyStore::PolicyStore(Storage& storage) : storage_(storage) {}

std::string PolicyStore::cache_key(std::string_view ns_id, std::string_view name) {
  std::string key(ns_id);
  key.push_back('\0');
  key.append(name);
  return key;
}

Result<std::string> PolicyStore::text(std::string_view ns_id, std::string_view name) {
  if (name == kRootPolicyName) return Error::not_found("policy \"root\" has no text: it grants everything");
  COFFER_TRY(auto bytes, storage_.get(policy_storage_key(ns_id, name)));
  if (!bytes) {
    if (name == kDefaultPolicyName) return std::string(policy::kDefaultPolicyText);
    if (name == kResponseWrappingPolicyName) return std::string(policy::kResponseWrappingPolicyText);
    return Error::not_found("no policy named \"" + std::string(name) + "\"");
  }
  COFFER_TRY(auto rec, decode_record<PolicyRecord>(*bytes, "policy"));
  return std::move(rec.text);
}

Result<std::shared_ptr<const policy::Policy>> PolicyStore::get(std::string_view ns_id, std::string_view ns_path,
                                                               std::string_view name) {
  const std::string key = cache_key(ns_id, name);
  {
    std::shared_lock lock(mu_);
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  }
  const std::uint64_t gen = generation();
  std::shared_ptr<const policy::Policy> parsed;
  if (name == kRootPolicyName) {
    parsed = std::make_shared<const policy::Policy>(policy::make_root_policy(ns_path, ns_id));
  } else {
    auto text_or = text(ns_id, name);
    if (text_or.ok()) {
      COFFER_TRY(auto p, policy::parse_policy(name, *text_or, ns_path));
      p.namespace_id = std::string(ns_id);
      parsed = std::make_shared<const policy::Policy>(std::move(p));
    } else if (text_or.error().code != ErrorCode::NotFound) {
      return std::move(text_or).error();
    }
  }
  std::unique_lock lock(mu_);
  // A change since we read storage: do not cache what may be stale.
  if (gen == generation()) cache_.emplace(key, parsed);
  return parsed;
}

Status PolicyStore::set(std::string_view ns_id, std::string_view ns_path, std::string_view name, std::string_view text,
                        TimePoint now) {
  if (name.empty()) return Error::invalid("policy name must not be empty");
  if (name == kRootPolicyName || name == kResponseWrappingPolicyName) {
    return Error::invalid("cannot update \"" + std::string(name) + "\" policy");
  }
  if (name.find('/') != std::string_view::npos) return Error::invalid("policy name must not contain '/'");
  COFFER_TRY_STATUS(check_name_text(name, "policy name"));
  COFFER_TRY(auto parsed, policy::parse_policy(name, text, ns_path));
  PolicyRecord rec{std::string(name), parsed.raw, now.time_since_epoch().count()};
  std::unique_lock lock(mu_);
  COFFER_TRY_STATUS(storage_.put(policy_storage_key(ns_id, name), encode_record(rec)));
  parsed.namespace_id = std::string(ns_id);
  cache_[cache_key(ns_id, name)] = std::make_shared<const policy::Policy>(std::move(parsed));
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return {};
}

Status PolicyStore::remove(std::string_view ns_id, std::string_view name) {
  if (name == kRootPolicyName || name == kDefaultPolicyName || name == kResponseWrappingPolicyName) {
    return Error::invalid("cannot delete \"" + std::string(name) + "\" policy");
  }
  std::unique_lock lock(mu_);
  COFFER_TRY_STATUS(storage_.del(policy_storage_key(ns_id, name)));
  cache_.erase(cache_key(ns_id, name));
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return {};
}

Result<std::vector<std::string>> PolicyStore::list(std::string_view ns_id, bool root_namespace) {
  COFFER_TRY(auto keys, storage_.list(policy_prefix(ns_id)));
  std::vector<std::string> out;
  out.emplace_back(kDefaultPolicyName);
  for (auto& k : keys) {
    if (k.empty() || k.back() == '/' || k == kDefaultPolicyName || k == kResponseWrappingPolicyName) continue;
    out.push_back(std::move(k));
  }
  if (root_namespace) out.emplace_back(kRootPolicyName);
  std::sort(out.begin(), out.end());
  return out;
}

void PolicyStore::forget_all() {
  std::unique_lock lock(mu_);
  cache_.clear();
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

}  // namespace engine
