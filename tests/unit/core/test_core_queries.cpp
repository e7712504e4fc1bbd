// SPDX-License-Identifier: MPL-2.0
// Core's queries for the layers above it: the namespace snapshot, token
// checks, capabilities and may_see.
#include <catch2/catch.hpp>

#include "engine/policy/policy.hpp"
#include "tests/unit/core/support.hpp"

using namespace coffer_test;
using engine::ErrorCode;
using engine::Operation;

TEST_CASE("core: the namespace snapshot is immutable and remade on topology changes", "[core][snapshot]") {
  DevCore d;
  const auto first = d.core->namespaces();
  REQUIRE_FALSE(first->sealed);
  CHECK(d.core->namespaces() == first);  // nothing changed: the same snapshot
  auto at = first->resolve("secret/data/app");
  REQUIRE(at.mount != nullptr);
  CHECK(at.mount->type == "kv");
  CHECK(at.mount->kv_version == 2);
  CHECK(at.rel == "data/app");

  // A secret written is no topology change.
  d.put("secret/app", "k=v");
  CHECK(d.core->namespaces() == first);

  d.put("sys/mounts/old", "type=kv");
  REQUIRE(d.files->make_dir(d.root, "ns1").ok());
  const auto second = d.core->namespaces();
  CHECK(second != first);
  CHECK(first->resolve("old/x").mount == nullptr);  // the old one never changes
  auto old = second->resolve("old/x");
  REQUIRE(old.mount != nullptr);
  CHECK(old.mount->kv_version == 1);
  REQUIRE(second->find("ns1/") != nullptr);
  CHECK(second->find("ns1/")->mounts.contains("sys/"));
  CHECK(second->resolve("ns1/sys/mounts").ns == second->find("ns1/"));
  CHECK(second->find("nope/") == nullptr);

  // Disabling a mount is a topology change too.
  REQUIRE(d.files->remove(d.root, "sys/mounts/old").ok());
  CHECK(d.core->namespaces()->resolve("old/x").mount == nullptr);
  CHECK(second->resolve("old/x").mount != nullptr);

  d.put("sys/seal", "");
  const auto sealed = d.core->namespaces();
  CHECK(sealed->sealed);
  CHECK(sealed->root == nullptr);
  CHECK(sealed->find("") == nullptr);
}

TEST_CASE("core: check_token, capabilities and may_see", "[core]") {
  DevCore d;
  auto root = d.core->check_token(engine::to_secure("root"));
  REQUIRE(root.ok());
  CHECK(root->namespace_id == "root");
  CHECK(root->namespace_path.empty());
  auto bogus = d.core->check_token(engine::to_secure("nope"));
  REQUIRE_FALSE(bogus.ok());
  CHECK(bogus.error().code == ErrorCode::PermissionDenied);
  CHECK(d.core->check_token(engine::SecureString{}).error().code == ErrorCode::PermissionDenied);

  d.put("sys/policies/acl/app", R"(path "secret/data/app/*" { capabilities = ["read"] })");
  engine::Request create{Operation::Update, "auth/token/create",
                         engine::Json{{"policies", engine::Json::array({"app"})}}, engine::to_secure("root")};
  auto made = d.core->handle(create);
  REQUIRE(made.ok());
  const auto token = made->data["auth"]["client_token"].get<engine::SecureString>();
  const auto calls = d.core->handle_calls();
  auto bits = d.core->capabilities(token, "secret/data/app/db");
  REQUIRE(bits.ok());
  CHECK((*bits & engine::policy::cap::kRead) != 0);
  CHECK((*bits & engine::policy::cap::kUpdate) == 0);
  CHECK(d.core->may_see(token, "secret/").value());
  CHECK_FALSE(d.core->may_see(token, "kv9/").value());
  CHECK(d.core->check_token(token).ok());
  CHECK(d.core->handle_calls() == calls);  // queries are no requests

  d.put("sys/seal", "");
  CHECK(d.core->check_token(token).error().code == ErrorCode::Sealed);
  CHECK(d.core->capabilities(token, "secret/").error().code == ErrorCode::Sealed);
}
