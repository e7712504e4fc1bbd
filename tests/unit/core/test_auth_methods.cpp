// SPDX-License-Identifier: MPL-2.0
// Auth methods through Core::handle: sys/auth, userpass, AppRole, logins
// turned into tokens (vault-semantics §9.5, §10).
#include <atomic>
#include <regex>
#include <thread>

#include <catch2/catch.hpp>

#include "engine/auth/approle.hpp"
#include "engine/auth/userpass.hpp"
#include "engine/storage/serial.hpp"
#include "engine/storage/memory_storage.hpp"
#include "tests/unit/core/authz_support.hpp"
#include "tests/unit/core/core_test_access.hpp"

using namespace coffer_test;
using engine::ErrorCode;
using engine::Json;
using engine::Operation;

namespace {

std::string str(const Json& j) { return engine::to_plain(j.get_ref<const engine::SecureString&>()); }

Json ok(const engine::Result<engine::Response>& r) {
  if (!r.ok()) FAIL("request failed: " << r.error().message);
  return r.value().data;
}

std::string message_of(const engine::Result<engine::Response>& r) {
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}

// A login with no token, as a caller who has none yet.
engine::Result<engine::Response> login(DevCore& d, const std::string& path, Json body) {
  return api(d, "", Operation::Update, path, std::move(body));
}

std::string client_token(const engine::Result<engine::Response>& r) { return str(ok(r)["auth"]["client_token"]); }

// A dev core whose failed logins are not slowed down (loops of failures).
struct FastFailCore : DevCore {
  FastFailCore() {
    engine::CoreOptions opts{"root", true};
    opts.failed_login_delay = std::chrono::milliseconds(0);
    auto opened = engine::Core::open(std::make_unique<engine::MemoryStorage>(), opts);
    REQUIRE(opened.ok());
    files.reset();
    core = std::move(opened).value();
    files = std::make_unique<engine::FileView>(*core);
  }
};

void enable(DevCore& d, const std::string& ns, const std::string& path, const std::string& type) {
  ok(api(d, "root", Operation::Update, ns + "sys/auth/" + path, Json{{"type", type}}));
}

}  // namespace

