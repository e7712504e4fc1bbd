// SPDX-License-Identifier: MPL-2.0
// Helpers for the path-table tests: the stores of a core over memory,
// without a core, to build the built-in backends alone; and tokens of one
// policy for ACL tests through Core::handle.
#pragma once

#include <catch2/catch.hpp>

#include "engine/audit/audit_broker.hpp"
#include "engine/auth/lockout.hpp"
#include "engine/authz/acl_cache.hpp"
#include "engine/authz/policy_store.hpp"
#include "engine/barrier/barrier.hpp"
#include "engine/identity/identity_store.hpp"
#include "engine/router/router.hpp"
#include "engine/storage/memory_storage.hpp"
#include "engine/token/token_store.hpp"
#include "tests/unit/core/authz_support.hpp"

namespace coffer_test {

// Every store a built-in backend may be given, over one memory store.
struct Stores {
  engine::MemoryStorage mem;
  engine::Router router{mem};
  engine::TokenStore tokens{mem};
  engine::PolicyStore policies{mem};
  engine::IdentityStore identity{mem};
  engine::AclCache acls{policies};
  engine::auth::LockoutTable lockout{mem};
  engine::AuditBroker audit{mem};
  engine::CoreOptions opts;
  engine::Barrier barrier{mem};
};

// Writes policy `name` with `text` as root and returns a token holding it
// (and default) only.
inline std::string token_with_policy(DevCore& d, const std::string& name, const std::string& text) {
  engine::Request req;
  req.op = engine::Operation::Update;
  req.path = "sys/policies/acl/" + name;
  req.data = engine::Json{{"policy", text}};
  req.token = engine::to_secure("root");
  auto written = d.core->handle(req);
  if (!written.ok()) FAIL("policy " << name << ": " << written.error().message);
  return make_token(d, R"({"policies":[")" + name + R"("]})");
}

inline bool allowed(const engine::Result<engine::Response>& r) {
  if (r.ok()) return true;
  if (r.error().code != engine::ErrorCode::PermissionDenied) FAIL("unexpected error: " << r.error().message);
  return false;
}

}  // namespace coffer_test
