// SPDX-License-Identifier: MPL-2.0
// Identity aliases (vault-semantics §9.4): entity and group aliases on real
// auth mounts (sys/auth), their Vault errors, and the login hooks.
#include <catch2/catch.hpp>

#include "engine/identity/identity_store.hpp"
#include "tests/unit/core/identity_support.hpp"

using namespace coffer_test;

TEST_CASE("entity aliases: accessor checks, uniqueness, same-namespace rule", "[identity]") {
  DevCore d;
  make_namespace(d, "", "ns1");
  const std::string acc = enable_userpass(d);
  const std::string ns_acc = enable_userpass(d, "ns1/");
  const std::string e = make_entity(d, "", R"({"name":"alice"})");

  CHECK(
      error_of(root_api(d, Operation::Update, "identity/entity-alias",
                        Json{{"name", "alice"}, {"mount_accessor", "auth_userpass_00000000"}, {"canonical_id", e}})) ==
      "invalid mount accessor \"auth_userpass_00000000\"");
  auto other_ns = root_api(d, Operation::Update, "identity/entity-alias",
                           Json{{"name", "alice"}, {"mount_accessor", ns_acc}, {"canonical_id", e}});
  CHECK(error_of(other_ns) == "matching mount is in a different namespace than request");
  CHECK(other_ns.error().code == ErrorCode::PermissionDenied);
  CHECK(error_of(root_api(d, Operation::Update, "identity/entity-alias", Json{{"name", "alice"}})) ==
        "'id' or 'mount_accessor' and 'name' must be provided");
  CHECK(error_of(root_api(d, Operation::Update, "identity/entity-alias",
                          Json{{"name", "alice"}, {"mount_accessor", acc}, {"canonical_id", "nope"}})) ==
        "invalid canonical ID");
  // Secret mounts are not auth mounts.
  const std::string kv_acc = d.core->namespaces()->root->mounts.at("secret/").accessor;
  CHECK(error_of(root_api(d, Operation::Update, "identity/entity-alias",
                          Json{{"name", "alice"}, {"mount_accessor", kv_acc}, {"canonical_id", e}})) ==
        "invalid mount accessor \"" + kv_acc + "\"");

  auto made = ok(root_api(d, Operation::Update, "identity/entity-alias",
                          Json{{"name", "alice"}, {"mount_accessor", acc}, {"canonical_id", e}}));
  const std::string alias_id = str(made.data["id"]);
  CHECK(str(made.data["canonical_id"]) == e);
  auto alias = ok(root_api(d, Operation::Read, "identity/entity-alias/id/" + alias_id));
  CHECK(str(alias.data["mount_type"]) == "userpass");
  CHECK(str(alias.data["mount_path"]) == "auth/userpass/");
  CHECK(str(alias.data["name"]) == "alice");
  auto entity = ok(root_api(d, Operation::Read, "identity/entity/id/" + e));
  REQUIRE(entity.data["aliases"].size() == 1);
  CHECK(str(entity.data["aliases"][0]["id"]) == alias_id);

  // One alias per mount per entity.
  CHECK(error_of(root_api(d, Operation::Update, "identity/entity-alias",
                          Json{{"name", "alice2"}, {"mount_accessor", acc}, {"canonical_id", e}})) ==
        "Alias already exists for requested entity and mount accessor");
  // The same factors again: an update of the same alias (same id).
  auto again = ok(root_api(d, Operation::Update, "identity/entity-alias",
                           Json{{"name", "alice"}, {"mount_accessor", acc}, {"custom_metadata", {{"k", "v"}}}}));
  CHECK(str(again.data["id"]) == alias_id);
  CHECK(str(ok(root_api(d, Operation::Read, "identity/entity-alias/id/" + alias_id)).data["custom_metadata"]["k"]) ==
        "v");
  // No canonical id: a new entity is made for the alias.
  auto fresh =
      ok(root_api(d, Operation::Update, "identity/entity-alias", Json{{"name", "carol"}, {"mount_accessor", acc}}));
  CHECK(str(fresh.data["canonical_id"]) != e);
  // Renaming onto taken factors.
  CHECK(error_of(root_api(d, Operation::Update, "identity/entity-alias/id/" + str(fresh.data["id"]),
                          Json{{"name", "alice"}})) ==
        "alias with combination of mount accessor and name already exists");
  // The alias list and lookups.
  CHECK(keys_of(ok(root_api(d, Operation::List, "identity/entity-alias/id/"))).size() == 2);
  auto found = ok(root_api(d, Operation::Update, "identity/lookup/entity",
                           Json{{"alias_name", "alice"}, {"alias_mount_accessor", acc}}));
  CHECK(str(found.data["id"]) == e);
  CHECK(error_of(root_api(d, Operation::Update, "identity/lookup/entity", Json{{"alias_name", "alice"}})) ==
        "both 'alias_name' and 'alias_mount_accessor' needs to be set");
  CHECK(error_of(root_api(d, Operation::Update, "identity/lookup/entity", Json::object())) ==
        "query parameter not supplied");
  CHECK(error_of(root_api(d, Operation::Update, "identity/lookup/entity", Json{{"id", e}, {"name", "alice"}})) ==
        "query parameter conflict; please supply distinct set of query parameters");
  CHECK(ok(root_api(d, Operation::Update, "identity/lookup/entity", Json{{"name", "nobody"}})).data.empty());

  // Deleting an alias; deleting the entity drops its aliases.
  ok(root_api(d, Operation::Delete, "identity/entity-alias/id/" + alias_id));
  CHECK(code_of(root_api(d, Operation::Read, "identity/entity-alias/id/" + alias_id)) == ErrorCode::NotFound);
  ok(root_api(d, Operation::Delete, "identity/entity/id/" + str(fresh.data["canonical_id"])));
  CHECK(keys_of(ok(root_api(d, Operation::List, "identity/entity-alias/id/"))).empty());
}