TEST_CASE("sys/auth enables, lists and disables auth methods per namespace", "[auth]") {
  DevCore d;
  REQUIRE(d.files->make_dir(d.root, "ns1").ok());
  ok(api(d, "root", Operation::Update, "ns1/sys/auth/userpass", Json{{"type", "userpass"}, {"description", "people"}}));
  ok(api(d, "root", Operation::Update, "ns1/sys/auth/apps/approle", Json{{"type", "approle"}}));

  Json table = ok(api(d, "root", Operation::Read, "ns1/sys/auth"));
  REQUIRE(table.contains("token/"));
  REQUIRE(table.contains("userpass/"));
  REQUIRE(table.contains("apps/approle/"));
  CHECK(str(table["userpass/"]["type"]) == "userpass");
  CHECK(str(table["userpass/"]["description"]) == "people");
  CHECK(std::regex_match(str(table["userpass/"]["accessor"]), std::regex("auth_userpass_[0-9a-f]{8}")));
  CHECK(std::regex_match(str(table["apps/approle/"]["accessor"]), std::regex("auth_approle_[0-9a-f]{8}")));
  CHECK(std::regex_match(str(table["token/"]["accessor"]), std::regex("auth_token_[0-9a-f]{8}")));
  CHECK(str(ok(api(d, "root", Operation::Read, "ns1/sys/auth/userpass"))["accessor"]) ==
        str(table["userpass/"]["accessor"]));
  CHECK(ok(api(d, "root", Operation::List, "ns1/sys/auth"))["keys"] == Json::array({"apps/", "token", "userpass"}));
  // Listing a mount's own path lists nothing below it (the file_view fuzzer
  // found an out-of-bounds trim here).
  CHECK(ok(api(d, "root", Operation::List, "ns1/sys/auth/userpass/"))["keys"] == Json::array());
  ok(api(d, "root", Operation::Update, "ns1/sys/mounts/kt", Json{{"type", "kv-v2"}}));
  CHECK(ok(api(d, "root", Operation::List, "ns1/sys/mounts/kt/"))["keys"] == Json::array());

  // Auth mounts are not secrets engines, and other namespaces do not see them.
  Json mounts = ok(api(d, "root", Operation::Read, "ns1/sys/mounts"));
  CHECK_FALSE(mounts.contains("auth/userpass/"));
  CHECK(code_of(api(d, "root", Operation::Delete, "ns1/sys/mounts/auth/userpass")) == ErrorCode::NotFound);
  CHECK_FALSE(ok(api(d, "root", Operation::Read, "sys/auth")).contains("userpass/"));

  // Bad input changes nothing.
  CHECK(code_of(api(d, "root", Operation::Update, "ns1/sys/auth/userpass", Json{{"type", "userpass"}})) ==
        ErrorCode::AlreadyExists);
  CHECK(message_of(api(d, "root", Operation::Update, "ns1/sys/auth/x", Json{{"type", "ldapx"}}))
            .find("unknown auth method type") != std::string::npos);
  CHECK(code_of(api(d, "root", Operation::Update, "ns1/sys/auth/token", Json{{"type", "userpass"}})) ==
        ErrorCode::InvalidArgument);
  CHECK(code_of(api(d, "root", Operation::Update, "ns1/sys/auth/y", Json::object())) == ErrorCode::InvalidArgument);
  CHECK(code_of(api(d, "root", Operation::Update, "ns1/sys/auth/z", Json{{"type", "userpass"}, {"bogus", 1}})) ==
        ErrorCode::InvalidArgument);
  CHECK(code_of(api(d, "root", Operation::Delete, "ns1/sys/auth/token")) == ErrorCode::InvalidArgument);
  CHECK(ok(api(d, "root", Operation::List, "ns1/sys/auth"))["keys"] == Json::array({"apps/", "token", "userpass"}));

  // Enabling needs sudo on sys/auth/* (root-protected).
  d.put("ns1/sys/policies/acl/almost", "path \"sys/auth/*\" { capabilities = [\"create\", \"update\", \"read\"] }\n");
  const std::string almost = make_token(d, R"({"policies":["almost"]})", "ns1/");
  CHECK(code_of(api(d, almost, Operation::Update, "ns1/sys/auth/up2", Json{{"type", "userpass"}})) ==
        ErrorCode::PermissionDenied);

  // The token store still answers at auth/token/.
  CHECK(ok(api(d, "root", Operation::Read, "auth/token/lookup-self"))["policies"] == Json::array({"root"}));

  ok(api(d, "root", Operation::Delete, "ns1/sys/auth/userpass"));
  CHECK_FALSE(ok(api(d, "root", Operation::Read, "ns1/sys/auth")).contains("userpass/"));
  ok(api(d, "root", Operation::Delete, "ns1/sys/auth/userpass"));  // nothing there: fine, as Vault
}

