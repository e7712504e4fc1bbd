// SPDX-License-Identifier: MPL-2.0
// The identity store (vault-semantics §9.3, §9.4): entities, aliases,
// groups, Vault's error messages, membership graphs, policy application
// across namespaces, templated policies, token lookup.
#include <catch2/catch.hpp>

#include "engine/identity/identity_store.hpp"
#include "tests/unit/core/identity_support.hpp"

using namespace coffer_test;

TEST_CASE("entities: create, read by id and name, list, update, delete", "[identity]") {
  DevCore d;
  auto created = ok(root_api(d, Operation::Update, "identity/entity",
                             body(R"({"name":"alice","policies":"p1,p2","metadata":{"team":"a"}})")));
  const std::string id = str(created.data["id"]);
  CHECK(str(created.data["name"]) == "alice");
  CHECK(id.size() == 36);

  auto by_id = ok(root_api(d, Operation::Read, "identity/entity/id/" + id));
  CHECK(str(by_id.data["name"]) == "alice");
  CHECK(by_id.data["policies"] == Json::array({"p1", "p2"}));
  CHECK(str(by_id.data["metadata"]["team"]) == "a");
  CHECK(by_id.data["disabled"] == false);
  CHECK(str(by_id.data["namespace_id"]) == "root");
  CHECK(by_id.data["aliases"].empty());
  for (const char* k : {"creation_time", "last_update_time", "direct_group_ids", "inherited_group_ids", "group_ids"}) {
    CHECK(by_id.data.contains(k));
  }
  auto by_name = ok(root_api(d, Operation::Read, "identity/entity/name/alice"));
  CHECK(str(by_name.data["id"]) == id);

  // A generated name when none is given.
  const std::string anon = make_entity(d, "", "{}");
  auto anon_read = ok(root_api(d, Operation::Read, "identity/entity/id/" + anon));
  CHECK(str(anon_read.data["name"]).rfind("entity_", 0) == 0);
  CHECK(str(anon_read.data["name"]).size() == 15);

  auto ids = ok(root_api(d, Operation::List, "identity/entity/id/"));
  CHECK(keys_of(ids).size() == 2);
  CHECK(str(ids.data["key_info"][engine::to_secure(id)]["name"]) == "alice");
  auto names = ok(root_api(d, Operation::List, "identity/entity/name/"));
  CHECK(std::find(keys_of(names).begin(), keys_of(names).end(), "alice") != keys_of(names).end());

  // Update by id: only the given fields change; a write returns nothing.
  auto upd = ok(root_api(d, Operation::Update, "identity/entity/id/" + id, body(R"({"disabled":true})")));
  CHECK(upd.data.empty());
  auto after = ok(root_api(d, Operation::Read, "identity/entity/name/alice"));
  CHECK(after.data["disabled"] == true);
  CHECK(after.data["policies"] == Json::array({"p1", "p2"}));

  // POST identity/entity with an existing name updates that entity (Vault).
  ok(root_api(d, Operation::Update, "identity/entity", body(R"({"name":"alice","policies":["p3"]})")));
  CHECK(ok(root_api(d, Operation::Read, "identity/entity/id/" + id)).data["policies"] == Json::array({"p3"}));
  // entity/name/<new> creates.
  auto upsert = ok(root_api(d, Operation::Update, "identity/entity/name/bob", body(R"({"policies":"x"})")));
  CHECK(str(upsert.data["name"]) == "bob");

  // Rename onto a taken name.
  CHECK(error_of(root_api(d, Operation::Update, "identity/entity/id/" + id, body(R"({"name":"bob"})"))) ==
        "entity name is already in use");
  CHECK(error_of(root_api(d, Operation::Update, "identity/entity/id/nope", body(R"({"name":"z"})"))) ==
        "entity not found from id");
  CHECK(error_of(root_api(d, Operation::Update, "identity/entity", body(R"({"name":"r","policies":"a,root"})"))) ==
        "policies cannot contain root");
  CHECK(code_of(root_api(d, Operation::Read, "identity/entity/name/r")) == ErrorCode::NotFound);
  CHECK(code_of(root_api(d, Operation::Update, "identity/entity", body(R"({"nme":"typo"})"))) ==
        ErrorCode::InvalidArgument);

  ok(root_api(d, Operation::Delete, "identity/entity/name/alice"));
  CHECK(code_of(root_api(d, Operation::Read, "identity/entity/id/" + id)) == ErrorCode::NotFound);
  ok(root_api(d, Operation::Delete, "identity/entity/id/" + id));  // deleting twice is fine
}

