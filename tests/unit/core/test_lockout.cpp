// SPDX-License-Identifier: MPL-2.0
// Vault's user lockout (engine/auth/lockout.hpp) through Core::handle and
// the file view: threshold, duration, counter reset, successful logins,
// sys/locked-users and unlock, namespaces, tune, restart.
#include <atomic>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

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

engine::Result<engine::Response> login(DevCore& d, const std::string& path, Json body) {
  return api(d, "", Operation::Update, path, std::move(body));
}

std::string message_of(const engine::Result<engine::Response>& r) {
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}

// A dev core whose failed logins answer at once (loops of failures).
struct FastCore : DevCore {
  explicit FastCore(engine::CoreOptions opts = {"root", true}) {
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

std::string accessor(DevCore& d, const std::string& ns, const std::string& path) {
  return str(ok(api(d, "root", Operation::Read, ns + "sys/auth/" + path))["accessor"]);
}

void user(DevCore& d, const std::string& ns, const std::string& name, const std::string& password) {
  ok(api(d, "root", Operation::Update, ns + "auth/userpass/users/" + name, Json{{"password", password}}));
}

engine::Result<engine::Response> up(DevCore& d, const std::string& ns, const std::string& name,
                                    const std::string& password) {
  return login(d, ns + "auth/userpass/login/" + name, Json{{"password", password}});
}

void tune(DevCore& d, const std::string& ns, const std::string& path, Json config) {
  ok(api(d, "root", Operation::Update, ns + "sys/auth/" + path + "/tune",
         Json{{"user_lockout_config", std::move(config)}}));
}

}  // namespace

TEST_CASE("lockout: the threshold locks a user, the right password too; a success clears the count", "[lockout]") {
  FastCore d;
  enable(d, "", "userpass", "userpass");
  user(d, "", "bob", "right");
  user(d, "", "alice", "hers");

  // Four failures, then a success: the count starts again.
  for (int i = 0; i < 4; ++i) CHECK(message_of(up(d, "", "bob", "wrong")) == "invalid username or password");
  ok(up(d, "", "bob", "right"));
  for (int i = 0; i < 4; ++i) CHECK(message_of(up(d, "", "bob", "wrong")) == "invalid username or password");
  ok(up(d, "", "bob", "right"));

  // Vault's default threshold: the fifth failure locks.
  for (int i = 0; i < 5; ++i) CHECK(code_of(up(d, "", "bob", "wrong")) == ErrorCode::InvalidArgument);
  auto locked = up(d, "", "bob", "right");
  CHECK(code_of(locked) == ErrorCode::PermissionDenied);
  CHECK(message_of(locked) == "permission denied");
  CHECK(code_of(up(d, "", "BOB", "wrong")) == ErrorCode::PermissionDenied);  // one user, whatever the case
  // Others log in as before.
  ok(up(d, "", "alice", "hers"));

  // Unknown users leave no state however often they fail.
  for (int i = 0; i < 8; ++i) CHECK(code_of(up(d, "", "nobody", "x")) == ErrorCode::InvalidArgument);
  Json report = ok(api(d, "root", Operation::Read, "sys/locked-users"));
  CHECK(report["total"] == 1);
  REQUIRE(report["by_namespace"].size() == 1);
  CHECK(report["by_namespace"][0]["mount_accessors"][0]["alias_identifiers"] == Json::array({"bob"}));
}

TEST_CASE("lockout: it ends after lockout_duration; the count resets after lockout_counter_reset", "[lockout]") {
  FastCore d;
  enable(d, "", "userpass", "userpass");
  user(d, "", "bob", "right");
  tune(d, "", "userpass",
       Json{{"lockout_threshold", "2"}, {"lockout_duration", "1s"}, {"lockout_counter_reset_duration", "1"}});
  Json tuned = ok(api(d, "root", Operation::Read, "sys/auth/userpass/tune"));
  CHECK(tuned["user_lockout_threshold"] == 2);
  CHECK(tuned["user_lockout_duration"] == 1);
  CHECK(tuned["user_lockout_counter_reset_duration"] == 1);
  CHECK(tuned["user_lockout_disable"] == false);
  CHECK(ok(api(d, "root", Operation::Read, "sys/auth/userpass"))["config"]["user_lockout_config"] ==
        Json{{"user_lockout_counter_reset_duration", 1},
             {"user_lockout_threshold", 2},
             {"user_lockout_duration", 1},
             {"user_lockout_disable", false}});

  SECTION("duration") {
    CHECK(code_of(up(d, "", "bob", "wrong")) == ErrorCode::InvalidArgument);
    CHECK(code_of(up(d, "", "bob", "wrong")) == ErrorCode::InvalidArgument);
    CHECK(code_of(up(d, "", "bob", "right")) == ErrorCode::PermissionDenied);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    ok(up(d, "", "bob", "right"));
  }
  SECTION("counter reset") {
    CHECK(code_of(up(d, "", "bob", "wrong")) == ErrorCode::InvalidArgument);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    CHECK(code_of(up(d, "", "bob", "wrong")) == ErrorCode::InvalidArgument);  // counts from 1 again
    ok(up(d, "", "bob", "right"));
  }
  SECTION("disabled") {
    tune(d, "", "userpass", Json{{"lockout_disable", true}});
    for (int i = 0; i < 6; ++i) CHECK(code_of(up(d, "", "bob", "wrong")) == ErrorCode::InvalidArgument);
    ok(up(d, "", "bob", "right"));
  }
}

TEST_CASE("lockout: tune refuses what Vault refuses", "[lockout]") {
  FastCore d;
  enable(d, "", "userpass", "userpass");
  auto bad = [&](const std::string& path, Json config) {
    return code_of(api(d, "root", Operation::Update, path, Json{{"user_lockout_config", std::move(config)}}));
  };
  CHECK(bad("sys/mounts/secret/tune", Json{{"lockout_threshold", "3"}}) == ErrorCode::InvalidArgument);
  CHECK(bad("sys/auth/userpass/tune", Json{{"lockout_counter_reset", "3"}}) == ErrorCode::InvalidArgument);
  CHECK(bad("sys/auth/userpass/tune", Json{{"lockout_duration", "soon"}}) == ErrorCode::InvalidArgument);
  CHECK(bad("sys/auth/userpass/tune", Json{{"lockout_threshold", "-1"}}) == ErrorCode::InvalidArgument);
  // Untuned, the tune shows no lockout values (Vault: UserLockoutConfig nil).
  CHECK_FALSE(ok(api(d, "root", Operation::Read, "sys/auth/userpass/tune")).contains("user_lockout_threshold"));
}

TEST_CASE("lockout: parallel guesses get no more tries than the threshold", "[lockout]") {
  FastCore d;
  enable(d, "", "userpass", "userpass");
  user(d, "", "bob", "right");
  std::atomic<int> tried{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> guessers;
  for (int t = 0; t < 12; ++t) {
    guessers.emplace_back([&] {
      auto r = up(d, "", "bob", "wrong");
      if (!r.ok() && r.error().code == ErrorCode::InvalidArgument) ++tried;
      if (!r.ok() && r.error().code == ErrorCode::PermissionDenied) ++refused;
    });
  }
  for (auto& t : guessers) t.join();
  CHECK(tried + refused == 12);
  CHECK(tried <= 5);
  CHECK(code_of(up(d, "", "bob", "right")) == ErrorCode::PermissionDenied);
}

TEST_CASE("lockout: approle locks a role_id on wrong secret ids; unknown role ids count nothing", "[lockout]") {
  FastCore d;
  enable(d, "", "approle", "approle");
  ok(api(d, "root", Operation::Update, "auth/approle/role/web", Json{{"token_policies", "default"}}));
  const std::string role_id = str(ok(api(d, "root", Operation::Read, "auth/approle/role/web/role-id"))["role_id"]);
  const std::string secret_id =
      str(ok(api(d, "root", Operation::Update, "auth/approle/role/web/secret-id"))["secret_id"]);
  for (int i = 0; i < 7; ++i) {
    CHECK(code_of(login(d, "auth/approle/login", Json{{"role_id", "unknown"}, {"secret_id", "x"}})) ==
          ErrorCode::InvalidArgument);
  }
  ok(login(d, "auth/approle/login", Json{{"role_id", role_id}, {"secret_id", secret_id}}));
  for (int i = 0; i < 5; ++i) {
    CHECK(message_of(login(d, "auth/approle/login", Json{{"role_id", role_id}, {"secret_id", "guess"}})) ==
          "invalid role or secret ID");
  }
  CHECK(code_of(login(d, "auth/approle/login", Json{{"role_id", role_id}, {"secret_id", secret_id}})) ==
        ErrorCode::PermissionDenied);
  Json report = ok(api(d, "root", Operation::Read, "sys/locked-users"));
  CHECK(report["total"] == 1);
  CHECK(report["by_namespace"][0]["mount_accessors"][0]["mount_accessor"] == accessor(d, "", "approle"));
  CHECK(report["by_namespace"][0]["mount_accessors"][0]["alias_identifiers"] == Json::array({role_id}));
  ok(api(d, "root", Operation::Update, "sys/locked-users/" + accessor(d, "", "approle") + "/unlock/" + role_id));
  ok(login(d, "auth/approle/login", Json{{"role_id", role_id}, {"secret_id", secret_id}}));
}

TEST_CASE("sys/locked-users: Vault's report, unlock, and each namespace sees its own and below", "[lockout]") {
  FastCore d;
  REQUIRE(d.files->make_dir(d.root, "ns1").ok());
  enable(d, "", "userpass", "userpass");
  enable(d, "ns1/", "userpass", "userpass");
  user(d, "", "bob", "right");
  user(d, "ns1/", "carol", "hers");
  user(d, "ns1/", "dave", "his");
  const std::string root_acc = accessor(d, "", "userpass");
  const std::string ns1_acc = accessor(d, "ns1/", "userpass");
  for (int i = 0; i < 5; ++i) {
    (void)up(d, "", "bob", "wrong");
    (void)up(d, "ns1/", "carol", "wrong");
    (void)up(d, "ns1/", "dave", "wrong");
  }

  Json all = ok(api(d, "root", Operation::Read, "sys/locked-users"));
  CHECK(all["total"] == 3);
  REQUIRE(all["by_namespace"].size() == 2);
  // The namespace with the most locked users first.
  CHECK(all["by_namespace"][0]["namespace_path"] == "ns1/");
  CHECK(all["by_namespace"][0]["counts"] == 2);
  CHECK(all["by_namespace"][0]["mount_accessors"] ==
        Json::array(
            {Json{{"mount_accessor", ns1_acc}, {"counts", 2}, {"alias_identifiers", Json::array({"carol", "dave"})}}}));
  CHECK(all["by_namespace"][1]["namespace_id"] == "root");
  CHECK(all["by_namespace"][1]["namespace_path"] == "");

  // A child namespace sees only its own.
  Json child = ok(api(d, "root", Operation::Read, "ns1/sys/locked-users"));
  CHECK(child["total"] == 2);
  REQUIRE(child["by_namespace"].size() == 1);
  CHECK(child["by_namespace"][0]["namespace_path"] == "ns1/");
  // mount_accessor narrows to one mount of the request's namespace.
  Json one = ok(api(d, "root", Operation::Read, "sys/locked-users", Json{{"mount_accessor", root_acc}}));
  CHECK(one["total"] == 1);
  CHECK(one["by_namespace"][0]["mount_accessors"][0]["alias_identifiers"] == Json::array({"bob"}));
  Json none = ok(api(d, "root", Operation::Read, "ns1/sys/locked-users", Json{{"mount_accessor", root_acc}}));
  CHECK(none["total"] == 0);

  // A child namespace cannot unlock the parent's user (its unlock is its own).
  ok(api(d, "root", Operation::Update, "ns1/sys/locked-users/" + root_acc + "/unlock/bob"));
  CHECK(code_of(up(d, "", "bob", "right")) == ErrorCode::PermissionDenied);
  ok(api(d, "root", Operation::Update, "sys/locked-users/" + root_acc + "/unlock/bob"));
  ok(up(d, "", "bob", "right"));
  // Unlocking someone who is not locked succeeds, as in Vault.
  ok(api(d, "root", Operation::Update, "sys/locked-users/" + root_acc + "/unlock/nobody"));

  // The ACL decides: read for the report, update for an unlock.
  const std::string reader = make_token(d, R"({"policies":["lr"]})", "");
  ok(api(d, "root", Operation::Update, "sys/policies/acl/lr",
         Json{{"policy", "path \"sys/locked-users\" { capabilities = [\"read\"] }"}}));
  ok(api(d, reader, Operation::Read, "sys/locked-users"));
  CHECK(code_of(api(d, reader, Operation::Update, "sys/locked-users/" + ns1_acc + "/unlock/carol")) ==
        ErrorCode::PermissionDenied);
  const std::string nobody = make_token(d, R"({"policies":["default"]})", "");
  CHECK(code_of(api(d, nobody, Operation::Read, "sys/locked-users")) == ErrorCode::PermissionDenied);

  // Disabling the auth method drops its users' state.
  ok(api(d, "root", Operation::Delete, "ns1/sys/auth/userpass"));
  CHECK(ok(api(d, "root", Operation::Read, "sys/locked-users"))["total"] == 0);
}

TEST_CASE("sys/locked-users through the file view: ls, the report, an unlock by echo", "[lockout]") {
  FastCore d;
  enable(d, "", "userpass", "userpass");
  user(d, "", "bob", "right");
  const std::string acc = accessor(d, "", "userpass");
  CHECK(d.ls("sys/locked-users").empty());
  for (int i = 0; i < 5; ++i) (void)up(d, "", "bob", "wrong");
  CHECK(d.ls("sys/locked-users") == std::vector<std::string>{acc + "/"});
  CHECK(d.ls("sys/locked-users/" + acc) == std::vector<std::string>{"unlock/"});
  CHECK(d.ls("sys/locked-users/" + acc + "/unlock") == std::vector<std::string>{"bob"});
  auto st = d.files->stat(d.root, "sys/locked-users/" + acc + "/unlock/bob");
  REQUIRE(st.ok());
  CHECK(st->kind == engine::NodeKind::File);
  Json report = Json::parse(d.cat("sys/locked-users@data"));
  CHECK(report["total"] == 1);
  d.put("sys/locked-users/" + acc + "/unlock/bob", "\n");
  ok(up(d, "", "bob", "right"));
  CHECK(d.ls("sys/locked-users").empty());
}

TEST_CASE("lockout: the state survives a restart", "[lockout]") {
  engine::MemoryStorage disk;
  engine::Caller nobody;
  std::string root_token;
  std::string key;
  auto open = [&] {
    engine::CoreOptions opts;
    opts.failed_login_delay = std::chrono::milliseconds(0);
    auto core = engine::Core::open(std::make_unique<SharedStorage>(disk), opts);
    REQUIRE(core.ok());
    return std::move(core).value();
  };
  auto call = [](engine::Core& core, const std::string& token, Operation op, const std::string& path, Json body) {
    engine::Request req;
    req.op = op;
    req.path = path;
    req.data = std::move(body);
    req.token = engine::to_secure(token);
    return core.handle(req);
  };
  {
    auto core = open();
    Json init = ok(call(*core, "", Operation::Update, "sys/init", Json{{"secret_shares", 1}, {"secret_threshold", 1}}));
    root_token = init["root_token"].get<std::string>();
    key = init["keys"][0].get<std::string>();
    ok(call(*core, "", Operation::Update, "sys/unseal", Json{{"key", key}}));
    ok(call(*core, root_token, Operation::Update, "sys/auth/userpass", Json{{"type", "userpass"}}));
    ok(call(*core, root_token, Operation::Update, "auth/userpass/users/bob", Json{{"password", "right"}}));
    for (int i = 0; i < 5; ++i) {
      CHECK(code_of(call(*core, "", Operation::Update, "auth/userpass/login/bob", Json{{"password", "wrong"}})) ==
            ErrorCode::InvalidArgument);
    }
  }
  auto core = open();
  ok(call(*core, "", Operation::Update, "sys/unseal", Json{{"key", key}}));
  CHECK(code_of(call(*core, "", Operation::Update, "auth/userpass/login/bob", Json{{"password", "right"}})) ==
        ErrorCode::PermissionDenied);
  CHECK(ok(call(*core, root_token, Operation::Read, "sys/locked-users", Json::object()))["total"] == 1);
}

TEST_CASE("lockout: the config file's defaults apply under each mount's tune", "[lockout]") {
  engine::CoreOptions opts{"root", true};
  opts.user_lockout["all"] = engine::UserLockoutConfig{3, 900, 900, false};
  opts.user_lockout["approle"] = engine::UserLockoutConfig{5, 900, 900, true};
  FastCore d(opts);
  enable(d, "", "userpass", "userpass");
  user(d, "", "bob", "right");
  for (int i = 0; i < 3; ++i) CHECK(code_of(up(d, "", "bob", "wrong")) == ErrorCode::InvalidArgument);
  CHECK(code_of(up(d, "", "bob", "right")) == ErrorCode::PermissionDenied);
  // The mount's own tune wins over the file.
  tune(d, "", "userpass", Json{{"lockout_threshold", "10"}});
  ok(up(d, "", "bob", "right"));
}

TEST_CASE("userpass: the Argon2id check holds no core lock, so a flood of guesses stalls no mount change",
          "[lockout][auth]") {
  FastCore d;
  enable(d, "", "userpass", "userpass");
  std::atomic<bool> stop{false};
  std::atomic<int> guesses{0};
  std::vector<std::thread> guessers;
  // Unknown names: never locked, so each costs a full (dummy) Argon2id check.
  for (int t = 0; t < 6; ++t) {
    guessers.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        (void)up(d, "", "guess-" + std::to_string(t) + "-" + std::to_string(i), "x");
        ++guesses;
      }
    });
  }
  while (guesses < 6) std::this_thread::yield();
  // A topology change takes the core lock exclusively: with the checks under
  // the shared lock, overlapping guesses would keep it waiting.
  auto longest = std::chrono::steady_clock::duration::zero();
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    ok(api(d, "root", Operation::Update, "sys/mounts/kv" + std::to_string(i), Json{{"type", "kv"}}));
    longest = std::max(longest, std::chrono::steady_clock::now() - start);
  }
  stop = true;
  for (auto& t : guessers) t.join();
  CHECK(longest < std::chrono::milliseconds(1500));
}
