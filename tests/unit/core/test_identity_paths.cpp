// SPDX-License-Identifier: MPL-2.0
// The identity backend's path table: no special paths and no existence
// checks (OpenBao's entity/name/<name> and group/name/<name> have none, so
// a write there is an Update on the first write as on the second); the
// audit endpoints' table; and the existence check mechanism itself, on a
// backend whose table has one (a first write is Create, a second Update),
// through Core::handle on kv.
#include <catch2/catch.hpp>

#include "engine/audit/audit_api.hpp"
#include "engine/backend/path_table.hpp"
#include "engine/identity/identity_backend.hpp"
#include "tests/unit/core/paths_support.hpp"

namespace {

using engine::Operation;
using namespace coffer_test;

// A backend whose table checks existence below "item/": the key is in storage.
class ItemBackend final : public engine::Backend {
 public:
  engine::Result<engine::Response> handle(const engine::BackendRequest&) override { return engine::Response{}; }
  engine::Result<bool> exists(const engine::BackendRequest& req) override {
    return engine::table_exists(kTable, *this, req);
  }
  engine::PathProperties path_properties(std::string_view rel, Operation op) const override {
    return engine::table_properties(kTable, rel, op);
  }

 private:
  static engine::Result<bool> item_exists(const engine::Backend&, const engine::BackendRequest& req) {
    COFFER_TRY(auto value, req.storage.get(req.path));
    return value.has_value();
  }
  static constexpr engine::PathRule kTable[] = {
      {"item/", engine::PathMatch::Prefix, engine::PathOps::Writes, {}, &item_exists},
      {"admin", engine::PathMatch::Tree, engine::PathOps::Any, {.sudo = true}},
  };
};

}  // namespace

TEST_CASE("identity path table: nothing special, no existence checks", "[identity][paths]") {
  Stores s;
  engine::IdentityBackend identity(engine::IdentityStores{s.identity, s.router});
  const engine::Json body = engine::Json::object();
  for (const char* rel :
       {"entity", "entity/name/e1", "entity/id/x", "group/name/g1", "entity-alias", "lookup/entity"}) {
    INFO(rel);
    for (Operation op : {Operation::Read, Operation::List, Operation::Update, Operation::Delete}) {
      const engine::PathProperties p = identity.path_properties(rel, op);
      CHECK_FALSE(p.root_only);
      CHECK_FALSE(p.sudo);
      CHECK_FALSE(p.exclusive);
    }
    engine::BackendRequest req{Operation::Update, rel, body, s.mem, engine::Clock::now()};
    auto exists = identity.exists(req);
    REQUIRE(exists.ok());
    CHECK(*exists);
  }
}

TEST_CASE("identity writes need update, first and second alike (Core::handle)", "[identity][paths][acl]") {
  DevCore d;
  const std::string create_only = token_with_policy(d, "create-only", R"(
    path "identity/entity/name/*" { capabilities = ["create"] }
    path "identity/group/name/*" { capabilities = ["create"] })");
  const std::string update_only = token_with_policy(d, "update-only", R"(
    path "identity/entity/name/*" { capabilities = ["update"] }
    path "identity/group/name/*" { capabilities = ["update"] })");
  for (const char* path : {"identity/entity/name/e1", "identity/group/name/g1"}) {
    INFO(path);
    CHECK_FALSE(allowed(api(d, create_only, Operation::Update, path)));  // first write: still an Update
    CHECK(allowed(api(d, update_only, Operation::Update, path)));
    CHECK(allowed(api(d, update_only, Operation::Update, path)));  // second write
    CHECK_FALSE(allowed(api(d, create_only, Operation::Update, path)));
  }
}

