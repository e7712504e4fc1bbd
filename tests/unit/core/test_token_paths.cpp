// SPDX-License-Identifier: MPL-2.0
// The token store's path table (auth/token/): its sudo paths, no lock or
// root-only paths, no existence checks (token roles, the one path Vault
// checks, are not supported), its renewal endpoints; and that the core
// reaches it as a backend without a mount entry.
#include <catch2/catch.hpp>

#include "engine/token/token_backend.hpp"
#include "tests/unit/core/paths_support.hpp"

namespace {

using engine::Operation;
using namespace coffer_test;

engine::TokenBackend token_of(Stores& s) {
  return engine::TokenBackend(engine::TokenStores{s.router, s.tokens, s.policies, s.identity, s.acls});
}

}  // namespace

TEST_CASE("token path table: sudo on revoke-orphan/ and listing accessors", "[token][paths]") {
  Stores s;
  auto token = token_of(s);
  CHECK(token.path_properties("revoke-orphan/abc", Operation::Update).sudo);
  CHECK(token.path_properties("revoke-orphan/", Operation::Update).sudo);
  CHECK_FALSE(token.path_properties("revoke-orphan", Operation::Update).sudo);  // the body form: checked inside
  CHECK(token.path_properties("accessors", Operation::List).sudo);
  CHECK(token.path_properties("accessors/", Operation::List).sudo);
  CHECK_FALSE(token.path_properties("accessors", Operation::Read).sudo);
  for (const char* rel : {"", "create", "create-orphan", "lookup-self", "renew-self", "revoke"}) {
    INFO(rel);
    for (Operation op : {Operation::Read, Operation::List, Operation::Update}) {
      const engine::PathProperties p = token.path_properties(rel, op);
      CHECK_FALSE(p.sudo);
      CHECK_FALSE(p.root_only);
      CHECK_FALSE(p.exclusive);
    }
  }
}

TEST_CASE("token path table: no existence checks", "[token][paths]") {
  Stores s;
  auto token = token_of(s);
  const engine::Json body = engine::Json::object();
  for (const char* rel : {"create", "roles/r1", "lookup"}) {
    INFO(rel);
    engine::BackendRequest req{Operation::Update, rel, body, s.mem, engine::Clock::now()};
    auto exists = token.exists(req);
    REQUIRE(exists.ok());
    CHECK(*exists);
  }
}

TEST_CASE("token renewal endpoints", "[token][paths]") {
  using engine::TokenBackend;
  CHECK(TokenBackend::renewal_endpoint("renew-self", Operation::Update) == "renew-self");
  CHECK(TokenBackend::renewal_endpoint("renew", Operation::Create) == "renew");
  CHECK(TokenBackend::renewal_endpoint("renew-accessor", Operation::Update) == "renew-accessor");
  CHECK(TokenBackend::renewal_endpoint("renew-self", Operation::Read).empty());
  CHECK(TokenBackend::renewal_endpoint("renew-selfish", Operation::Update).empty());
  CHECK(TokenBackend::renewal_endpoint("lookup", Operation::Update).empty());
}

TEST_CASE("the token store needs sudo through Core::handle, and update to create", "[token][paths][acl]") {
  DevCore d;
  const std::string no_sudo = token_with_policy(d, "no-sudo", R"(
    path "auth/token/accessors" { capabilities = ["list"] }
    path "auth/token/accessors/*" { capabilities = ["list"] }
    path "auth/token/create" { capabilities = ["update"] })");
  const std::string with_sudo = token_with_policy(d, "with-sudo", R"(
    path "auth/token/accessors" { capabilities = ["list", "sudo"] })");
  const std::string create_only = token_with_policy(d, "create-only", R"(
    path "auth/token/create" { capabilities = ["create"] })");
  CHECK_FALSE(allowed(api(d, no_sudo, Operation::List, "auth/token/accessors")));
  CHECK(allowed(api(d, with_sudo, Operation::List, "auth/token/accessors")));
  // No existence check: creating a token is an Update.
  CHECK(allowed(api(d, no_sudo, Operation::Update, "auth/token/create", engine::Json{{"policies", {"default"}}})));
  CHECK_FALSE(allowed(api(d, create_only, Operation::Update, "auth/token/create", engine::Json::object())));
}
