// SPDX-License-Identifier: MPL-2.0
#include "engine/barrier/barrier.hpp"

#include <catch2/catch.hpp>

#include "engine/crypto/sodium.hpp"
#include "engine/storage/memory_storage.hpp"
#include "tests/unit/base/storage_conformance.hpp"

using engine::Barrier;
using engine::ErrorCode;
using engine::MemoryStorage;
using engine::SecureBytes;
using engine::WriteOp;

namespace {

SecureBytes stored(MemoryStorage& physical, std::string_view key) {
  auto r = physical.get(key);
  REQUIRE(r.ok());
  REQUIRE(r->has_value());
  return **r;
}

}  // namespace

TEST_CASE("Barrier over MemoryStorage conforms to the Storage contract", "[barrier]") {
  MemoryStorage physical;
  Barrier barrier(physical);
  REQUIRE(barrier.initialize(engine::crypto::random_key()).ok());
  conformance::check_storage_conformance(barrier);
}

TEST_CASE("Barrier stores only ciphertext, bound to its key", "[barrier]") {
  MemoryStorage physical;
  Barrier barrier(physical);
  const SecureBytes root = engine::crypto::random_key();
  CHECK(barrier.sealed());
  REQUIRE(barrier.initialize(root).ok());
  CHECK_FALSE(barrier.sealed());
  CHECK(barrier.active_term() == 1);
  conformance::put(barrier, "secret/a", "hunter2-hunter2");
  conformance::put(barrier, "secret/b", "other");

  const SecureBytes raw = stored(physical, "secret/a");
  CHECK(std::string(engine::as_view(raw)).find("hunter2") == std::string::npos);
  REQUIRE(raw.size() == 5 + 24 + 15 + 16);
  CHECK(raw[0] == 0);
  CHECK(raw[3] == 1);  // term 1, big-endian
  CHECK(raw[4] == 1);  // value version

  SECTION("a flipped byte anywhere is Corrupt") {
    for (std::size_t i = 0; i < raw.size(); ++i) {
      SecureBytes bad = raw;
      bad[i] ^= 0x01;
      REQUIRE(physical.put("secret/a", bad).ok());
      auto r = barrier.get("secret/a");
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == ErrorCode::Corrupt);
    }
  }

  SECTION("a truncated value is Corrupt") {
    REQUIRE(physical.put("secret/a", engine::ByteView(raw).first(4)).ok());
    auto r = barrier.get("secret/a");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::Corrupt);
  }

  SECTION("a value moved to another key is Corrupt") {
    REQUIRE(physical.put("secret/b", raw).ok());
    auto r = barrier.get("secret/b");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::Corrupt);
    const std::string_view keys[] = {"secret/a", "secret/b"};
    auto many = barrier.get_many(keys);  // one bad value fails the lot
    REQUIRE_FALSE(many.ok());
    CHECK(many.error().code == ErrorCode::Corrupt);
    CHECK(conformance::value_at(barrier, "secret/a") == "hunter2-hunter2");
  }

  SECTION("sealed: everything fails with Sealed, unseal restores") {
    barrier.seal();
    CHECK(barrier.sealed());
    CHECK(barrier.active_term() == 0);
    auto g = barrier.get("secret/a");
    REQUIRE_FALSE(g.ok());
    CHECK(g.error().code == ErrorCode::Sealed);
    const std::string_view keys[] = {"secret/a", "secret/none"};
    auto m = barrier.get_many(keys);
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().code == ErrorCode::Sealed);
    auto l = barrier.list("secret/");
    REQUIRE_FALSE(l.ok());
    CHECK(l.error().code == ErrorCode::Sealed);
    auto p = barrier.put("secret/c", engine::bytes_of("x"));
    REQUIRE_FALSE(p.ok());
    CHECK(p.error().code == ErrorCode::Sealed);
    auto rot = barrier.rotate();
    REQUIRE_FALSE(rot.ok());
    CHECK(rot.error().code == ErrorCode::Sealed);

    REQUIRE(barrier.unseal(root).ok());
    CHECK(conformance::value_at(barrier, "secret/a") == "hunter2-hunter2");
  }

  SECTION("a wrong root key is Corrupt and leaves the barrier sealed") {
    barrier.seal();
    auto st = barrier.unseal(engine::crypto::random_key());
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == ErrorCode::Corrupt);
    CHECK(barrier.sealed());
    REQUIRE(barrier.unseal(root).ok());
  }

  SECTION("a tampered keyring is Corrupt") {
    barrier.seal();
    SecureBytes ring = stored(physical, "core/keyring");
    ring[ring.size() / 2] ^= 0x80;
    REQUIRE(physical.put("core/keyring", ring).ok());
    auto st = barrier.unseal(root);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == ErrorCode::Corrupt);
    CHECK(barrier.sealed());
  }

  SECTION("rotate: new writes use the new term, old values stay readable") {
    auto term = barrier.rotate();
    REQUIRE(term.ok());
    CHECK(*term == 2);
    CHECK(barrier.active_term() == 2);
    conformance::put(barrier, "secret/new", "fresh");
    CHECK(stored(physical, "secret/new")[3] == 2);
    CHECK(stored(physical, "secret/a")[3] == 1);
    // The rotated keyring is durable: a fresh barrier over the same storage
    // reads both terms.
    Barrier again(physical);
    REQUIRE(again.unseal(root).ok());
    CHECK(again.active_term() == 2);
    CHECK(conformance::value_at(again, "secret/a") == "hunter2-hunter2");
    CHECK(conformance::value_at(again, "secret/new") == "fresh");
  }

  SECTION("initialize twice is AlreadyExists") {
    auto st = barrier.initialize(engine::crypto::random_key());
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == ErrorCode::AlreadyExists);
    Barrier other(physical);
    auto st2 = other.initialize(engine::crypto::random_key());
    REQUIRE_FALSE(st2.ok());
    CHECK(st2.error().code == ErrorCode::AlreadyExists);
  }

  SECTION("unseal of an uninitialised store fails and stays sealed") {
    MemoryStorage empty;
    Barrier fresh(empty);
    auto st = fresh.unseal(root);
    REQUIRE_FALSE(st.ok());
    CHECK(fresh.sealed());
  }
}

