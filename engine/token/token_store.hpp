// SPDX-License-Identifier: MPL-2.0
// Tokens, stored only as keyed hashes (vault-semantics §9.5): the raw token
// never reaches storage. This first cut knows root tokens; the access-control
// work adds service tokens, accessors, TTLs and the parent/child tree.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include "engine/common/request.hpp"
#include "engine/storage/storage.hpp"

namespace engine {

struct TokenEntry {
  std::string accessor;
  std::vector<std::string> policies;
  std::string namespace_id = "root";
  std::string display_name;
  std::string path;  // creation path
  std::int64_t creation_unix = 0;
  std::int64_t ttl_seconds = 0;  // 0 = never expires

  bool is_root() const {
    for (const auto& p : policies) if (p == "root") return true;
    return false;
  }

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(accessor, policies, namespace_id, display_name, path, creation_unix, ttl_seconds);
  }
};

class TokenStore {
 public:
  // storage (the barrier) must outlive the store.
  explicit TokenStore(Storage& storage);

  // Loads the hashing key, creating it when create is set (at init).
  Status open(bool create);
  // Forgets the hashing key (at seal).
  void close();

  // Creates a root token. custom_id "" → a random "hvs." + 24 base62 id.
  // Returns the token id (shown once, never stored).
  Result<SecureString> create_root(std::string_view custom_id, TimePoint now);

  // The entry for a token, or nullopt if there is none.
  Result<std::optional<TokenEntry>> lookup(std::string_view token);

 private:
  std::string hashed(std::string_view token) const;

  Storage& storage_;
  mutable std::mutex mu_;
  SecureBytes salt_;
};

}  // namespace engine

CEREAL_CLASS_VERSION(engine::TokenEntry, 1);
