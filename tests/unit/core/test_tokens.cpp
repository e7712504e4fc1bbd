// SPDX-License-Identifier: MPL-2.0
// Service tokens: create rules, lookup fields, the parent/child tree,
// expiry and use limits (vault-semantics §9.5).
#include <thread>

#include <catch2/catch.hpp>

#include "tests/unit/core/authz_support.hpp"

using namespace coffer_test;
using engine::ErrorCode;
using engine::Operation;

TEST_CASE("tokens have Vault's shapes and lookup fields", "[tokens]") {
  DevCore d;
  auto created = d.files->write(d.root, "auth/token/create",
                                R"({"policies":["team"],"display_name":"CI","meta":{"app":"x"},"ttl":"1h"})",
                                engine::WriteMode::Replace);
  REQUIRE(created.ok());
  auto auth = reply(created.value())["auth"];
  const std::string token = auth["client_token"];
  CHECK(token.size() == 28);
  CHECK(token.rfind("hvs.", 0) == 0);
  CHECK(auth["accessor"].get<std::string>().size() == 24);
  CHECK(auth["policies"] == nlohmann::json::array({"default", "team"}));
  CHECK(auth["token_policies"] == auth["policies"]);
  CHECK(auth["metadata"]["app"] == "x");
  CHECK(auth["lease_duration"] == 3600);
  CHECK(auth["renewable"] == true);
  CHECK(auth["token_type"] == "service");
  CHECK(auth["orphan"] == false);

  auto self = reply(d.files->read(as(token), "auth/token/lookup-self").value());
  CHECK(self["id"] == token);
  CHECK(self["accessor"] == auth["accessor"]);
  CHECK(self["display_name"] == "token-ci");
  CHECK(self["path"] == "auth/token/create");
  CHECK(self["creation_ttl"] == 3600);
  CHECK(self["ttl"].get<int>() > 3590);
  CHECK(self["num_uses"] == 0);
  CHECK(self["orphan"] == false);
  CHECK(self["type"] == "service");
  CHECK(self["expire_time"].is_string());
  CHECK_FALSE(self.contains("namespace_path"));
  for (const char* k :
       {"creation_time", "entity_id", "explicit_max_ttl", "issue_time", "meta", "policies", "renewable"}) {
    CHECK(self.contains(k));
  }
  CHECK(d.files->read(as(token), "auth/token/lookup-self#display_name").value() == engine::to_secure("token-ci"));

  // lookup-accessor shows no id.
  auto by_accessor = reply(d.put("auth/token/lookup-accessor", "accessor=" + auth["accessor"].get<std::string>()));
  CHECK(by_accessor["id"] == "");
  CHECK(by_accessor["display_name"] == "token-ci");
}

TEST_CASE("tokens outside the root namespace carry the namespace id", "[tokens]") {
  DevCore d;
  REQUIRE(d.files->make_dir(d.root, "ns1").ok());
  auto ns = api(d, "root", Operation::Read, "sys/namespaces/ns1");
  REQUIRE(ns.ok());
  const std::string nsid = engine::to_plain(ns->data["id"].get_ref<const engine::SecureString&>());
  const std::string token = make_token(d, "{}", "ns1/");
  CHECK(token.size() == 28 + 1 + nsid.size());
  CHECK(token.substr(token.size() - nsid.size() - 1) == "." + nsid);
  auto self = reply(d.files->read(as(token), "ns1/auth/token/lookup-self").value());
  CHECK(self["namespace_path"] == "ns1/");
  CHECK(self["accessor"].get<std::string>().substr(24) == "." + nsid);
}

