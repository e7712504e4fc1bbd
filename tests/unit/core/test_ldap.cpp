// SPDX-License-Identifier: MPL-2.0
// The ldap auth method: the escaping and templates that keep user input out
// of filters and DNs, the config's checks, and logins through Core::handle
// against a real slapd (tests/ldap/slapd.sh, a throwaway directory on
// loopback): the directory wait holds no core lock, an auth method
// disabled meanwhile makes no token, and renewal re-reads the groups.
#include <lber.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>

#include "engine/auth/ldap_client.hpp"
#include "tests/ldap/test_directory.hpp"
#include "tests/unit/core/authz_support.hpp"

using namespace coffer_test;
using engine::ErrorCode;
using engine::Json;
using engine::Operation;
using namespace engine::auth;

namespace {

std::string str(const Json& j) { return engine::to_plain(j.get_ref<const engine::SecureString&>()); }

Json ok(const engine::Result<engine::Response>& r) {
  if (!r.ok()) FAIL("request failed: " << r.error().message);
  return r.value().data;
}

// ---- A real directory --------------------------------------------------------------

// The test directory of tests/ldap (users alice, bob, carol, frank, "alice*";
// groups dev (alice, bob, frank), engineering (dev), admins (bob)).
using Directory = coffer_test::TestDirectory;

// ldap enabled at auth/ldap/ in the root namespace, pointed at dir.
void enable_ldap(DevCore& d, Directory& dir, Json extra = Json::object()) {
  ok(api(d, "root", Operation::Update, "sys/auth/ldap", Json{{"type", "ldap"}}));
  Json cfg{{"url", dir["LDAP_URL"]},
           {"binddn", dir["LDAP_ADMIN_DN"]},
           {"bindpass", dir["LDAP_ADMIN_PW"]},
           {"userdn", "ou=people,dc=example,dc=org"},
           {"userattr", "uid"},
           {"groupdn", "ou=groups,dc=example,dc=org"},
           {"groupfilter", "(member={{.UserDN}})"}};
  for (auto& [k, v] : extra.items()) cfg[k] = v;
  ok(api(d, "root", Operation::Update, "auth/ldap/config", cfg));
}

engine::Result<engine::Response> ldap_login(DevCore& d, const std::string& user, const std::string& password) {
  return api(d, "", Operation::Update, "auth/ldap/login/" + user, Json{{"password", password}});
}

}  // namespace

// ---- Escaping, templates, names ---------------------------------------------------------

TEST_CASE("ldap: filter values are escaped as RFC 4515 wants", "[ldap]") {
  CHECK(ldap_escape_filter("alice") == "alice");
  CHECK(ldap_escape_filter("*") == "\\2a");
  CHECK(ldap_escape_filter("alice)(uid=*") == "alice\\29\\28uid=\\2a");
  CHECK(ldap_escape_filter("a\\b") == "a\\5cb");
  CHECK(ldap_escape_filter(std::string("a\0b", 3)) == "a\\00b");
  CHECK(ldap_escape_filter("\xc3\xa9") == "\\c3\\a9");  // é, byte by byte, as go-ldap
}

TEST_CASE("ldap: DN values are escaped as RFC 4514 wants", "[ldap]") {
  CHECK(ldap_escape_dn_value("alice").value() == "alice");
  // libldap writes the specials as hex pairs, which RFC 4514 allows.
  CHECK(ldap_escape_dn_value("a,ou=admins").value() == "a\\2Cou\\3Dadmins");
  CHECK(ldap_escape_dn_value("a+b").value() == "a\\2Bb");
  CHECK(ldap_escape_dn_value("#x").value() == "\\23x");
  // Whatever goes in comes back out of the DN as one value, unchanged.
  for (const std::string v : {"a,ou=admins", "x+cn=y", " lead", "trail ", "#x", "a\\b", "q\"uote", "<>;"}) {
    INFO(v);
    CHECK(ldap_group_cn("cn=" + ldap_escape_dn_value(v).value() + ",dc=x") == v);
  }
  CHECK(ldap_escape_dn_value(std::string("a\0b", 3)).error().code == ErrorCode::InvalidArgument);
  // A truncated UTF-8 sequence made libldap read past the value (the fuzzer's find).
  CHECK(ldap_escape_dn_value("ab\xc9").error().code == ErrorCode::InvalidArgument);
  CHECK(ldap_escape_dn_value("caf\xc3\xa9").ok());
}