TEST_CASE("userpass: users, Argon2id passwords, logins that become tokens", "[auth]") {
  DevCore d;
  REQUIRE(d.files->make_dir(d.root, "edu").ok());
  enable(d, "edu/", "userpass", "userpass");
  CHECK(message_of(api(d, "root", Operation::Update, "edu/auth/userpass/users/bob", Json{{"token_policies", "dev"}})) ==
        "missing password");
  ok(api(d, "root", Operation::Update, "edu/auth/userpass/users/bob",
         Json{{"password", "s3cret-horse"}, {"token_policies", "dev,ops"}, {"token_ttl", "1h"}}));

  // Reads never show the password; the store holds an Argon2id hash only.
  Json user = ok(api(d, "root", Operation::Read, "edu/auth/userpass/users/bob"));
  CHECK_FALSE(user.contains("password"));
  CHECK(user["token_policies"] == Json::array({"dev", "ops"}));
  CHECK(user["token_ttl"] == 3600);
  const std::string uuid = str(ok(api(d, "root", Operation::Read, "edu/sys/auth/userpass"))["uuid"]);
  auto raw = internals(*d.core).barrier.get("logical/" + uuid + "/user/bob");
  REQUIRE(raw.ok());
  REQUIRE(raw.value().has_value());
  auto entry = engine::decode_record<engine::auth::UserEntry>(
      engine::ByteView(raw.value()->data(), raw.value()->size()), "user");
  REQUIRE(entry.ok());
  CHECK(entry->password_hash.rfind("$argon2id$", 0) == 0);
  CHECK(std::string(engine::as_view(*raw.value())).find("s3cret-horse") == std::string::npos);
  CHECK(ok(api(d, "root", Operation::List, "edu/auth/userpass/users/"))["keys"] == Json::array({"bob"}));

  // Login without a token; the reply is Vault's auth block.
  auto r = login(d, "edu/auth/userpass/login/bob", Json{{"password", "s3cret-horse"}});
  Json auth = ok(r)["auth"];
  const std::string token = str(auth["client_token"]);
  REQUIRE(r->issued_token.has_value());
  CHECK(engine::as_view(*r->issued_token) == token);
  CHECK(auth["token_policies"] == Json::array({"default", "dev", "ops"}));
  CHECK(auth["policies"] == Json::array({"default", "dev", "ops"}));
  CHECK(auth["metadata"]["username"] == "bob");
  CHECK(auth["lease_duration"] == 3600);
  CHECK(auth["renewable"] == true);
  CHECK(auth["orphan"] == true);
  CHECK_FALSE(str(auth["entity_id"]).empty());

  Json self = ok(api(d, token, Operation::Read, "edu/auth/token/lookup-self"));
  CHECK(self["display_name"] == "userpass-bob");
  CHECK(self["path"] == "auth/userpass/login/bob");
  CHECK(self["namespace_path"] == "edu/");
  CHECK(self["meta"]["username"] == "bob");
  CHECK(self["entity_id"] == auth["entity_id"]);
  CHECK(self["orphan"] == true);

  // The same alias finds the same entity next time; usernames are lower-cased.
  CHECK(ok(login(d, "edu/auth/userpass/login/BOB", Json{{"password", "s3cret-horse"}}))["auth"]["entity_id"] ==
        auth["entity_id"]);
  auto alias = internals(*d.core).identity.entity_alias_by_factors(
      str(ok(api(d, "root", Operation::Read, "edu/sys/auth/userpass"))["accessor"]), "bob");
  REQUIRE(alias.has_value());
  CHECK(alias->first->id == str(auth["entity_id"]));

  // Failures say only this, for a wrong password and an unknown user alike.
  CHECK(message_of(login(d, "edu/auth/userpass/login/bob", Json{{"password", "wrong"}})) ==
        "invalid username or password");
  CHECK(code_of(login(d, "edu/auth/userpass/login/bob", Json{{"password", "wrong"}})) == ErrorCode::InvalidArgument);
  CHECK(message_of(login(d, "edu/auth/userpass/login/nobody", Json{{"password", "x"}})) ==
        "invalid username or password");
  CHECK(message_of(login(d, "edu/auth/userpass/login/bob", Json::object())) == "missing password");

  // A new password replaces the old one.
  ok(api(d, "root", Operation::Update, "edu/auth/userpass/users/bob/password", Json{{"password", "new-one"}}));
  CHECK(code_of(login(d, "edu/auth/userpass/login/bob", Json{{"password", "s3cret-horse"}})) ==
        ErrorCode::InvalidArgument);
  ok(login(d, "edu/auth/userpass/login/bob", Json{{"password", "new-one"}}));

  // Only logins answer without a token; the rest is under the ACL.
  CHECK(code_of(api(d, "", Operation::Read, "edu/auth/userpass/users/bob")) == ErrorCode::PermissionDenied);
  CHECK(code_of(api(d, token, Operation::Update, "edu/auth/userpass/users/eve", Json{{"password", "x"}})) ==
        ErrorCode::PermissionDenied);

  // A login never makes a root token.
  ok(api(d, "root", Operation::Update, "edu/auth/userpass/users/rooty",
         Json{{"password", "p"}, {"token_policies", "root"}}));
  CHECK(message_of(login(d, "edu/auth/userpass/login/rooty", Json{{"password", "p"}})) ==
        "auth methods cannot create root tokens");

  ok(api(d, "root", Operation::Delete, "edu/auth/userpass/users/bob"));
  CHECK(code_of(login(d, "edu/auth/userpass/login/bob", Json{{"password", "new-one"}})) == ErrorCode::InvalidArgument);
}

