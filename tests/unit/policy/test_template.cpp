// SPDX-License-Identifier: MPL-2.0
// Templated policies (§6): selectors, failures, forbidden characters, and the
// ACL dropping only the failing block.
#include <catch2/catch.hpp>

#include "engine/policy/acl.hpp"
#include "engine/policy/template.hpp"

using namespace engine;
using namespace engine::policy;

namespace {

IdentityContext alice() {
  IdentityContext id;
  EntityInfo e;
  e.id = "ent-1";
  e.name = "alice";
  e.metadata = {{"team", "blue"}, {"empty", ""}, {"bad", "a/b"}, {"wild", "x*"}, {"plus", "a+b"}};
  AliasInfo a;
  a.mount_accessor = "auth_userpass_1234";
  a.id = "alias-1";
  a.name = "alice-login";
  a.metadata = {{"dept", "eng"}};
  a.custom_metadata = {{"cost", "42"}};
  e.aliases.push_back(a);
  id.entity = e;
  id.groups.push_back(GroupInfo{"g-root", "admins", "root", {{"lvl", "1"}}});
  id.groups.push_back(GroupInfo{"g-ns1", "devs", "ns1id", {{"lvl", "2"}}});
  id.groups.push_back(GroupInfo{"g-ns1b", "admins", "ns1id", {{"lvl", "3"}}});
  return id;
}

std::string sub(std::string_view text, const IdentityContext& id, TemplateOptions opt = {}) {
  auto r = populate_template(text, id, opt);
  INFO(text);
  if (!r) FAIL(r.error().message);
  return *r;
}

bool fails(std::string_view text, const IdentityContext& id, TemplateOptions opt = {}) {
  return !populate_template(text, id, opt).ok();
}

}  // namespace

TEST_CASE("template: entity selectors", "[template][6]") {
  const auto id = alice();
  CHECK(sub("a/{{identity.entity.id}}/b", id) == "a/ent-1/b");
  CHECK(sub("{{identity.entity.name}}", id) == "alice");
  CHECK(sub("{{identity.entity.metadata.team}}", id) == "blue");
  CHECK(sub("x{{ identity.entity.name }}y", id) == "xalicey");  // whitespace trimmed
  CHECK(sub("{{identity.entity.id}}-{{identity.entity.name}}", id) == "ent-1-alice");
  CHECK(sub("no templates", id) == "no templates");
}

TEST_CASE("template: alias selectors by mount accessor", "[template][6]") {
  const auto id = alice();
  CHECK(sub("{{identity.entity.aliases.auth_userpass_1234.id}}", id) == "alias-1");
  CHECK(sub("{{identity.entity.aliases.auth_userpass_1234.name}}", id) == "alice-login");
  CHECK(sub("{{identity.entity.aliases.auth_userpass_1234.metadata.dept}}", id) == "eng");
  CHECK(sub("{{identity.entity.aliases.auth_userpass_1234.custom_metadata.cost}}", id) == "42");
  CHECK(fails("{{identity.entity.aliases.auth_other.name}}", id));
  CHECK(fails("{{identity.entity.aliases.auth_userpass_1234.metadata.nope}}", id));
  CHECK(fails("{{identity.entity.aliases.auth_userpass_1234}}", id));
}

TEST_CASE("template: group lookups by id cross namespaces, by name only in the policy's namespace", "[template][6]") {
  auto id = alice();
  id.namespace_id = "ns1id";
  CHECK(sub("{{identity.groups.ids.g-root.name}}", id) == "admins");  // other namespace, by id
  CHECK(sub("{{identity.groups.names.devs.id}}", id) == "g-ns1");
  // Two groups named admins: only the one in the policy's namespace counts.
  CHECK(sub("{{identity.groups.names.admins.id}}", id) == "g-ns1b");
  CHECK(sub("{{identity.groups.names.admins.metadata.lvl}}", id) == "3");
  id.namespace_id = "root";
  CHECK(sub("{{identity.groups.names.admins.id}}", id) == "g-root");
  CHECK(fails("{{identity.groups.names.devs.id}}", id));  // devs lives in ns1
  CHECK(fails("{{identity.groups.ids.g-none.id}}", id));
  CHECK(fails("{{identity.groups.names.admins.metadata.nope}}", id));
  CHECK(fails("{{identity.groups.bogus.admins.id}}", id));
}