TEST_CASE("group aliases: external groups only, unique factors", "[identity]") {
  DevCore d;
  const std::string acc = enable_userpass(d);
  const std::string internal = make_group(d, "", R"({"name":"in"})");
  const std::string ext = make_group(d, "", R"({"name":"ext","type":"external"})");
  CHECK(error_of(root_api(d, Operation::Update, "identity/group-alias",
                          Json{{"name", "cn=dev"}, {"mount_accessor", acc}, {"canonical_id", internal}})) ==
        "alias can't be set on an internal group");
  CHECK(error_of(root_api(d, Operation::Update, "identity/group-alias", Json{{"mount_accessor", acc}})) ==
        "missing alias name");
  CHECK(error_of(root_api(d, Operation::Update, "identity/group-alias", Json{{"name", "x"}})) ==
        "missing mount_accessor");
  CHECK(error_of(root_api(d, Operation::Update, "identity/group-alias",
                          Json{{"name", "x"}, {"mount_accessor", "nope"}, {"canonical_id", ext}})) ==
        "invalid mount accessor \"nope\"");
  auto made = ok(root_api(d, Operation::Update, "identity/group-alias",
                          Json{{"name", "cn=dev"}, {"mount_accessor", acc}, {"canonical_id", ext}}));
  const std::string alias_id = str(made.data["id"]);
  CHECK(str(made.data["canonical_id"]) == ext);
  auto group = ok(root_api(d, Operation::Read, "identity/group/id/" + ext));
  CHECK(str(group.data["alias"]["name"]) == "cn=dev");
  CHECK(str(group.data["alias"]["mount_type"]) == "userpass");
  const std::string ext2 = make_group(d, "", R"({"name":"ext2","type":"external"})");
  CHECK(error_of(root_api(d, Operation::Update, "identity/group-alias",
                          Json{{"name", "cn=dev"}, {"mount_accessor", acc}, {"canonical_id", ext2}})) ==
        "combination of mount and group alias name is already in use");
  auto looked = ok(root_api(d, Operation::Update, "identity/lookup/group",
                            Json{{"alias_name", "cn=dev"}, {"alias_mount_accessor", acc}}));
  CHECK(str(looked.data["id"]) == ext);

  // Logins refresh external membership through the alias.
  const std::string e = make_entity(d, "", R"({"name":"u"})");
  const engine::TimePoint now = engine::Clock::now();
  REQUIRE(internals(*d.core).identity.set_external_groups(e, acc, {"cn=dev"}, now).ok());
  CHECK(ok(root_api(d, Operation::Read, "identity/group/id/" + ext)).data["member_entity_ids"] == Json::array({e}));
  REQUIRE(internals(*d.core).identity.set_external_groups(e, acc, {}, now).ok());
  CHECK(ok(root_api(d, Operation::Read, "identity/group/id/" + ext)).data["member_entity_ids"].is_null());

  ok(root_api(d, Operation::Delete, "identity/group-alias/id/" + alias_id));
  CHECK(ok(root_api(d, Operation::Read, "identity/group/id/" + ext)).data["alias"].empty());
}

