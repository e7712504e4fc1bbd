// SPDX-License-Identifier: MPL-2.0
#include <chrono>
#include <thread>

#include "authz_support.hpp"
#include "engine/backend/kv_common.hpp"
#include "engine/common/time.hpp"

using coffer_test::DevCore;
using engine::ErrorCode;
using engine::WriteMode;
using V = std::vector<std::string>;

TEST_CASE("file view: a dev root shows sys, auth, identity and secret", "[fileview]") {
  DevCore d;
  CHECK(d.ls("") == V{"auth/", "identity/", "secret/", "sys/"});
  CHECK(d.ls("sys") == V{"audit/",   "audit-hash/", "auth/",         "capabilities", "capabilities-accessor",
                         "capabilities-self", "config/", "events/", "generate-root/", "health",
                         "init",     "key-status",  "locked-users/", "monitor",      "mounts/",
                         "namespaces/", "policies/", "rekey/", "rotate", "seal", "seal-status", "unseal"});
  CHECK(d.ls("sys/rekey") == V{"init", "update"});
  CHECK(d.ls("sys/generate-root") == V{"attempt", "update"});
  CHECK(d.ls("sys/events") == V{"subscribe/"});
  CHECK(d.ls("sys/events/subscribe") == V{"coffer/", "kv-v1/", "kv-v2/"});
  CHECK(d.ls("sys/events/subscribe/kv-v1") == V{"delete", "write"});
  CHECK(d.ls("sys/config") == V{"group-policy-application"});
  // #field on a sys file whose literal name the sys backend calls unsupported.
  CHECK(d.cat("sys/config/group-policy-application#group_policy_application_mode") == "within_namespace_hierarchy");
  CHECK(d.ls("sys/auth") == V{"token"});
  CHECK(d.ls("sys/mounts") == V{"identity", "secret", "sys"});
}

TEST_CASE("file view: kv v2 write, read, field, versions, metadata", "[fileview][kv]") {
  DevCore d;
  d.put("secret/app/db", R"({"user":"bob","password":"s3cr3t"})");
  CHECK(d.cat("secret/app/db") == "{\n  \"password\": \"s3cr3t\",\n  \"user\": \"bob\"\n}\n");
  CHECK(d.cat("secret/app/db#password") == "s3cr3t");
  d.put("secret/app/db", "user=alice password='two words'\n");
  CHECK(d.cat("secret/app/db#password") == "two words");
  CHECK(d.cat("secret/app/db@1#user") == "bob");
  CHECK(d.cat("secret/app/db@2#user") == "alice");
  CHECK(d.ls("secret") == V{"app/"});
  CHECK(d.ls("secret/app") == V{"db"});
  auto meta = engine::Json::parse(d.cat("secret/app/db@metadata"));
  CHECK(meta["current_version"] == 2);
  CHECK(d.cat_error("secret/app/db@9") == ErrorCode::NotFound);
  CHECK(d.cat_error("secret/app/db#nope") == ErrorCode::NotFound);
  CHECK(d.cat_error("secret/app/db@nope") == ErrorCode::NotFound);
}

TEST_CASE("file view: patch with >>, soft delete, undelete, destroy", "[fileview][kv]") {
  DevCore d;
  d.put("secret/x", R"({"a":"1","b":"2"})");
  d.put("secret/x", R"({"b":null,"c":"3"})", WriteMode::Append);
  CHECK(d.cat("secret/x") == "{\n  \"a\": \"1\",\n  \"c\": \"3\"\n}\n");
  REQUIRE(d.files->remove(d.root, "secret/x").ok());
  CHECK(d.cat_error("secret/x") == ErrorCode::NotFound);
  // ls shows what cat reads; Vault's LIST (metadata remains) is x@list's.
  CHECK(d.ls("secret").empty());
  CHECK(d.files->stat(d.root, "secret/x").error().code == ErrorCode::NotFound);
  CHECK(engine::Json::parse(d.cat("secret/x@metadata"))["current_version"] == 2);
  d.put("secret/x@undelete", "versions=2\n");
  CHECK(d.ls("secret") == V{"x"});
  CHECK(d.cat("secret/x#c") == "3");
  d.put("secret/x@destroy", R"({"versions":[1]})");
  CHECK(d.cat_error("secret/x@1") == ErrorCode::NotFound);
  REQUIRE(d.files->remove(d.root, "secret/x@metadata").ok());
  CHECK(d.ls("secret").empty());
  CHECK(d.files->remove(d.root, "secret/x").error().code == ErrorCode::NotFound);
}

TEST_CASE("file view: check-and-set through Vault's envelope", "[fileview][kv]") {
  DevCore d;
  d.put("secret/c", R"({"data":{"v":"1"},"options":{"cas":0}})");
  CHECK(d.put_error("secret/c", R"({"data":{"v":"2"},"options":{"cas":0}})") == ErrorCode::CasMismatch);
  d.put("secret/c", R"({"data":{"v":"2"},"options":{"cas":1}})");
  CHECK(d.cat("secret/c#v") == "2");
}

TEST_CASE("file view: a PEM block round-trips byte for byte through #field", "[fileview][kv]") {
  DevCore d;
  std::string pem = "-----BEGIN CERTIFICATE-----\nMIIB\n+/=\n-----END CERTIFICATE-----\n";
  engine::Json body{{"cert", pem}};
  d.put("secret/tls", engine::to_plain(body.dump()));
  CHECK(d.cat("secret/tls#cert") == pem);
}

