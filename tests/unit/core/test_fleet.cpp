// SPDX-License-Identifier: MPL-2.0
// Two cores on one PostgreSQL store ("two hosts"), each on its own mirror,
// the second brought up to date the way cofferd's feed thread does it
// (PostgresMirror::follow, then Core::absorb): what one host makes, the
// other serves; what one revokes or deletes, the other refuses; and the
// other's change bus announces it as a local change would be.
#include <atomic>
#include <mutex>
#include <thread>

#include <catch2/catch.hpp>

#include "engine/core.hpp"
#include "engine/storage/postgres_mirror.hpp"
#include "tests/pg/test_postgres.hpp"

using engine::ErrorCode;
using engine::Json;
using engine::Operation;

namespace {

coffer_test::TestPostgres& server() {
  static coffer_test::TestPostgres pg;
  return pg;
}

struct Host {
  engine::PostgresMirror* mirror = nullptr;
  std::unique_ptr<engine::Core> core;

  // fleet_wait: a request that lost a race waits for this host's feed
  // (Core::fed) before it runs again, as cofferd's does.
  explicit Host(const std::string& table, bool fleet_wait = false) {
    engine::PostgresMirror::Options o;
    o.store = {server().url(), table};
    auto m = engine::PostgresMirror::open(o);
    REQUIRE(m.ok());
    mirror = m->get();
    engine::CoreOptions opts;
    if (fleet_wait) opts.fleet_revision = [p = mirror] { return p->revision(); };
    auto c = engine::Core::open(std::move(m).value(), std::move(opts));
    REQUIRE(c.ok());
    core = std::move(c).value();
  }

  engine::Result<engine::Response> call(const std::string& token, Operation op, const std::string& path,
                                        Json body = Json::object()) {
    engine::Request req;
    req.op = op;
    req.path = path;
    req.data = std::move(body);
    req.token = engine::to_secure(token);
    return core->handle(req);
  }
  engine::Response ok(const std::string& token, Operation op, const std::string& path, Json body = Json::object()) {
    auto r = call(token, op, path, std::move(body));
    if (!r.ok()) FAIL(path << ": " << r.error().message);
    return std::move(r).value();
  }

  // What the feed thread does, until its feed has read revision `rev`
  // (this host's own writes may have brought the mirror there already; the
  // core learns of the other hosts' changes from the feed).
  void catch_up(std::int64_t rev) {
    std::int64_t fed = 0;
    for (int i = 0; i < 50 && fed < rev; ++i) {
      auto up = mirror->follow(std::chrono::milliseconds(200));
      REQUIRE(up.ok());
      fed = std::max(fed, up->revision);
      std::vector<engine::KeyRange> keys;
      for (const auto& b : up->batches) keys.insert(keys.end(), b.keys.begin(), b.keys.end());
      REQUIRE(core->absorb(up->reload, keys).ok());
      core->fed(up->revision);
    }
    REQUIRE(fed >= rev);
    REQUIRE(mirror->revision() >= rev);
  }
};

std::string fresh_table() {
  static std::atomic<int> n{0};
  return "f" + std::to_string(::getpid()) + "_" + std::to_string(n++);
}

// sys/init and sys/unseal on a host; the root token and the one share.
struct Keys {
  std::string root, key;
};
Keys init_and_unseal(Host& h) {
  auto init = h.ok("", Operation::Update, "sys/init", Json{{"secret_shares", 1}, {"secret_threshold", 1}});
  Keys k{init.data["root_token"], init.data["keys"][0]};
  h.ok("", Operation::Update, "sys/unseal", Json{{"key", k.key}});
  return k;
}

}  // namespace