TEST_CASE("identity directories list their children with a trailing slash", "[identity]") {
  DevCore d;
  CHECK(keys_of(ok(root_api(d, Operation::List, "identity/"))) ==
        std::vector<std::string>{"entity/", "entity-alias/", "group/", "group-alias/", "lookup/"});
  CHECK(keys_of(ok(root_api(d, Operation::List, "identity/entity/"))) == std::vector<std::string>{"id/", "name/"});
  CHECK(keys_of(ok(root_api(d, Operation::List, "identity/group/"))) == std::vector<std::string>{"id/", "name/"});
  CHECK(keys_of(ok(root_api(d, Operation::List, "identity/entity-alias/"))) == std::vector<std::string>{"id/"});
  CHECK(keys_of(ok(root_api(d, Operation::List, "identity/entity/id/"))).empty());
  CHECK(code_of(root_api(d, Operation::Read, "identity/nothing")) == ErrorCode::Unsupported);
}

TEST_CASE("entity names are unique per namespace, entities are invisible elsewhere", "[identity]") {
  DevCore d;
  make_namespace(d, "", "ns1");
  const std::string root_alice = make_entity(d, "", R"({"name":"alice"})");
  const std::string ns_alice = make_entity(d, "ns1/", R"({"name":"alice"})");
  CHECK(root_alice != ns_alice);
  CHECK(str(ok(root_api(d, Operation::Read, "ns1/identity/entity/name/alice")).data["id"]) == ns_alice);
  // Reading another namespace's entity by id finds nothing (Vault: 404).
  CHECK(code_of(root_api(d, Operation::Read, "ns1/identity/entity/id/" + root_alice)) == ErrorCode::NotFound);
  CHECK(keys_of(ok(root_api(d, Operation::List, "ns1/identity/entity/name/"))) == std::vector<std::string>{"alice"});
}

TEST_CASE("groups: types, members, Vault's messages", "[identity]") {
  DevCore d;
  const std::string e1 = make_entity(d, "", R"({"name":"e1"})");
  auto created = ok(root_api(d, Operation::Update, "identity/group",
                             Json{{"name", "devs"}, {"policies", "dev"}, {"member_entity_ids", Json::array({e1})}}));
  const std::string g = str(created.data["id"]);
  CHECK(str(created.data["name"]) == "devs");
  auto read = ok(root_api(d, Operation::Read, "identity/group/name/devs"));
  CHECK(str(read.data["type"]) == "internal");
  CHECK(read.data["member_entity_ids"] == Json::array({e1}));
  CHECK(read.data["policies"] == Json::array({"dev"}));
  CHECK(read.data["modify_index"] == 1);
  auto entity = ok(root_api(d, Operation::Read, "identity/entity/id/" + e1));
  CHECK(entity.data["direct_group_ids"] == Json::array({g}));

  CHECK(error_of(root_api(d, Operation::Update, "identity/group", body(R"({"name":"devs2","policies":"root"})"))) ==
        "policies cannot contain root");
  CHECK(error_of(root_api(d, Operation::Update, "identity/group", body(R"({"name":"devs2","policies":"ROOT"})"))) ==
        "policies cannot contain root");
  CHECK(error_of(root_api(d, Operation::Update, "identity/group", body(R"({"name":"x","type":"weird"})"))) ==
        "invalid group type \"weird\"");
  CHECK(error_of(root_api(d, Operation::Update, "identity/group/id/" + g, body(R"({"type":"external"})"))) ==
        "group type cannot be changed");
  CHECK(error_of(root_api(d, Operation::Update, "identity/group",
                          body(R"({"name":"bad","member_entity_ids":"nope"})"))) == "invalid entity ID \"nope\"");
  CHECK(error_of(root_api(d, Operation::Update, "identity/group/id/unknown", body(R"({"policies":"a"})"))) ==
        "invalid group ID");
  CHECK(code_of(root_api(d, Operation::Read, "identity/group/name/bad")) == ErrorCode::NotFound);

  // External groups get members only from logins.
  const std::string ext = make_group(d, "", R"({"name":"ext","type":"external"})");
  CHECK(error_of(root_api(d, Operation::Update, "identity/group/id/" + ext, Json{{"member_entity_ids", e1}})) ==
        "member entities can't be set manually for external groups");
  CHECK(error_of(root_api(d, Operation::Update, "identity/group/id/" + ext, Json{{"member_group_ids", g}})) ==
        "member groups can't be set for external groups");
  CHECK(error_of(root_api(d, Operation::Update, "identity/group",
                          Json{{"name", "ext2"}, {"type", "external"}, {"member_entity_ids", e1}})) ==
        "member entities can't be set manually for external groups");

  // Names unique; rename onto a taken one refused.
  make_group(d, "", R"({"name":"ops"})");
  CHECK(error_of(root_api(d, Operation::Update, "identity/group/id/" + g, body(R"({"name":"ops"})"))) ==
        "group name is already in use");

  // Deleting an entity removes it from its groups.
  ok(root_api(d, Operation::Delete, "identity/entity/id/" + e1));
  CHECK(ok(root_api(d, Operation::Read, "identity/group/id/" + g)).data["member_entity_ids"].is_null());
  ok(root_api(d, Operation::Delete, "identity/group/name/devs"));
  CHECK(code_of(root_api(d, Operation::Read, "identity/group/id/" + g)) == ErrorCode::NotFound);
}