TEST_CASE("file view: a secret and a folder of the same name", "[fileview][kv]") {
  DevCore d;
  d.put("secret/p", "k=v\n");
  d.put("secret/p/child", "k=w\n");
  auto st = d.files->stat(d.root, "secret/p");
  REQUIRE(st.ok());
  CHECK(st->kind == engine::NodeKind::Directory);
  CHECK(d.cat("secret/p@data#k") == "v");
  CHECK(d.ls("secret") == V{"p/"});
}

TEST_CASE("file view: mkdir in kv makes a folder that lives in memory", "[fileview][kv]") {
  DevCore d;
  REQUIRE(d.files->make_dir(d.root, "secret/new").ok());
  CHECK(d.ls("secret") == V{"new/"});
  CHECK(d.files->make_dir(d.root, "secret/new").error().code == ErrorCode::AlreadyExists);
  d.put("secret/new/s", "a=b\n");
  CHECK(d.files->remove_dir(d.root, "secret/new").error().code == ErrorCode::NotEmpty);
  REQUIRE(d.files->remove_dir(d.root, "secret/other").error().code == ErrorCode::NotFound);
}

TEST_CASE("file view: namespaces nest, list, patch metadata and delete", "[fileview][ns]") {
  DevCore d;
  REQUIRE(d.files->make_dir(d.root, "edu").ok());
  REQUIRE(d.files->make_dir(d.root, "edu/training").ok());
  d.put("edu/training/sys/namespaces/deep", R"({"custom_metadata":{"team":"a"}})");
  CHECK(d.ls("") == V{"auth/", "edu/", "identity/", "secret/", "sys/"});
  CHECK(d.ls("edu") == V{"auth/", "identity/", "sys/", "training/"});
  CHECK(d.ls("edu/training/sys/namespaces") == V{"deep"});
  auto info = engine::Json::parse(d.cat("edu/training/sys/namespaces/deep"));
  CHECK(info["path"] == "edu/training/deep/");
  CHECK(info["custom_metadata"]["team"] == "a");
  CHECK(info["id"].get<std::string>().size() == 5);
  d.put("edu/training/sys/namespaces/deep", R"({"custom_metadata":{"team":null,"x":"y"}})", WriteMode::Append);
  info = engine::Json::parse(d.cat("edu/training/sys/namespaces/deep"));
  CHECK(info["custom_metadata"] == engine::Json{{"x", "y"}});

  // Secrets three namespaces deep.
  d.put("edu/training/deep/sys/mounts/kv", "type=kv-v2\n");
  d.put("edu/training/deep/kv/app", "k=v\n");
  CHECK(d.cat("edu/training/deep/kv/app#k") == "v");

  CHECK(d.files->remove_dir(d.root, "edu").error().code == ErrorCode::NotEmpty);
  CHECK(d.files->remove_dir(d.root, "edu/training/deep").error().code == ErrorCode::NotEmpty);  // has a mount
  REQUIRE(d.files->remove(d.root, "edu/training/sys/namespaces/deep").ok());
  CHECK(d.cat_error("edu/training/deep/kv/app") == ErrorCode::NotFound);
  REQUIRE(d.files->remove_dir(d.root, "edu/training").ok());
  CHECK(d.ls("edu") == V{"auth/", "identity/", "sys/"});
}

TEST_CASE("file view: reserved and invalid namespace names are refused", "[fileview][ns]") {
  DevCore d;
  for (const char* bad : {"sys", "auth", "root", "identity", "cubbyhole", "audit"}) {
    CHECK(d.put_error(std::string("sys/namespaces/") + bad, "{}") == ErrorCode::InvalidArgument);
  }
  CHECK(d.put_error("sys/namespaces/a b", "{}") == ErrorCode::InvalidArgument);
  CHECK(d.put_error("sys/namespaces/a+b", "{}") == ErrorCode::InvalidArgument);
  CHECK(d.put_error("sys/namespaces/secret", "{}") == ErrorCode::InvalidArgument);  // clashes with mount
  CHECK(d.files->make_dir(d.root, std::string(256, 'n')).error().code == ErrorCode::NameTooLong);
}

TEST_CASE("file view: mounts enable, read, tune, clash, disable removes data", "[fileview][mounts]") {
  DevCore d;
  d.put("sys/mounts/kv1", "type=kv\n");
  d.put("sys/mounts/team/kv", R"({"type":"kv","options":{"version":"2"}})");
  CHECK(d.ls("") == V{"auth/", "identity/", "kv1/", "secret/", "sys/", "team/"});
  CHECK(d.ls("team") == V{"kv/"});
  CHECK(d.ls("sys/mounts") == V{"identity", "kv1", "secret", "sys", "team/"});
  auto info = engine::Json::parse(d.cat("sys/mounts/team/kv"));
  CHECK(info["type"] == "kv");
  CHECK(info["options"]["version"] == "2");
  CHECK(info["accessor"].get<std::string>().starts_with("kv_"));
  d.put("sys/mounts/kv1@tune", R"({"max_lease_ttl":"1h"})");
  CHECK(engine::Json::parse(d.cat("sys/mounts/kv1@tune"))["max_lease_ttl"] == 3600);
  CHECK(d.put_error("sys/mounts/team", "type=kv\n") == ErrorCode::AlreadyExists);
  CHECK(d.put_error("sys/mounts/sys/x", "type=kv\n") == ErrorCode::InvalidArgument);
  CHECK(d.put_error("sys/mounts/z", "type=banana\n") == ErrorCode::InvalidArgument);
  CHECK(d.put_error("sys/mounts/z", "type=kv\nbogus=1\n") == ErrorCode::InvalidArgument);

  // kv v1: replace, read, no patch.
  d.put("kv1/a", "x=1\n");
  CHECK(d.cat("kv1/a") == "{\n  \"x\": \"1\"\n}\n");
  CHECK(d.put_error("kv1/a", "y=2\n", WriteMode::Append) == ErrorCode::Unsupported);
  REQUIRE(d.files->remove(d.root, "sys/mounts/kv1").ok());
  d.put("sys/mounts/kv1", "type=kv\n");
  CHECK(d.cat_error("kv1/a") == ErrorCode::NotFound);  // disabling removed the data
}

