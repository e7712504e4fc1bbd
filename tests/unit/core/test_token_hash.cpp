// SPDX-License-Identifier: MPL-2.0
// TokenStore::hashed: the storage hash of a token, keyed by the store's salt.
// Each thread remembers the last token it hashed; the memo must never answer
// for another store's salt, nor for a salt loaded later.
#include <catch2/catch.hpp>

#include "engine/crypto/sodium.hpp"
#include "engine/storage/memory_storage.hpp"
#include "engine/token/token_store.hpp"

namespace {

std::string direct(engine::MemoryStorage& mem, std::string_view token) {
  auto salt = mem.get("core/token/salt");
  REQUIRE(salt.ok());
  REQUIRE(salt->has_value());
  return engine::crypto::keyed_hash_hex(**salt, token);
}

}  // namespace

TEST_CASE("token hash: the per-thread memo answers only for the same salt and token", "[token]") {
  engine::MemoryStorage mem_a;
  engine::MemoryStorage mem_b;
  engine::TokenStore a(mem_a);
  engine::TokenStore b(mem_b);
  REQUIRE(a.open(true).ok());
  REQUIRE(b.open(true).ok());
  const std::string ha = a.hashed("hvs.same");
  CHECK(ha == direct(mem_a, "hvs.same"));
  CHECK(a.hashed("hvs.same") == ha);  // from the memo
  // The same token on another store (another salt) right after.
  const std::string hb = b.hashed("hvs.same");
  CHECK(hb == direct(mem_b, "hvs.same"));
  CHECK(hb != ha);
  CHECK(a.hashed("hvs.same") == ha);
  // Another token of the same length, and one that is a prefix.
  CHECK(a.hashed("hvs.samf") == direct(mem_a, "hvs.samf"));
  CHECK(a.hashed("hvs.sam") == direct(mem_a, "hvs.sam"));
  CHECK(a.hashed("") == direct(mem_a, ""));
  // A store whose salt is replaced (sealed, then opened on other storage
  // contents) is asked afresh.
  a.hashed("hvs.same");
  a.close();
  REQUIRE(mem_a.put("core/token/salt", engine::crypto::random_key()).ok());
  REQUIRE(a.open(false).ok());
  CHECK(a.hashed("hvs.same") == direct(mem_a, "hvs.same"));
  CHECK(a.hashed("hvs.same") != ha);
}
