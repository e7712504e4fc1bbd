// SPDX-License-Identifier: MPL-2.0
// Identity by id across namespaces: an entity, group or alias of another
// namespace is answered exactly as an unknown id on every endpoint that
// takes an id. And policy names from entities and groups are
// case-insensitive, as Vault's policy store lower-cases every name.
#include <catch2/catch.hpp>

#include "tests/unit/core/identity_support.hpp"

using namespace coffer_test;

namespace {

struct Answer {
  bool ok = false;
  ErrorCode code = ErrorCode::Internal;
  std::string message;
  std::string data;
};

Answer answer(const engine::Result<engine::Response>& r) {
  Answer a;
  a.ok = r.ok();
  if (r.ok()) {
    a.data = engine::to_plain(r.value().data.dump());
  } else {
    a.code = r.error().code;
    a.message = r.error().message;
  }
  return a;
}

// The request with `id` in place of "@ID@" in path and body.
engine::Result<engine::Response> with_id(DevCore& d, Operation op, const std::string& path, const std::string& json,
                                         const std::string& id) {
  auto subst = [&](std::string s) {
    for (auto at = s.find("@ID@"); at != std::string::npos; at = s.find("@ID@", at + id.size())) s.replace(at, 4, id);
    return s;
  };
  return root_api(d, op, subst(path), Json::parse(subst(json)));
}

}  // namespace

TEST_CASE("identity ids of another namespace look exactly like unknown ids", "[identity][namespaces]") {
  DevCore d;
  make_namespace(d, "", "education");
  const std::string root_accessor = enable_userpass(d);
  const std::string edu_accessor = enable_userpass(d, "education/");
  const std::string entity = make_entity(d, "", R"({"name":"alice","metadata":{"k":"v"}})");
  const std::string group = make_group(d, "", R"({"name":"g"})");
  const std::string external = make_group(d, "", R"({"name":"ext","type":"external"})");
  const std::string entity_alias =
      str(ok(root_api(d, Operation::Update, "identity/entity-alias",
                      Json{{"name", "alice"}, {"mount_accessor", root_accessor}, {"canonical_id", entity}}))
              .data["id"]);
  const std::string group_alias =
      str(ok(root_api(d, Operation::Update, "identity/group-alias",
                      Json{{"name", "ext"}, {"mount_accessor", root_accessor}, {"canonical_id", external}}))
              .data["id"]);
  const engine::SecureString before_entity =
      ok(root_api(d, Operation::Read, "identity/entity/id/" + entity)).data.dump();
  const engine::SecureString before_group = ok(root_api(d, Operation::Read, "identity/group/id/" + group)).data.dump();

  struct Case {
    Operation op;
    std::string path, body, id;
  };
  const std::string e = "education/identity/";
  const std::vector<Case> cases = {
      {Operation::Read, e + "entity/id/@ID@", "{}", entity},
      {Operation::Update, e + "entity/id/@ID@", R"({"metadata":{"x":"y"}})", entity},
      {Operation::Update, e + "entity", R"({"id":"@ID@","policies":["p"]})", entity},
      {Operation::Delete, e + "entity/id/@ID@", "{}", entity},
      {Operation::Read, e + "entity-alias/id/@ID@", "{}", entity_alias},
      {Operation::Update, e + "entity-alias/id/@ID@", R"({"name":"bob"})", entity_alias},
      {Operation::Update, e + "entity-alias", R"({"id":"@ID@","name":"bob"})", entity_alias},
      {Operation::Delete, e + "entity-alias/id/@ID@", "{}", entity_alias},
      {Operation::Update, e + "entity-alias",
       R"({"name":"carol","mount_accessor":")" + edu_accessor + R"(","canonical_id":"@ID@"})", entity},
      {Operation::Read, e + "group/id/@ID@", "{}", group},
      {Operation::Update, e + "group/id/@ID@", R"({"policies":["p"]})", group},
      {Operation::Update, e + "group", R"({"id":"@ID@","policies":["p"]})", group},
      {Operation::Delete, e + "group/id/@ID@", "{}", group},
      {Operation::Read, e + "group-alias/id/@ID@", "{}", group_alias},
      {Operation::Update, e + "group-alias/id/@ID@", R"({"name":"x","mount_accessor":")" + edu_accessor + R"("})",
       group_alias},
      {Operation::Delete, e + "group-alias/id/@ID@", "{}", group_alias},
      {Operation::Update, e + "group-alias",
       R"({"name":"y","mount_accessor":")" + edu_accessor + R"(","canonical_id":"@ID@"})", external},
      {Operation::Update, e + "lookup/entity", R"({"id":"@ID@"})", entity},
      {Operation::Update, e + "lookup/entity", R"({"alias_id":"@ID@"})", entity_alias},
      {Operation::Update, e + "lookup/group", R"({"id":"@ID@"})", group},
      {Operation::Update, e + "lookup/group", R"({"alias_id":"@ID@"})", group_alias},
  };
  for (const auto& c : cases) {
    INFO(c.path << " " << c.body);
    const Answer known = answer(with_id(d, c.op, c.path, c.body, c.id));
    const std::string unknown_id = "00000000-0000-0000-0000-000000000000";
    Answer unknown = answer(with_id(d, c.op, c.path, c.body, unknown_id));
    // Messages that name the id name the one asked for.
    for (auto at = unknown.message.find(unknown_id); at != std::string::npos; at = unknown.message.find(unknown_id)) {
      unknown.message.replace(at, unknown_id.size(), c.id);
    }
    CHECK(known.ok == unknown.ok);
    CHECK(known.code == unknown.code);
    CHECK(known.message == unknown.message);
    CHECK(known.data == unknown.data);
  }
  // Nothing of the root namespace's changed.
  CHECK(ok(root_api(d, Operation::Read, "identity/entity/id/" + entity)).data.dump() == before_entity);
  CHECK(ok(root_api(d, Operation::Read, "identity/group/id/" + group)).data.dump() == before_group);
  CHECK(str(ok(root_api(d, Operation::Read, "identity/entity-alias/id/" + entity_alias)).data["name"]) == "alice");
  CHECK(str(ok(root_api(d, Operation::Read, "identity/group-alias/id/" + group_alias)).data["name"]) == "ext");
}