TEST_CASE("file view: bad bodies are refused and change nothing", "[fileview][input]") {
  DevCore d;
  d.put("secret/s", "a=1\n");
  CHECK(d.put_error("secret/s", "{\"a\":") == ErrorCode::InvalidArgument);
  CHECK(d.put_error("secret/s", "[1,2]") == ErrorCode::InvalidArgument);
  CHECK(d.put_error("secret/s", "novalue\n") == ErrorCode::InvalidArgument);
  CHECK(d.put_error("secret/s", "=x\n") == ErrorCode::InvalidArgument);
  CHECK(d.put_error("secret/s", "a='open\n") == ErrorCode::InvalidArgument);
  CHECK(d.put_error("secret/s", "   \n") == ErrorCode::InvalidArgument);
  CHECK(d.put_error("secret/s", std::string((1 << 20) + 1, 'x')) == ErrorCode::TooLarge);
  CHECK(d.cat("secret/s#a") == "1");
  CHECK(engine::Json::parse(d.cat("secret/s@metadata"))["current_version"] == 1);
  CHECK(d.cat_error("secret/../sys/health") == ErrorCode::InvalidArgument);
  CHECK(d.cat_error("nothere/x") == ErrorCode::NotFound);
}

TEST_CASE("file view: a wrong token is denied, whether or not the path exists", "[fileview][auth]") {
  DevCore d;
  d.put("secret/s", "a=1\n");
  engine::Caller stranger{engine::to_secure("hvs.not-a-token")};
  CHECK(d.files->read(stranger, "secret/s").error().code == ErrorCode::PermissionDenied);
  CHECK(d.files->read(stranger, "secret/missing").error().code == ErrorCode::PermissionDenied);
  CHECK(d.files->write(stranger, "secret/s", "a=2\n", WriteMode::Replace).error().code == ErrorCode::PermissionDenied);
  CHECK(d.cat("secret/s#a") == "1");
}

TEST_CASE("file view: NAME@data is the create endpoint of a collection that is also a directory",
          "[fileview][identity]") {
  DevCore d;
  // identity/entity is a directory (LIST) and Vault's create-by-POST endpoint.
  CHECK(d.files->stat(d.root, "identity/entity").value().kind == engine::NodeKind::Directory);
  CHECK(d.files->stat(d.root, "identity/entity@data").value().kind == engine::NodeKind::File);
  CHECK(d.cat("identity/entity@data").empty());  // nothing to read: the reply comes from the write
  const std::string reply = d.put("identity/entity@data", "name=zed policies=team\n");
  CHECK(reply.find("\"name\": \"zed\"") != std::string::npos);
  CHECK(d.cat("identity/entity/name/zed#policies") == "[\"team\"]");

  d.put("sys/auth/userpass", "type=userpass\n");
  const std::string accessor = d.cat("sys/auth/userpass#accessor");
  d.put("identity/group/name/devs", "type=external\n");
  const std::string group = d.cat("identity/group/name/devs#id");
  d.put("identity/group-alias@data", "name=dev mount_accessor=" + accessor + " canonical_id=" + group + "\n");
  CHECK(d.cat("identity/group/name/devs#alias").find("\"name\":\"dev\"") != std::string::npos);
  // Bad input changes nothing.
  CHECK(d.put_error("identity/group-alias@data", "name=dev\n") == ErrorCode::InvalidArgument);

  // The ACL is asked about the endpoint itself, not a "data" below it.
  const std::string writer = coffer_test::make_token(d, "{\"policies\":[\"entity-writer\"]}");
  d.put("sys/policies/acl/entity-writer", "path \"identity/entity\" { capabilities = [\"update\"] }\n");
  CHECK(d.files->write(coffer_test::as(writer), "identity/entity@data", "name=amy\n", WriteMode::Replace).ok());
  CHECK(d.files->write(coffer_test::as(writer), "identity/group@data", "name=g\n", WriteMode::Replace).error().code ==
        ErrorCode::PermissionDenied);
}

namespace {

// What stat says of path, as one comparable word: "dir", "file" or the error.
std::string stat_word(coffer_test::DevCore& d, const engine::Caller& who, std::string_view path) {
  auto r = d.files->stat(who, path);
  if (!r.ok()) return engine::to_string(r.error().code);
  return r->kind == engine::NodeKind::Directory ? "dir" : "file";
}

std::string ls_word(coffer_test::DevCore& d, const engine::Caller& who, std::string_view path) {
  auto r = d.files->list(who, path);
  return r.ok() ? "listed" : engine::to_string(r.error().code);
}

}  // namespace