TEST_CASE("ldap: Go-template filters know only their fields", "[ldap]") {
  CHECK(render_ldap_template("(member={{.UserDN}})", {{"UserDN", "uid=a,dc=x"}}).value() == "(member=uid=a,dc=x)");
  CHECK(render_ldap_template("(&(a={{ .Username }})(b={{.Username}}))", {{"Username", "u"}}).value() ==
        "(&(a=u)(b=u))");
  CHECK(render_ldap_template("(cn=plain)", {}).value() == "(cn=plain)");
  CHECK(render_ldap_template("{{.Nope}}", {{"UserDN", "x"}}).error().code == ErrorCode::InvalidArgument);
  CHECK(render_ldap_template("{{.UserDN", {{"UserDN", "x"}}).error().code == ErrorCode::InvalidArgument);
  CHECK(render_ldap_template("{{printf \"%s\" .UserDN}}", {{"UserDN", "x"}}).error().code ==
        ErrorCode::InvalidArgument);
  // A value is inserted as given: the escaping is the caller's, done once.
  CHECK(render_ldap_template("(uid={{.Username}})", {{"Username", ldap_escape_filter("*)(uid=*")}}).value() ==
        "(uid=\\2a\\29\\28uid=\\2a)");
}

TEST_CASE("ldap: a group's name is the first CN of its DN (Vault's getCN)", "[ldap]") {
  CHECK(ldap_group_cn("cn=dev,ou=groups,dc=example,dc=org") == "dev");
  CHECK(ldap_group_cn("CN=Training Admin,OU=Groups,DC=x") == "Training Admin");
  CHECK(ldap_group_cn("ou=teams,dc=x") == "ou=teams,dc=x");  // no CN: the DN itself
  CHECK(ldap_group_cn("dev") == "dev");                      // not a DN: as is
  CHECK(ldap_group_cn("cn=a\\,b,dc=x") == "a,b");
}

TEST_CASE("ldap: liblber frees its buffers through Coffer's zeroing functions", "[ldap]") {
  // ldap_client.cpp installs them before main; liblber takes memory
  // functions only once, so a second set is refused if they are in place.
  BerMemoryFunctions plain{[](ber_len_t n, void*) { return std::malloc(n); },
                           [](ber_len_t n, ber_len_t size, void*) { return std::calloc(n, size); },
                           [](void* p, ber_len_t n, void*) { return std::realloc(p, n); },
                           [](void* p, void*) { std::free(p); }};
  CHECK(ber_set_option(nullptr, LBER_OPT_MEMORY_FNS, &plain) == LBER_OPT_ERROR);
}