TEST_CASE("group membership graphs: nesting, self-membership and cycles", "[identity]") {
  DevCore d;
  const std::string a = make_group(d, "", R"({"name":"a"})");
  const std::string b = make_group(d, "", Json{{"name", "b"}, {"member_group_ids", a}}.dump().c_str());
  const std::string c = make_group(d, "", Json{{"name", "c"}, {"member_group_ids", b}}.dump().c_str());
  // c ⊃ b ⊃ a: a's parents are b.
  CHECK(ok(root_api(d, Operation::Read, "identity/group/id/" + a)).data["parent_group_ids"] == Json::array({b}));
  CHECK(ok(root_api(d, Operation::Read, "identity/group/id/" + c)).data["member_group_ids"] == Json::array({b}));

  CHECK(error_of(root_api(d, Operation::Update, "identity/group/id/" + a, Json{{"member_group_ids", a}})) ==
        "member group ID \"" + a + "\" is same as the ID of the group");
  CHECK(error_of(root_api(d, Operation::Update, "identity/group/id/" + a, Json{{"member_group_ids", c}})) ==
        "cyclic relationship detected for member group ID \"" + c + "\"");
  CHECK(error_of(root_api(d, Operation::Update, "identity/group/id/" + b,
                          Json{{"member_group_ids", Json::array({a, c})}})) ==
        "cyclic relationship detected for member group ID \"" + c + "\"");
  CHECK(error_of(root_api(d, Operation::Update, "identity/group/id/" + a, Json{{"member_group_ids", "missing"}})) ==
        "invalid member group ID \"missing\"");
  // Nothing changed by the refused writes.
  CHECK(ok(root_api(d, Operation::Read, "identity/group/id/" + a)).data["member_group_ids"].is_null());
  CHECK(ok(root_api(d, Operation::Read, "identity/group/id/" + b)).data["member_group_ids"] == Json::array({a}));

  // Inherited membership: an entity in a is inside b and c.
  const std::string e = make_entity(d, "", R"({"name":"e"})");
  ok(root_api(d, Operation::Update, "identity/group/id/" + a, Json{{"member_entity_ids", e}}));
  auto entity = ok(root_api(d, Operation::Read, "identity/entity/id/" + e));
  CHECK(entity.data["direct_group_ids"] == Json::array({a}));
  std::vector<std::string> inherited;
  for (const auto& x : entity.data["inherited_group_ids"]) inherited.push_back(str(x));
  std::sort(inherited.begin(), inherited.end());
  std::vector<std::string> want{b, c};
  std::sort(want.begin(), want.end());
  CHECK(inherited == want);

  // Deleting the middle group unlinks it from its parent.
  ok(root_api(d, Operation::Delete, "identity/group/id/" + b));
  CHECK(ok(root_api(d, Operation::Read, "identity/group/id/" + c)).data["member_group_ids"].is_null());
  CHECK(ok(root_api(d, Operation::Read, "identity/entity/id/" + e)).data["inherited_group_ids"].empty());
}