TEST_CASE("file view: a caller with nothing at or below a path learns nothing of it", "[fileview][ns][auth]") {
  DevCore d;
  REQUIRE(d.files->make_dir(d.root, "edu").ok());
  REQUIRE(d.files->make_dir(d.root, "edu/training").ok());
  d.put("edu/sys/mounts/kv", "type=kv-v2\n");
  d.put("sys/mounts/team/kv", "type=kv-v2\n");
  REQUIRE(d.files->make_dir(d.root, "secret/folder").ok());
  REQUIRE(d.files->make_dir(d.root, "secret/app/folder").ok());
  d.put("sys/policies/acl/app", "path \"secret/data/app/*\" { capabilities = [\"read\"] }\n");
  const engine::Caller limited = coffer_test::as(coffer_test::make_token(d, "{\"policies\":[\"app\"]}"));
  const engine::Caller anonymous{};
  const std::pair<const char*, const char*> pairs[] = {{"edu", "nope"},           {"edu/training", "edu/nope"},
                                                       {"edu/kv", "edu/nokv"},    {"edu/sys", "nope/sys"},
                                                       {"edu/auth", "nope/auth"}, {"team", "nothing"},
                                                       {"team/kv", "team/nokv"},  {"secret/folder", "secret/nofolder"}};
  for (const engine::Caller* who : {&anonymous, &limited}) {
    for (const auto& [there, absent] : pairs) {
      INFO((who == &anonymous ? "anonymous: " : "limited: ") << there << " vs " << absent);
      CHECK(stat_word(d, *who, there) == "permission denied");
      CHECK(stat_word(d, *who, absent) == "permission denied");
      CHECK(ls_word(d, *who, there) == ls_word(d, *who, absent));
    }
  }
  // What the caller may reach below stays a directory, mkdir folders too.
  CHECK(stat_word(d, limited, "secret") == "dir");
  CHECK(stat_word(d, limited, "secret/app/folder") == "dir");
  CHECK(stat_word(d, limited, "secret/data") == "permission denied");
  // A caller who may see there is told the truth.
  CHECK(stat_word(d, d.root, "nope") == "not found");
  CHECK(stat_word(d, d.root, "edu/nope") == "not found");
  CHECK(stat_word(d, d.root, "secret/folder") == "dir");
  CHECK(d.files->check_access(anonymous, "edu/training", engine::NodeKind::Directory, false, false).error().code ==
        ErrorCode::PermissionDenied);
  // Nor does a caller who may not list a mkdir folder remove it.
  CHECK(d.files->remove_dir(limited, "secret/folder").error().code == ErrorCode::PermissionDenied);
  CHECK(d.files->make_dir(anonymous, "edu/training").error().code == ErrorCode::PermissionDenied);
  CHECK(d.files->make_dir(anonymous, "edu/other").error().code == ErrorCode::PermissionDenied);
  CHECK(d.ls("secret") == V{"app/", "folder/"});

  // A login endpoint answers everyone, so the way to it is open: the
  // namespaces above it and its method's directories, nothing beside it.
  d.put("edu/training/sys/auth/userpass", "type=userpass\n");
  CHECK(stat_word(d, anonymous, "edu") == "dir");
  CHECK(stat_word(d, anonymous, "edu/training") == "dir");
  CHECK(stat_word(d, anonymous, "edu/training/auth") == "dir");
  CHECK(stat_word(d, anonymous, "edu/training/auth/userpass") == "dir");
  CHECK(stat_word(d, anonymous, "edu/training/auth/userpass/login") == "dir");
  CHECK(stat_word(d, anonymous, "edu/training/auth/userpass/login/bob") == "file");
  CHECK(stat_word(d, anonymous, "edu/kv") == "permission denied");
  CHECK(stat_word(d, anonymous, "edu/training/auth/nope") == "permission denied");
  CHECK(stat_word(d, anonymous, "edu/nope") == "permission denied");
}

TEST_CASE("file view: a write-only policy (Vault's drop box) writes through files", "[fileview][kv][auth]") {
  DevCore d;
  d.put("sys/policies/acl/drop", "path \"secret/data/drop/*\" { capabilities = [\"create\"] }\n");
  d.put("sys/policies/acl/updater", "path \"secret/data/drop/*\" { capabilities = [\"update\"] }\n");
  const engine::Caller dropper = coffer_test::as(coffer_test::make_token(d, "{\"policies\":[\"drop\"]}"));
  const engine::Caller updater = coffer_test::as(coffer_test::make_token(d, "{\"policies\":[\"updater\"]}"));
  // A name the caller may write is a file (not a directory), whether or not it exists.
  auto st = d.files->stat(dropper, "secret/drop/x");
  REQUIRE(st.ok());
  CHECK(st->kind == engine::NodeKind::File);
  CHECK(st->size == 0);
  CHECK(stat_word(d, dropper, "secret/drop") == "dir");
  CHECK(d.files->check_access(dropper, "secret/drop/x", engine::NodeKind::File, false, true).ok());
  CHECK_FALSE(d.files->check_access(dropper, "secret/drop/x", engine::NodeKind::File, true, false).ok());
  // The first write creates; a second is an update, which create alone may not do.
  REQUIRE(d.files->write(dropper, "secret/drop/x", "a=1\n", WriteMode::Replace).ok());
  CHECK(stat_word(d, dropper, "secret/drop/x") == "file");
  CHECK(d.files->write(dropper, "secret/drop/x", "a=2\n", WriteMode::Replace).error().code ==
        ErrorCode::PermissionDenied);
  CHECK(d.files->read(dropper, "secret/drop/x").error().code == ErrorCode::PermissionDenied);
  CHECK(d.files->list(dropper, "secret/drop").error().code == ErrorCode::PermissionDenied);
  CHECK(d.cat("secret/drop/x#a") == "1");
  // update alone: the other way round.
  CHECK(d.files->write(updater, "secret/drop/y", "a=1\n", WriteMode::Replace).error().code ==
        ErrorCode::PermissionDenied);
  REQUIRE(d.files->write(updater, "secret/drop/x", "a=3\n", WriteMode::Replace).ok());
  CHECK(d.cat("secret/drop/x#a") == "3");
  // Outside the drop box nothing changed.
  CHECK(stat_word(d, dropper, "secret/other") == "permission denied");

  // The same for an API file: a policy writer who may not read policies.
  d.put("sys/policies/acl/pw", "path \"sys/policies/acl/team-*\" { capabilities = [\"create\", \"update\"] }\n");
  const engine::Caller writer = coffer_test::as(coffer_test::make_token(d, "{\"policies\":[\"pw\"]}"));
  CHECK(stat_word(d, writer, "sys/policies/acl/team-a") == "file");
  CHECK(stat_word(d, writer, "sys/policies/acl/other") == "permission denied");
}