TEST_CASE("template: time selectors", "[template][6]") {
  auto id = alice();
  id.now = TimePoint(std::chrono::seconds(1'700'000'000));
  CHECK(sub("{{time.now}}", id) == "1700000000");
  CHECK(sub("{{time.now.plus.1h}}", id) == "1700003600");
  CHECK(sub("{{time.now.minus.60}}", id) == "1699999940");
  CHECK(fails("{{time.now.plus}}", id));
  CHECK(fails("{{time.now.times.1h}}", id));
  CHECK(fails("{{time.later}}", id));
}

TEST_CASE("template: failures (no entity, no groups, missing values, empty name, JSON-only forms)", "[template][6]") {
  const IdentityContext nobody;
  CHECK(fails("{{identity.entity.id}}", nobody));
  CHECK(fails("{{identity.groups.ids.g.id}}", nobody));
  auto id = alice();
  CHECK(fails("{{identity.entity.metadata.nope}}", id));
  CHECK(fails("{{identity.entity.metadata}}", id));
  CHECK(fails("{{identity.entity.groups.names}}", id));
  CHECK(fails("{{identity.entity.unknown}}", id));
  CHECK(fails("{{nonsense}}", id));
  CHECK(fails("{{identity.entity.id", id));
  // A metadata key present with an empty value resolves to "" (Vault's map
  // handler); an empty entity name does not resolve.
  CHECK(sub("a{{identity.entity.metadata.empty}}b", id) == "ab");
  id.entity->name.clear();
  CHECK(fails("{{identity.entity.name}}", id));
}

TEST_CASE("template: forbidden characters in substituted values ('/', '*', '+' by default)", "[template][6]") {
  const auto id = alice();
  CHECK(fails("secret/{{identity.entity.metadata.bad}}", id));
  CHECK(fails("secret/{{identity.entity.metadata.wild}}", id));
  CHECK(fails("secret/{{identity.entity.metadata.plus}}", id));
  CHECK(sub("secret/{{identity.entity.metadata.bad}}", id, {true, false}) == "secret/a/b");
  CHECK(fails("secret/{{identity.entity.metadata.wild}}", id, {true, false}));
  CHECK(sub("secret/{{identity.entity.metadata.wild}}", id, {false, true}) == "secret/x*");
  // Literal text around the directive may contain them.
  CHECK(sub("secret/+/{{identity.entity.name}}/*", id) == "secret/+/alice/*");
}

TEST_CASE("template: validity check only looks at brace balance", "[template][6]") {
  CHECK(validate_template("a/{{x}}/b").ok());
  CHECK(validate_template("plain").ok());
  CHECK(validate_template("{{a}}{{b}}").ok());
  CHECK(validate_template("{{{a}}").ok());  // same split rules as Vault
  for (const char* bad : {"}}", "a}}{{b}}", "{{a", "{{a}}}}", "{{a}}b}}", "{{{{a}}"}) {
    INFO(bad);
    const auto st = validate_template(bad);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().message == "unbalanced templating characters");
  }
}

TEST_CASE("template acl: a failing templated block is dropped alone", "[template][6][acl]") {
  auto p = parse_policy("t", R"(
path "secret/{{identity.entity.metadata.missing}}/*" { capabilities = ["deny"] }
path "secret/{{identity.entity.name}}/*"              { capabilities = ["read"] }
path "secret/shared/*"                                { capabilities = ["list"] }
)",
                        "");
  REQUIRE(p.ok());
  const auto id = alice();
  auto acl = Acl::compile(std::vector<Policy>{*p}, id);
  REQUIRE(acl.ok());
  CHECK(acl->allow(Operation::Read, "secret/alice/x", Json::object(), std::nullopt).allowed);
  CHECK(acl->allow(Operation::List, "secret/shared/", Json::object(), std::nullopt).allowed);
  CHECK(acl->rule_count() == 2);
  // Without an entity both templated blocks go; the plain one stays.
  auto bare = Acl::compile(std::vector<Policy>{*p}, IdentityContext{});
  REQUIRE(bare.ok());
  CHECK(bare->rule_count() == 1);
  CHECK(bare->allow(Operation::List, "secret/shared/", Json::object(), std::nullopt).allowed);
}