TEST_CASE("entity and group policies apply; changes take effect on the next request", "[identity]") {
  DevCore d;
  enable_kv(d, "");
  put_secret(d, "", "team/x");
  put_secret(d, "", "own/x");
  write_policy(d, "", "team", "path \"kv/data/team/*\" { capabilities = [\"read\"] }");
  write_policy(d, "", "own", "path \"kv/data/own/*\" { capabilities = [\"read\"] }");
  const std::string e = make_entity(d, "", R"({"name":"alice","policies":"own"})");
  const std::string t = entity_token(d, e);
  CHECK(can_read(d, t, "kv/data/own/x"));
  CHECK_FALSE(can_read(d, t, "kv/data/team/x"));

  // Nested: entity in inner, inner in outer, outer carries the policy.
  const std::string inner = make_group(d, "", Json{{"name", "inner"}, {"member_entity_ids", e}}.dump().c_str());
  const std::string outer =
      make_group(d, "", Json{{"name", "outer"}, {"policies", "team"}, {"member_group_ids", inner}}.dump().c_str());
  CHECK(can_read(d, t, "kv/data/team/x"));
  auto lookup = ok(api(d, t, Operation::Read, "auth/token/lookup-self"));
  CHECK(lookup.data["identity_policies"] == Json::array({"own", "team"}));
  CHECK_FALSE(lookup.data.contains("external_namespace_policies"));
  CHECK(lookup.data["policies"] == Json::array({"default"}));

  // Membership removed → access gone on the next read.
  ok(root_api(d, Operation::Update, "identity/group/id/" + inner, Json{{"member_entity_ids", Json::array()}}));
  CHECK_FALSE(can_read(d, t, "kv/data/team/x"));
  ok(root_api(d, Operation::Update, "identity/group/id/" + inner, Json{{"member_entity_ids", e}}));
  CHECK(can_read(d, t, "kv/data/team/x"));
  ok(root_api(d, Operation::Delete, "identity/group/id/" + outer));
  CHECK_FALSE(can_read(d, t, "kv/data/team/x"));

  // Entity policy removed.
  ok(root_api(d, Operation::Update, "identity/entity/id/" + e, Json{{"policies", Json::array()}}));
  CHECK_FALSE(can_read(d, t, "kv/data/own/x"));
  CHECK_FALSE(ok(api(d, t, Operation::Read, "auth/token/lookup-self")).data.contains("identity_policies"));

  // A disabled entity's tokens are refused, even for lookup-self; enabling brings them back.
  ok(root_api(d, Operation::Update, "identity/entity/id/" + e, Json{{"disabled", true}}));
  CHECK(code_of(api(d, t, Operation::Read, "auth/token/lookup-self")) == ErrorCode::PermissionDenied);
  ok(root_api(d, Operation::Update, "identity/entity/id/" + e, Json{{"disabled", false}}));
  CHECK(ok(api(d, t, Operation::Read, "auth/token/lookup-self")).data["entity_id"] == e);

  // A deleted entity: the token keeps its own policies only.
  ok(root_api(d, Operation::Delete, "identity/entity/id/" + e));
  CHECK(ok(api(d, t, Operation::Read, "auth/token/lookup-self")).data["entity_id"] == e);
}

