// SPDX-License-Identifier: MPL-2.0
// AppRole secret-id accessors are by-id handles too: role/R/secret-id-accessor/
// lookup and destroy reach R's secret ids only, and only on their own mount
// (so never another namespace's); anything else is answered as unknown.
#include <catch2/catch.hpp>

#include "tests/unit/core/identity_support.hpp"

using namespace coffer_test;

namespace {

struct Answer {
  bool ok = false;
  ErrorCode code = ErrorCode::Internal;
  std::string message;
};

Answer answer(const engine::Result<engine::Response>& r) {
  if (r.ok()) return {true, ErrorCode::Internal, ""};
  return {false, r.error().code, r.error().message};
}

}  // namespace

TEST_CASE("approle secret-id accessors of another role or namespace are unknown", "[auth][namespaces]") {
  DevCore d;
  make_namespace(d, "", "education");
  for (const std::string ns : {"", "education/"}) {
    ok(root_api(d, Operation::Update, ns + "sys/auth/approle", Json{{"type", "approle"}}));
    ok(root_api(d, Operation::Update, ns + "auth/approle/role/app", Json{{"token_policies", "p"}}));
    ok(root_api(d, Operation::Update, ns + "auth/approle/role/other", Json{{"token_policies", "p"}}));
  }
  // A secret id of the root namespace's role "app".
  const std::string accessor =
      str(ok(root_api(d, Operation::Update, "auth/approle/role/app/secret-id")).data["secret_id_accessor"]);
  const std::string unknown = "00000000-0000-0000-0000-000000000000";

  for (const std::string prefix : {"education/auth/approle/role/app/", "auth/approle/role/other/"}) {
    for (const std::string action : {"lookup", "destroy"}) {
      INFO(prefix << action);
      auto known = answer(root_api(d, Operation::Update, prefix + "secret-id-accessor/" + action,
                                   Json{{"secret_id_accessor", accessor}}));
      auto none = answer(root_api(d, Operation::Update, prefix + "secret-id-accessor/" + action,
                                  Json{{"secret_id_accessor", unknown}}));
      CHECK(known.ok == none.ok);
      CHECK(known.code == none.code);
      std::string expected = none.message;
      if (auto at = expected.find(unknown); at != std::string::npos) expected.replace(at, unknown.size(), accessor);
      CHECK(known.message == expected);
    }
  }
  // Still there, for its own role on its own mount.
  auto own = ok(root_api(d, Operation::Update, "auth/approle/role/app/secret-id-accessor/lookup",
                         Json{{"secret_id_accessor", accessor}}));
  CHECK(str(own.data["secret_id_accessor"]) == accessor);
}

TEST_CASE("approle: a huge secret_id_ttl saturates instead of expiring the secret id at once", "[auth][ttl]") {
  DevCore d;
  ok(root_api(d, Operation::Update, "sys/auth/approle", Json{{"type", "approle"}}));
  ok(root_api(d, Operation::Update, "auth/approle/role/long",
              Json{{"token_policies", "p"}, {"secret_id_ttl", "9000000000000000000"}}));
  const std::string role_id = str(ok(root_api(d, Operation::Read, "auth/approle/role/long/role-id")).data["role_id"]);
  const std::string secret =
      str(ok(root_api(d, Operation::Update, "auth/approle/role/long/secret-id")).data["secret_id"]);
  auto login = api(d, "", Operation::Update, "auth/approle/login", Json{{"role_id", role_id}, {"secret_id", secret}});
  REQUIRE(login.ok());
  CHECK(login.value().data["auth"]["lease_duration"] == 768 * 3600);
}
