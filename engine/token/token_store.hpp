// SPDX-License-Identifier: MPL-2.0
// Service tokens (vault-semantics §9.5), stored only under a keyed hash: the
// raw token never reaches storage.
//
//   core/token/id/<hash>                    the entry (cereal)
//   core/token/accessor/<hash of accessor>  -> <hash> of the token
//   core/token/parent/<parent hash>/<hash>  the parent/child tree, for revoke
//
// Entries are cached in memory by hash (a FUSE op must not pay a storage get
// and a decrypt); the cache is updated on every change made through this
// store. Expiry is checked on every lookup. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include "engine/common/request.hpp"
#include "engine/storage/storage.hpp"

namespace engine {

inline constexpr std::int64_t kDefaultTokenTtlSeconds = 768 * 3600;  // 32 days, Vault's system default
inline constexpr std::int64_t kMaxTokenTtlSeconds = 768 * 3600;

// Vault's framework.CalculateTTL (sdk/framework/backend.go), in seconds: the
// TTL a token gets at creation or renewal, and Vault's warnings when a
// period or TTL was capped. A period is capped at the effective max TTL (the
// system max, lowered by backend_max_ttl and explicit_max_ttl when set); a
// TTL (increment, else backend_ttl, else the system default) may not run
// past start + max TTL, and a periodic token not past start +
// explicit_max_ttl. All arithmetic saturates, so huge values clamp instead
// of wrapping. InvalidArgument "past the max TTL, cannot renew" when start +
// max TTL is already behind now.
struct CalculatedTtl {
  std::int64_t ttl = 0;
  std::vector<std::string> warnings;
};
struct TtlInputs {
  std::int64_t increment = 0;
  std::int64_t backend_ttl = 0;
  std::int64_t period = 0;
  std::int64_t backend_max_ttl = 0;
  std::int64_t explicit_max_ttl = 0;
  std::int64_t start_unix = 0;  // creation time, seconds
  std::int64_t now_unix = 0;
  std::int64_t system_default = kDefaultTokenTtlSeconds;
  std::int64_t system_max = kMaxTokenTtlSeconds;
};
Result<CalculatedTtl> calculate_ttl(const TtlInputs& in);

struct TokenEntry {
  std::string accessor;
  std::vector<std::string> policies;
  std::string namespace_id = "root";
  std::string display_name;
  std::string path;  // creation path
  std::int64_t creation_unix = 0;
  std::int64_t ttl_seconds = 0;  // creation TTL; 0 = never expires
  // Version 2.
  std::map<std::string, std::string> meta;
  std::int64_t num_uses = 0;          // 0 = unlimited
  std::int64_t explicit_max_ttl = 0;  // seconds; 0 = none
  std::int64_t period = 0;            // seconds; 0 = not periodic
  std::int64_t expire_unix_ns = 0;    // 0 = never
  std::int64_t last_renewal_unix = 0;
  bool renewable = false;
  bool orphan = true;
  std::string parent;  // storage hash of the parent token; "" for orphans
  std::string entity_id;
  std::string type = "service";
  // Version 3. What the login's auth method keeps to check the login again
  // at renewal (LDAP: the password, as Vault's InternalData). Encrypted by
  // the barrier with the rest of the record; never shown.
  SecureString login_secret;

  // Not stored: the entry's own storage hash, filled by lookups.
  std::string hash;

  bool is_root() const {
    for (const auto& p : policies)
      if (p == "root") return true;
    return false;
  }
  bool expired(TimePoint now) const { return expire_unix_ns != 0 && now.time_since_epoch().count() >= expire_unix_ns; }

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    ar(accessor, policies, namespace_id, display_name, path, creation_unix, ttl_seconds);
    if (version >= 2) {
      ar(meta, num_uses, explicit_max_ttl, period, expire_unix_ns, last_renewal_unix, renewable, orphan, parent,
         entity_id, type);
    }
    if (version >= 3) ar(login_secret);
  }
};

using TokenPtr = std::shared_ptr<const TokenEntry>;

class TokenStore {
 public:
  // storage (the barrier) must outlive the store.
  explicit TokenStore(Storage& storage);

  // Loads the hashing key, creating it when create is set (at init).
  Status open(bool create);
  // Forgets the hashing key and the cache (at seal).
  void close();

  // Creates a root token. custom_id "" → a random "hvs." + 24 base62 id.
  // Returns the token id (shown once, never stored).
  Result<SecureString> create_root(std::string_view custom_id, TimePoint now);

  // Stores a new token built from `entry` (its accessor, hash and parent
  // link are filled here; entry.parent is the parent's hash or ""). The id is
  // custom_id, or "hvs." + 24 base62 with ".<namespace id>" outside root;
  // the accessor is 24 base62 (+ ".<namespace id>"). AlreadyExists for a
  // custom id in use. Returns the id and the stored entry.
  Result<std::pair<SecureString, TokenPtr>> create(TokenEntry entry, std::string_view custom_id);

  // The live entry for a token, or nullptr (unknown, revoked, or expired;
  // an expired token is revoked here, with its subtree).
  Result<TokenPtr> lookup(std::string_view token, TimePoint now);
  Result<TokenPtr> lookup_hash(const std::string& hash, TimePoint now);
  Result<TokenPtr> lookup_accessor(std::string_view accessor, TimePoint now);

  // Counts one use of a use-limited token and returns the updated entry
  // (num_uses -1 when that was its last use: the caller revokes it after
  // the request). nullptr, and nothing done, for unlimited tokens.
  Result<TokenPtr> use(const std::string& hash);

  // Revokes the token and every descendant. Unknown hashes succeed.
  Status revoke_tree(const std::string& hash);
  // Revokes the token alone; its children become orphans.
  Status revoke_orphan(const std::string& hash);
  // Stores a renewed entry (new expiry and last renewal).
  Status update(const TokenEntry& entry);

  // Revokes every token of a namespace, each with its subtree (the namespace
  // is being deleted: Vault revokes its tokens). Returns how many tokens of
  // that namespace there were.
  Result<std::size_t> revoke_namespace(std::string_view namespace_id);

  // Accessors of the tokens of one namespace (auth/token/accessors), sorted.
  Result<std::vector<std::string>> accessors(std::string_view namespace_id);

  // Drops every cached entry (another host changed tokens); entries are
  // read again from storage on their next use.
  void forget_cached();

  // The storage hash of a token.
  std::string hashed(std::string_view token) const;

 private:
  Result<TokenPtr> load_locked(const std::string& hash);
  Status collect_tree(const std::string& hash, std::vector<std::string>& out);
  void forget(const std::string& hash);

  Storage& storage_;
  mutable std::shared_mutex salt_mu_;
  SecureBytes salt_;
  std::uint64_t salt_id_ = 0;  // this salt's, for hashed()'s memo (0: none loaded)
  static std::uint64_t next_salt_id();
  // Serialises changes (create, use, revoke, renew) so read-modify-write
  // sequences do not interleave.
  std::mutex write_mu_;
  mutable std::shared_mutex cache_mu_;
  std::unordered_map<std::string, TokenPtr> cache_;
};

}  // namespace engine

CEREAL_CLASS_VERSION(engine::TokenEntry, 3);