TEST_CASE("audit path table: root-only, sudo on sys/audit", "[audit][paths]") {
  Stores s;
  engine::AuditBackend audit(engine::AuditStores{s.audit, s.opts});
  for (const char* rel : {"audit", "audit/", "audit/file"}) {
    INFO(rel);
    CHECK(audit.path_properties(rel, Operation::Update).root_only);
    CHECK(audit.path_properties(rel, Operation::Update).sudo);
    CHECK(audit.path_properties(rel, Operation::Read).sudo);
  }
  for (const char* rel : {"audit-hash", "audit-hash/file", "monitor"}) {
    INFO(rel);
    CHECK(audit.path_properties(rel, Operation::Update).root_only);
    CHECK_FALSE(audit.path_properties(rel, Operation::Update).sudo);
  }
  CHECK_FALSE(audit.path_properties("monitor@debug", Operation::Read).root_only);  // checked when served
  CHECK_FALSE(audit.path_properties("audit/file", Operation::Update).exclusive);
}

TEST_CASE("path table rules: exact, prefix, tree; operations", "[paths]") {
  using engine::PathMatch;
  using engine::PathOps;
  using engine::PathRule;
  constexpr PathRule exact{"seal", PathMatch::Exact, PathOps::Any, {.sudo = true}};
  constexpr PathRule prefix{"raw", PathMatch::Prefix, PathOps::Any, {.sudo = true}};
  constexpr PathRule tree{"auth", PathMatch::Tree, PathOps::Writes, {.exclusive = true}};
  constexpr PathRule list{"accessors", PathMatch::Prefix, PathOps::List, {.sudo = true}};
  STATIC_REQUIRE(engine::rule_matches(exact, "seal", Operation::Read));
  STATIC_REQUIRE_FALSE(engine::rule_matches(exact, "seal/x", Operation::Read));
  STATIC_REQUIRE(engine::rule_matches(prefix, "rawx", Operation::Read));
  STATIC_REQUIRE(engine::rule_matches(tree, "auth", Operation::Update));
  STATIC_REQUIRE(engine::rule_matches(tree, "auth/", Operation::Delete));
  STATIC_REQUIRE(engine::rule_matches(tree, "auth/up", Operation::Create));
  STATIC_REQUIRE_FALSE(engine::rule_matches(tree, "authx", Operation::Update));
  STATIC_REQUIRE_FALSE(engine::rule_matches(tree, "auth/up", Operation::Read));
  STATIC_REQUIRE(engine::rule_matches(list, "accessors/", Operation::List));
  STATIC_REQUIRE_FALSE(engine::rule_matches(list, "accessors/", Operation::Read));
}

TEST_CASE("a table's existence check: first write Create, second Update", "[paths]") {
  Stores s;
  ItemBackend items;
  const engine::Json body = engine::Json::object();
  engine::BackendRequest first{Operation::Update, "item/a", body, s.mem, engine::Clock::now()};
  auto before = items.exists(first);
  REQUIRE(before.ok());
  CHECK_FALSE(*before);  // the core turns this Update into a Create
  const engine::WriteOp put{engine::WriteOp::Kind::Put, "item/a", engine::SecureBytes{'v'}};
  REQUIRE(s.mem.apply(std::span(&put, 1)).ok());
  auto after = items.exists(first);
  REQUIRE(after.ok());
  CHECK(*after);
  // Paths without a check stay Updates; the table's flags are the backend's.
  engine::BackendRequest other{Operation::Update, "admin", body, s.mem, engine::Clock::now()};
  CHECK(*items.exists(other));
  CHECK(items.path_properties("admin/x", Operation::Read).sudo);
  CHECK_FALSE(items.path_properties("item/a", Operation::Update).sudo);
}

TEST_CASE("kv's existence check decides create vs update through Core::handle", "[paths][acl]") {
  DevCore d;
  const std::string create_only =
      token_with_policy(d, "kv-create", R"(path "secret/data/*" { capabilities = ["create"] })");
  const std::string update_only =
      token_with_policy(d, "kv-update", R"(path "secret/data/*" { capabilities = ["update"] })");
  const engine::Json data{{"data", {{"k", "v"}}}};
  CHECK_FALSE(allowed(api(d, update_only, Operation::Update, "secret/data/a", data)));  // first write: Create
  CHECK(allowed(api(d, create_only, Operation::Update, "secret/data/a", data)));
  CHECK_FALSE(allowed(api(d, create_only, Operation::Update, "secret/data/a", data)));  // second write: Update
  CHECK(allowed(api(d, update_only, Operation::Update, "secret/data/a", data)));
}