TEST_CASE("file view: a request still being written fails only when no more bytes can mend it", "[fileview][input]") {
  DevCore d;
  auto partial = [&](std::string_view path, std::string_view body, const engine::Caller* who = nullptr) {
    auto st = d.files->check_partial(who != nullptr ? *who : d.root, path, body);
    return st.ok() ? std::string("ok") : std::string(engine::to_string(st.error().code));
  };
  // Every prefix of a valid request might still become it.
  const std::string policy =
      "# team\npath \"secret/data/team/*\" {\n  capabilities = [\"read\", \"list\"]\n}\n"
      "path \"sys/policies/acl/x\" { capabilities = [\"deny\"] }\n";
  const std::string json = R"({"a":"b","n":[1,-2.5e3,true,false,null],"o":{"k":"\u00e9\"x"}, "é":"ü"})";
  const std::string kv = "user=bob password='two words' note=\"a \\\"q\\\"\" x\\ y=z\n";
  for (std::size_t n = 0; n <= policy.size(); ++n) {
    INFO("policy prefix " << n);
    CHECK(partial("sys/policies/acl/team", policy.substr(0, n)) == "ok");
  }
  for (std::size_t n = 0; n <= json.size(); ++n) {
    INFO("json prefix " << n);
    CHECK(partial("secret/app", json.substr(0, n)) == "ok");
  }
  for (std::size_t n = 0; n <= kv.size(); ++n) {
    INFO("key=value prefix " << n);
    CHECK(partial("secret/app", kv.substr(0, n)) == "ok");
  }
  // Wrong for good.
  CHECK(partial("sys/policies/acl/team", "path \"a\" { capabilities = [\"banana\"] }\n") == "invalid request");
  CHECK(partial("sys/policies/acl/team", "path \"a\" { capabilities = [\"read\"] }\nbad = 1\n") == "invalid request");
  CHECK(partial("sys/policies/acl/team", "path \"a\" { capabilities = [\"read\"] }\n# \xff\n") == "invalid request");
  CHECK(partial("sys/policies/acl/team", std::string("path \"a\" {\0", 11)) == "invalid request");
  CHECK(partial("sys/policies/acl/team", "path \"\xc3") == "ok");  // the rest of é may follow
  CHECK(partial("secret/app", "{\"a\":1}}") == "invalid request");
  CHECK(partial("secret/app", "{\"a\":trux") == "invalid request");
  CHECK(partial("secret/app", "{\"a\" 1") == "invalid request");
  CHECK(partial("secret/app", "[1,") == "invalid request");
  CHECK(partial("secret/app", "a=1 novalue more") == "invalid request");
  CHECK(partial("secret/app", "a=1 =x y") == "invalid request");
  CHECK(partial("secret/app", "a=1 a=2 y") == "invalid request");
  CHECK(partial("secret/app", "a=\xff\xfe") == "invalid request");
  CHECK(partial("secret/app", std::string("a=1\0b", 5)) == "invalid request");
  CHECK(partial("secret/app", "a='x y") == "ok");
  CHECK(partial("secret/app", "novalue") == "ok");  // "=..." may follow
  CHECK(partial("sys/unseal", "abcd efgh") == "ok");
  // A caller who may not write there fails now too, not at close.
  d.put("sys/policies/acl/reader",
        "path \"sys/policies/acl/*\" { capabilities = [\"read\"] }\n"
        "path \"secret/data/*\" { capabilities = [\"read\"] }\n");
  const engine::Caller reader = coffer_test::as(coffer_test::make_token(d, "{\"policies\":[\"reader\"]}"));
  CHECK(partial("sys/policies/acl/team", "path", &reader) == "permission denied");
  CHECK(partial("secret/app", "a=", &reader) == "permission denied");
  CHECK(partial("secret/app#a", "a=", &reader) == "ok");  // the write says "read-only" itself
  // The whole text still decides at close.
  d.put("sys/policies/acl/team", policy);
  CHECK(d.cat("sys/policies/acl/team") == policy);
}

