// SPDX-License-Identifier: MPL-2.0
#include "engine/seal/seal.hpp"

#include <catch2/catch.hpp>

#include "engine/crypto/sodium.hpp"
#include "engine/storage/memory_storage.hpp"
#include "tests/unit/base/storage_conformance.hpp"

using engine::Barrier;
using engine::ErrorCode;
using engine::MemoryStorage;
using engine::SealManager;

namespace {

std::string plain(const engine::SecureString& s) { return engine::to_plain(s); }

}  // namespace

TEST_CASE("seal: init, seal, unseal with threshold shares", "[seal]") {
  MemoryStorage physical;
  Barrier barrier(physical);
  SealManager seal(physical, barrier);

  auto before = seal.status();
  CHECK_FALSE(before.initialized);
  CHECK(before.sealed);
  auto early = seal.submit_share("00");
  REQUIRE_FALSE(early.ok());
  CHECK(early.error().message == "Vault is not initialized");

  auto init = seal.init(5, 3);
  REQUIRE(init.ok());
  REQUIRE(init->keys_hex.size() == 5);
  REQUIRE(init->keys_base64.size() == 5);
  CHECK(init->keys_hex[0].size() == 66);     // 33 bytes: 32 + x-coordinate
  CHECK(init->keys_base64[0].size() == 44);
  CHECK_FALSE(barrier.sealed());  // init leaves the store unsealed
  conformance::put(barrier, "secret/x", "kept");

  auto st = seal.status();
  CHECK(st.initialized);
  CHECK_FALSE(st.sealed);
  CHECK(st.shares == 5);
  CHECK(st.threshold == 3);

  auto again = seal.init(5, 3);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == ErrorCode::AlreadyExists);

  seal.seal();
  CHECK(barrier.sealed());
  CHECK(seal.status().sealed);

  SECTION("hex, base64 and padded input all count") {
    auto s1 = seal.submit_share(plain(init->keys_hex[4]));
    REQUIRE(s1.ok());
    CHECK(s1->sealed);
    CHECK(s1->progress == 1);
    CHECK_FALSE(s1->nonce.empty());
    auto s2 = seal.submit_share(plain(init->keys_base64[0]) + "\n");
    REQUIRE(s2.ok());
    CHECK(s2->progress == 2);
    CHECK(s2->nonce == s1->nonce);
    auto s3 = seal.submit_share(plain(init->keys_hex[2]));
    REQUIRE(s3.ok());
    CHECK_FALSE(s3->sealed);
    CHECK(s3->progress == 0);
    CHECK(s3->nonce.empty());
    CHECK_FALSE(barrier.sealed());
    CHECK(conformance::value_at(barrier, "secret/x") == "kept");

    // Unsealing an unsealed store changes nothing.
    auto s4 = seal.submit_share(plain(init->keys_hex[1]));
    REQUIRE(s4.ok());
    CHECK_FALSE(s4->sealed);
  }

  SECTION("the same share twice is refused and does not count") {
    REQUIRE(seal.submit_share(plain(init->keys_hex[0])).ok());
    auto dup = seal.submit_share(plain(init->keys_base64[0]));
    REQUIRE_FALSE(dup.ok());
    CHECK(dup.error().code == ErrorCode::InvalidArgument);
    CHECK(seal.status().progress == 1);
  }

  SECTION("a wrong share fails the attempt and resets progress") {
    REQUIRE(seal.submit_share(plain(init->keys_hex[0])).ok());
    REQUIRE(seal.submit_share(plain(init->keys_hex[1])).ok());
    // A real share with one byte changed: right shape, wrong value.
    auto forged = engine::crypto::from_hex(plain(init->keys_hex[3]));
    REQUIRE(forged.ok());
    (*forged)[0] ^= 0x01;
    auto bad = seal.submit_share(engine::crypto::to_hex(*forged));
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code == ErrorCode::InvalidArgument);
    CHECK(bad.error().message == "Unseal failed, invalid key");
    CHECK(barrier.sealed());
    auto after = seal.status();
    CHECK(after.progress == 0);
    CHECK(after.nonce.empty());

    // A fresh attempt with good shares still works.
    for (int i : {1, 3, 4}) REQUIRE(seal.submit_share(plain(init->keys_hex[i])).ok());
    CHECK_FALSE(barrier.sealed());
  }

  SECTION("malformed shares are rejected without counting") {
    const std::vector<std::string> malformed = {
        "", "not a key", "abcd", std::string(66, 'z'),
        engine::crypto::to_hex(engine::crypto::random_key())};  // 32 bytes: one short
    for (const std::string& bad : malformed) {
      auto r = seal.submit_share(bad);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == ErrorCode::InvalidArgument);
    }
    CHECK(seal.status().progress == 0);
  }

  SECTION("reset forgets submitted shares") {
    REQUIRE(seal.submit_share(plain(init->keys_hex[0])).ok());
    seal.reset();
    CHECK(seal.status().progress == 0);
    CHECK(seal.status().nonce.empty());
  }

  SECTION("a new manager and barrier over the same storage unseal too") {
    Barrier barrier2(physical);
    SealManager seal2(physical, barrier2);
    CHECK(seal2.status().initialized);
    CHECK(seal2.status().sealed);
    for (int i : {0, 1, 2}) REQUIRE(seal2.submit_share(plain(init->keys_base64[i])).ok());
    CHECK_FALSE(barrier2.sealed());
    CHECK(conformance::value_at(barrier2, "secret/x") == "kept");
  }
}

TEST_CASE("seal: a single share is the unseal key itself", "[seal]") {
  MemoryStorage physical;
  Barrier barrier(physical);
  SealManager seal(physical, barrier);
  auto init = seal.init(1, 1);
  REQUIRE(init.ok());
  REQUIRE(init->keys_hex.size() == 1);
  CHECK(init->keys_hex[0].size() == 64);
  seal.seal();
  auto st = seal.submit_share(plain(init->keys_base64[0]));
  REQUIRE(st.ok());
  CHECK_FALSE(st->sealed);
}

TEST_CASE("seal: bad share counts get Vault's messages", "[seal]") {
  MemoryStorage physical;
  Barrier barrier(physical);
  SealManager seal(physical, barrier);
  const std::vector<std::tuple<int, int, std::string>> cases = {
      {0, 1, "shares must be at least one"},
      {1, 0, "threshold must be at least one"},
      {3, 1, "threshold must be greater than one for multiple shares"},
      {256, 3, "shares must be less than 256"},
      {2, 3, "threshold cannot be larger than shares"},
  };
  for (const auto& [n, t, message] : cases) {
    auto r = seal.init(n, t);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::InvalidArgument);
    CHECK(r.error().message == message);
  }
  CHECK_FALSE(seal.status().initialized);
  CHECK_FALSE(physical.get("core/keyring")->has_value());
}