TEST_CASE("entity and group policy names are case-insensitive, as Vault's policy store", "[identity][policy]") {
  DevCore d;
  enable_kv(d, "");
  put_secret(d, "", "team");
  put_secret(d, "", "group");
  write_policy(d, "", "training-admin", "path \"kv/data/team\" { capabilities = [\"read\"] }\n");
  write_policy(d, "", "group-reader", "path \"kv/data/group\" { capabilities = [\"read\"] }\n");
  const std::string entity = make_entity(d, "", R"({"name":"e","policies":["Training-Admin"]})");
  make_group(
      d, "",
      Json{{"name", "g"}, {"policies", Json::array({" GROUP-Reader "})}, {"member_entity_ids", Json::array({entity})}}
          .dump()
          .c_str());
  const std::string token = entity_token(d, entity);
  CHECK(can_read(d, token, "kv/data/team"));
  CHECK(can_read(d, token, "kv/data/group"));
  // Shown as written, as Vault shows them.
  CHECK(ok(root_api(d, Operation::Read, "identity/entity/id/" + entity)).data["policies"] ==
        Json::array({"Training-Admin"}));
  // Root is refused whatever its case.
  CHECK(error_of(root_api(d, Operation::Update, "identity/entity", body(R"({"name":"r","policies":["Root"]})"))) ==
        "policies cannot contain root");
  CHECK(error_of(root_api(d, Operation::Update, "identity/group", body(R"({"name":"r","policies":["ROOT"]})"))) ==
        "policies cannot contain root");
}
