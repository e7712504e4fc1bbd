// SPDX-License-Identifier: MPL-2.0
#include "authz_support.hpp"

using coffer_test::DevCore;
using engine::ErrorCode;
using engine::WriteMode;
using V = std::vector<std::string>;

TEST_CASE("file view: a dev root shows sys, auth, identity and secret", "[fileview]") {
  DevCore d;
  CHECK(d.ls("") == V{"auth/", "identity/", "secret/", "sys/"});
  CHECK(d.ls("sys") == V{"audit/", "audit-hash/", "auth/", "capabilities", "capabilities-accessor", "capabilities-self",
                         "config/", "health", "init", "locked-users/", "monitor", "mounts/", "namespaces/", "policies/", "seal",
                         "seal-status", "unseal"});
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
  CHECK(d.ls("secret") == V{"x"});  // metadata remains, as `vault kv list` shows
  auto st = d.files->stat(d.root, "secret/x");
  REQUIRE(st.ok());
  CHECK(st->size == 0);
  d.put("secret/x@undelete", "versions=2\n");
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
  CHECK(d.files->write(stranger, "secret/s", "a=2\n", WriteMode::Replace).error().code ==
        ErrorCode::PermissionDenied);
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
  const std::string writer =
      coffer_test::make_token(d, "{\"policies\":[\"entity-writer\"]}");
  d.put("sys/policies/acl/entity-writer", "path \"identity/entity\" { capabilities = [\"update\"] }\n");
  CHECK(d.files->write(coffer_test::as(writer), "identity/entity@data", "name=amy\n", WriteMode::Replace).ok());
  CHECK(d.files->write(coffer_test::as(writer), "identity/group@data", "name=g\n", WriteMode::Replace).error().code ==
        ErrorCode::PermissionDenied);
}