TEST_CASE("entity_for_login finds or creates the entity behind an alias", "[identity]") {
  DevCore d;
  const std::string acc = enable_userpass(d);
  auto& store = internals(*d.core).identity;
  const engine::TimePoint now = engine::Clock::now();
  auto first = store.entity_for_login("root", acc, "userpass", "bob", {{"username", "bob"}}, now);
  REQUIRE(first.ok());
  CHECK(first->created);
  CHECK(first->name.rfind("entity_", 0) == 0);
  auto second = store.entity_for_login("root", acc, "userpass", "bob", {{"username", "bob"}}, now);
  REQUIRE(second.ok());
  CHECK_FALSE(second->created);
  CHECK(second->id == first->id);
  auto alias = ok(root_api(d, Operation::Update, "identity/lookup/entity",
                           Json{{"alias_name", "bob"}, {"alias_mount_accessor", acc}}));
  CHECK(str(alias.data["id"]) == first->id);
  CHECK(str(alias.data["aliases"][0]["metadata"]["username"]) == "bob");
  ok(root_api(d, Operation::Update, "identity/entity/id/" + first->id, body(R"({"disabled":true})")));
  auto third = store.entity_for_login("root", acc, "userpass", "bob", {}, now);
  REQUIRE(third.ok());
  CHECK(third->disabled);
}

TEST_CASE("a userpass login's entity gets its groups' policies; removal and disabling act at once", "[identity]") {
  DevCore d;
  const std::string edu = make_namespace(d, "", "edu");
  enable_userpass(d, "edu/");
  enable_kv(d, "edu/");
  put_secret(d, "edu/", "team/db");
  write_policy(d, "edu/", "team", "path \"kv/data/team/*\" { capabilities = [\"read\"] }");
  ok(root_api(d, Operation::Update, "edu/auth/userpass/users/alice", Json{{"password", "alice-pw"}}));
  auto login = [&] {
    return api(d, "", Operation::Update, "edu/auth/userpass/login/alice", Json{{"password", "alice-pw"}});
  };
  auto first = ok(login());
  const std::string token = str(first.data["auth"]["client_token"]);
  const std::string eid = str(first.data["auth"]["entity_id"]);
  REQUIRE_FALSE(eid.empty());
  // The entity and its alias were made by the login, in the login's namespace.
  auto entity = ok(root_api(d, Operation::Read, "edu/identity/entity/id/" + eid));
  CHECK(str(entity.data["namespace_id"]) == edu);
  CHECK(str(entity.data["aliases"][0]["name"]) == "alice");
  CHECK(str(entity.data["aliases"][0]["mount_path"]) == "auth/userpass/");
  CHECK(str(ok(login()).data["auth"]["entity_id"]) == eid);  // the same entity next time
  CHECK_FALSE(can_read(d, token, "edu/kv/data/team/db"));

  const std::string g =
      make_group(d, "edu/", Json{{"name", "team"}, {"policies", "team"}, {"member_entity_ids", eid}}.dump().c_str());
  CHECK(can_read(d, token, "edu/kv/data/team/db"));
  // A new login reports the identity policy in its auth block.
  CHECK(ok(login()).data["auth"]["identity_policies"] == Json::array({"team"}));

  ok(root_api(d, Operation::Update, "edu/identity/group/id/" + g, Json{{"member_entity_ids", Json::array()}}));
  CHECK_FALSE(can_read(d, token, "edu/kv/data/team/db"));

  ok(root_api(d, Operation::Update, "edu/identity/entity/id/" + eid, Json{{"disabled", true}}));
  CHECK(code_of(api(d, token, Operation::Read, "edu/auth/token/lookup-self")) == ErrorCode::PermissionDenied);
  CHECK_FALSE(login().ok());  // Vault refuses a disabled entity's login
}
