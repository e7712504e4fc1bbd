// SPDX-License-Identifier: MPL-2.0
// Authorisation in the request pipeline: ACL on the absolute path, across
// namespaces, cache invalidation, sudo, root-only endpoints, capabilities.
#include <catch2/catch.hpp>

#include "tests/unit/core/authz_support.hpp"

using namespace coffer_test;
using engine::ErrorCode;
using engine::Operation;

namespace {

// Namespaces ns1, ns2, ns1/child, each with a kv-v2 mount kv/ holding a/x.
void setup_tree(DevCore& d) {
  REQUIRE(d.files->make_dir(d.root, "ns1").ok());
  REQUIRE(d.files->make_dir(d.root, "ns2").ok());
  REQUIRE(d.files->make_dir(d.root, "ns1/child").ok());
  for (const std::string ns : {"", "ns1/", "ns2/", "ns1/child/"}) {
    d.put(ns + "sys/mounts/kv", R"({"type":"kv-v2"})");
    d.put(ns + "kv/a/x", R"({"v":"1"})");
  }
}

engine::ErrorCode read_error(DevCore& d, const std::string& token, const std::string& path) {
  auto r = d.files->read(as(token), path);
  REQUIRE_FALSE(r.ok());
  return r.error().code;
}

}  // namespace

TEST_CASE("a token of ns1 is denied in its sibling and its parent", "[acl]") {
  DevCore d;
  setup_tree(d);
  d.put("ns1/sys/policies/acl/all", "path \"*\" { capabilities = [\"read\", \"list\"] }\n");
  const std::string t = make_token(d, R"({"policies":["all"]})", "ns1/");
  CHECK(d.files->read(as(t), "ns1/kv/a/x").ok());
  CHECK(d.files->read(as(t), "ns1/child/kv/a/x").ok());  // "*" in ns1 covers its descendants
  CHECK(read_error(d, t, "ns2/kv/a/x") == ErrorCode::PermissionDenied);
  CHECK(read_error(d, t, "kv/a/x") == ErrorCode::PermissionDenied);
}

TEST_CASE("a parent-namespace policy reaches a child with the child's prefix", "[acl]") {
  DevCore d;
  setup_tree(d);
  d.put("ns1/sys/policies/acl/reach", "path \"child/kv/data/a/*\" { capabilities = [\"read\"] }\n");
  const std::string t = make_token(d, R"({"policies":["reach"]})", "ns1/");
  CHECK(d.files->read(as(t), "ns1/child/kv/a/x").ok());
  CHECK(read_error(d, t, "ns1/kv/a/x") == ErrorCode::PermissionDenied);
  // A child's policy never reaches its parent: the namespace prefix is forced.
  d.put("ns1/child/sys/policies/acl/up", "path \"kv/data/*\" { capabilities = [\"read\"] }\n");
  const std::string c = make_token(d, R"({"policies":["up"]})", "ns1/child/");
  CHECK(d.files->read(as(c), "ns1/child/kv/a/x").ok());
  CHECK(read_error(d, c, "ns1/kv/a/x") == ErrorCode::PermissionDenied);
}

TEST_CASE("policy edits take effect on the next request", "[acl]") {
  DevCore d;
  setup_tree(d);
  d.put("sys/policies/acl/p", "path \"kv/data/a/*\" { capabilities = [\"read\"] }\n");
  const std::string t = make_token(d, R"({"policies":["p"]})");
  CHECK(d.files->read(as(t), "kv/a/x").ok());
  d.put("sys/policies/acl/p", "path \"kv/data/b/*\" { capabilities = [\"read\"] }\n");
  CHECK(read_error(d, t, "kv/a/x") == ErrorCode::PermissionDenied);
  d.put("sys/policies/acl/p", "path \"kv/data/a/*\" { capabilities = [\"read\"] }\n");
  CHECK(d.files->read(as(t), "kv/a/x").ok());
  REQUIRE(d.files->remove(d.root, "sys/policies/acl/p").ok());
  CHECK(read_error(d, t, "kv/a/x") == ErrorCode::PermissionDenied);
}