TEST_CASE("ldap: config writes are checked and bindpass is never shown", "[ldap]") {
  LdapConfig cfg;
  CHECK(parse_ldap_config(Json{{"url", "ldap://127.0.0.1:389,ldaps://h:636"},
                               {"bindpass", "s3cret"},
                               {"request_timeout", "5s"},
                               {"token_policies", "a,b"}},
                          cfg)
            .ok());
  CHECK(cfg.request_timeout == 5);
  CHECK(cfg.token.policies == std::vector<std::string>{"a", "b"});
  const std::string shown = engine::to_plain(show_ldap_config(cfg).dump());
  CHECK(shown.find("s3cret") == std::string::npos);
  CHECK(shown.find("bindpass") == std::string::npos);

  const LdapConfig before = cfg;
  auto refused = [&](Json body, const std::string& words) {
    INFO(engine::to_plain(body.dump()));
    auto st = parse_ldap_config(body, cfg);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == ErrorCode::InvalidArgument);
    CHECK(st.error().message.find(words) != std::string::npos);
    CHECK(cfg.url == before.url);  // nothing changed
  };
  refused(Json{{"url", "http://x"}}, "invalid LDAP scheme");
  refused(Json{{"url", ""}}, "url must not be empty");
  refused(Json{{"nope", 1}}, "unknown field \"nope\"");
  refused(Json{{"url", "ldap://x"}, {"groupfilter", "(member={{.Nope}})"}}, "invalid groupfilter");
  refused(Json{{"userfilter", "(uid={{.UserDN}})"}}, "invalid userfilter");
  refused(Json{{"tls_min_version", "ssl3"}}, "tls_min_version");
  refused(Json{{"tls_min_version", "tls13"}, {"tls_max_version", "tls12"}}, "tls_max_version");
  refused(Json{{"certificate", "not a pem"}}, "certificate");
  refused(Json{{"request_timeout", 0}}, "positive");
  refused(Json{{"use_token_groups", true}}, "not supported");
  refused(Json{{"binddn", std::string("cn=a\0b", 6)}}, "NUL");
}

// ---- Against slapd ------------------------------------------------------------------

TEST_CASE("ldap: a login waits on the directory without the core lock", "[ldap][slapd]") {
  Directory dir;
  DevCore d;
  enable_ldap(d, dir, Json{{"request_timeout", 4}, {"connection_timeout", 4}});
  ok(ldap_login(d, "alice", "alice-pw"));  // the directory answers

  dir.pause();  // accepts connections, answers nothing
  auto stuck = std::async(std::launch::async, [&] { return ldap_login(d, "alice", "alice-pw"); });
  // While that login waits, requests that need the core lock exclusively
  // (a new mount, a namespace) go through: were the lock held, they would
  // only finish once the login had timed out.
  // (The pause lets the login reach the directory first; what is checked
  // is the order of the two, not a duration.)
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ok(api(d, "root", Operation::Update, "sys/mounts/kv", Json{{"type", "kv-v2"}}));
  ok(api(d, "root", Operation::Update, "sys/namespaces/team"));
  INFO("slapd state " << dir.state());
  CHECK(stuck.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready);
  auto result = stuck.get();
  INFO("the login: " << (result.ok() ? std::string("succeeded") : result.error().message));
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == ErrorCode::TimedOut);
  dir.resume();
  ok(ldap_login(d, "alice", "alice-pw"));
}