TEST_CASE("file view: a KV v2 file's mtime is its current version's created_time", "[fileview][kv][mtime]") {
  DevCore d;
  d.put("secret/app/db", "a=1\n");
  auto created = [&] {
    auto meta = nlohmann::json::parse(d.cat("secret/app/db@metadata"));
    return meta["versions"][std::to_string(meta["current_version"].get<int>())]["created_time"].get<std::string>();
  };
  auto mtime = [&](std::string_view path) {
    auto st = d.files->stat(d.root, path);
    REQUIRE(st.ok());
    return st->modified;
  };
  const auto first = mtime("secret/app/db");
  CHECK(engine::format_time(engine::kv::to_unix_nanos(first)) == created());
  // Reads, stats and metadata writes do not move it.
  (void)d.cat("secret/app/db");
  d.put("secret/app/db@metadata", R"({"max_versions":4})");
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // past the stat memo
  CHECK(mtime("secret/app/db") == first);
  CHECK(mtime("secret/app/db#a") == first);
  // A new version moves it, and NAME@N keeps its own version's time.
  d.put("secret/app/db", "a=2\n");
  const auto second = mtime("secret/app/db");
  CHECK(second > first);
  CHECK(engine::format_time(engine::kv::to_unix_nanos(second)) == created());
  CHECK(mtime("secret/app/db@1") == first);
}

TEST_CASE("file view: rm -r of a KV folder; ls shows what cat reads; FOLDER@list is Vault's LIST",
          "[fileview][kv][rm]") {
  DevCore d;
  d.put("secret/app/db", "a=1\n");
  d.put("secret/app/sub/x", "a=1\n");
  d.put("secret/keep", "a=1\n");
  REQUIRE(d.files->remove(d.root, "secret/app/sub/x").ok());
  REQUIRE(d.files->remove(d.root, "secret/app/db").ok());
  // Gone from ls; their folders list nothing and are not listed, but can
  // still be walked into by name (NAME@metadata below them), and rmdir'ed.
  CHECK(d.ls("secret") == V{"keep"});
  CHECK(d.ls("secret/app").empty());
  CHECK(d.ls("secret/app/sub").empty());
  CHECK(d.files->stat(d.root, "secret/app")->kind == engine::NodeKind::Directory);
  CHECK(d.files->stat(d.root, "secret/app/db").error().code == ErrorCode::NotFound);
  CHECK(engine::Json::parse(d.cat("secret/app@list"))["keys"] == engine::Json::array({"db", "sub/"}));
  REQUIRE(d.files->remove_dir(d.root, "secret/app/sub").ok());
  REQUIRE(d.files->remove_dir(d.root, "secret/app").ok());
  CHECK(d.ls("secret") == V{"keep"});
  // rmdir destroyed nothing: Vault's LIST still has them, and they come back.
  CHECK(engine::Json::parse(d.cat("secret/app/db@metadata"))["current_version"] == 1);
  CHECK(engine::Json::parse(d.cat("secret/app/sub@list"))["keys"] == engine::Json::array({"x"}));
  d.put("secret/app/db@undelete", "versions=1\n");
  CHECK(d.cat("secret/app/db#a") == "1");
  CHECK(d.ls("secret") == V{"app/", "keep"});
  // A folder holding live secrets is not removed.
  CHECK(d.files->remove_dir(d.root, "secret/app").error().code == ErrorCode::NotEmpty);
  // KV v1 deletes for good: the folder stays (in memory) until rmdir.
  d.put("sys/mounts/v1", "type=kv\n");
  d.put("v1/f/s", "a=1\n");
  REQUIRE(d.files->remove(d.root, "v1/f/s").ok());
  CHECK(d.ls("v1") == V{"f/"});
  REQUIRE(d.files->remove_dir(d.root, "v1/f").ok());
  CHECK(d.ls("v1").empty());
}

TEST_CASE("file view: rename within one folder replaces the target and removes the source", "[fileview][rename]") {
  DevCore d;
  d.put("secret/app/db", "a=1\n");
  d.put("secret/app/.db.tmp", "a=2\n");
  auto done = d.files->rename(d.root, "secret/app/.db.tmp", "secret/app/db");
  REQUIRE(done.ok());
  CHECK(*done);
  CHECK(d.cat("secret/app/db#a") == "2");
  CHECK(engine::Json::parse(d.cat("secret/app/db@metadata"))["current_version"] == 2);  // a new version
  CHECK(d.cat_error("secret/app/.db.tmp@metadata") == ErrorCode::NotFound);             // gone entirely
  CHECK(d.ls("secret/app") == V{"db"});
  // A new name: created by the rename.
  d.put("secret/app/t", "b=1\n");
  REQUIRE(*d.files->rename(d.root, "secret/app/t", "secret/app/fresh"));
  CHECK(d.cat("secret/app/fresh#b") == "1");
  // Other folders, mounts, views and kinds are not one step: false, nothing changes.
  d.put("secret/other/y", "c=1\n");
  CHECK_FALSE(*d.files->rename(d.root, "secret/other/y", "secret/app/y"));
  CHECK_FALSE(*d.files->rename(d.root, "secret/app/db", "secret/app/db@metadata"));
  CHECK_FALSE(*d.files->rename(d.root, "sys/policies/acl/default", "secret/default"));
  CHECK(d.cat("secret/other/y#c") == "1");
  // A missing source is ENOENT.
  CHECK(d.files->rename(d.root, "secret/app/none", "secret/app/db").error().code == ErrorCode::NotFound);
  // Policies: the target is replaced, the source policy deleted.
  d.put("sys/policies/acl/team", "path \"secret/*\" { capabilities = [\"read\"] }\n");
  d.put("sys/policies/acl/team.new", "path \"secret/*\" { capabilities = [\"list\"] }\n");
  REQUIRE(*d.files->rename(d.root, "sys/policies/acl/team.new", "sys/policies/acl/team"));
  CHECK(d.cat("sys/policies/acl/team").find("list") != std::string::npos);
  CHECK(d.cat_error("sys/policies/acl/team.new") == ErrorCode::NotFound);
}

