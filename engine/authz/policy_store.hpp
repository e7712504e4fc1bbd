// SPDX-License-Identifier: MPL-2.0
// ACL policies per namespace (vault-semantics §2.1, §9.6): stored in the
// barrier at "ns/<namespace id>/policy/<name>" as the original text, parsed
// once and kept in memory until the policy changes.
//
// Built-ins: `default` exists in every namespace without being stored (its
// text is the built-in one until someone writes it; it cannot be deleted);
// `root` is never stored, cannot be written, deleted or read as text, and
// stands for make_root_policy(). `response-wrapping` is immutable and hidden.
//
// Thread-safe. generation() moves on every change, so callers that cache
// compiled ACLs know when to drop them.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <cereal/types/string.hpp>

#include "engine/common/error.hpp"
#include "engine/common/request.hpp"
#include "engine/policy/policy.hpp"
#include "engine/storage/storage.hpp"

namespace engine {

// As stored at ns/<namespace id>/policy/<name>.
struct PolicyRecord {
  std::string name;
  std::string text;  // as written (after base64 decoding)
  std::int64_t modified_unix_ns = 0;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(name, text, modified_unix_ns);
  }
};

class PolicyStore {
 public:
  // storage (the barrier) must outlive the store.
  explicit PolicyStore(Storage& storage);

  // The parsed policy `name` of namespace ns_id (whose path is ns_path), or
  // nullptr when there is none. `root` gives the root policy. Cached.
  Result<std::shared_ptr<const policy::Policy>> get(std::string_view ns_id, std::string_view ns_path,
                                                    std::string_view name);

  // The stored text of a policy: NotFound when there is none and for `root`.
  Result<std::string> text(std::string_view ns_id, std::string_view name);

  // Parses and stores a policy. InvalidArgument with the parser's message
  // (the old policy is then unchanged), or "cannot update \"root\" policy".
  Status set(std::string_view ns_id, std::string_view ns_path, std::string_view name, std::string_view text,
             TimePoint now);

  // Deletes a policy; deleting one that does not exist succeeds (as Vault).
  // InvalidArgument for `root`, `default`, `response-wrapping`.
  Status remove(std::string_view ns_id, std::string_view name);

  // Names of the namespace's policies, sorted: `default`, the stored ones,
  // and `root` in the root namespace (vault policy list shows it there).
  Result<std::vector<std::string>> list(std::string_view ns_id, bool root_namespace);

  // Moves on every change (set, remove, forget).
  std::uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }

  // Drops every cached policy (at seal, or when a namespace is deleted).
  void forget_all();

 private:
  static std::string cache_key(std::string_view ns_id, std::string_view name);

  Storage& storage_;
  mutable std::shared_mutex mu_;
  // (ns id, name) -> parsed policy; nullptr remembers "no such policy".
  std::unordered_map<std::string, std::shared_ptr<const policy::Policy>> cache_;
  std::atomic<std::uint64_t> generation_{1};
};

// Storage key of a policy.
std::string policy_storage_key(std::string_view ns_id, std::string_view name);

}  // namespace engine

CEREAL_CLASS_VERSION(engine::PolicyRecord, 1);