TEST_CASE("ldap: an auth method disabled during a login makes no token", "[ldap][slapd]") {
  Directory dir;
  DevCore d;
  enable_ldap(d, dir, Json{{"request_timeout", 30}, {"connection_timeout", 30}});
  const Json before = ok(api(d, "root", Operation::List, "auth/token/accessors"));
  dir.pause();
  auto waiting = std::async(std::launch::async, [&] { return ldap_login(d, "alice", "alice-pw"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ok(api(d, "root", Operation::Delete, "sys/auth/ldap"));
  dir.resume();  // the directory now says yes, but the method is gone
  auto result = waiting.get();
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().message.find("was disabled during the login") != std::string::npos);
  CHECK(ok(api(d, "root", Operation::List, "auth/token/accessors")) == before);
}

TEST_CASE("ldap: renewal binds again and brings the groups up to date", "[ldap][slapd]") {
  Directory dir;
  DevCore d;
  enable_ldap(d, dir);
  const std::string accessor = str(ok(api(d, "root", Operation::Read, "sys/auth/ldap"))["accessor"]);
  // dev → external group "devs" with a group alias named after the cn.
  const std::string devs =
      str(ok(api(d, "root", Operation::Update, "identity/group/name/devs", Json{{"type", "external"}}))["id"]);
  ok(api(d, "root", Operation::Update, "identity/group-alias",
         Json{{"name", "dev"}, {"mount_accessor", accessor}, {"canonical_id", devs}}));
  ok(api(d, "root", Operation::Update, "auth/ldap/groups/admins", Json{{"policies", "admin"}}));

  const Json bob = ok(ldap_login(d, "bob", "bob-pw"))["auth"];
  const std::string token = str(bob["client_token"]);
  CHECK(bob["token_policies"] == Json::array({"admin", "default"}));
  const std::string entity = str(bob["entity_id"]);
  CHECK(ok(api(d, "root", Operation::Read, "identity/group/id/" + devs))["member_entity_ids"] == Json::array({entity}));

  // bob leaves dev: the renewal drops him from the external group.
  dir.modify(
      "dn: cn=dev,ou=groups,dc=example,dc=org\nchangetype: modify\ndelete: member\n"
      "member: uid=bob,ou=people,dc=example,dc=org\n");
  ok(api(d, token, Operation::Update, "auth/token/renew-self"));
  const Json members = ok(api(d, "root", Operation::Read, "identity/group/id/" + devs))["member_entity_ids"];
  CHECK((members.is_null() || members == Json::array()));

  // bob leaves admins: his token's policies would change, so no renewal.
  dir.modify(
      "dn: cn=admins,ou=groups,dc=example,dc=org\nchangetype: modify\nreplace: member\n"
      "member: uid=carol,ou=people,dc=example,dc=org\n");
  auto refused = api(d, token, Operation::Update, "auth/token/renew-self");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message == "policies have changed, not renewing");
  ok(api(d, token, Operation::Read, "auth/token/lookup-self"));  // the token itself lives on

  // The server gone: renewal fails, the token still works until it expires.
  dir.pause();
  ok(api(d, "root", Operation::Update, "auth/ldap/config", Json{{"request_timeout", 1}, {"connection_timeout", 1}}));
  auto silent = api(d, token, Operation::Update, "auth/token/renew-self");
  REQUIRE_FALSE(silent.ok());
  CHECK(silent.error().code == ErrorCode::TimedOut);
  ok(api(d, token, Operation::Read, "auth/token/lookup-self"));
}

TEST_CASE("ldap: names, aliases and binds follow Vault's settings", "[ldap][slapd]") {
  Directory dir;
  DevCore d;
  enable_ldap(d, dir);
  auto policies_of = [](const Json& auth) {
    std::vector<std::string> out;
    for (const auto& p : auth["token_policies"]) out.push_back(str(p));
    return out;
  };
  using V = std::vector<std::string>;

  // Local names are lower-cased unless case_sensitive_names.
  ok(api(d, "root", Operation::Update, "auth/ldap/groups/DEV", Json{{"policies", "dev-policy"}}));
  CHECK(ok(api(d, "root", Operation::List, "auth/ldap/groups"))["keys"] == Json::array({"dev"}));

  // The alias is the directory's uid, however the name was typed; the
  // metadata keeps the name as typed.
  const Json upper = ok(ldap_login(d, "ALICE", "alice-pw"))["auth"];
  const Json lower = ok(ldap_login(d, "alice", "alice-pw"))["auth"];
  CHECK(upper["entity_id"] == lower["entity_id"]);
  CHECK(str(upper["metadata"]["username"]) == "ALICE");
  CHECK(policies_of(upper) == V{"default", "dev-policy"});

  // username_as_alias: the typed name is the alias, so another entity.
  ok(api(d, "root", Operation::Update, "auth/ldap/config", Json{{"username_as_alias", true}}));
  CHECK(ok(ldap_login(d, "ALICE", "alice-pw"))["auth"]["entity_id"] != lower["entity_id"]);

  // case_sensitive_names: "DEV" is its own mapping and matches no directory group.
  ok(api(d, "root", Operation::Update, "auth/ldap/config",
         Json{{"case_sensitive_names", true}, {"username_as_alias", false}}));
  ok(api(d, "root", Operation::Update, "auth/ldap/groups/DEV", Json{{"policies", "upper-policy"}}));
  CHECK(ok(api(d, "root", Operation::List, "auth/ldap/groups"))["keys"] == Json::array({"DEV", "dev"}));
  CHECK(policies_of(ok(ldap_login(d, "alice", "alice-pw"))["auth"]) == V{"default", "dev-policy"});

  // discoverdn without a binddn: the user is found by an anonymous search.
  ok(api(d, "root", Operation::Update, "auth/ldap/config",
         Json{{"binddn", ""}, {"bindpass", ""}, {"discoverdn", true}}));
  ok(ldap_login(d, "alice", "alice-pw"));
  auto wrong = ldap_login(d, "alice", "nope");
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().message == kLdapBindFailed);

  // deny_null_bind off: an empty password is an unauthenticated bind, which
  // the directory refuses; with it on (the default) no server is asked.
  ok(api(d, "root", Operation::Update, "auth/ldap/config", Json{{"deny_null_bind", false}}));
  auto unauthenticated = ldap_login(d, "alice", "");
  REQUIRE_FALSE(unauthenticated.ok());
  CHECK(unauthenticated.error().message == kLdapBindFailed);
  ok(api(d, "root", Operation::Update, "auth/ldap/config", Json{{"deny_null_bind", true}}));
  dir.pause();
  auto refused = ldap_login(d, "alice", "");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message == "password cannot be of zero length when passwordless binds are being denied");
}