TEST_CASE("file view: each half of a rename is checked, and a refusal changes nothing", "[fileview][rename][acl]") {
  DevCore d;
  d.put("secret/app/db", "a=1\n");
  d.put("secret/app/tmp", "a=2\n");
  // May write and read, not delete (metadata): the source cannot go.
  d.put("sys/policies/acl/nodelete",
        "path \"secret/data/app/*\" { capabilities = [\"create\", \"update\", \"read\", \"delete\"] }\n"
        "path \"secret/metadata/app/*\" { capabilities = [\"read\", \"list\"] }\n");
  // May delete and read, not write the target.
  d.put("sys/policies/acl/nowrite",
        "path \"secret/data/app/*\" { capabilities = [\"read\"] }\n"
        "path \"secret/metadata/app/*\" { capabilities = [\"read\", \"list\", \"delete\"] }\n");
  engine::Caller nodelete{engine::to_secure(coffer_test::make_token(d, R"({"policies":["nodelete"]})"))};
  engine::Caller nowrite{engine::to_secure(coffer_test::make_token(d, R"({"policies":["nowrite"]})"))};
  for (const engine::Caller* who : {&nodelete, &nowrite}) {
    auto r = d.files->rename(*who, "secret/app/tmp", "secret/app/db");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::PermissionDenied);
    CHECK(d.cat("secret/app/db#a") == "1");
    CHECK(d.cat("secret/app/tmp#a") == "2");
    CHECK(engine::Json::parse(d.cat("secret/app/db@metadata"))["current_version"] == 1);
  }
}