TEST_CASE("group policies across namespaces follow group_policy_application_mode", "[identity]") {
  DevCore d;
  const std::string edu = make_namespace(d, "", "education");
  const std::string training = make_namespace(d, "education/", "training");
  const std::string other = make_namespace(d, "", "other");
  for (const std::string ns : {"", "education/", "education/training/", "other/"}) {
    enable_kv(d, ns);
    put_secret(d, ns, "s");
  }
  // Each namespace's "reader" policy reads its own kv (paths relative to it).
  for (const std::string ns : {"", "education/", "education/training/", "other/"}) {
    write_policy(d, ns, "reader", "path \"kv/data/*\" { capabilities = [\"read\"] }");
  }
  const std::string e = make_entity(d, "education/", R"({"name":"alice"})");
  const std::string t = entity_token(d, e, edu);
  CHECK_FALSE(can_read(d, t, "education/kv/data/s"));

  // A group in the child namespace with the entity (cross-namespace member).
  make_group(d, "education/training/",
             Json{{"name", "admins"}, {"policies", "reader"}, {"member_entity_ids", e}}.dump().c_str());
  // A group in the parent (root) and in a sibling namespace.
  make_group(d, "", Json{{"name", "top"}, {"policies", "reader"}, {"member_entity_ids", e}}.dump().c_str());
  make_group(d, "other/", Json{{"name", "peers"}, {"policies", "reader"}, {"member_entity_ids", e}}.dump().c_str());

  // Default mode: only the child's group applies, with the child's paths.
  CHECK(str(ok(root_api(d, Operation::Read, "sys/config/group-policy-application"))
                .data["group_policy_application_mode"]) == "within_namespace_hierarchy");
  CHECK(can_read(d, t, "education/training/kv/data/s"));
  CHECK_FALSE(can_read(d, t, "education/kv/data/s"));  // training's policy never reaches its parent
  CHECK_FALSE(can_read(d, t, "kv/data/s"));
  CHECK_FALSE(can_read(d, t, "other/kv/data/s"));
  auto lookup = ok(api(d, t, Operation::Read, "education/auth/token/lookup-self"));
  CHECK_FALSE(lookup.data.contains("identity_policies"));
  CHECK(lookup.data["external_namespace_policies"] == Json{{engine::to_secure(training), Json::array({"reader"})}});

  // any: every group applies, each in its own namespace.
  ok(root_api(d, Operation::Update, "sys/config/group-policy-application",
              body(R"({"group_policy_application_mode":"any"})")));
  CHECK(can_read(d, t, "kv/data/s"));
  CHECK(can_read(d, t, "other/kv/data/s"));
  CHECK(can_read(d, t, "education/training/kv/data/s"));
  CHECK_FALSE(can_read(d, t, "education/kv/data/s"));
  lookup = ok(api(d, t, Operation::Read, "education/auth/token/lookup-self"));
  CHECK(lookup.data["external_namespace_policies"].size() == 3);
  CHECK(lookup.data["external_namespace_policies"][engine::to_secure(other)] == Json::array({"reader"}));
  CHECK(lookup.data["external_namespace_policies"]["root"] == Json::array({"reader"}));

  CHECK(error_of(root_api(d, Operation::Update, "sys/config/group-policy-application",
                          body(R"({"group_policy_application_mode":"sometimes"})"))) ==
        "group_policy_application_mode must be either \"within_namespace_hierarchy\" or \"any\"");
  CHECK(code_of(root_api(d, Operation::Read, "education/sys/config/group-policy-application")) ==
        ErrorCode::Unsupported);
  ok(root_api(d, Operation::Update, "sys/config/group-policy-application",
              body(R"({"group_policy_application_mode":"within_namespace_hierarchy"})")));
  CHECK_FALSE(can_read(d, t, "kv/data/s"));

  // The group's policy is the child namespace's own: deleting it there ends the access.
  ok(root_api(d, Operation::Delete, "education/training/sys/policies/acl/reader"));
  CHECK_FALSE(can_read(d, t, "education/training/kv/data/s"));
}

TEST_CASE("groups may hold members of other namespaces; deleting a namespace drops its identity", "[identity]") {
  DevCore d;
  make_namespace(d, "", "a");
  const std::string root_group = make_group(d, "", R"({"name":"g"})");
  const std::string child_group =
      make_group(d, "a/", Json{{"name", "cg"}, {"member_group_ids", root_group}}.dump().c_str());
  CHECK(ok(root_api(d, Operation::Read, "identity/group/id/" + root_group)).data["parent_group_ids"] ==
        Json::array({child_group}));
  // Another namespace's group is answered as an unknown one.
  auto cross = root_api(d, Operation::Read, "a/identity/group/id/" + root_group);
  CHECK(code_of(cross) == ErrorCode::NotFound);
  CHECK(error_of(cross) == "no group with id " + root_group);
  ok(root_api(d, Operation::Delete, "sys/namespaces/a"));
  CHECK(ok(root_api(d, Operation::Read, "identity/group/id/" + root_group)).data["parent_group_ids"].is_null());
}

TEST_CASE("templated policies get the entity's and groups' values", "[identity]") {
  DevCore d;
  enable_kv(d, "");
  for (const char* p : {"alice/x", "bob/x", "eng/x", "ops/x", "meta-blue/x"}) put_secret(d, "", p);
  write_policy(d, "", "self",
               "path \"kv/data/{{identity.entity.name}}/*\" { capabilities = [\"read\"] }\n"
               "path \"kv/data/meta-{{identity.entity.metadata.color}}/*\" { capabilities = [\"read\"] }\n"
               "path \"kv/data/{{identity.groups.names.eng.name}}/*\" { capabilities = [\"read\"] }\n");
  const std::string e = make_entity(d, "", R"({"name":"alice","policies":"self","metadata":{"color":"blue"}})");
  const std::string t = entity_token(d, e);
  CHECK(can_read(d, t, "kv/data/alice/x"));
  CHECK_FALSE(can_read(d, t, "kv/data/bob/x"));
  CHECK(can_read(d, t, "kv/data/meta-blue/x"));
  CHECK_FALSE(can_read(d, t, "kv/data/eng/x"));  // not in group eng yet
  const std::string g = make_group(d, "", Json{{"name", "eng"}, {"member_entity_ids", e}}.dump().c_str());
  CHECK(can_read(d, t, "kv/data/eng/x"));
  // Renaming the entity moves its path; new metadata too.
  ok(root_api(d, Operation::Update, "identity/entity/id/" + e, body(R"({"name":"bob","metadata":{"color":"red"}})")));
  CHECK(can_read(d, t, "kv/data/bob/x"));
  CHECK_FALSE(can_read(d, t, "kv/data/alice/x"));
  CHECK_FALSE(can_read(d, t, "kv/data/meta-blue/x"));
  // The built-in default policy lets a token read its own entity.
  const std::string plain = entity_token(d, e, "root", {"default"});
  CHECK(can_read(d, plain, "identity/entity/id/" + e));
  CHECK(can_read(d, plain, "identity/entity/name/bob"));
  const std::string other = make_entity(d, "", R"({"name":"carol"})");
  CHECK_FALSE(can_read(d, plain, "identity/entity/id/" + other));
  (void)g;
}