TEST_CASE("create rules: subset, root, orphans, ids, use limits", "[tokens]") {
  DevCore d;
  d.put("sys/policies/acl/creator", "path \"auth/token/create*\" { capabilities = [\"update\"] }\n");
  d.put("sys/policies/acl/sudoer", "path \"auth/token/create*\" { capabilities = [\"update\", \"sudo\"] }\n");
  const auto parent = as(make_token(d, R"({"policies":["creator","a"]})"));
  auto err = [&](const engine::Caller& c, const std::string& body) {
    auto r = d.files->write(c, "auth/token/create", body, engine::WriteMode::Replace);
    REQUIRE_FALSE(r.ok());
    return r.error().message;
  };
  CHECK(err(parent, R"({"policies":["b"]})") == "child policies must be subset of parent");
  // Vault checks the subset first: root is not among the parent's.
  CHECK(err(parent, R"({"policies":["root"]})") == "child policies must be subset of parent");
  CHECK(err(parent, R"({"no_parent":true})") == "root or sudo privileges required to create orphan token");
  CHECK(err(parent, R"({"id":"custom"})") == "root or sudo privileges required to specify token id");
  CHECK(err(parent, R"({"period":"1h"})") == "root or sudo privileges required to create periodic token");
  // A subset is fine; no policies inherits the parent's; non-existent names are accepted.
  auto child =
      reply(d.files->write(parent, "auth/token/create", R"({"policies":["a"]})", engine::WriteMode::Replace).value());
  CHECK(child["auth"]["policies"] == nlohmann::json::array({"a", "default"}));
  auto inherit = reply(d.files->write(parent, "auth/token/create", "{}", engine::WriteMode::Replace).value());
  CHECK(inherit["auth"]["policies"] == nlohmann::json::array({"a", "creator", "default"}));
  auto no_default = reply(d.files
                              ->write(parent, "auth/token/create", R"({"policies":["a"],"no_default_policy":true})",
                                      engine::WriteMode::Replace)
                              .value());
  CHECK(no_default["auth"]["policies"] == nlohmann::json::array({"a"}));
  // create-orphan needs only the capability on its path (as in Vault).
  auto orphan = reply(
      d.files->write(parent, "auth/token/create-orphan", R"({"policies":["a"]})", engine::WriteMode::Replace).value());
  CHECK(orphan["auth"]["orphan"] == true);

  // sudo lifts the subset rule and allows orphans, but never root.
  const auto sudoer = as(make_token(d, R"({"policies":["sudoer"]})"));
  auto wide = reply(d.files
                        ->write(sudoer, "auth/token/create", R"({"policies":["anything"],"no_parent":true})",
                                engine::WriteMode::Replace)
                        .value());
  CHECK(wide["auth"]["orphan"] == true);
  CHECK(err(sudoer, R"({"policies":["root"]})").find("root") != std::string::npos);

  // Use-limited tokens cannot create children.
  const auto limited = as(make_token(d, R"({"policies":["creator"],"num_uses":5})"));
  CHECK(err(limited, "{}") == "restricted use token cannot generate child tokens");

  // Root can make root tokens, which never expire.
  auto root_child = reply(d.put("auth/token/create", R"({"policies":["root"]})"));
  CHECK(root_child["auth"]["policies"] == nlohmann::json::array({"root"}));
  CHECK(root_child["auth"]["lease_duration"] == 0);
  // Custom ids from root.
  CHECK(reply(d.put("auth/token/create", R"({"id":"my-token"})"))["auth"]["client_token"] == "my-token");
}

TEST_CASE("revoking a token revokes its subtree; revoke-orphan keeps children", "[tokens]") {
  DevCore d;
  d.put("sys/policies/acl/creator", "path \"auth/token/create\" { capabilities = [\"update\"] }\n");
  const std::string parent = make_token(d, R"({"policies":["creator"]})");
  const auto parent_caller = as(parent);
  const std::string child = make_token(d, R"({"policies":["creator"]})", "", &parent_caller);
  const auto child_caller = as(child);
  const std::string grandchild = make_token(d, "{}", "", &child_caller);
  CHECK(d.files->read(as(grandchild), "auth/token/lookup-self").ok());

  d.put("auth/token/revoke", "token=" + parent);
  for (const auto& t : {parent, child, grandchild}) {
    auto r = d.files->read(as(t), "auth/token/lookup-self");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::PermissionDenied);
  }

  const std::string p2 = make_token(d, R"({"policies":["creator"]})");
  const auto p2_caller = as(p2);
  const std::string c2 = make_token(d, "{}", "", &p2_caller);
  d.put("auth/token/revoke-orphan", "token=" + p2);
  CHECK_FALSE(d.files->read(as(p2), "auth/token/lookup-self").ok());
  auto orphaned = d.files->read(as(c2), "auth/token/lookup-self");
  REQUIRE(orphaned.ok());
  CHECK(reply(orphaned.value())["orphan"] == true);
}

