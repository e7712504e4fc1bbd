// SPDX-License-Identifier: MPL-2.0
// Acl::has_capability_below: which namespace and mount directories a caller
// is shown (SPEC §4).
#include <catch2/catch.hpp>

#include "engine/policy/acl.hpp"

using namespace engine::policy;

namespace {

Acl acl_of(std::string_view text, std::string_view ns = "") {
  auto p = parse_policy("p", text, ns);
  REQUIRE(p.ok());
  auto acl = Acl::compile({p.value()}, IdentityContext{});
  REQUIRE(acl.ok());
  return std::move(acl).value();
}

}  // namespace

TEST_CASE("visibility: an exact rule shows every directory above it", "[acl][visibility]") {
  Acl acl = acl_of(R"(path "ns1/kv/data/app/db" { capabilities = ["read"] })");
  CHECK(acl.has_capability_below(""));
  CHECK(acl.has_capability_below("ns1/"));
  CHECK(acl.has_capability_below("ns1/kv/"));
  CHECK(acl.has_capability_below("ns1/kv"));  // trailing '/' optional
  CHECK_FALSE(acl.has_capability_below("ns2/"));
  CHECK_FALSE(acl.has_capability_below("ns1/sys/"));
}

TEST_CASE("visibility: prefix rules cover what is below them, deny hides", "[acl][visibility]") {
  Acl acl = acl_of(R"(
path "ns1/*" { capabilities = ["read"] }
path "ns1/secret/*" { capabilities = ["deny"] }
path "team-*" { capabilities = ["list"] }
)");
  CHECK(acl.has_capability_below("ns1/"));
  CHECK(acl.has_capability_below("ns1/kv/"));
  CHECK_FALSE(acl.has_capability_below("ns1/secret/"));
  CHECK(acl.has_capability_below("team-a/"));
  CHECK_FALSE(acl.has_capability_below("other/"));
}

TEST_CASE("visibility: rules without capabilities show nothing", "[acl][visibility]") {
  Acl acl = acl_of(R"(
path "a/b" { capabilities = [] }
path "c/*" { capabilities = ["deny"] }
)");
  CHECK_FALSE(acl.has_capability_below(""));
  CHECK_FALSE(acl.has_capability_below("a/"));
  CHECK_FALSE(acl.has_capability_below("c/"));
}

TEST_CASE("visibility: segment wildcards open everything below their literal start", "[acl][visibility]") {
  Acl acl = acl_of(R"(path "ns1/+/kv/*" { capabilities = ["read"] })");
  CHECK(acl.has_capability_below(""));
  CHECK(acl.has_capability_below("ns1/"));
  CHECK(acl.has_capability_below("ns1/team/"));
  CHECK_FALSE(acl.has_capability_below("ns2/"));
}

TEST_CASE("visibility: a namespace policy never shows its parent's siblings", "[acl][visibility]") {
  Acl acl = acl_of(R"(path "*" { capabilities = ["read"] })", "ns1/");
  CHECK(acl.has_capability_below(""));  // the way down to ns1
  CHECK(acl.has_capability_below("ns1/"));
  CHECK(acl.has_capability_below("ns1/child/"));
  CHECK_FALSE(acl.has_capability_below("ns2/"));
}

TEST_CASE("visibility: the root ACL sees everything in its namespace", "[acl][visibility]") {
  auto acl = Acl::compile({make_root_policy("")}, IdentityContext{});
  REQUIRE(acl.ok());
  CHECK(acl->has_capability_below(""));
  CHECK(acl->has_capability_below("anything/below/"));
}