TEST_CASE("the identity store persists and reloads its records", "[identity]") {
  engine::MemoryStorage storage;
  const engine::TimePoint now = engine::Clock::now();
  std::string entity_id;
  std::string group_id;
  {
    engine::IdentityStore store(storage);
    REQUIRE(store.load({"root"}).ok());
    engine::EntityRecord e;
    e.namespace_id = "root";
    e.name = "alice";
    e.policies = {"p"};
    auto stored = store.put_entity(e, now);
    REQUIRE(stored.ok());
    entity_id = (*stored)->id;
    engine::GroupRecord g;
    g.namespace_id = "root";
    g.name = "grp";
    g.member_entity_ids = {entity_id};
    g.policies = {"gp"};
    auto group = store.put_group(g, now);
    REQUIRE(group.ok());
    group_id = (*group)->id;
    REQUIRE(store.set_group_policy_application_mode("any").ok());
    auto login = store.entity_for_login("root", "auth_userpass_12345678", "userpass", "bob", {}, now);
    REQUIRE(login.ok());
  }
  engine::IdentityStore reloaded(storage);
  REQUIRE(reloaded.load({"root"}).ok());
  REQUIRE(reloaded.entity_by_name("root", "alice") != nullptr);
  CHECK(reloaded.entity_by_name("root", "alice")->id == entity_id);
  CHECK(reloaded.direct_group_ids(entity_id) == std::vector<std::string>{group_id});
  CHECK(reloaded.group_policy_application_mode() == "any");
  CHECK(reloaded.entity_alias_by_factors("auth_userpass_12345678", "bob").has_value());
  auto policies = reloaded.policies_for("root", entity_id, [](std::string_view id) -> std::optional<std::string> {
    if (id == "root") return std::string();
    return std::nullopt;
  });
  CHECK(policies.by_namespace["root"] == std::vector<std::string>{"gp", "p"});
}

TEST_CASE("identity through the file view: echo, cat, ls, >>, rm", "[identity]") {
  DevCore d;
  d.put("identity/entity/name/zed", "policies=a metadata=team=x");
  CHECK(reply(d.cat("identity/entity/name/zed"))["policies"] == nlohmann::json::array({"a"}));
  CHECK(d.cat("identity/entity/name/zed#name") == "zed");
  d.put("identity/entity/name/zed", "disabled=true", engine::WriteMode::Append);
  CHECK(d.cat("identity/entity/name/zed#disabled") == "true");
  CHECK(reply(d.cat("identity/entity/name/zed"))["policies"] == nlohmann::json::array({"a"}));  // kept
  const std::string id = d.cat("identity/entity/name/zed#id");
  d.put("identity/group/name/g", "{\"member_entity_ids\":[\"" + id + "\"]}");
  CHECK(d.ls("identity") == std::vector<std::string>{"entity/", "entity-alias/", "group/", "group-alias/", "lookup/"});
  CHECK(d.ls("identity/group/name") == std::vector<std::string>{"g"});
  CHECK(d.ls("identity/entity/id") == std::vector<std::string>{id});
  CHECK(d.put_error("identity/group/name/bad", "policies=root") == ErrorCode::InvalidArgument);
  CHECK(d.cat_error("identity/group/name/bad") == ErrorCode::NotFound);
  REQUIRE(d.files->remove(d.root, "identity/entity/id/" + id).ok());
  CHECK(d.cat_error("identity/entity/name/zed") == ErrorCode::NotFound);
  CHECK(d.ls("identity/entity/id").empty());
}
