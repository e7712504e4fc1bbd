// SPDX-License-Identifier: MPL-2.0
#include <catch2/catch.hpp>

#include "engine/backend/kv_v1.hpp"
#include "kv_test_util.hpp"

using engine::ErrorCode;
using engine::Operation;
using kvtest::J;
using kvtest::str;

namespace {
using V1 = kvtest::Harness<engine::KvV1Backend>;
}

TEST_CASE("kv1: write then read returns the secret as the response data", "[kv1]") {
  V1 h;
  h.ok(Operation::Create, "app/db", J(R"({"user":"a","pass":"b"})"));
  auto r = h.ok(Operation::Read, "app/db");
  CHECK(str(r.data) == R"({"pass":"b","user":"a"})");
}

TEST_CASE("kv1: a write replaces the whole secret, not merges", "[kv1]") {
  V1 h;
  h.ok(Operation::Create, "app/db", J(R"({"user":"a","pass":"b"})"));
  h.ok(Operation::Update, "app/db", J(R"({"user":"c"})"));
  CHECK(str(h.ok(Operation::Read, "app/db").data) == R"({"user":"c"})");
}

TEST_CASE("kv1: an empty body is refused with Vault's message", "[kv1]") {
  V1 h;
  auto e = h.err(Operation::Create, "app/db", J("{}"));
  CHECK(e.code == ErrorCode::InvalidArgument);
  CHECK(e.message == "missing data fields");
  CHECK(h.err(Operation::Read, "app/db").code == ErrorCode::NotFound);
}

TEST_CASE("kv1: read and delete of a missing secret are NotFound", "[kv1]") {
  V1 h;
  CHECK(h.err(Operation::Read, "nope").code == ErrorCode::NotFound);
  CHECK(h.err(Operation::Delete, "nope").code == ErrorCode::NotFound);
  h.ok(Operation::Create, "yes", J(R"({"a":1})"));
  h.ok(Operation::Delete, "yes");
  CHECK(h.err(Operation::Read, "yes").code == ErrorCode::NotFound);
  CHECK(h.err(Operation::Delete, "yes").code == ErrorCode::NotFound);
}

TEST_CASE("kv1: list shows secrets and sub-folders with a trailing slash", "[kv1]") {
  V1 h;
  h.ok(Operation::Create, "a/b", J(R"({"x":1})"));
  h.ok(Operation::Create, "a/c/d", J(R"({"x":1})"));
  h.ok(Operation::Create, "e", J(R"({"x":1})"));
  CHECK(str(h.ok(Operation::List, "").data) == R"({"keys":["a/","e"]})");
  CHECK(str(h.ok(Operation::List, "a/").data) == R"({"keys":["b","c/"]})");
  CHECK(str(h.ok(Operation::List, "a").data) == R"({"keys":["b","c/"]})");
  CHECK(str(h.ok(Operation::List, "a/c/").data) == R"({"keys":["d"]})");
  CHECK(h.err(Operation::List, "zzz/").code == ErrorCode::NotFound);
  // A secret is not a folder.
  CHECK(h.err(Operation::List, "e/").code == ErrorCode::NotFound);
}

TEST_CASE("kv1: a deleted secret disappears from its folder listing", "[kv1]") {
  V1 h;
  h.ok(Operation::Create, "a/b", J(R"({"x":1})"));
  h.ok(Operation::Delete, "a/b");
  CHECK(h.err(Operation::List, "a/").code == ErrorCode::NotFound);
  CHECK(h.err(Operation::List, "").code == ErrorCode::NotFound);
}

TEST_CASE("kv1: patch is unsupported", "[kv1]") {
  V1 h;
  h.ok(Operation::Create, "a", J(R"({"x":1})"));
  auto e = h.err(Operation::Patch, "a", J(R"({"y":2})"));
  CHECK(e.code == ErrorCode::Unsupported);
  CHECK(e.message.find("patch") != std::string::npos);
  CHECK(str(h.ok(Operation::Read, "a").data) == R"({"x":1})");
}

TEST_CASE("kv1: exists is true only for a stored secret", "[kv1]") {
  V1 h;
  CHECK_FALSE(*h.exists("a/b"));
  h.ok(Operation::Create, "a/b", J(R"({"x":1})"));
  CHECK(*h.exists("a/b"));
  CHECK_FALSE(*h.exists("a"));
  CHECK_FALSE(*h.exists("a/"));
}

TEST_CASE("kv1: bad paths are InvalidArgument with a clear message", "[kv1]") {
  V1 h;
  auto e = h.err(Operation::Create, "", J(R"({"x":1})"));
  CHECK(e.code == ErrorCode::InvalidArgument);
  CHECK(e.message == "missing path");
  e = h.err(Operation::Create, "a/", J(R"({"x":1})"));
  CHECK(e.code == ErrorCode::InvalidArgument);
  CHECK(e.message.find("cannot end in '/'") != std::string::npos);
  CHECK(h.err(Operation::Read, "a//b").code == ErrorCode::InvalidArgument);
  CHECK(h.err(Operation::Read, "/a").code == ErrorCode::InvalidArgument);
  CHECK(h.err(Operation::Read, "a/../b").code == ErrorCode::InvalidArgument);
  CHECK(h.err(Operation::List, "a//").code == ErrorCode::InvalidArgument);
}

TEST_CASE("kv1: secrets are stored as JSON under data/", "[kv1]") {
  V1 h;
  h.ok(Operation::Create, "a", J(R"({"x":"y"})"));
  auto raw = h.store.get("data/a");
  REQUIRE(raw.ok());
  REQUIRE(raw->has_value());
  CHECK(engine::as_view(**raw) == R"({"x":"y"})");
}

TEST_CASE("kv1: a secret past 8 MiB as a file is refused, and the one before stays", "[kv1]") {
  V1 h;
  h.ok(Operation::Create, "deep", J(R"({"a":"before"})"));
  // 200,000 leaves 60 levels deep: about 400 KB as a body, about 25 MB indented.
  auto e = h.err(Operation::Update, "deep", kvtest::deep_secret(200000));
  CHECK(e.code == ErrorCode::TooLarge);
  CHECK_THAT(e.message, Catch::Contains("over the limit of 8 MiB"));
  CHECK(str(h.ok(Operation::Read, "deep").data) == R"({"a":"before"})");
}