TEST_CASE("Barrier reserves the keys that open the store", "[barrier]") {
  MemoryStorage physical;
  Barrier barrier(physical);
  const SecureBytes root = engine::crypto::random_key();
  const WriteOp extra[] = {{WriteOp::Kind::Put, "core/seal-config", conformance::bytes("{}")}};
  REQUIRE(barrier.initialize(root, extra).ok());
  CHECK(conformance::value_at(physical, "core/seal-config") == "{}");  // written as given

  for (const char* key : {"core/keyring", "core/root-key", "core/seal-config", "core/unseal-check"}) {
    CHECK(Barrier::is_reserved_key(key));
    auto g = barrier.get(key);
    REQUIRE_FALSE(g.ok());
    CHECK(g.error().code == ErrorCode::InvalidArgument);
    const std::string_view keys[] = {"sys/x", key};
    auto many = barrier.get_many(keys);
    REQUIRE_FALSE(many.ok());
    CHECK(many.error().code == ErrorCode::InvalidArgument);
    CHECK_FALSE(barrier.put(key, engine::bytes_of("x")).ok());
    CHECK_FALSE(barrier.del(key).ok());
  }
  CHECK_FALSE(Barrier::is_reserved_key("core/mounts"));
  CHECK_FALSE(barrier.del_prefix("core/").ok());
  CHECK_FALSE(barrier.del_prefix("").ok());
  CHECK(physical.get("core/keyring")->has_value());

  // Hidden from listings, including a directory holding nothing else.
  CHECK(conformance::list(barrier, "").empty());
  CHECK(conformance::list(barrier, "core/").empty());
  conformance::put(barrier, "core/mounts", "m");
  conformance::put(barrier, "sys/x", "y");
  CHECK(conformance::list(barrier, "") == std::vector<std::string>{"core/", "sys/"});
  CHECK(conformance::list(barrier, "", 1) == std::vector<std::string>{"core/"});
  CHECK(conformance::list(barrier, "core/") == std::vector<std::string>{"mounts"});
  REQUIRE(barrier.del_prefix("core/m").ok());
  CHECK(conformance::list(barrier, "core/").empty());
}
