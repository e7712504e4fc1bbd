// SPDX-License-Identifier: MPL-2.0
// The system backend's path table (sys/ and, through it, the audit
// endpoints): root-only paths, sudo paths, the writes that need the core
// lock exclusively, and the existence check (none: as in OpenBao, a write
// to sys/policies/acl/NAME, sys/mounts/PATH, sys/namespaces/NAME is an
// Update whether or not its target exists).
#include <catch2/catch.hpp>

#include "engine/sys/sys_backend.hpp"
#include "tests/unit/core/paths_support.hpp"

namespace {

using engine::Operation;
using engine::PathProperties;
using namespace coffer_test;

engine::SysBackend sys_of(Stores& s) {
  return engine::SysBackend(
      engine::SysStores{s.router, s.tokens, s.policies, s.identity, s.acls, s.lockout, s.audit, s.opts, [] {},
                        s.barrier});
}

}  // namespace

TEST_CASE("sys path table: root-only endpoints", "[sys][paths]") {
  Stores s;
  auto sys = sys_of(s);
  for (const char* rel : {"health", "seal", "seal-status", "unseal", "init", "config/cors", "config/ui/headers/x",
                          "config/group-policy-application", "raw/k", "rotate", "quotas", "quotas/config",
                          "internal/counters/tokens", "audit", "audit/", "audit/file", "audit-hash/file", "monitor"}) {
    INFO(rel);
    CHECK(sys.path_properties(rel, Operation::Read).root_only);
    CHECK(sys.path_properties(rel, Operation::Update).root_only);
  }
  // Served in every namespace; "monitor@L" is checked by the audit backend itself.
  for (const char* rel : {"mounts", "mounts/secret", "auth/userpass", "namespaces/a", "policies/acl/p",
                          "capabilities-self", "locked-users", "auditx", "healthz", "monitor@debug", "config"}) {
    INFO(rel);
    CHECK_FALSE(sys.path_properties(rel, Operation::Read).root_only);
  }
}

TEST_CASE("sys path table: sudo paths", "[sys][paths]") {
  Stores s;
  auto sys = sys_of(s);
  for (const char* rel : {"auth/userpass", "auth/userpass/tune", "audit", "audit/file", "raw", "raw/core", "rotate",
                          "leases/revoke-prefix/x", "leases/revoke-force/x", "leases/lookup/x", "revoke-prefix/x",
                          "revoke-force/x", "plugins/catalog/x", "config/auditing/x", "config/ui/headers/x", "remount",
                          "seal", "step-down", "config/cors"}) {
    INFO(rel);
    CHECK(sys.path_properties(rel, Operation::Update).sudo);
    CHECK(sys.path_properties(rel, Operation::Read).sudo);
  }
  for (const char* rel : {"auth", "mounts/secret", "policies/acl/p", "namespaces/a", "audit-hash/file", "monitor",
                          "leases/lookup", "remount/x", "capabilities"}) {
    INFO(rel);
    CHECK_FALSE(sys.path_properties(rel, Operation::Update).sudo);
  }
}

TEST_CASE("sys path table: topology writes take the lock exclusively", "[sys][paths]") {
  Stores s;
  auto sys = sys_of(s);
  for (const char* rel :
       {"mounts/secret", "mounts/secret/tune", "namespaces/a", "auth", "auth/userpass", "auth/userpass/tune", "seal"}) {
    INFO(rel);
    for (Operation op : {Operation::Create, Operation::Update, Operation::Patch, Operation::Delete}) {
      CHECK(sys.path_properties(rel, op).exclusive);
    }
    CHECK_FALSE(sys.path_properties(rel, Operation::Read).exclusive);
    CHECK_FALSE(sys.path_properties(rel, Operation::List).exclusive);
  }
  for (const char* rel : {"policies/acl/p", "audit/file", "capabilities", "authx", "locked-users/a/unlock/b"}) {
    INFO(rel);
    CHECK_FALSE(sys.path_properties(rel, Operation::Update).exclusive);
  }
}

TEST_CASE("sys path table: no existence checks, as in OpenBao", "[sys][paths]") {
  Stores s;
  auto sys = sys_of(s);
  const engine::Json body = engine::Json::object();
  for (const char* rel : {"policies/acl/p", "policy/p", "mounts/secret", "auth/userpass", "namespaces/a", "audit/f"}) {
    INFO(rel);
    engine::BackendRequest req{Operation::Update, rel, body, s.mem, engine::Clock::now()};
    auto exists = sys.exists(req);
    REQUIRE(exists.ok());
    CHECK(*exists);  // the write stays an Update
  }
}

TEST_CASE("sys writes need update, first and second alike (Core::handle)", "[sys][paths][acl]") {
  DevCore d;
  const std::string create_only = token_with_policy(d, "create-only", R"(
    path "sys/policies/acl/*" { capabilities = ["create"] }
    path "sys/mounts/*" { capabilities = ["create"] }
    path "sys/namespaces/*" { capabilities = ["create"] })");
  const std::string update_only = token_with_policy(d, "update-only", R"(
    path "sys/policies/acl/*" { capabilities = ["update"] }
    path "sys/mounts/*" { capabilities = ["update"] }
    path "sys/namespaces/*" { capabilities = ["update"] })");
  const engine::Json policy{{"policy", R"(path "x" { capabilities = ["read"] })"}};

  SECTION("sys/policies/acl/NAME") {
    CHECK_FALSE(allowed(api(d, create_only, Operation::Update, "sys/policies/acl/p1", policy)));
    CHECK(allowed(api(d, update_only, Operation::Update, "sys/policies/acl/p1", policy)));  // first write
    CHECK(allowed(api(d, update_only, Operation::Update, "sys/policies/acl/p1", policy)));  // second write
    CHECK_FALSE(allowed(api(d, create_only, Operation::Update, "sys/policies/acl/p1", policy)));
  }
  SECTION("sys/mounts/PATH") {
    const engine::Json kv{{"type", "kv"}};
    CHECK_FALSE(allowed(api(d, create_only, Operation::Update, "sys/mounts/m1", kv)));
    CHECK(allowed(api(d, update_only, Operation::Update, "sys/mounts/m1", kv)));
    CHECK_FALSE(allowed(api(d, create_only, Operation::Update, "sys/mounts/m1/tune", engine::Json::object())));
    CHECK(allowed(api(d, update_only, Operation::Update, "sys/mounts/m1/tune", engine::Json::object())));
  }
  SECTION("sys/namespaces/NAME") {
    CHECK_FALSE(allowed(api(d, create_only, Operation::Update, "sys/namespaces/n1")));
    CHECK(allowed(api(d, update_only, Operation::Update, "sys/namespaces/n1")));
    CHECK_FALSE(allowed(api(d, create_only, Operation::Update, "sys/namespaces/n1")));
  }
}

TEST_CASE("root-only sys paths answer unsupported in a child namespace (Core::handle)", "[sys][paths]") {
  DevCore d;
  REQUIRE(api(d, "root", Operation::Update, "sys/namespaces/n1").ok());
  for (const char* rel : {"sys/audit", "sys/health", "sys/config/cors"}) {
    INFO(rel);
    auto r = api(d, "root", Operation::Read, std::string("n1/") + rel);
    CHECK(code_of(r) == engine::ErrorCode::Unsupported);
  }
  CHECK(api(d, "root", Operation::Read, "n1/sys/mounts").ok());
}