TEST_CASE("a denied request gets PermissionDenied whether or not the path exists", "[acl]") {
  DevCore d;
  setup_tree(d);
  d.put("sys/policies/acl/p", "path \"kv/data/a/*\" { capabilities = [\"read\"] }\n");
  const std::string t = make_token(d, R"({"policies":["p"]})");
  CHECK(read_error(d, t, "kv/b/x") == ErrorCode::PermissionDenied);
  CHECK(read_error(d, t, "kv/a/missing") == ErrorCode::NotFound);  // allowed, then absent
  CHECK(code_of(api(d, t, Operation::Read, "kv/data/zzz")) == ErrorCode::PermissionDenied);
  CHECK(code_of(api(d, t, Operation::Read, "nomount/x")) == ErrorCode::PermissionDenied);
  CHECK(code_of(api(d, t, Operation::Read, "ns9/kv/data/x")) == ErrorCode::PermissionDenied);
  // Writes: create vs update decided by existence, both denied without the capability.
  CHECK(code_of(api(d, t, Operation::Update, "kv/data/a/x", {{"data", {{"v", "2"}}}})) == ErrorCode::PermissionDenied);
  CHECK(code_of(api(d, t, Operation::Update, "kv/data/a/new", {{"data", {{"v", "2"}}}})) ==
        ErrorCode::PermissionDenied);
}

TEST_CASE("the default policy lets a token look itself up and little else", "[acl]") {
  DevCore d;
  setup_tree(d);
  // (A token made with no policies inherits its parent's: root's here.)
  const std::string t = make_token(d, R"({"policies":["default"]})");
  CHECK(d.files->read(as(t), "auth/token/lookup-self").ok());
  CHECK(read_error(d, t, "kv/a/x") == ErrorCode::PermissionDenied);
  CHECK(read_error(d, t, "sys/policies/acl/default") == ErrorCode::PermissionDenied);
  CHECK(code_of(api(d, t, Operation::List, "sys/policies/acl")) == ErrorCode::PermissionDenied);
  CHECK(code_of(api(d, t, Operation::Update, "auth/token/create", engine::Json::object())) ==
        ErrorCode::PermissionDenied);
  CHECK(code_of(api(d, t, Operation::List, "auth/token/accessors")) == ErrorCode::PermissionDenied);
  auto caps =
      api(d, t, Operation::Update, "sys/capabilities-self", {{"paths", {"auth/token/lookup-self", "kv/data/a/x"}}});
  REQUIRE(caps.ok());
  CHECK(caps->data["auth/token/lookup-self"] == engine::Json::array({"read"}));
  CHECK(caps->data["kv/data/a/x"] == engine::Json::array({"deny"}));
  CHECK_FALSE(caps->data.contains("capabilities"));
  // Without the default policy not even that.
  const std::string bare = make_token(d, R"({"no_default_policy":true,"policies":["x"]})");
  CHECK(read_error(d, bare, "auth/token/lookup-self") == ErrorCode::PermissionDenied);
}

TEST_CASE("root-protected paths need sudo", "[acl]") {
  DevCore d;
  d.put("sys/policies/acl/seal", "path \"sys/seal\" { capabilities = [\"update\"] }\n");
  d.put("sys/policies/acl/orphaner", "path \"auth/token/revoke-orphan\" { capabilities = [\"update\"] }\n");
  const std::string t = make_token(d, R"({"policies":["seal","orphaner"]})");
  CHECK(code_of(api(d, t, Operation::Update, "sys/seal")) == ErrorCode::PermissionDenied);
  const std::string victim = make_token(d, R"({"policies":["default"]})");
  auto r = api(d, t, Operation::Update, "auth/token/revoke-orphan", {{"token", victim}});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "root or sudo privileges required to revoke and orphan");
  CHECK(d.files->read(as(victim), "auth/token/lookup-self").ok());
}