TEST_CASE("ldap: a renewal waits on the directory without the core lock", "[ldap][slapd]") {
  Directory dir;
  DevCore d;
  enable_ldap(d, dir, Json{{"request_timeout", 4}, {"connection_timeout", 4}});
  const Json bob = ok(ldap_login(d, "bob", "bob-pw"))["auth"];
  const std::string token = str(bob["client_token"]);
  const std::string accessor = str(bob["accessor"]);
  // The token renews itself; root renews it by id and by accessor.
  const std::vector<std::tuple<std::string, std::string, Json>> renewals{
      {token, "auth/token/renew-self", Json::object()},
      {"root", "auth/token/renew", Json{{"token", token}}},
      {"root", "auth/token/renew-accessor", Json{{"accessor", accessor}}}};
  int mount = 0;
  for (const auto& [who, path, body] : renewals) {
    INFO(path);
    dir.pause();
    auto stuck = std::async(std::launch::async, [&, who = who, path = path, body = body] {
      return api(d, who, Operation::Update, path, body);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // (order, not time: see above)
    ok(api(d, "root", Operation::Update, "sys/mounts/kv" + std::to_string(++mount), Json{{"type", "kv-v2"}}));
    INFO("slapd state " << dir.state());
    CHECK(stuck.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready);
    auto result = stuck.get();
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::TimedOut);
    dir.resume();
    ok(api(d, who, Operation::Update, path, body));
  }
}

TEST_CASE("ldap: failed binds lock the user out (Vault's user lockout)", "[ldap][slapd][lockout]") {
  Directory dir;
  DevCore d;
  enable_ldap(d, dir);
  ok(api(d, "root", Operation::Update, "sys/auth/ldap/tune",
         Json{{"user_lockout_config", Json{{"lockout_threshold", "3"}}}}));
  for (int i = 0; i < 3; ++i) {
    auto wrong = ldap_login(d, "bob", "nope");
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.error().message == kLdapBindFailed);
  }
  auto locked = ldap_login(d, "bob", "bob-pw");
  REQUIRE_FALSE(locked.ok());
  CHECK(locked.error().code == ErrorCode::PermissionDenied);
  ok(ldap_login(d, "alice", "alice-pw"));  // others log in
  const std::string acc = str(ok(api(d, "root", Operation::Read, "sys/auth/ldap"))["accessor"]);
  CHECK(ok(api(d, "root", Operation::Read,
               "sys/locked-users"))["by_namespace"][0]["mount_accessors"][0]["alias_identifiers"] ==
        Json::array({"bob"}));
  ok(api(d, "root", Operation::Update, "sys/locked-users/" + acc + "/unlock/bob"));
  ok(ldap_login(d, "bob", "bob-pw"));
}