TEST_CASE("disabling an auth method revokes its logins' tokens and removes its data", "[auth]") {
  DevCore d;
  enable(d, "", "userpass", "userpass");
  ok(api(d, "root", Operation::Update, "auth/userpass/users/amy", Json{{"password", "pw"}}));
  const std::string token = client_token(login(d, "auth/userpass/login/amy", Json{{"password", "pw"}}));
  const std::string other = make_token(d, "{}");
  ok(api(d, token, Operation::Read, "auth/token/lookup-self"));
  ok(api(d, "root", Operation::Delete, "sys/auth/userpass"));
  CHECK(code_of(api(d, token, Operation::Read, "auth/token/lookup-self")) == ErrorCode::PermissionDenied);
  ok(api(d, other, Operation::Read, "auth/token/lookup-self"));  // other tokens live on
  enable(d, "", "userpass", "userpass");
  CHECK(code_of(login(d, "auth/userpass/login/amy", Json{{"password", "pw"}})) == ErrorCode::InvalidArgument);
  CHECK(ok(api(d, "root", Operation::List, "auth/userpass/users/"))["keys"].empty());
}

TEST_CASE("approle: roles, role ids, secret ids, logins", "[auth]") {
  DevCore d;
  REQUIRE(d.files->make_dir(d.root, "apps").ok());
  enable(d, "apps/", "approle", "approle");
  const std::string base = "apps/auth/approle/";
  CHECK(message_of(api(d, "root", Operation::Update, base + "role/web", Json{{"bind_secret_id", false}})) ==
        "at least one constraint should be enabled on the role");
  ok(api(d, "root", Operation::Update, base + "role/web",
         Json{{"token_policies", "web"}, {"secret_id_num_uses", 2}, {"token_ttl", "20m"}}));
  Json role = ok(api(d, "root", Operation::Read, base + "role/web"));
  CHECK(role["bind_secret_id"] == true);
  CHECK(role["secret_id_num_uses"] == 2);
  CHECK(role["token_policies"] == Json::array({"web"}));
  CHECK(role["token_ttl"] == 1200);
  CHECK(ok(api(d, "root", Operation::List, base + "role/"))["keys"] == Json::array({"web"}));

  const std::string role_id = str(ok(api(d, "root", Operation::Read, base + "role/web/role-id"))["role_id"]);
  CHECK(std::regex_match(role_id, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}")));
  Json sid = ok(api(d, "root", Operation::Update, base + "role/web/secret-id", Json{{"metadata", R"({"host":"h1"})"}}));
  const std::string secret_id = str(sid["secret_id"]);
  const std::string accessor = str(sid["secret_id_accessor"]);
  CHECK(sid["secret_id_num_uses"] == 2);
  CHECK(ok(api(d, "root", Operation::List, base + "role/web/secret-id/"))["keys"] == Json::array({accessor}));
  // Read says the same (so role/web@secret-id is a file in the file view).
  CHECK(ok(api(d, "root", Operation::Read, base + "role/web/secret-id"))["keys"] == Json::array({accessor}));
  // A name no role can have reads as not found (the file view then tries suffixes).
  CHECK(code_of(api(d, "root", Operation::Read, base + "role/web@role-id#role_id")) == ErrorCode::NotFound);

  // Use 1 of 2.
  auto r = login(d, base + "login", Json{{"role_id", role_id}, {"secret_id", secret_id}});
  Json auth = ok(r)["auth"];
  CHECK(auth["token_policies"] == Json::array({"default", "web"}));
  CHECK(auth["metadata"]["role_name"] == "web");
  CHECK(auth["metadata"]["host"] == "h1");
  CHECK(auth["lease_duration"] == 1200);
  Json self = ok(api(d, str(auth["client_token"]), Operation::Read, "apps/auth/token/lookup-self"));
  CHECK(self["display_name"] == "approle");
  CHECK(self["path"] == "auth/approle/login");
  // The alias is the role id, not the role name.
  const std::string mount_accessor = str(ok(api(d, "root", Operation::Read, "apps/sys/auth/approle"))["accessor"]);
  auto alias = internals(*d.core).identity.entity_alias_by_factors(mount_accessor, role_id);
  REQUIRE(alias.has_value());
  CHECK(alias->first->id == str(auth["entity_id"]));

  Json looked =
      ok(api(d, "root", Operation::Update, base + "role/web/secret-id/lookup", Json{{"secret_id", secret_id}}));
  CHECK(looked["secret_id_num_uses"] == 1);
  CHECK(looked["secret_id_accessor"] == accessor);
  CHECK(looked["metadata"]["host"] == "h1");
  // Use 2 of 2, then it is gone.
  ok(login(d, base + "login", Json{{"role_id", role_id}, {"secret_id", secret_id}}));
  CHECK(message_of(login(d, base + "login", Json{{"role_id", role_id}, {"secret_id", secret_id}})) ==
        "invalid role or secret ID");
  CHECK(ok(api(d, "root", Operation::Update, base + "role/web/secret-id/lookup", Json{{"secret_id", secret_id}}))
            .empty());
  CHECK(ok(api(d, "root", Operation::List, base + "role/web/secret-id/"))["keys"].empty());

  // Custom secret ids; destroy by id and by accessor.
  Json custom =
      ok(api(d, "root", Operation::Update, base + "role/web/custom-secret-id", Json{{"secret_id", "my-own-secret"}}));
  CHECK(custom["secret_id"] == "my-own-secret");
  CHECK(code_of(api(d, "root", Operation::Update, base + "role/web/custom-secret-id",
                    Json{{"secret_id", "my-own-secret"}})) == ErrorCode::InvalidArgument);
  ok(login(d, base + "login", Json{{"role_id", role_id}, {"secret_id", "my-own-secret"}}));
  ok(api(d, "root", Operation::Update, base + "role/web/secret-id/destroy", Json{{"secret_id", "my-own-secret"}}));
  CHECK(code_of(login(d, base + "login", Json{{"role_id", role_id}, {"secret_id", "my-own-secret"}})) ==
        ErrorCode::InvalidArgument);
  Json second = ok(api(d, "root", Operation::Update, base + "role/web/secret-id", Json::object()));
  Json by_accessor = ok(api(d, "root", Operation::Update, base + "role/web/secret-id-accessor/lookup",
                            Json{{"secret_id_accessor", second["secret_id_accessor"]}}));
  CHECK(by_accessor["secret_id_accessor"] == second["secret_id_accessor"]);
  ok(api(d, "root", Operation::Update, base + "role/web/secret-id-accessor/destroy",
         Json{{"secret_id_accessor", second["secret_id_accessor"]}}));
  CHECK(code_of(login(d, base + "login", Json{{"role_id", role_id}, {"secret_id", second["secret_id"]}})) ==
        ErrorCode::InvalidArgument);
  CHECK(message_of(api(d, "root", Operation::Update, base + "role/web/secret-id-accessor/lookup",
                       Json{{"secret_id_accessor", "nope"}})) ==
        "failed to find accessor entry for secret_id_accessor: \"nope\"");

  // Secret ids are stored hashed: the raw id appears nowhere in the store.
  Json third = ok(api(d, "root", Operation::Update, base + "role/web/secret-id", Json::object()));
  const std::string uuid = str(ok(api(d, "root", Operation::Read, "apps/sys/auth/approle"))["uuid"]);
  auto keys = internals(*d.core).barrier.list("logical/" + uuid + "/secret_id/web/");
  REQUIRE(keys.ok());
  REQUIRE(keys->size() == 1);
  CHECK(keys->front() != str(third["secret_id"]));
}

TEST_CASE("approle: bad role ids and secret ids are refused", "[auth]") {
  DevCore d;
  enable(d, "", "approle", "approle");
  enable(d, "", "other", "approle");
  ok(api(d, "root", Operation::Update, "auth/approle/role/r", Json{{"role_id", "fixed-role-id"}}));
  ok(api(d, "root", Operation::Update, "auth/other/role/r", Json::object()));
  const std::string secret =
      str(ok(api(d, "root", Operation::Update, "auth/approle/role/r/secret-id", Json::object()))["secret_id"]);
  CHECK(str(ok(api(d, "root", Operation::Read, "auth/approle/role/r/role-id"))["role_id"]) == "fixed-role-id");

  CHECK(message_of(login(d, "auth/approle/login", Json{{"secret_id", secret}})) == "missing role_id");
  CHECK(message_of(login(d, "auth/approle/login", Json{{"role_id", ""}, {"secret_id", secret}})) == "missing role_id");
  CHECK(message_of(login(d, "auth/approle/login", Json{{"role_id", "fixed-role-id"}})) == "missing secret_id");
  const std::string huge(100000, 'r');
  CHECK(code_of(login(d, "auth/approle/login", Json{{"role_id", huge}, {"secret_id", secret}})) ==
        ErrorCode::InvalidArgument);
  CHECK(message_of(login(d, "auth/approle/login", Json{{"role_id", "no-such-role"}, {"secret_id", secret}})) ==
        "invalid role or secret ID");
  // The right role id on the wrong mount.
  CHECK(message_of(login(d, "auth/other/login", Json{{"role_id", "fixed-role-id"}, {"secret_id", secret}})) ==
        "invalid role or secret ID");
  // Custom role ids: not empty, not huge, not taken.
  CHECK(message_of(api(d, "root", Operation::Update, "auth/approle/role/r/role-id", Json{{"role_id", ""}})) ==
        "missing role_id");
  CHECK(code_of(api(d, "root", Operation::Update, "auth/approle/role/r/role-id", Json{{"role_id", huge}})) ==
        ErrorCode::InvalidArgument);
  ok(api(d, "root", Operation::Update, "auth/approle/role/s", Json::object()));
  CHECK(message_of(api(d, "root", Operation::Update, "auth/approle/role/s/role-id",
                       Json{{"role_id", "fixed-role-id"}})) == "role_id already in use");
  CHECK(message_of(api(d, "root", Operation::Update, "auth/approle/role/t", Json{{"role_id", "fixed-role-id"}})) ==
        "role_id already in use");
  CHECK(code_of(api(d, "root", Operation::Read, "auth/approle/role/t")) == ErrorCode::NotFound);
  // A new role id replaces the old one.
  ok(api(d, "root", Operation::Update, "auth/approle/role/r/role-id", Json{{"role_id", "second-id"}}));
  CHECK(code_of(login(d, "auth/approle/login", Json{{"role_id", "fixed-role-id"}, {"secret_id", secret}})) ==
        ErrorCode::InvalidArgument);
  ok(login(d, "auth/approle/login", Json{{"role_id", "second-id"}, {"secret_id", secret}}));
  // Deleting the role takes its ids along.
  ok(api(d, "root", Operation::Delete, "auth/approle/role/r"));
  CHECK(code_of(login(d, "auth/approle/login", Json{{"role_id", "second-id"}, {"secret_id", secret}})) ==
        ErrorCode::InvalidArgument);
}

TEST_CASE("approle: an expired secret id is refused and removed", "[auth]") {
  // Driven through the backend with a chosen clock: no waiting.
  engine::MemoryStorage storage;
  engine::auth::AppRoleBackend backend;
  const engine::TimePoint t0 = engine::Clock::now();
  auto call = [&](Operation op, const std::string& path, const Json& body, engine::TimePoint now) {
    return backend.handle(engine::BackendRequest{op, path, body, storage, now});
  };
  ok(call(Operation::Update, "role/r", Json{{"secret_id_ttl", "10m"}}, t0));
  const std::string role_id = str(ok(call(Operation::Read, "role/r/role-id", Json::object(), t0))["role_id"]);
  Json sid = ok(call(Operation::Update, "role/r/secret-id", Json::object(), t0));
  CHECK(sid["secret_id_ttl"] == 600);
  CHECK(message_of(call(Operation::Update, "role/r/secret-id", Json{{"ttl", "1h"}}, t0)) ==
        "ttl cannot be longer than the role's secret_id_ttl");
  const Json creds{{"role_id", role_id}, {"secret_id", sid["secret_id"]}};
  auto fine = call(Operation::Update, "login", creds, t0 + std::chrono::minutes(9));
  REQUIRE(fine.ok());
  REQUIRE(fine->login.has_value());
  CHECK(fine->login->alias_name == role_id);
  CHECK(message_of(call(Operation::Update, "login", creds, t0 + std::chrono::minutes(10))) ==
        "invalid role or secret ID");
  // Gone for good, even if the clock went back.
  CHECK(message_of(call(Operation::Update, "login", creds, t0)) == "invalid role or secret ID");
  CHECK(ok(call(Operation::List, "role/r/secret-id", Json::object(), t0))["keys"].empty());
}

TEST_CASE("a disabled entity cannot log in", "[auth]") {
  DevCore d;
  enable(d, "", "userpass", "userpass");
  ok(api(d, "root", Operation::Update, "auth/userpass/users/dan", Json{{"password", "pw"}}));
  Json auth = ok(login(d, "auth/userpass/login/dan", Json{{"password", "pw"}}))["auth"];
  auto entity = internals(*d.core).identity.entity_by_id(str(auth["entity_id"]));
  REQUIRE(entity);
  engine::EntityRecord disabled = *entity;
  disabled.disabled = true;
  REQUIRE(internals(*d.core).identity.put_entity(disabled, engine::Clock::now()).ok());
  CHECK(code_of(login(d, "auth/userpass/login/dan", Json{{"password", "pw"}})) == ErrorCode::PermissionDenied);
}

TEST_CASE("failed logins are slowed down, outside the core lock", "[auth]") {
  SECTION("a failure takes at least the configured delay") {
    engine::CoreOptions opts{"root", true};
    opts.failed_login_delay = std::chrono::milliseconds(300);
    auto opened = engine::Core::open(std::make_unique<engine::MemoryStorage>(), opts);
    REQUIRE(opened.ok());
    auto& core = *opened.value();
    engine::Request enable_req{Operation::Update, "sys/auth/approle", Json{{"type", "approle"}},
                               engine::to_secure("root")};
    REQUIRE(core.handle(enable_req).ok());
    engine::Request bad{Operation::Update, "auth/approle/login", Json{{"role_id", "x"}, {"secret_id", "y"}}, {}};
    const auto start = std::chrono::steady_clock::now();
    REQUIRE_FALSE(core.handle(bad).ok());
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(300));
  }
  SECTION("10,000 failed logins leave others served") {
    FastFailCore d;
    enable(d, "", "approle", "approle");
    enable(d, "", "userpass", "userpass");
    ok(api(d, "root", Operation::Update, "auth/userpass/users/ok", Json{{"password", "right"}}));
    d.put("secret/app", R"({"k":"v"})");
    std::atomic<int> failures{0};
    std::thread attacker([&] {
      // AppRole guesses are cheap to refuse; userpass ones cost an Argon2id
      // verification each (known user or not), so only a few of those.
      for (int i = 0; i < 10000; ++i) {
        auto r = i % 1000 != 0 ? login(d, "auth/approle/login",
                                       Json{{"role_id", "guess-" + std::to_string(i)}, {"secret_id", "s"}})
                               : login(d, "auth/userpass/login/ok", Json{{"password", "wrong"}});
        if (!r.ok()) ++failures;
      }
    });
    int served = 0;
    for (int i = 0; i < 200; ++i) {
      if (api(d, "root", Operation::Read, "secret/data/app").ok()) ++served;
    }
    attacker.join();
    CHECK(served == 200);
    CHECK(failures == 10000);
    // Ten wrong passwords lock the rightful user (Vault's user lockout: 5
    // by default); an unlock lets them in again.
    CHECK(code_of(login(d, "auth/userpass/login/ok", Json{{"password", "right"}})) == ErrorCode::PermissionDenied);
    const std::string acc = str(ok(api(d, "root", Operation::Read, "sys/auth/userpass"))["accessor"]);
    ok(api(d, "root", Operation::Update, "sys/locked-users/" + acc + "/unlock/ok"));
    ok(login(d, "auth/userpass/login/ok", Json{{"password", "right"}}));
  }
}