TEST_CASE("root-only sys endpoints answer only in the root namespace", "[acl]") {
  DevCore d;
  REQUIRE(d.files->make_dir(d.root, "ns1").ok());
  auto r = api(d, "root", Operation::Update, "ns1/sys/seal");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::Unsupported);
  CHECK(r.error().message.find("unsupported path") != std::string::npos);
  CHECK(code_of(api(d, "root", Operation::Read, "ns1/sys/health")) == ErrorCode::Unsupported);
  CHECK(api(d, "root", Operation::List, "ns1/sys/policies/acl").ok());
}

TEST_CASE("sys/capabilities answers in Vault's order, for another token and by accessor", "[acl]") {
  DevCore d;
  d.put("sys/policies/acl/p",
        "path \"secret/*\" { capabilities = [\"create\", \"update\", \"list\", \"read\", \"delete\", \"sudo\", "
        "\"patch\"] }\n"
        "path \"secret/no\" { capabilities = [\"deny\"] }\n");
  const std::string t = make_token(d, R"({"policies":["p"]})");
  auto caps = reply(d.put("sys/capabilities", R"({"token":")" + t + R"(","path":"secret/foo"})"));
  CHECK(caps["capabilities"] == nlohmann::json::array({"sudo", "read", "list", "update", "delete", "create", "patch"}));
  CHECK(caps["secret/foo"] == caps["capabilities"]);
  auto denied = reply(d.put("sys/capabilities", R"({"token":")" + t + R"(","paths":["secret/no","other"]})"));
  CHECK(denied["secret/no"] == nlohmann::json::array({"deny"}));
  CHECK(denied["other"] == nlohmann::json::array({"deny"}));
  auto accessor = reply(d.files->read(as(t), "auth/token/lookup-self").value())["accessor"].get<std::string>();
  auto by_accessor =
      reply(d.put("sys/capabilities-accessor", R"({"accessor":")" + accessor + R"(","path":"secret/x"})"));
  CHECK(by_accessor["capabilities"] == caps["capabilities"]);
  auto root_caps = reply(d.put("sys/capabilities-self", R"({"path":"anything"})"));
  CHECK(root_caps["capabilities"] == nlohmann::json::array({"root"}));
}

TEST_CASE("ls shows namespaces and mounts only to callers with something below them", "[acl]") {
  DevCore d;
  setup_tree(d);
  d.put("ns1/sys/policies/acl/p", "path \"child/kv/data/a/*\" { capabilities = [\"read\"] }\n");
  const std::string t = make_token(d, R"({"policies":["p"]})", "ns1/");
  CHECK(names(d.files->list(as(t), "")) == std::vector<std::string>{"ns1"});
  // ns1's default policy grants auth/token/lookup-self, sys/capabilities-self...
  CHECK(names(d.files->list(as(t), "ns1")) == std::vector<std::string>{"auth", "child", "identity", "sys"});
  CHECK(names(d.files->list(as(t), "ns1/child")) == std::vector<std::string>{"kv"});
  CHECK(d.ls("").size() >= 5);
}

TEST_CASE("KV listings pass through the ACL", "[acl]") {
  DevCore d;
  setup_tree(d);
  d.put("sys/policies/acl/p", "path \"kv/metadata/a/\" { capabilities = [\"list\"] }\n");
  const std::string t = make_token(d, R"({"policies":["p"]})");
  CHECK(names(d.files->list(as(t), "kv/a")) == std::vector<std::string>{"x"});
  auto root_listing = d.files->list(as(t), "kv");
  REQUIRE_FALSE(root_listing.ok());
  CHECK(root_listing.error().code == ErrorCode::PermissionDenied);
}

TEST_CASE("parameter constraints see the request body", "[acl]") {
  DevCore d;
  d.put("sys/mounts/kv1", R"({"type":"kv"})");
  d.put("sys/policies/acl/p",
        "path \"kv1/*\" {\n capabilities = [\"create\", \"update\"]\n allowed_parameters = { \"color\" = [\"green\"] "
        "}\n}\n");
  const std::string t = make_token(d, R"({"policies":["p"]})");
  CHECK(api(d, t, Operation::Update, "kv1/x", {{"color", "green"}}).ok());
  CHECK(code_of(api(d, t, Operation::Update, "kv1/x", {{"color", "red"}})) == ErrorCode::PermissionDenied);
}