TEST_CASE("fleet: what one host makes, the other serves; what it revokes, the other refuses", "[fleet][postgres]") {
  const std::string t = fresh_table();
  Host a(t);
  const auto [root, key] = init_and_unseal(a);

  // Init happens once per store; the second host only unseals.
  Host b(t);
  CHECK(b.core->sealed());
  auto again = b.call("", Operation::Update, "sys/init", Json{{"secret_shares", 1}, {"secret_threshold", 1}});
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == ErrorCode::AlreadyExists);
  b.ok("", Operation::Update, "sys/unseal", Json{{"key", key}});
  REQUIRE_FALSE(b.core->sealed());

  std::mutex seen_mu;
  std::vector<engine::ChangeEvent> seen_on_b;
  auto sub = b.core->subscribe([&](const engine::ChangeEvent& c) {
    std::lock_guard lock(seen_mu);
    seen_on_b.push_back(c);
  });

  // A namespace, a mount, a secret, a policy and a token, all made on A.
  a.ok(root, Operation::Update, "sys/namespaces/team");
  a.ok(root, Operation::Update, "team/sys/mounts/kv", Json{{"type", "kv-v2"}});
  a.ok(root, Operation::Update, "team/kv/data/app", Json{{"data", {{"password", "s3cret"}}}});
  a.ok(root, Operation::Update, "team/sys/policies/acl/reader",
       Json{{"policy", R"(path "kv/data/*" { capabilities = ["read"] })"}});
  auto made = a.ok(root, Operation::Update, "team/auth/token/create", Json{{"policies", Json::array({"reader"})}});
  const std::string token = made.data["auth"]["client_token"];
  REQUIRE_FALSE(token.empty());

  b.catch_up(a.mirror->revision());
  auto read = b.ok(token, Operation::Read, "team/kv/data/app");
  CHECK(read.data["data"]["password"] == "s3cret");
  {
    // B's bus said what changed, as if it had been written there.
    std::lock_guard lock(seen_mu);
    bool secret = false, policy = false;
    for (const auto& c : seen_on_b) {
      secret = secret || (c.kind == engine::ChangeKind::Secret && c.namespace_path == "team/" && c.path == "kv/app");
      policy = policy || (c.kind == engine::ChangeKind::Policy && c.path == "sys/policies/acl/reader");
    }
    CHECK(secret);
    CHECK(policy);
  }

  // A new version on B is the current one on A.
  b.ok(root, Operation::Update, "team/kv/data/app", Json{{"data", {{"password", "rotated"}}}});
  a.catch_up(b.mirror->revision());
  CHECK(a.ok(token, Operation::Read, "team/kv/data/app").data["data"]["password"] == "rotated");

  // The policy narrowed on A: B's cached ACL goes with it.
  a.ok(root, Operation::Update, "team/sys/policies/acl/reader",
       Json{{"policy", R"(path "kv/data/other" { capabilities = ["read"] })"}});
  b.catch_up(a.mirror->revision());
  auto narrowed = b.call(token, Operation::Read, "team/kv/data/app");
  REQUIRE_FALSE(narrowed.ok());
  CHECK(narrowed.error().code == ErrorCode::PermissionDenied);

  // The token revoked on A is refused on B, although B had it cached.
  a.ok(root, Operation::Update, "team/auth/token/revoke", Json{{"token", token}});
  b.catch_up(a.mirror->revision());
  auto revoked = b.call(token, Operation::Read, "team/kv/data/other");
  REQUIRE_FALSE(revoked.ok());
  CHECK(revoked.error().code == ErrorCode::PermissionDenied);

  // The namespace deleted on A is gone on B.
  a.ok(root, Operation::Delete, "team/sys/mounts/kv");
  a.ok(root, Operation::Delete, "sys/namespaces/team");
  b.catch_up(a.mirror->revision());
  auto gone = b.call(root, Operation::Read, "team/kv/data/app");
  REQUIRE_FALSE(gone.ok());
  CHECK(b.core->namespaces()->find("team/") == nullptr);
}

TEST_CASE("fleet: check-and-set and use-limited tokens hold when two hosts race", "[fleet][postgres]") {
  const std::string t = fresh_table();
  Host a(t);
  const auto [root, key] = init_and_unseal(a);
  Host b(t);
  b.ok("", Operation::Update, "sys/unseal", Json{{"key", key}});
  a.ok(root, Operation::Update, "sys/mounts/kv", Json{{"type", "kv-v2"}});
  a.ok(root, Operation::Update, "kv/data/db", Json{{"data", {{"password", "one"}}}});
  a.ok(root, Operation::Update, "sys/policies/acl/reader",
       Json{{"policy", R"(path "kv/data/*" { capabilities = ["read"] })"}});
  auto made =
      a.ok(root, Operation::Update, "auth/token/create", Json{{"policies", Json::array({"reader"})}, {"num_uses", 1}});
  const std::string once = made.data["auth"]["client_token"];
  b.catch_up(a.mirror->revision());
  CHECK(b.ok(root, Operation::Read, "kv/data/db").data["metadata"]["version"] == 1);

  // Both hosts check-and-set against version 1; A commits first. B has not
  // read A's commit: its own copy still says version 1.
  a.ok(root, Operation::Update, "kv/data/db", Json{{"options", {{"cas", 1}}}, {"data", {{"password", "from-a"}}}});
  auto lost = b.call(root, Operation::Update, "kv/data/db",
                     Json{{"options", {{"cas", 1}}}, {"data", {{"password", "from-b"}}}});
  REQUIRE_FALSE(lost.ok());
  CHECK(lost.error().code == ErrorCode::CasMismatch);
  // B now serves A's version, and exactly two versions exist.
  auto now = b.ok(root, Operation::Read, "kv/data/db");
  CHECK(now.data["data"]["password"] == "from-a");
  CHECK(now.data["metadata"]["version"] == 2);
  a.catch_up(b.mirror->revision());
  CHECK(a.ok(root, Operation::Read, "kv/metadata/db").data["current_version"] == 2);

  // A write that did not read what changed is not refused: B writes with
  // cas = 2 on top of A's version, which it has now.
  b.ok(root, Operation::Update, "kv/data/db", Json{{"options", {{"cas", 2}}}, {"data", {{"password", "from-b"}}}});

  // A token with one use, spent on A, is spent on B too, although B's
  // copy still counts one use left.
  a.ok(once, Operation::Read, "kv/data/db");
  auto second = b.call(once, Operation::Read, "kv/data/db");
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().code == ErrorCode::PermissionDenied);
}

namespace {

// B's feed thread, held back until `after`: B's request that lost the race
// to A waits in Core::handle until the feed has brought A's commit in.
std::thread feed_later(Host& h, std::chrono::milliseconds after) {
  return std::thread([&h, after] {
    std::this_thread::sleep_for(after);
    for (int i = 0; i < 20; ++i) {
      auto up = h.mirror->follow(std::chrono::milliseconds(50));
      if (!up.ok()) continue;
      std::vector<engine::KeyRange> keys;
      for (const auto& b : up->batches) keys.insert(keys.end(), b.keys.begin(), b.keys.end());
      if (h.core->absorb(up->reload, keys).ok()) h.core->fed(up->revision);
    }
  });
}

}  // namespace

TEST_CASE("fleet: names stay unique when two hosts create them at once", "[fleet][postgres]") {
  const std::string t = fresh_table();
  Host a(t, true);
  const auto [root, key] = init_and_unseal(a);
  Host b(t, true);
  b.ok("", Operation::Update, "sys/unseal", Json{{"key", key}});
  a.ok(root, Operation::Update, "sys/namespaces/base");
  a.ok(root, Operation::Update, "sys/auth/userpass", Json{{"type", "userpass"}});
  a.ok(root, Operation::Update, "auth/userpass/users/carol", Json{{"password", "horse-battery-77"}});
  b.catch_up(a.mirror->revision());

  // Each case: A decides first; B, whose memory has not seen it (its feed
  // is held back), decides the same and must be refused as one host would
  // refuse it, once its feed has brought A's change.
  auto race = [&](const std::string& what, Operation op, const std::string& a_path, Json a_body,
                  const std::string& b_path, Json b_body, ErrorCode expect) {
    INFO(what);
    a.ok(root, op, a_path, std::move(a_body));
    std::thread feed = feed_later(b, std::chrono::milliseconds(200));
    auto lost = b.call(root, op, b_path, std::move(b_body));
    feed.join();
    REQUIRE_FALSE(lost.ok());
    CHECK(lost.error().code == expect);
    a.catch_up(b.mirror->revision());
  };
  {
    // Writing an existing namespace sets its metadata (sys_backend), so B's
    // create, run again, becomes that: one namespace, one id on both hosts,
    // never a second record for the same path.
    auto made = a.ok(root, Operation::Update, "sys/namespaces/team");
    std::thread feed = feed_later(b, std::chrono::milliseconds(200));
    auto again = b.call(root, Operation::Update, "sys/namespaces/team");
    feed.join();
    REQUIRE(again.ok());
    REQUIRE(made.data["id"].is_string());
    CHECK(again->data["id"] == made.data["id"]);
    a.catch_up(b.mirror->revision());
  }
  race("overlapping mount paths", Operation::Update, "base/sys/mounts/kv", Json{{"type", "kv-v2"}},
       "base/sys/mounts/kv/inner", Json{{"type", "kv-v2"}}, ErrorCode::AlreadyExists);
  race("a mount where a namespace is", Operation::Update, "base/sys/namespaces/shared", Json::object(),
       "base/sys/mounts/shared", Json{{"type", "kv-v2"}}, ErrorCode::InvalidArgument);
  // Writing identity/entity or identity/group with a name in use updates
  // that one (Vault's handleEntityUpdateCommon): B's write, run again,
  // becomes that, and there is one of each, with A's id, on both hosts.
  for (const std::string kind : {"entity", "group"}) {
    INFO(kind);
    const std::string name = kind == "entity" ? "alice" : "ops";
    auto made = a.ok(root, Operation::Update, "identity/" + kind, Json{{"name", name}});
    REQUIRE(made.data["id"].is_string());
    std::thread feed = feed_later(b, std::chrono::milliseconds(200));
    auto again = b.call(root, Operation::Update, "identity/" + kind, Json{{"name", name}});
    feed.join();
    REQUIRE(again.ok());
    a.catch_up(b.mirror->revision());
    for (Host* h : {&a, &b}) {
      CHECK(h->ok(root, Operation::Read, "identity/" + kind + "/name/" + name).data["id"] == made.data["id"]);
      CHECK(h->ok(root, Operation::List, "identity/" + kind + "/id").data["keys"].size() == 1);
    }
  }

  // One of each, as both hosts see it.
  b.catch_up(a.mirror->revision());
  for (Host* h : {&a, &b}) {
    CHECK(h->ok(root, Operation::List, "sys/namespaces").data["keys"] == Json::array({"base/", "team/"}));
    CHECK(h->ok(root, Operation::List, "identity/entity/name").data["keys"] == Json::array({"alice"}));
    CHECK(h->ok(root, Operation::List, "identity/group/name").data["keys"] == Json::array({"ops"}));
    auto mounts = h->ok(root, Operation::Read, "base/sys/mounts").data;
    CHECK(mounts.contains("kv/"));
    CHECK_FALSE(mounts.contains("kv/inner/"));
    CHECK_FALSE(mounts.contains("shared/"));
  }

  // A first login on both hosts at once makes one entity, not two: B's
  // login runs again and finds the alias A's login made.
  auto on_a = a.ok("", Operation::Update, "auth/userpass/login/carol", Json{{"password", "horse-battery-77"}});
  std::thread feed = feed_later(b, std::chrono::milliseconds(200));
  auto on_b = b.call("", Operation::Update, "auth/userpass/login/carol", Json{{"password", "horse-battery-77"}});
  feed.join();
  REQUIRE(on_b.ok());
  CHECK(on_b->data["auth"]["entity_id"] == on_a.data["auth"]["entity_id"]);

  // B's copy of the store already has A's commit, its memory not yet: the
  // claim is newer than what memory was built from, so B waits for its
  // feed to take it in rather than decide on old memory.
  auto late_made = a.ok(root, Operation::Update, "sys/namespaces/late");
  std::vector<engine::KeyRange> held;  // what B's feed read, not yet taken in
  bool held_reload = false;
  std::int64_t held_rev = 0;
  for (int i = 0; i < 20 && b.mirror->revision() < a.mirror->revision(); ++i) {
    auto up = b.mirror->follow(std::chrono::milliseconds(100));
    REQUIRE(up.ok());
    for (const auto& bt : up->batches) held.insert(held.end(), bt.keys.begin(), bt.keys.end());
    held_reload = held_reload || up->reload;
    held_rev = std::max(held_rev, up->revision);
  }
  REQUIRE(b.mirror->revision() >= a.mirror->revision());
  std::thread absorb_later([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (b.core->absorb(held_reload, held).ok()) b.core->fed(held_rev);
  });
  auto late = b.call(root, Operation::Update, "sys/namespaces/late");
  absorb_later.join();
  REQUIRE(late.ok());
  CHECK(late->data["id"] == late_made.data["id"]);
}

TEST_CASE("fleet: a rotation on one host is read on the other; two rotating at once lose no term",
          "[fleet][postgres][seal]") {
  const std::string t = fresh_table();
  Host a(t);
  const auto [root, key] = init_and_unseal(a);
  Host b(t);
  b.ok("", Operation::Update, "sys/unseal", Json{{"key", key}});
  a.ok(root, Operation::Update, "sys/mounts/kv", Json{{"type", "kv-v2"}});
  a.ok(root, Operation::Update, "kv/data/old", Json{{"data", {{"pw", "term1"}}}});
  b.catch_up(a.mirror->revision());

  // A rotates and writes under term 2. B's mirror gets the bytes, but its
  // core is not told (no absorb): the barrier meets term 2 and reads the
  // keyring again by itself.
  a.ok(root, Operation::Update, "sys/rotate");
  a.ok(root, Operation::Update, "kv/data/new", Json{{"data", {{"pw", "term2"}}}});
  for (int i = 0; i < 50 && b.mirror->revision() < a.mirror->revision(); ++i) {
    REQUIRE(b.mirror->follow(std::chrono::milliseconds(200)).ok());
  }
  REQUIRE(b.mirror->revision() >= a.mirror->revision());
  CHECK(b.ok(root, Operation::Read, "kv/data/new").data["data"]["pw"] == "term2");
  CHECK(b.ok(root, Operation::Read, "kv/data/old").data["data"]["pw"] == "term1");
  CHECK(b.ok(root, Operation::Read, "sys/key-status").data["term"] == 2);

  // Told through absorb, as the feed thread does: B writes with term 2.
  a.ok(root, Operation::Update, "sys/rotate");
  b.catch_up(a.mirror->revision());
  CHECK(b.ok(root, Operation::Read, "sys/key-status").data["term"] == 3);

  // Both rotate; B has not read A's rotation. B's keyring write was made on
  // a keyring A has changed since: refused (Conflict), run again on A's
  // ring, so term 4 (A's) is kept and B adds 5.
  a.ok(root, Operation::Update, "sys/rotate");
  a.ok(root, Operation::Update, "kv/data/four", Json{{"data", {{"pw", "term4"}}}});
  b.ok(root, Operation::Update, "sys/rotate");
  CHECK(b.ok(root, Operation::Read, "sys/key-status").data["term"] == 5);
  b.ok(root, Operation::Update, "kv/data/five", Json{{"data", {{"pw", "term5"}}}});
  a.catch_up(b.mirror->revision());
  CHECK(a.ok(root, Operation::Read, "sys/key-status").data["term"] == 5);
  for (const auto& [name, pw] : {std::pair{"old", "term1"}, {"new", "term2"}, {"four", "term4"}, {"five", "term5"}}) {
    INFO(name);
    CHECK(a.ok(root, Operation::Read, std::string("kv/data/") + name).data["data"]["pw"] == pw);
    CHECK(b.ok(root, Operation::Read, std::string("kv/data/") + name).data["data"]["pw"] == pw);
  }

  // A third host unseals with the same share and reads every term.
  Host c(t);
  c.ok("", Operation::Update, "sys/unseal", Json{{"key", key}});
  CHECK(c.ok(root, Operation::Read, "sys/key-status").data["term"] == 5);
  CHECK(c.ok(root, Operation::Read, "kv/data/old").data["data"]["pw"] == "term1");
}

TEST_CASE("fleet: no child token outlives its parent when one host revokes while the other creates",
          "[fleet][postgres]") {
  const std::string t = fresh_table();
  Host a(t);
  const auto [root, key] = init_and_unseal(a);
  Host b(t);
  b.ok("", Operation::Update, "sys/unseal", Json{{"key", key}});
  auto parent = [&] {
    return std::string(a.ok(root, Operation::Update, "auth/token/create", Json{{"policies", Json::array({"root"})}})
                           .data["auth"]["client_token"]);
  };
  auto alive = [](Host& h, const std::string& token) {
    return h.call(token, Operation::Read, "auth/token/lookup-self").ok();
  };
  const std::string p1 = parent();
  const std::string p2 = parent();
  b.catch_up(a.mirror->revision());
  REQUIRE(alive(b, p1));

  // A revokes p1; B, which has not read that, makes a child of it: B's
  // write is refused and, run again on A's revoke, denied.
  a.ok(root, Operation::Update, "auth/token/revoke", Json{{"token", p1}});
  auto orphaned = b.call(p1, Operation::Update, "auth/token/create", Json::object());
  REQUIRE_FALSE(orphaned.ok());
  CHECK(orphaned.error().code == ErrorCode::PermissionDenied);

  // B makes a child of p2; A, which has not read that, revokes p2: A's
  // revoke runs again on B's commit and takes the child with it.
  auto child = b.ok(p2, Operation::Update, "auth/token/create", Json::object());
  const std::string c2 = child.data["auth"]["client_token"];
  a.ok(root, Operation::Update, "auth/token/revoke", Json{{"token", p2}});
  b.catch_up(a.mirror->revision());
  a.catch_up(b.mirror->revision());
  for (Host* h : {&a, &b}) {
    CHECK_FALSE(alive(*h, p1));
    CHECK_FALSE(alive(*h, p2));
    CHECK_FALSE(alive(*h, c2));
  }
}