TEST_CASE("template acl: forbidden characters drop the block, per-policy flags lift it", "[template][6][acl]") {
  auto p = parse_policy("t", R"(path "secret/{{identity.entity.metadata.bad}}" { capabilities = ["read"] })", "");
  REQUIRE(p.ok());
  const auto id = alice();
  auto acl = Acl::compile(std::vector<Policy>{*p}, id);
  REQUIRE(acl.ok());
  CHECK(acl->rule_count() == 0);
  p->allow_slashes_in_templates = true;
  auto lifted = Acl::compile(std::vector<Policy>{*p}, id);
  REQUIRE(lifted.ok());
  CHECK(lifted->allow(Operation::Read, "secret/a/b", Json::object(), std::nullopt).allowed);
}

TEST_CASE("template acl: substituted keys are normalised (kind and namespace)", "[template][6][acl]") {
  auto p = parse_policy("t", R"(path "/kv/{{identity.entity.name}}*" { capabilities = ["read"] })", "ns1");
  REQUIRE(p.ok());
  p->namespace_id = "ns1id";
  auto acl = Acl::compile(std::vector<Policy>{*p}, alice());
  REQUIRE(acl.ok());
  CHECK(acl->allow(Operation::Read, "ns1/kv/alice-extra/x", Json::object(), std::nullopt).allowed);
  CHECK_FALSE(acl->allow(Operation::Read, "kv/alice", Json::object(), std::nullopt).allowed);
}

TEST_CASE("template acl: group-name templates use the policy's own namespace", "[template][6][acl]") {
  // The same policy text in two namespaces resolves `admins` differently.
  const char* text = R"(path "team/{{identity.groups.names.admins.metadata.lvl}}" { capabilities = ["read"] })";
  auto root_p = parse_policy("g", text, "");
  auto ns1_p = parse_policy("g", text, "ns1");
  REQUIRE(root_p.ok());
  REQUIRE(ns1_p.ok());
  root_p->namespace_id = "root";
  ns1_p->namespace_id = "ns1id";
  auto acl = Acl::compile(std::vector<Policy>{*root_p, *ns1_p}, alice());
  REQUIRE(acl.ok());
  CHECK(acl->allow(Operation::Read, "team/1", Json::object(), std::nullopt).allowed);
  CHECK(acl->allow(Operation::Read, "ns1/team/3", Json::object(), std::nullopt).allowed);
  CHECK_FALSE(acl->allow(Operation::Read, "ns1/team/1", Json::object(), std::nullopt).allowed);
  // Explicit per-policy identities (the AclInput form) do the same.
  auto id_root = alice();
  id_root.namespace_id = "root";
  auto id_ns1 = alice();
  id_ns1.namespace_id = "ns1id";
  auto acl2 = Acl::compile(std::vector<AclInput>{{&*root_p, &id_root}, {&*ns1_p, &id_ns1}, {nullptr, nullptr}});
  REQUIRE(acl2.ok());
  CHECK(acl2->allow(Operation::Read, "ns1/team/3", Json::object(), std::nullopt).allowed);
}
