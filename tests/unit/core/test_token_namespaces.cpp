// SPDX-License-Identifier: MPL-2.0
// Tokens across namespaces (vault-semantics §9.2, §9.5): a deleted
// namespace's tokens are revoked; a namespace's token store reaches the
// tokens of that namespace and below only; a file operation spends one use
// of a use-limited token.
#include <catch2/catch.hpp>

#include "tests/unit/core/authz_support.hpp"

using namespace coffer_test;
using engine::ErrorCode;
using engine::Operation;

TEST_CASE("deleting a namespace revokes its tokens and their subtrees", "[tokens][namespaces]") {
  DevCore d;
  REQUIRE(d.files->make_dir(d.root, "ns1").ok());
  REQUIRE(d.files->make_dir(d.root, "ns2").ok());
  const std::string t1 = make_token(d, R"({"policies":["x"]})", "ns1/");
  const std::string t2 = make_token(d, R"({"policies":["x"]})", "ns2/");
  // A child of t1 (made in ns1 by t1 itself; t1 may create tokens via root's help: make it with
  // a policy that allows it).
  REQUIRE(d.files
              ->write(d.root, "ns1/sys/policies/acl/maker",
                      "path \"auth/token/create\" {\n  capabilities = [\"update\"]\n}\n", engine::WriteMode::Replace)
              .ok());
  const std::string maker = make_token(d, R"({"policies":["maker"]})", "ns1/");
  const engine::Caller maker_caller = as(maker);
  const std::string child = make_token(d, R"({"policies":["maker"]})", "ns1/", &maker_caller);
  REQUIRE(d.files->read(as(t1), "ns1/auth/token/lookup-self").ok());
  REQUIRE(d.files->read(as(child), "ns1/auth/token/lookup-self").ok());

  REQUIRE(d.files->remove_dir(d.root, "ns1").ok());
  // Recreating the name makes a new namespace: the old tokens stay dead.
  REQUIRE(d.files->make_dir(d.root, "ns1").ok());
  for (const std::string& dead : {t1, maker, child}) {
    auto r = d.files->read(as(dead), "ns1/auth/token/lookup-self");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::PermissionDenied);
    auto lookup = d.files->write(d.root, "auth/token/lookup", "token=" + dead, engine::WriteMode::Replace);
    REQUIRE_FALSE(lookup.ok());
    CHECK(lookup.error().message.find("bad token") != std::string::npos);
  }
  // Other namespaces' tokens live on.
  CHECK(d.files->read(as(t2), "ns2/auth/token/lookup-self").ok());
}

TEST_CASE("a namespace's token store reaches its own and its children's tokens only", "[tokens][namespaces]") {
  DevCore d;
  REQUIRE(d.files->make_dir(d.root, "ns1").ok());
  REQUIRE(d.files->make_dir(d.root, "ns2").ok());
  const std::string t1 = make_token(d, R"({"policies":["x"]})", "ns1/");
  const std::string troot = make_token(d, R"({"policies":["x"]})");

  // The root namespace's store, asked by root, finds ns1's token (a child
  // namespace's); lookup shows its namespace.
  auto found = d.files->write(d.root, "auth/token/lookup", "token=" + t1, engine::WriteMode::Replace);
  REQUIRE(found.ok());
  CHECK(reply(found.value())["namespace_path"] == "ns1/");
  const std::string accessor = reply(found.value())["accessor"];
  auto by_accessor =
      d.files->write(d.root, "auth/token/lookup-accessor", "accessor=" + accessor, engine::WriteMode::Replace);
  REQUIRE(by_accessor.ok());
  CHECK(reply(by_accessor.value())["namespace_path"] == "ns1/");

  // A sibling's store does not, nor a child's store a parent's token:
  // exactly as an unknown token.
  auto sibling = d.files->write(d.root, "ns2/auth/token/lookup", "token=" + t1, engine::WriteMode::Replace);
  REQUIRE_FALSE(sibling.ok());
  CHECK(sibling.error().code == ErrorCode::PermissionDenied);  // Vault's 403 "bad token"
  CHECK(sibling.error().message == "bad token");
  auto parent = d.files->write(d.root, "ns1/auth/token/lookup", "token=" + troot, engine::WriteMode::Replace);
  REQUIRE_FALSE(parent.ok());
  CHECK(parent.error().message == "bad token");
  auto unknown = d.files->write(d.root, "ns2/auth/token/lookup", "token=hvs.nope", engine::WriteMode::Replace);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == sibling.error().code);
  CHECK(unknown.error().message == sibling.error().message);

  // The ACL gates the store's path: ns1's token may not use ns2's store.
  auto denied = api(d, t1, Operation::Update, "ns2/auth/token/lookup", engine::Json{{"token", t1}});
  CHECK(code_of(denied) == ErrorCode::PermissionDenied);

  // Revoke through ns2's store leaves ns1's token alive (an unknown token's
  // revoke succeeds, as in Vault); through the root store it kills it.
  REQUIRE(d.files->write(d.root, "ns2/auth/token/revoke", "token=" + t1, engine::WriteMode::Replace).ok());
  CHECK(d.files->read(as(t1), "ns1/auth/token/lookup-self").ok());
  REQUIRE(d.files->write(d.root, "auth/token/revoke", "token=" + t1, engine::WriteMode::Replace).ok());
  CHECK_FALSE(d.files->read(as(t1), "ns1/auth/token/lookup-self").ok());
}

TEST_CASE("a file operation spends one use of a use-limited token", "[tokens][uses]") {
  DevCore d;
  REQUIRE(d.files->write(d.root, "secret/app", "v=1", engine::WriteMode::Replace).ok());
  REQUIRE(d.files
              ->write(d.root, "sys/policies/acl/app",
                      "path \"secret/data/app\" {\n  capabilities = [\"read\"]\n}\n"
                      "path \"secret/metadata/*\" {\n  capabilities = [\"read\", \"list\"]\n}\n",
                      engine::WriteMode::Replace)
              .ok());
  const std::string t = make_token(d, R"({"policies":["app"],"num_uses":2})");
  auto uses_left = [&] {
    auto r = d.files->write(d.root, "auth/token/lookup", "token=" + t, engine::WriteMode::Replace);
    REQUIRE(r.ok());
    return reply(r.value())["num_uses"].get<int>();
  };
  // Without a budget every API request spends one (Vault's API).
  // With one: a read spends one however many API requests the view makes.
  engine::UseBudget budget;
  engine::Caller once = as(t);
  once.uses = &budget;
  REQUIRE(d.files->read(once, "secret/app").ok());
  REQUIRE(d.files->read(once, "secret/app").ok());  // same operation: free
  CHECK(budget.spent);
  CHECK(uses_left() == 1);
  // A budget already spent makes stats free.
  engine::UseBudget free_budget{true};
  engine::Caller probe = as(t);
  probe.uses = &free_budget;
  for (int i = 0; i < 5; ++i) REQUIRE(d.files->stat(probe, "secret/app").ok());
  CHECK(uses_left() == 1);
  // The last use still answers, then the token is gone.
  engine::UseBudget last;
  engine::Caller final_read = as(t);
  final_read.uses = &last;
  REQUIRE(d.files->read(final_read, "secret/app").ok());
  engine::UseBudget after;
  engine::Caller again = as(t);
  again.uses = &after;
  auto r = d.files->read(again, "secret/app");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::PermissionDenied);
}