TEST_CASE("file view: a secret's size is recorded at its write and is its cat's", "[fileview][kv]") {
  DevCore d;
  // A stat as the file view makes it: the engine answers with the size alone.
  const auto recorded = [&](const std::string& path) {
    std::optional<std::uint64_t> size;
    engine::Request req{engine::Operation::Read, path, engine::Json::object(), d.root.token};
    req.parts.rendered_size = &size;
    auto r = d.core->handle(req);
    REQUIRE(r.ok());
    CHECK_FALSE(r.value().data.contains("data"));  // no decrypt of the data for it
    CHECK(r.value().modified.has_value());
    return size;
  };
  // A stat of NAME#KEY as the file view makes it: the field's size alone.
  const auto recorded_field = [&](const std::string& path, std::string_view field) {
    std::optional<std::uint64_t> size;
    engine::Request req{engine::Operation::Read, path, engine::Json::object(), d.root.token};
    req.parts.rendered_size = &size;
    req.parts.field = &field;
    auto r = d.core->handle(req);
    REQUIRE(r.ok());
    if (size) CHECK_FALSE(r.value().data.contains("data"));
    return size;
  };
  const char* bodies[] = {
      R"({"password":"p"})",
      R"({"f":1.5e300,"g":0.1,"neg":-9223372036854775808,"big":18446744073709551615,"z":-0.0})",
      R"({"text":"ünïcödé \u0001 \"quoted\" \\ tab\t","nested":{"list":[1,[2,{"e":null}],true],"empty":{}}})",
      "user=svc password=abc\n",
      "{}",
  };
  for (const char* body : bodies) {
    INFO(body);
    d.put("secret/app/x", body);
    const std::string bytes = d.cat("secret/app/x");
    const auto size = recorded("secret/data/app/x");
    REQUIRE(size.has_value());
    CHECK(*size == bytes.size());
    auto st = d.files->stat(d.root, "secret/app/x");
    REQUIRE(st.ok());
    CHECK(st->size == bytes.size());
    // A cat's read: the stored rendering handed over as it is.
    std::optional<engine::SecureString> rendered;
    engine::Request read{engine::Operation::Read, "secret/data/app/x", engine::Json::object(), d.root.token};
    read.parts.rendered = &rendered;
    auto r = d.core->handle(read);
    REQUIRE(r.ok());
    CHECK_FALSE(r.value().data.contains("data"));
    REQUIRE(rendered.has_value());
    CHECK(engine::to_plain(*rendered) == bytes);
    // And the API's read parses the same stored bytes into the same data.
    engine::Request api{engine::Operation::Read, "secret/data/app/x", engine::Json::object(), d.root.token};
    auto whole = d.core->handle(api);
    REQUIRE(whole.ok());
    CHECK(engine::render_pretty(whole.value().data["data"]) == *rendered);
    // NAME#KEY and NAME@data take the same bytes (parsed here for a field):
    // each is what the version's own view (NAME@N, which reads by version
    // and gets the reply) shows.
    const std::string n =
        std::to_string(engine::Json::parse(d.cat("secret/app/x@metadata"))["current_version"].get<int>());
    CHECK(d.cat("secret/app/x@data") == d.cat("secret/app/x@" + n));
    for (const auto& item : whole.value().data["data"].items()) {
      const std::string key = engine::to_plain(engine::SecureString(item.key().begin(), item.key().end()));
      INFO(key);
      const std::string field = d.cat("secret/app/x#" + key);
      CHECK(field == d.cat("secret/app/x@" + n + "#" + key));
      // Its size was recorded at the write, and a stat gives it.
      CHECK(recorded_field("secret/data/app/x", key) == field.size());
      auto fst = d.files->stat(d.root, "secret/app/x#" + key);
      REQUIRE(fst.ok());
      CHECK(fst->size == field.size());
      CHECK(d.files->stat(d.root, "secret/app/x@data#" + key)->size == field.size());
    }
    CHECK(d.cat_error("secret/app/x#absent") == d.cat_error("secret/app/x@" + n + "#absent"));
    CHECK_FALSE(recorded_field("secret/data/app/x", "absent").has_value());
    CHECK(d.files->stat(d.root, "secret/app/x#absent").error().code == ErrorCode::NotFound);
  }
  // Only the latest version's fields are recorded; an older version's stat
  // reads it, and gets the same size.
  d.put("secret/app/v", R"({"k":"first"})");
  d.put("secret/app/v", R"({"k":"second!"})");
  CHECK(recorded_field("secret/data/app/v", "k") == 7u);
  CHECK(d.files->stat(d.root, "secret/app/v#k")->size == 7u);
  CHECK(d.files->stat(d.root, "secret/app/v@1#k")->size == 5u);
  // A patch records the merged secret's fields.
  d.put("secret/app/v", R"({"k":null,"j":[1,2]})", WriteMode::Append);
  CHECK_FALSE(recorded_field("secret/data/app/v", "k").has_value());
  CHECK(recorded_field("secret/data/app/v", "j") == 5u);
  CHECK(d.files->stat(d.root, "secret/app/v#j")->size == d.cat("secret/app/v#j").size());
  CHECK(d.files->stat(d.root, "secret/app/v#k").error().code == ErrorCode::NotFound);
  // A secret past the recorded bounds: no sizes, and a stat still tells
  // the truth (it reads the field).
  engine::Json many = engine::Json::object();
  for (int i = 0; i < 40; ++i) many[engine::to_secure("f" + std::to_string(i))] = engine::to_secure("value" + std::to_string(i));
  d.put("secret/app/many", engine::to_plain(engine::SecureString(many.dump())));
  CHECK_FALSE(recorded_field("secret/data/app/many", "f7").has_value());
  CHECK(d.files->stat(d.root, "secret/app/many#f7")->size == 6u);
  CHECK(d.cat("secret/app/many#f7") == "value7");
  engine::Json long_names = engine::Json::object();  // 30 fields, but 1,200 bytes of names
  for (int i = 0; i < 30; ++i) long_names[engine::to_secure(std::string(38, 'n') + std::to_string(10 + i))] = "22";
  d.put("secret/app/long", engine::to_plain(engine::SecureString(long_names.dump())));
  const std::string long_name = std::string(38, 'n') + "15";
  CHECK_FALSE(recorded_field("secret/data/app/long", long_name).has_value());
  CHECK(d.files->stat(d.root, "secret/app/long#" + long_name)->size == 2u);
  // A patch records the merged secret's size.
  d.put("secret/app/x", R"({"a":"1","b":"2"})");
  d.put("secret/app/x", R"({"b":null,"c":"three"})", WriteMode::Append);
  CHECK(recorded("secret/data/app/x") == d.cat("secret/app/x").size());
  CHECK(d.files->stat(d.root, "secret/app/x")->size == d.cat("secret/app/x").size());
  // Deleted: absent, as the read says.
  REQUIRE(d.files->remove(d.root, "secret/app/x").ok());
  std::optional<std::uint64_t> none;
  engine::Request gone{engine::Operation::Read, "secret/data/app/x", engine::Json::object(), d.root.token};
  gone.parts.rendered_size = &none;
  CHECK(d.core->handle(gone).error().code == ErrorCode::NotFound);
  CHECK_FALSE(none.has_value());
  CHECK(d.files->stat(d.root, "secret/app/x").error().code == ErrorCode::NotFound);
}

TEST_CASE("file view: a secret whose rendering is stored compact reads and stats the same", "[fileview][kv]") {
  DevCore d;
  engine::Json deep = engine::Json::array();
  for (int i = 0; i < 40000; ++i) deep.push_back(1);
  for (int depth = 0; depth < 58; ++depth) deep = engine::Json::array({std::move(deep)});
  engine::Json data = engine::Json::object();
  data["a"] = deep;
  d.put("secret/deep", engine::to_plain(engine::SecureString(data.dump())));
  const std::string bytes = d.cat("secret/deep");
  CHECK(bytes == engine::to_plain(engine::render_pretty(data)));
  CHECK(d.files->stat(d.root, "secret/deep")->size == bytes.size());
  // The bytes stored are not the rendering: the reply carries the data.
  std::optional<engine::SecureString> rendered;
  engine::Request read{engine::Operation::Read, "secret/data/deep", engine::Json::object(), d.root.token};
  read.parts.rendered = &rendered;
  auto r = d.core->handle(read);
  REQUIRE(r.ok());
  CHECK_FALSE(rendered.has_value());
  CHECK(r.value().data["data"] == data);
}