TEST_CASE("revoke-self, revoke-accessor, renew-self", "[tokens]") {
  DevCore d;
  const std::string t = make_token(d, R"({"ttl":"10m","explicit_max_ttl":"20m","policies":["default"]})");
  auto renewed =
      reply(d.files->write(as(t), "auth/token/renew-self", "increment=1h", engine::WriteMode::Replace).value());
  CHECK(renewed["auth"]["lease_duration"].get<int>() <= 1200);
  CHECK(renewed["auth"]["lease_duration"].get<int>() > 1100);
  REQUIRE(d.files->write(as(t), "auth/token/revoke-self", "", engine::WriteMode::Replace).ok());
  CHECK_FALSE(d.files->read(as(t), "auth/token/lookup-self").ok());

  const std::string u = make_token(d, "{}");
  auto accessor = reply(d.files->read(as(u), "auth/token/lookup-self").value())["accessor"].get<std::string>();
  d.put("auth/token/revoke-accessor", "accessor=" + accessor);
  CHECK_FALSE(d.files->read(as(u), "auth/token/lookup-self").ok());

  const std::string fixed = make_token(d, R"({"renewable":false,"policies":["default"]})");
  auto not_renewable = d.files->write(as(fixed), "auth/token/renew-self", "", engine::WriteMode::Replace);
  REQUIRE_FALSE(not_renewable.ok());
  CHECK(not_renewable.error().message == "lease is not renewable");
}

TEST_CASE("expired tokens stop working at once", "[tokens]") {
  DevCore d;
  const std::string t = make_token(d, R"({"ttl":"1s"})");
  CHECK(d.files->read(as(t), "auth/token/lookup-self").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto r = d.files->read(as(t), "auth/token/lookup-self");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::PermissionDenied);
}

TEST_CASE("use-limited tokens: each request spends a use, the last one revokes", "[tokens]") {
  DevCore d;
  const std::string t = make_token(d, R"({"num_uses":2})");
  auto first = d.files->read(as(t), "auth/token/lookup-self");
  REQUIRE(first.ok());
  CHECK(reply(first.value())["num_uses"] == 1);
  CHECK(d.files->read(as(t), "auth/token/lookup-self").ok());
  auto third = d.files->read(as(t), "auth/token/lookup-self");
  REQUIRE_FALSE(third.ok());
  CHECK(third.error().code == ErrorCode::PermissionDenied);
}

TEST_CASE("listing accessors needs sudo", "[tokens]") {
  DevCore d;
  d.put("sys/policies/acl/lister", "path \"auth/token/accessors/\" { capabilities = [\"list\"] }\n");
  d.put("sys/policies/acl/sudo-lister", "path \"auth/token/accessors/\" { capabilities = [\"list\", \"sudo\"] }\n");
  const std::string plain = make_token(d, R"({"policies":["lister"]})");
  const std::string sudo = make_token(d, R"({"policies":["sudo-lister"]})");
  CHECK(code_of(api(d, plain, Operation::List, "auth/token/accessors")) == ErrorCode::PermissionDenied);
  auto listed = d.files->list(as(sudo), "auth/token/accessors");
  REQUIRE(listed.ok());
  CHECK(listed->size() == 3);  // root, plain, sudo
  CHECK(d.ls("auth/token/accessors").size() == 3);
}

TEST_CASE("garbage and missing tokens are denied", "[tokens]") {
  DevCore d;
  CHECK(code_of(api(d, "", Operation::Read, "secret/data/x")) == ErrorCode::PermissionDenied);
  CHECK(code_of(api(d, "hvs.garbage", Operation::Read, "secret/data/x")) == ErrorCode::PermissionDenied);
  CHECK(code_of(api(d, "hvs.garbage", Operation::Read, "auth/token/lookup-self")) == ErrorCode::PermissionDenied);
}
