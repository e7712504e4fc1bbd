// SPDX-License-Identifier: MPL-2.0
#include "engine/token/token_store.hpp"

#include <atomic>
#include <algorithm>

#include "engine/common/duration.hpp"
#include "engine/storage/serial.hpp"
#include "engine/common/time.hpp"
#include "engine/crypto/sodium.hpp"
#include "engine/storage/group_commit.hpp"

namespace engine {
namespace {
constexpr std::string_view kSaltKey = "core/token/salt";
constexpr std::string_view kIdPrefix = "core/token/id/";
constexpr std::string_view kAccessorPrefix = "core/token/accessor/";
constexpr std::string_view kParentPrefix = "core/token/parent/";

std::string id_key(std::string_view hash) { return std::string(kIdPrefix) + std::string(hash); }
std::string children_prefix(std::string_view parent) { return std::string(kParentPrefix) + std::string(parent) + "/"; }
std::string child_key(std::string_view parent, std::string_view hash) {
  return children_prefix(parent) + std::string(hash);
}

WriteOp put_op(std::string key, SecureBytes value) { return {WriteOp::Kind::Put, std::move(key), std::move(value)}; }
WriteOp del_op(std::string key) { return {WriteOp::Kind::Delete, std::move(key), {}}; }

SecureBytes bytes_from(std::string_view s) { return SecureBytes(s.begin(), s.end()); }

}  // namespace

Result<CalculatedTtl> calculate_ttl(const TtlInputs& in) {
  CalculatedTtl out;
  std::int64_t max_ttl = in.system_max;
  if (in.backend_max_ttl > 0 && in.backend_max_ttl < max_ttl) max_ttl = in.backend_max_ttl;
  if (in.explicit_max_ttl > 0 && in.explicit_max_ttl < max_ttl) max_ttl = in.explicit_max_ttl;
  if (max_ttl <= 0) return Error::internal("max TTL must be greater than zero");
  std::int64_t max_valid = 0;  // unix seconds; 0 = unbounded
  bool bounded = false;
  if (in.period > 0) {
    std::int64_t period = in.period;
    if (period > max_ttl) {
      out.warnings.push_back("period of \"" + go_duration(period) + "\" exceeded the effective max_ttl of \"" +
                             go_duration(max_ttl) + "\"; period value is capped accordingly");
      period = max_ttl;
    }
    out.ttl = period;
    if (in.explicit_max_ttl > 0) {
      max_valid = saturating_add(in.start_unix, in.explicit_max_ttl);
      bounded = true;
    }
  } else {
    out.ttl = in.increment > 0 ? in.increment : in.backend_ttl > 0 ? in.backend_ttl : in.system_default;
    max_valid = saturating_add(in.start_unix, max_ttl);
    bounded = true;
  }
  if (bounded) {
    const std::int64_t max_valid_ttl = saturating_add(max_valid, -in.now_unix);
    if (max_valid_ttl < 0) return Error::invalid("past the max TTL, cannot renew");
    if (max_valid_ttl < out.ttl) {
      out.warnings.push_back("TTL of \"" + go_duration(out.ttl) + "\" exceeded the effective max_ttl of \"" +
                             go_duration(max_valid_ttl) + "\"; TTL value is capped accordingly");
      out.ttl = max_valid_ttl;
    }
  }
  return out;
}

TokenStore::TokenStore(Storage& storage) : storage_(storage) {}

Status TokenStore::open(bool create) {
  COFFER_TRY(auto salt, storage_.get(kSaltKey));
  if (!salt) {
    if (!create) return Error::corrupt("token hashing key is missing");
    SecureBytes fresh = crypto::random_key();
    COFFER_TRY_STATUS(storage_.put(kSaltKey, fresh));
    salt = std::move(fresh);
  }
  std::unique_lock lock(salt_mu_);
  salt_ = std::move(*salt);
  salt_id_ = next_salt_id();
  return {};
}

void TokenStore::close() {
  {
    std::unique_lock lock(salt_mu_);
    salt_.clear();
    salt_.shrink_to_fit();
    salt_id_ = 0;
  }
  std::unique_lock lock(cache_mu_);
  cache_.clear();
}

std::uint64_t TokenStore::next_salt_id() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

std::string TokenStore::hashed(std::string_view token) const {
  // One request asks about its token several times (the fs's check, then
  // each engine call's authenticate), so each thread remembers the last
  // token it hashed. The memo is keyed by the salt's id, unique to each
  // salt loaded in this process, so no other store and no later salt is
  // answered from it; it can be read only by presenting the token itself
  // (compared in constant time), and the copy is zeroed when replaced and
  // at thread exit.
  struct Memo {
    std::uint64_t salt_id = 0;
    SecureString token;
    std::string hash;
  };
  thread_local Memo memo;
  std::shared_lock lock(salt_mu_);
  if (salt_id_ != 0 && memo.salt_id == salt_id_ && crypto::equal_constant_time(as_view(memo.token), token)) {
    return memo.hash;
  }
  std::string hash = crypto::keyed_hash_hex(salt_, token);
  memo.salt_id = salt_id_;
  memo.token = SecureString(token.begin(), token.end());  // the old copy is freed, so zeroed whole
  memo.hash = hash;
  return hash;
}

Result<SecureString> TokenStore::create_root(std::string_view custom_id, TimePoint now) {
  TokenEntry entry;
  entry.policies = {"root"};
  entry.display_name = "root";
  entry.path = "auth/token/root";
  entry.creation_unix = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  entry.orphan = true;
  COFFER_TRY(auto created, create(std::move(entry), custom_id));
  return std::move(created.first);
}

Result<std::pair<SecureString, TokenPtr>> TokenStore::create(TokenEntry entry, std::string_view custom_id) {
  const std::string suffix = entry.namespace_id == "root" ? std::string{} : "." + entry.namespace_id;
  SecureString id = custom_id.empty() ? to_secure("hvs." + crypto::random_base62(24) + suffix) : to_secure(custom_id);
  entry.accessor = crypto::random_base62(24) + suffix;
  entry.hash = hashed(as_view(id));
  entry.orphan = entry.parent.empty();
  auto write = CommitDelay::locked(write_mu_);
  if (!custom_id.empty()) {
    COFFER_TRY(auto existing, storage_.get(id_key(entry.hash)));
    if (existing) return Error::exists("cannot create a token with a duplicate ID");
  }
  std::vector<WriteOp> batch;
  batch.push_back(put_op(id_key(entry.hash), encode_record(entry)));
  batch.push_back(put_op(std::string(kAccessorPrefix) + hashed(entry.accessor), bytes_from(entry.hash)));
  if (!entry.parent.empty()) {
    batch.push_back(put_op(child_key(entry.parent, entry.hash), {}));
    // The parent as stored, read and written back with its child. On a
    // fleet store the write is conditional on what was read (Conflict
    // otherwise, postgres_mirror.hpp), and a revoke of the parent reads and
    // deletes the same key (revoke_tree): of a child made on one host while
    // its parent is revoked on another, one write runs again on the other's
    // result, so no child outlives its parent.
    COFFER_TRY(auto parent, storage_.get(id_key(entry.parent)));
    if (!parent) return Error::denied("the parent token has been revoked");
    batch.push_back(put_op(id_key(entry.parent), std::move(*parent)));
  }
  COFFER_TRY_STATUS(storage_.apply(batch));
  auto ptr = std::make_shared<const TokenEntry>(std::move(entry));
  {
    std::unique_lock lock(cache_mu_);
    cache_[ptr->hash] = ptr;
  }
  return std::pair<SecureString, TokenPtr>{std::move(id), std::move(ptr)};
}

Result<TokenPtr> TokenStore::load_locked(const std::string& hash) {
  COFFER_TRY(auto bytes, storage_.get(id_key(hash)));
  if (!bytes) return TokenPtr{};
  COFFER_TRY(auto entry, decode_record<TokenEntry>(*bytes, "token entry"));
  entry.hash = hash;
  return std::make_shared<const TokenEntry>(std::move(entry));
}

Result<TokenPtr> TokenStore::lookup(std::string_view token, TimePoint now) {
  if (token.empty()) return TokenPtr{};
  return lookup_hash(hashed(token), now);
}

Result<TokenPtr> TokenStore::lookup_hash(const std::string& hash, TimePoint now) {
  TokenPtr entry;
  {
    std::shared_lock lock(cache_mu_);
    if (auto it = cache_.find(hash); it != cache_.end()) entry = it->second;
  }
  if (!entry) {
    COFFER_TRY(entry, load_locked(hash));
    if (!entry) return TokenPtr{};
    std::unique_lock lock(cache_mu_);
    cache_.emplace(hash, entry);
  }
  if (entry->expired(now)) {
    // Expired tokens stop working at once, and take their subtree with them.
    COFFER_TRY_STATUS(revoke_tree(hash));
    return TokenPtr{};
  }
  return entry;
}

Result<TokenPtr> TokenStore::lookup_accessor(std::string_view accessor, TimePoint now) {
  if (accessor.empty()) return TokenPtr{};
  COFFER_TRY(auto target, storage_.get(std::string(kAccessorPrefix) + hashed(accessor)));
  if (!target) return TokenPtr{};
  return lookup_hash(std::string(as_view(*target)), now);
}

Result<TokenPtr> TokenStore::use(const std::string& hash) {
  auto write = CommitDelay::locked(write_mu_);
  TokenPtr current;
  {
    std::shared_lock lock(cache_mu_);
    if (auto it = cache_.find(hash); it != cache_.end()) current = it->second;
  }
  // A use-limited entry is read from the store, not the cache: on a fleet
  // store the write of the new count is then conditional on no other host
  // having spent a use meanwhile (postgres_mirror.hpp).
  if (!current || current->num_uses > 0) {
    COFFER_TRY(current, load_locked(hash));
  }
  // Spent or revoked meanwhile by a concurrent request: this one is denied.
  if (!current || current->num_uses < 0) return Error::denied("permission denied");
  if (current->num_uses == 0) return TokenPtr{};
  TokenEntry next = *current;
  next.num_uses -= 1;
  const bool last = next.num_uses == 0;
  if (last) {
    // Spent: kept only until the request that spent it ends (the caller
    // revokes it); -1 marks it so no other request can use it meanwhile.
    next.num_uses = -1;
  }
  COFFER_TRY_STATUS(storage_.put(id_key(hash), encode_record(next)));
  auto ptr = std::make_shared<const TokenEntry>(std::move(next));
  std::unique_lock lock(cache_mu_);
  cache_[hash] = ptr;
  return ptr;
}

Status TokenStore::collect_tree(const std::string& hash, std::vector<std::string>& out) {
  std::vector<std::string> pending{hash};
  while (!pending.empty()) {
    std::string h = std::move(pending.back());
    pending.pop_back();
    COFFER_TRY(auto kids, storage_.list(children_prefix(h)));
    for (auto& k : kids) {
      if (!k.empty() && k.back() != '/') pending.push_back(std::move(k));
    }
    out.push_back(std::move(h));
  }
  return {};
}

Status TokenStore::revoke_tree(const std::string& hash) {
  auto write = CommitDelay::locked(write_mu_);
  std::vector<std::string> doomed;
  COFFER_TRY_STATUS(collect_tree(hash, doomed));
  std::vector<WriteOp> batch;
  for (const auto& h : doomed) {
    COFFER_TRY(auto entry, load_locked(h));
    if (entry) {
      batch.push_back(del_op(std::string(kAccessorPrefix) + hashed(entry->accessor)));
      if (!entry->parent.empty() && h == hash) batch.push_back(del_op(child_key(entry->parent, h)));
    }
    batch.push_back(del_op(id_key(h)));
    batch.push_back({WriteOp::Kind::DeletePrefix, children_prefix(h), {}});
  }
  // The root of the tree read last, so a fleet store's conditional apply
  // holds it however many reads the tree took: a child another host made
  // meanwhile rewrote it (create), and this revoke then runs again and
  // finds that child.
  COFFER_TRY(auto root, storage_.get(id_key(hash)));
  (void)root;
  COFFER_TRY_STATUS(storage_.apply(batch));
  std::unique_lock lock(cache_mu_);
  for (const auto& h : doomed) cache_.erase(h);
  return {};
}

Status TokenStore::revoke_orphan(const std::string& hash) {
  auto write = CommitDelay::locked(write_mu_);
  COFFER_TRY(auto entry, load_locked(hash));
  if (!entry) return {};
  COFFER_TRY(auto kids, storage_.list(children_prefix(hash)));
  std::vector<WriteOp> batch;
  std::vector<TokenPtr> orphaned;
  for (const auto& k : kids) {
    if (k.empty() || k.back() == '/') continue;
    COFFER_TRY(auto child, load_locked(k));
    if (!child) continue;
    TokenEntry updated = *child;
    updated.parent.clear();
    updated.orphan = true;
    batch.push_back(put_op(id_key(k), encode_record(updated)));
    orphaned.push_back(std::make_shared<const TokenEntry>(std::move(updated)));
  }
  batch.push_back(del_op(std::string(kAccessorPrefix) + hashed(entry->accessor)));
  if (!entry->parent.empty()) batch.push_back(del_op(child_key(entry->parent, hash)));
  batch.push_back(del_op(id_key(hash)));
  batch.push_back({WriteOp::Kind::DeletePrefix, children_prefix(hash), {}});
  COFFER_TRY_STATUS(storage_.apply(batch));
  std::unique_lock lock(cache_mu_);
  cache_.erase(hash);
  for (auto& c : orphaned) cache_[c->hash] = c;
  return {};
}

Status TokenStore::update(const TokenEntry& entry) {
  auto write = CommitDelay::locked(write_mu_);
  COFFER_TRY(auto current, load_locked(entry.hash));
  if (!current) return Error::invalid("invalid token");
  COFFER_TRY_STATUS(storage_.put(id_key(entry.hash), encode_record(entry)));
  std::unique_lock lock(cache_mu_);
  cache_[entry.hash] = std::make_shared<const TokenEntry>(entry);
  return {};
}

Result<std::size_t> TokenStore::revoke_namespace(std::string_view namespace_id) {
  std::vector<std::string> doomed;
  {
    auto write = CommitDelay::locked(write_mu_);
    COFFER_TRY(auto hashes, storage_.list(kIdPrefix));
    for (const auto& h : hashes) {
      if (h.empty() || h.back() == '/') continue;
      COFFER_TRY(auto entry, load_locked(h));
      if (entry && entry->namespace_id == namespace_id) doomed.push_back(h);
    }
  }
  // One at a time: a subtree may reach other namespaces (tokens made for a
  // child namespace by a parent's token), and an earlier revoke may already
  // have taken a later one (revoking an unknown hash succeeds).
  for (const auto& h : doomed) COFFER_TRY_STATUS(revoke_tree(h));
  return doomed.size();
}

Result<std::vector<std::string>> TokenStore::accessors(std::string_view namespace_id) {
  COFFER_TRY(auto hashes, storage_.list(kIdPrefix));
  std::vector<std::string> out;
  for (const auto& h : hashes) {
    if (h.empty() || h.back() == '/') continue;
    COFFER_TRY(auto entry, load_locked(h));
    if (entry && entry->namespace_id == namespace_id) out.push_back(entry->accessor);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void TokenStore::forget(const std::string& hash) {
  std::unique_lock lock(cache_mu_);
  cache_.erase(hash);
}

void TokenStore::forget_cached() {
  std::unique_lock lock(cache_mu_);
  cache_.clear();
}

}  // namespace engine
