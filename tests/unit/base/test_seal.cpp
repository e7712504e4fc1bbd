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
  CHECK(init->keys_hex[0].size() == 66);  // 33 bytes: 32 + x-coordinate
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

namespace {

engine::SecureBytes stored(MemoryStorage& physical, std::string_view key) {
  auto r = physical.get(key);
  REQUIRE(r.ok());
  REQUIRE(r->has_value());
  return **r;
}

void flip_a_byte(MemoryStorage& physical, std::string_view key) {
  engine::SecureBytes v = stored(physical, key);
  v[v.size() / 2] ^= 0x40;
  REQUIRE(physical.put(key, v).ok());
}

}  // namespace

TEST_CASE("seal: a damaged store says corrupt, a wrong key says invalid key", "[seal]") {
  MemoryStorage physical;
  Barrier barrier(physical);
  SealManager seal(physical, barrier);
  auto init = seal.init(3, 2);
  REQUIRE(init.ok());
  conformance::put(barrier, "secret/x", "kept");
  seal.seal();
  CHECK(physical.get("core/unseal-check")->has_value());  // written by init
  CHECK(Barrier::is_reserved_key("core/unseal-check"));

  const auto submit = [&](std::initializer_list<int> shares) {
    engine::Result<engine::SealStatus> last = engine::Error::internal("no share submitted");
    for (int i : shares) last = seal.submit_share(plain(init->keys_hex[i]));
    return last;
  };
  // Two shares with one byte changed in one: right shape, wrong key.
  const auto submit_wrong = [&]() {
    auto forged = engine::crypto::from_hex(plain(init->keys_hex[1]));
    REQUIRE(forged.ok());
    (*forged)[0] ^= 0x01;
    REQUIRE(seal.submit_share(plain(init->keys_hex[0])).ok());
    return seal.submit_share(engine::crypto::to_hex(*forged));
  };

  SECTION("a corrupt keyring with the right shares is Corrupt, named") {
    flip_a_byte(physical, "core/keyring");
    auto r = submit({0, 1});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::Corrupt);
    CHECK_THAT(r.error().message, Catch::StartsWith("core/keyring is corrupt ("));
    CHECK_THAT(r.error().message, !Catch::Contains("invalid key"));
    CHECK(barrier.sealed());
    CHECK(seal.status().progress == 0);  // the attempt is over
    // A wrong key is still a wrong key, whatever the keyring.
    auto wrong = submit_wrong();
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.error().code == ErrorCode::InvalidArgument);
    CHECK(wrong.error().message == "Unseal failed, invalid key");
  }

  SECTION("a corrupt sealed root key with the right shares is Corrupt, named") {
    flip_a_byte(physical, "core/root-key");
    auto r = submit({2, 0});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::Corrupt);
    CHECK_THAT(r.error().message, Catch::StartsWith("core/root-key is corrupt: the unseal key is right"));
    CHECK(barrier.sealed());
    auto wrong = submit_wrong();
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.error().message == "Unseal failed, invalid key");
  }

  SECTION("a wrong key on a sound store is an invalid key") {
    auto wrong = submit_wrong();
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.error().code == ErrorCode::InvalidArgument);
    CHECK(wrong.error().message == "Unseal failed, invalid key");
    REQUIRE(submit({1, 2}).ok());
    CHECK(conformance::value_at(barrier, "secret/x") == "kept");
  }

  SECTION("a damaged check value alone does not stop the right shares") {
    flip_a_byte(physical, "core/unseal-check");
    REQUIRE(submit({0, 2}).ok());
    CHECK_FALSE(barrier.sealed());
    CHECK(conformance::value_at(barrier, "secret/x") == "kept");
  }

  SECTION("a store from before the check value: invalid key, and the check is added at unseal") {
    REQUIRE(physical.del("core/unseal-check").ok());
    flip_a_byte(physical, "core/root-key");
    // Without a check value a damaged root key cannot be told from a wrong key.
    auto r = submit({0, 1});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "Unseal failed, invalid key");
    flip_a_byte(physical, "core/root-key");  // undo
    REQUIRE(submit({0, 1}).ok());
    CHECK(physical.get("core/unseal-check")->has_value());
    seal.seal();
    flip_a_byte(physical, "core/root-key");
    auto again = submit({0, 1});
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().code == ErrorCode::Corrupt);
  }
}
