// SPDX-License-Identifier: MPL-2.0
// sys/policies/acl through the file view: text in, text out, Vault's rules
// for names and built-ins.
#include <catch2/catch.hpp>

#include "tests/unit/core/core_test_access.hpp"
#include "tests/unit/core/authz_support.hpp"

using namespace coffer_test;
using engine::ErrorCode;
using engine::Operation;

namespace {
constexpr const char* kTeam = "path \"secret/data/team/*\" {\n  capabilities = [\"read\", \"list\"]\n}\n";
}

TEST_CASE("policy files hold the policy text itself", "[policy_store]") {
  DevCore d;
  d.put("sys/policies/acl/team", kTeam);
  CHECK(d.cat("sys/policies/acl/team") == kTeam);
  auto api_read = api(d, "root", Operation::Read, "sys/policies/acl/team");
  REQUIRE(api_read.ok());
  CHECK(api_read->data["name"] == "team");
  CHECK(api_read->data["policy"] == kTeam);
  CHECK(d.ls("sys/policies/acl") == std::vector<std::string>{"default", "root", "team"});
  CHECK(d.ls("sys/policies") == std::vector<std::string>{"acl/"});
  // LIST with a prefix.
  auto prefixed = api(d, "root", Operation::List, "sys/policies/acl/te");
  REQUIRE(prefixed.ok());
  CHECK(prefixed->data["keys"] == engine::Json::array({"team"}));
}

TEST_CASE("policy names are trimmed and lower-cased", "[policy_store]") {
  DevCore d;
  REQUIRE(api(d, "root", Operation::Update, "sys/policies/acl/TeamA", {{"policy", kTeam}}).ok());
  CHECK(d.cat("sys/policies/acl/teama") == kTeam);
  // Legacy endpoint: same store, "rules" field.
  auto legacy = api(d, "root", Operation::Read, "sys/policy/teama");
  REQUIRE(legacy.ok());
  CHECK(legacy->data["rules"] == kTeam);
}

TEST_CASE("JSON and base64 policies are accepted", "[policy_store]") {
  DevCore d;
  d.put("sys/policies/acl/j", R"({"path": {"secret/*": {"capabilities": ["read"]}}})");
  // base64 of: path "a" { capabilities = ["read"] }
  d.put("sys/policies/acl/b", "cGF0aCAiYSIgeyBjYXBhYmlsaXRpZXMgPSBbInJlYWQiXSB9");
  CHECK(d.cat("sys/policies/acl/b") == "path \"a\" { capabilities = [\"read\"] }");
}

TEST_CASE("a bad policy is rejected with the parser's message and the old one kept", "[policy_store]") {
  DevCore d;
  d.put("sys/policies/acl/team", kTeam);
  auto bad = d.files->write(d.root, "sys/policies/acl/team", "path \"x\" { capabilities = [\"banana\"] }\n",
                            engine::WriteMode::Replace);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::InvalidArgument);
  CHECK(bad.error().message.find("invalid capability \"banana\"") != std::string::npos);
  auto bad_key = d.files->write(d.root, "sys/policies/acl/team", "bad = 1\n", engine::WriteMode::Replace);
  REQUIRE_FALSE(bad_key.ok());
  CHECK(bad_key.error().message.find("invalid key \"bad\" on line 1") != std::string::npos);
  CHECK(d.cat("sys/policies/acl/team") == kTeam);
}

TEST_CASE("built-in policies: default editable not deletable, root untouchable", "[policy_store]") {
  DevCore d;
  CHECK(d.cat("sys/policies/acl/default").find("auth/token/lookup-self") != std::string::npos);
  auto del_default = d.files->remove(d.root, "sys/policies/acl/default");
  REQUIRE_FALSE(del_default.ok());
  CHECK(del_default.error().message == "cannot delete \"default\" policy");
  d.put("sys/policies/acl/default", kTeam);
  CHECK(d.cat("sys/policies/acl/default") == kTeam);

  auto write_root = d.files->write(d.root, "sys/policies/acl/root", kTeam, engine::WriteMode::Replace);
  REQUIRE_FALSE(write_root.ok());
  CHECK(write_root.error().message == "cannot update \"root\" policy");
  auto del_root = d.files->remove(d.root, "sys/policies/acl/root");
  REQUIRE_FALSE(del_root.ok());
  CHECK(del_root.error().message == "cannot delete \"root\" policy");
  CHECK(d.cat_error("sys/policies/acl/root") == ErrorCode::NotFound);
}

TEST_CASE("rm removes a policy; deleting a missing one succeeds", "[policy_store]") {
  DevCore d;
  d.put("sys/policies/acl/team", kTeam);
  REQUIRE(d.files->remove(d.root, "sys/policies/acl/team").ok());
  CHECK(d.cat_error("sys/policies/acl/team") == ErrorCode::NotFound);
  CHECK(api(d, "root", Operation::Delete, "sys/policies/acl/never").ok());
  CHECK(d.ls("sys/policies/acl") == std::vector<std::string>{"default", "root"});
}

TEST_CASE("policies are namespace-local; child namespaces have their own default", "[policy_store]") {
  DevCore d;
  REQUIRE(d.files->make_dir(d.root, "ns1").ok());
  d.put("ns1/sys/policies/acl/team", kTeam);
  CHECK(d.ls("ns1/sys/policies/acl") == std::vector<std::string>{"default", "team"});
  CHECK(d.ls("sys/policies/acl") == std::vector<std::string>{"default", "root"});
  CHECK(d.cat_error("sys/policies/acl/team") == ErrorCode::NotFound);
  CHECK(d.cat("ns1/sys/policies/acl/default").find("lookup-self") != std::string::npos);
}

TEST_CASE("policies survive seal and unseal", "[policy_store]") {
  DevCore d;
  d.put("sys/policies/acl/team", kTeam);
  auto& impl = internals(*d.core);
  impl.policies.forget_all();
  CHECK(d.cat("sys/policies/acl/team") == kTeam);
}
