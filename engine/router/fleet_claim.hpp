// SPDX-License-Identifier: MPL-2.0
// Claims: how a decision that must not race with another host's decision of
// the same kind is made safe on a fleet store.
//
// A fleet store (PostgresMirror) commits a write only if every key the
// request read and now writes still holds what it read; otherwise the write
// is a Conflict, nothing is written, and the core runs the request again
// once it has taken in the other host's commit (Core::handle). But some
// checks are made against what the core keeps in memory (is this namespace
// name free? does this mount path overlap another? is this entity name or
// alias taken?), and read no key, so two hosts could both pass them.
//
// A claim key stands for one such decision domain (a namespace's topology,
// its identity names). Every change in the domain reads the claim and writes
// it anew, with a fresh random value, in the same batch: of two hosts
// deciding at once, one commits and the other is refused by the store.
// And the owner of the memory remembers the claim value its memory was
// built from (at load, and at its own writes): a claim that holds another
// value means another host decided since, and memory may not show it yet,
// so that is a Conflict too, before anything is written. Either way the
// request runs again on memory that has the other host's change, and is
// refused as one host would refuse it (the name is in use). On one host
// (SQLite, memory) the value is always the known one, and a claim is one
// more small key written with the batch.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/common/error.hpp"
#include "engine/crypto/sodium.hpp"
#include "engine/storage/storage.hpp"

namespace engine::fleet {

// The domain of a namespace's children and mounts: creating or deleting a
// child namespace, enabling or disabling a mount or auth method.
inline std::string topology_key(std::string_view namespace_id) {
  return "core/claims/topology/" + std::string(namespace_id);
}
// The domain of a namespace's identity names: entity and group names,
// entity and group alias factors.
inline std::string identity_key(std::string_view namespace_id) {
  return "core/claims/identity/" + std::string(namespace_id);
}

// The claim values one owner's memory was built from. Not thread-safe: the
// owner's lock guards it, the same lock that guards the memory it stands for.
class Claims {
 public:
  // At load: the value memory is now built from. Errors: as get().
  Status remember(Storage& storage, const std::string& key) {
    COFFER_TRY(auto v, storage.get(key));
    known_[key] = v ? std::string(as_view(*v)) : std::string();
    return {};
  }
  void clear() { known_.clear(); }

  // Before a change in the key's domain: Conflict when another host has
  // claimed it since memory was built; otherwise adds the claim's new value
  // to batch. Call took() once the batch is applied.
  Status claim(Storage& storage, const std::string& key, std::vector<WriteOp>& batch) {
    COFFER_TRY(auto v, storage.get(key));
    const std::string seen = v ? std::string(as_view(*v)) : std::string();
    auto it = known_.find(key);
    if (seen != (it == known_.end() ? std::string() : it->second)) {
      return Error::conflict("another host changed " + key + " since this host read it; run again");
    }
    SecureBytes fresh(16);
    crypto::random_bytes(fresh.data(), fresh.size());
    batch.push_back({WriteOp::Kind::Put, key, std::move(fresh)});
    return {};
  }
  // As claim(), for a domain that goes away with the batch (a namespace
  // deleted): adds the claim's Delete.
  Status release(Storage& storage, const std::string& key, std::vector<WriteOp>& batch) {
    COFFER_TRY_STATUS(claim(storage, key, batch));
    batch.back() = WriteOp{WriteOp::Kind::Delete, key, {}};
    return {};
  }
  // After the batch is applied: what memory is now built from.
  void took(std::span<const WriteOp> batch) {
    for (const WriteOp& op : batch) {
      if (!op.key.starts_with(kPrefix)) continue;
      if (op.kind == WriteOp::Kind::Put) {
        known_[op.key] = std::string(as_view(op.value));
      } else {
        known_.erase(op.key);
      }
    }
  }

  static constexpr std::string_view kPrefix = "core/claims/";

 private:
  std::map<std::string, std::string, std::less<>> known_;
};

}  // namespace engine::fleet
