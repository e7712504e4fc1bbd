// SPDX-License-Identifier: MPL-2.0
// The compiled ACL: matching (§3), priority (§3.3), surprises (§3.4),
// merging (§4), operation checks (§5), root, capabilities().
// Each TEST_CASE names the rule it pins and fails on the mistake it names.
#include <catch2/catch.hpp>

#include <chrono>

#include "engine/policy/acl.hpp"
#include "engine/policy/radix.hpp"

using namespace engine;
using namespace engine::policy;

namespace {

struct P {
  std::string name;
  std::string text;
  std::string ns = "";
};

Policy parsed(const P& p) {
  auto r = parse_policy(p.name, p.text, p.ns);
  INFO(p.text);
  if (!r) FAIL(r.error().message);
  Policy out = std::move(r).value();
  out.namespace_id = p.ns.empty() ? "root" : "id-" + p.ns;
  return out;
}

Acl acl_of(const std::vector<P>& ps, const IdentityContext& identity = {}) {
  std::vector<Policy> policies;
  for (const auto& p : ps) policies.push_back(parsed(p));
  auto acl = Acl::compile(policies, identity);
  if (!acl) FAIL(acl.error().message);
  return std::move(acl).value();
}

Acl acl_of(std::string_view text) { return acl_of({P{"p", std::string(text)}}); }

bool can(const Acl& acl, Operation op, std::string_view path, const Json& params = Json::object(),
         std::optional<std::int64_t> wrap = std::nullopt) {
  return acl.allow(op, path, params, wrap).allowed;
}

Json body(std::initializer_list<std::pair<const char*, Json>> kv) {
  Json j = Json::object();
  for (const auto& [k, v] : kv) j[k] = v;
  return j;
}

using Caps = std::vector<std::string>;

}  // namespace

// ---------------------------------------------------------------------------
// §3.1 / §3.4: exact rules

TEST_CASE("acl: exact rule with empty capabilities beats a prefix grant", "[acl][3.4]") {
  const auto acl = acl_of(R"(
path "secret/*"   { capabilities = ["read"] }
path "secret/foo" { capabilities = [] }
)");
  CHECK_FALSE(can(acl, Operation::Read, "secret/foo"));
  CHECK(can(acl, Operation::Read, "secret/bar"));
  CHECK(acl.capabilities("secret/foo") == Caps{"deny"});
}

TEST_CASE("acl: an exact hit stops the search (no fallback to wider rules)", "[acl][3.1]") {
  const auto acl = acl_of(R"(
path "secret/*"   { capabilities = ["read", "update"] }
path "secret/foo" { capabilities = ["read"] }
)");
  CHECK(can(acl, Operation::Read, "secret/foo"));
  CHECK_FALSE(can(acl, Operation::Update, "secret/foo"));
  CHECK(can(acl, Operation::Update, "secret/foo2"));
}

TEST_CASE("acl: 'p/' and 'p' are different exact rules; only list falls back from p/ to p", "[acl][3.4]") {
  const auto acl = acl_of(R"(path "secret/foo" { capabilities = ["read", "list"] })");
  CHECK(can(acl, Operation::List, "secret/foo/"));
  CHECK_FALSE(can(acl, Operation::Read, "secret/foo/"));
  CHECK(can(acl, Operation::Read, "secret/foo"));
  const auto slash = acl_of(R"(path "secret/foo/" { capabilities = ["read"] })");
  CHECK_FALSE(can(slash, Operation::Read, "secret/foo"));
  CHECK(can(slash, Operation::Read, "secret/foo/"));
}

TEST_CASE("acl: leading slashes of the request path are ignored", "[acl][3.1]") {
  const auto acl = acl_of(R"(path "secret/foo" { capabilities = ["read"] })");
  CHECK(can(acl, Operation::Read, "/secret/foo"));
  CHECK(can(acl, Operation::Read, "///secret/foo"));
}

TEST_CASE("acl: no rule is an implicit deny", "[acl][3.1]") {
  const auto acl = acl_of(R"(path "secret/foo" { capabilities = ["read"] })");
  const auto d = acl.allow(Operation::Read, "other/foo", Json::object(), std::nullopt);
  CHECK_FALSE(d.allowed);
  CHECK(d.reason == DenyReason::NoRule);
  CHECK(acl.capabilities("other/foo") == Caps{"deny"});
}

// ---------------------------------------------------------------------------
// §3.2: prefix and segment matching

TEST_CASE("acl: 'secret/foo*' matches secret/foo, secret/foobar and deeper paths", "[acl][3.4]") {
  const auto acl = acl_of(R"(path "secret/foo*" { capabilities = ["read"] })");
  CHECK(can(acl, Operation::Read, "secret/foo"));
  CHECK(can(acl, Operation::Read, "secret/foobar"));
  CHECK(can(acl, Operation::Read, "secret/foo/bar/baz"));
  CHECK_FALSE(can(acl, Operation::Read, "secret/fo"));
  CHECK_FALSE(can(acl, Operation::Read, "secret/bar"));
}

TEST_CASE("acl: prefix rules are plain string prefixes, not segment-aware", "[acl][3.2]") {
  const auto acl = acl_of(R"(path "secret/zip-*" { capabilities = ["read"] })");
  CHECK(can(acl, Operation::Read, "secret/zip-zap/zong"));
}

TEST_CASE("acl: only the longest matching prefix rule is a candidate", "[acl][3.2]") {
  const auto acl = acl_of(R"(
path "secret/*"     { capabilities = ["read", "update"] }
path "secret/app/*" { capabilities = ["read"] }
path "*"            { capabilities = ["list"] }
)");
  CHECK_FALSE(can(acl, Operation::Update, "secret/app/db"));  // not merged with secret/*
  CHECK(can(acl, Operation::Update, "secret/other"));
  CHECK_FALSE(can(acl, Operation::List, "secret/other/"));
  CHECK(can(acl, Operation::List, "anything/else/"));
}

TEST_CASE("acl: '*' not at the end is a literal character", "[acl][2.3]") {
  const auto acl = acl_of(R"(path "secret/a*b" { capabilities = ["read"] })");
  CHECK(can(acl, Operation::Read, "secret/a*b"));
  CHECK_FALSE(can(acl, Operation::Read, "secret/axb"));
}

TEST_CASE("acl: '+' matches exactly one segment, including an empty one", "[acl][2.3]") {
  const auto acl = acl_of(R"(path "secret/+" { capabilities = ["read", "list"] })");
  CHECK(can(acl, Operation::Read, "secret/foo"));
  CHECK(can(acl, Operation::Read, "secret/"));  // the empty segment
  CHECK_FALSE(can(acl, Operation::Read, "secret"));
  CHECK_FALSE(can(acl, Operation::Read, "secret/a/b"));
  const auto mid = acl_of(R"(path "secret/+/config" { capabilities = ["read"] })");
  CHECK(can(mid, Operation::Read, "secret/app/config"));
  CHECK(can(mid, Operation::Read, "secret//config"));
  CHECK_FALSE(can(mid, Operation::Read, "secret/a/b/config"));
  CHECK_FALSE(can(mid, Operation::Read, "secret/app/config/x"));
}

TEST_CASE("acl: segment rule with a trailing '*' absorbs the rest", "[acl][3.2]") {
  const auto acl = acl_of(R"(path "secret/+/foo*" { capabilities = ["read"] })");
  CHECK(can(acl, Operation::Read, "secret/a/foo"));
  CHECK(can(acl, Operation::Read, "secret/a/foobar"));
  CHECK(can(acl, Operation::Read, "secret/a/foobar/x/y"));
  CHECK_FALSE(can(acl, Operation::Read, "secret/a/fo"));
  CHECK_FALSE(can(acl, Operation::Read, "secret/a"));
  const auto all = acl_of(R"(path "+/*" { capabilities = ["read"] })");
  CHECK(can(all, Operation::Read, "a/"));
  CHECK(can(all, Operation::Read, "a/b/c"));
  CHECK_FALSE(can(all, Operation::Read, "a"));
}

TEST_CASE("acl: a segment like '+b' only matches literally", "[acl][2.3]") {
  const auto acl = acl_of(R"(path "a/+b" { capabilities = ["read"] })");
  CHECK(can(acl, Operation::Read, "a/+b"));
  CHECK_FALSE(can(acl, Operation::Read, "a/xb"));
  CHECK_FALSE(can(acl, Operation::Read, "a/b"));
}

TEST_CASE("acl: a lone '+' rule matches any single-segment path", "[acl][2.3]") {
  const auto acl = acl_of(R"(path "+" { capabilities = ["read"] })");
  CHECK(can(acl, Operation::Read, "foo"));
  CHECK(can(acl, Operation::Read, ""));
  CHECK_FALSE(can(acl, Operation::Read, "foo/bar"));
}

// ---------------------------------------------------------------------------
// §3.3: priority between non-exact candidates

TEST_CASE("acl priority: '*' beats '+/*' (same position, fewer wildcards)", "[acl][3.3]") {
  const auto acl = acl_of(R"(
path "*"   { capabilities = ["read"] }
path "+/*" { capabilities = ["update"] }
)");
  CHECK(can(acl, Operation::Read, "a/b"));
  CHECK_FALSE(can(acl, Operation::Update, "a/b"));
}

TEST_CASE("acl priority: 'foo/+/*' beats '+/*' (later first wildcard)", "[acl][3.3]") {
  const auto acl = acl_of(R"(
path "+/*"     { capabilities = ["read"] }
path "foo/+/*" { capabilities = ["update"] }
)");
  CHECK(can(acl, Operation::Update, "foo/a/b"));
  CHECK_FALSE(can(acl, Operation::Read, "foo/a/b"));
  CHECK(can(acl, Operation::Read, "bar/a/b"));
}

TEST_CASE("acl priority: 'secret/+/x' beats 'secret/*' (a prefix rule loses the tie)", "[acl][3.3]") {
  const auto acl = acl_of(R"(
path "secret/*"   { capabilities = ["read"] }
path "secret/+/x" { capabilities = ["update"] }
)");
  CHECK(can(acl, Operation::Update, "secret/a/x"));
  CHECK_FALSE(can(acl, Operation::Read, "secret/a/x"));
  CHECK(can(acl, Operation::Read, "secret/a/y"));
}

TEST_CASE("acl priority: 'secret/a*' beats 'secret/+/x' (position 8 vs 7)", "[acl][3.3]") {
  const auto acl = acl_of(R"(
path "secret/+/x" { capabilities = ["update"] }
path "secret/a*"  { capabilities = ["read"] }
)");
  CHECK(can(acl, Operation::Read, "secret/a/x"));
  CHECK_FALSE(can(acl, Operation::Update, "secret/a/x"));
  CHECK(can(acl, Operation::Update, "secret/b/x"));
}

TEST_CASE("acl priority: non-prefix beats prefix at the same position ('foo/+' over 'foo/*')", "[acl][3.3]") {
  const auto acl = acl_of(R"(
path "foo/*" { capabilities = ["read"] }
path "foo/+" { capabilities = ["update"] }
)");
  CHECK(can(acl, Operation::Update, "foo/bar"));
  CHECK_FALSE(can(acl, Operation::Read, "foo/bar"));
  CHECK(can(acl, Operation::Read, "foo/bar/baz"));
}

TEST_CASE("acl priority: fewer '+' segments win at the same position", "[acl][3.3]") {
  const auto acl = acl_of(R"(
path "foo/+/+/+"   { capabilities = ["read"] }
path "foo/+/bar/+" { capabilities = ["update"] }
)");
  CHECK(can(acl, Operation::Update, "foo/a/bar/c"));
  CHECK_FALSE(can(acl, Operation::Read, "foo/a/bar/c"));
}

TEST_CASE("acl priority: a longer pattern wins when everything else ties", "[acl][3.3]") {
  const auto acl = acl_of(R"(
path "foo/+/bar/b*"  { capabilities = ["read"] }
path "foo/+/bar/ba*" { capabilities = ["update"] }
)");
  CHECK(can(acl, Operation::Update, "foo/x/bar/baz"));
  CHECK_FALSE(can(acl, Operation::Read, "foo/x/bar/baz"));
  CHECK(can(acl, Operation::Read, "foo/x/bar/bz"));
}

TEST_CASE("acl priority: lexicographically greater pattern breaks a full tie", "[acl][3.3]") {
  const auto acl = acl_of(R"(
path "x/+/+/b" { capabilities = ["update"] }
path "x/+/a/+" { capabilities = ["read"] }
)");
  // Both: first '+' at 2, not prefix, 2 wildcards, length 7; "x/+/a/+" > "x/+/+/b".
  CHECK(can(acl, Operation::Read, "x/1/a/b"));
  CHECK_FALSE(can(acl, Operation::Update, "x/1/a/b"));
}

TEST_CASE("acl priority: a broad deny never overrides a more specific allow of another pattern", "[acl][3.3][4]") {
  const auto acl = acl_of({P{"a", R"(path "secret/*" { capabilities = ["deny"] })"},
                           P{"b", R"(path "secret/app/*" { capabilities = ["read"] })"}});
  CHECK(can(acl, Operation::Read, "secret/app/db"));
  CHECK_FALSE(can(acl, Operation::Read, "secret/other"));
  const auto seg = acl_of({P{"a", R"(path "+/*" { capabilities = ["deny"] })"},
                           P{"b", R"(path "secret/+/db" { capabilities = ["read"] })"}});
  CHECK(can(seg, Operation::Read, "secret/x/db"));
  // ...and a specific deny beats a broad allow.
  const auto rev = acl_of({P{"a", R"(path "secret/*" { capabilities = ["read"] })"},
                           P{"b", R"(path "secret/app/*" { capabilities = ["deny"] })"}});
  CHECK_FALSE(can(rev, Operation::Read, "secret/app/db"));
}

TEST_CASE("acl priority: OpenBao's segment-wildcard priority vectors", "[acl][3.3]") {
  // (loser granted read, winner granted update, request path): the cases of
  // OpenBao's TestACL_SegmentWildcardPriority, in this harness.
  struct Case {
    const char* read_rule;
    const char* update_rule;
    const char* path;
  };
  const Case cases[] = {
      {"+/*", "*", "foo/bar/bar/baz"},                         // position / count edge
      {"+/*", "foo/+/*", "foo/bar/bar/baz"},                   // first wildcard position
      {"foo/+/+/*", "foo/+/bar/baz", "foo/bar/bar/baz"},       // wildcard count (prefix)
      {"foo/+/+/baz", "foo/+/bar/baz", "foo/bar/bar/baz"},     // wildcard count
      {"foo/+/(ar/baz", "foo/(ar/+/baz", "foo/(ar/(ar/baz"},   // lexicographic decoy
      {"foo/bar/+/baz*", "foo/bar/+/baz", "foo/bar/bar/baz"},  // trailing glob loses
      {"foo/bar/+/b*", "foo/bar/+/ba*", "foo/bar/bar/baz"},    // shorter loses
  };
  for (const auto& c : cases) {
    INFO(c.read_rule << " vs " << c.update_rule << " on " << c.path);
    const auto acl = acl_of(std::string("path \"") + c.read_rule + "\" { capabilities = [\"read\"] }\n" + "path \"" +
                            c.update_rule + "\" { capabilities = [\"update\"] }\n");
    CHECK(can(acl, Operation::Update, c.path));
    CHECK_FALSE(can(acl, Operation::Read, c.path));
  }
}

// ---------------------------------------------------------------------------
// §3.1 steps 3-4: the list fallback, OpenBao order

TEST_CASE("acl list: exact 'p' serves LIST of 'p/'", "[acl][3.1]") {
  const auto acl = acl_of(R"(path "secret/foo" { capabilities = ["list"] })");
  CHECK(can(acl, Operation::List, "secret/foo/"));
}

TEST_CASE("acl list: full path is matched before the trimmed one (GHSA-xp3c-3jw3-4vcr)", "[acl][3.1]") {
  // Vault's order would match "secret/foo" against secret/* first and list.
  const auto acl = acl_of(R"(
path "secret/*"     { capabilities = ["list"] }
path "secret/foo/*" { capabilities = ["deny"] }
)");
  CHECK_FALSE(can(acl, Operation::List, "secret/foo/"));
  CHECK(acl.capabilities("secret/foo/") == Caps{"deny"});
  CHECK(can(acl, Operation::List, "secret/bar/"));
}

TEST_CASE("acl list: non-exact fallback to the trimmed path when the full one has no match", "[acl][3.1]") {
  const auto acl = acl_of(R"(path "secret/+" { capabilities = ["list", "read"] })");
  CHECK(can(acl, Operation::List, "secret/foo/"));        // via "secret/foo"
  CHECK_FALSE(can(acl, Operation::Read, "secret/foo/"));  // only list falls back
  const auto prefix = acl_of(R"(path "secret/foo*" { capabilities = ["list"] })");
  CHECK(can(prefix, Operation::List, "secret/foo/"));
}

TEST_CASE("acl list: exact trimmed rule beats a non-exact rule on the full path", "[acl][3.1]") {
  const auto acl = acl_of(R"(
path "secret/*"   { capabilities = ["list"] }
path "secret/foo" { capabilities = ["read"] }
)");
  CHECK_FALSE(can(acl, Operation::List, "secret/foo/"));
}

// ---------------------------------------------------------------------------
// §4: merging

TEST_CASE("acl merge: deny wins on an identical pattern", "[acl][4]") {
  const auto acl = acl_of({P{"a", R"(path "secret/*" { capabilities = ["read", "update"] })"},
                           P{"b", R"(path "secret/*" { capabilities = ["deny"] })"}});
  CHECK_FALSE(can(acl, Operation::Read, "secret/x"));
  CHECK(acl.capabilities("secret/x") == Caps{"deny"});
  // Order of the policies does not matter.
  const auto rev = acl_of({P{"b", R"(path "secret/*" { capabilities = ["deny"] })"},
                           P{"a", R"(path "secret/*" { capabilities = ["read"] })"}});
  CHECK_FALSE(can(rev, Operation::Read, "secret/x"));
}

TEST_CASE("acl merge: deny merges only on the identical pattern and rule kind", "[acl][4]") {
  const auto prefix_vs_exact = acl_of({P{"a", R"(path "secret/foo" { capabilities = ["deny"] })"},
                                       P{"b", R"(path "secret/foo*" { capabilities = ["read"] })"}});
  CHECK_FALSE(can(prefix_vs_exact, Operation::Read, "secret/foo"));
  CHECK(can(prefix_vs_exact, Operation::Read, "secret/foobar"));
  const auto slash = acl_of({P{"a", R"(path "secret/foo/" { capabilities = ["deny"] })"},
                             P{"b", R"(path "secret/foo" { capabilities = ["read"] })"}});
  CHECK(can(slash, Operation::Read, "secret/foo"));
  const auto other = acl_of({P{"a", R"(path "secret/*" { capabilities = ["deny"] })"},
                             P{"b", R"(path "secret/foo*" { capabilities = ["read"] })"}});
  CHECK(can(other, Operation::Read, "secret/foo"));
}

TEST_CASE("acl merge: capabilities of one pattern are unioned; granting policies recorded", "[acl][4]") {
  const auto acl = acl_of({P{"a", R"(path "secret/*" { capabilities = ["read"] })"},
                           P{"b", R"(path "secret/*" { capabilities = ["read", "update"] })"},
                           P{"c", R"(path "secret/*" { capabilities = ["list"] })"}});
  CHECK(acl.capabilities("secret/x") == Caps{"read", "list", "update"});
  const auto d = acl.allow(Operation::Read, "secret/x", Json::object(), std::nullopt);
  REQUIRE(d.allowed);
  REQUIRE(d.granting_policies.size() == 2);
  CHECK(d.granting_policies[0].name == "a");
  CHECK(d.granting_policies[1].name == "b");
  CHECK(d.granting_policies[0].namespace_id == "root");
  CHECK(d.rule == "secret/*");
  const auto u = acl.allow(Operation::Update, "secret/x", Json::object(), std::nullopt);
  REQUIRE(u.granting_policies.size() == 1);
  CHECK(u.granting_policies[0].name == "b");
}

TEST_CASE("acl merge: repeated blocks in one policy merge like separate policies", "[acl][4]") {
  const auto acl = acl_of(R"(
path "secret/x" { capabilities = ["read"] }
path "secret/x" { capabilities = ["update"] }
path "secret/y" { capabilities = ["read"] }
path "secret/y" { capabilities = ["deny"] }
)");
  CHECK(can(acl, Operation::Update, "secret/x"));
  CHECK(can(acl, Operation::Read, "secret/x"));
  CHECK_FALSE(can(acl, Operation::Read, "secret/y"));
}

TEST_CASE("acl merge: parent-namespace policy on child/secret/* merges with child policy on secret/*", "[acl][4]") {
  const auto acl = acl_of({P{"parent", R"(path "child/secret/*" { capabilities = ["read"] })", "parent"},
                           P{"child", R"(path "secret/*" { capabilities = ["update"] })", "parent/child"}});
  CHECK(acl.capabilities("parent/child/secret/x") == Caps{"read", "update"});
  const auto deny = acl_of({P{"parent", R"(path "child/secret/*" { capabilities = ["deny"] })", "parent"},
                            P{"child", R"(path "secret/*" { capabilities = ["read"] })", "parent/child"}});
  CHECK_FALSE(can(deny, Operation::Read, "parent/child/secret/x"));
  const auto d = acl.allow(Operation::Read, "parent/child/secret/x", Json::object(), std::nullopt);
  REQUIRE(d.granting_policies.size() == 1);
  CHECK(d.granting_policies[0].namespace_path == "parent/");
}

TEST_CASE("acl merge: a namespace policy only reaches its own namespace", "[acl][1]") {
  const auto acl = acl_of({P{"p", R"(path "secret/*" { capabilities = ["read"] })", "ns1"}});
  CHECK(can(acl, Operation::Read, "ns1/secret/x"));
  CHECK_FALSE(can(acl, Operation::Read, "secret/x"));
  CHECK_FALSE(can(acl, Operation::Read, "ns2/secret/x"));
}

TEST_CASE("acl merge: wrapping TTLs take the smaller non-zero value", "[acl][4]") {
  const auto acl = acl_of({P{"a", R"(path "w" { capabilities = ["read"] max_wrapping_ttl = 300 })"},
                           P{"b", R"(path "w" { capabilities = ["read"] max_wrapping_ttl = 100 })"},
                           P{"c", R"(path "w" { capabilities = ["read"] })"}});
  CHECK(can(acl, Operation::Read, "w", Json::object(), 100));
  CHECK_FALSE(can(acl, Operation::Read, "w", Json::object(), 200));
}

TEST_CASE("acl merge: merged min > max denies every wrapped request", "[acl][4]") {
  const auto acl = acl_of({P{"a", R"(path "w" { capabilities = ["read"] min_wrapping_ttl = 100 })"},
                           P{"b", R"(path "w" { capabilities = ["read"] max_wrapping_ttl = 50 })"}});
  for (std::int64_t ttl : {10, 50, 75, 100, 200}) CHECK_FALSE(can(acl, Operation::Read, "w", Json::object(), ttl));
  CHECK_FALSE(can(acl, Operation::Read, "w"));
}

TEST_CASE("acl merge: allowed values concatenate; an empty list (any value) wins", "[acl][4]") {
  const auto acl =
      acl_of({P{"a", R"(path "x" { capabilities = ["update"] allowed_parameters = { "k" = ["one"], "m" = ["a"] } })"},
              P{"b", R"(path "x" { capabilities = ["update"] allowed_parameters = { "k" = ["two"], "m" = [] } })"}});
  CHECK(can(acl, Operation::Update, "x", body({{"k", "one"}})));
  CHECK(can(acl, Operation::Update, "x", body({{"k", "two"}})));
  CHECK_FALSE(can(acl, Operation::Update, "x", body({{"k", "three"}})));
  CHECK(can(acl, Operation::Update, "x", body({{"m", "anything"}})));
}

TEST_CASE("acl merge: a restricted and an unrestricted block keep the restriction (Vault)", "[acl][4]") {
  const auto acl = acl_of({P{"a", R"(path "x" { capabilities = ["update"] allowed_parameters = { "k" = [] } })"},
                           P{"b", R"(path "x" { capabilities = ["update"] })"}});
  CHECK_FALSE(can(acl, Operation::Update, "x", body({{"other", 1}})));
}

TEST_CASE("acl merge: denied parameters merge; deny drops parameters; required union", "[acl][4]") {
  const auto acl = acl_of(
      {P{"a",
         R"(path "x" { capabilities = ["update"] denied_parameters = { "k" = ["bad"] } required_parameters = ["r1"] })"},
       P{"b",
         R"(path "x" { capabilities = ["create"] denied_parameters = { "k" = ["worse"] } required_parameters = ["r2"] })"}});
  CHECK_FALSE(can(acl, Operation::Update, "x", body({{"k", "bad"}, {"r1", 1}, {"r2", 1}})));
  CHECK_FALSE(can(acl, Operation::Update, "x", body({{"k", "worse"}, {"r1", 1}, {"r2", 1}})));
  CHECK(can(acl, Operation::Update, "x", body({{"k", "fine"}, {"r1", 1}, {"r2", 1}})));
  CHECK_FALSE(can(acl, Operation::Update, "x", body({{"r1", 1}})));
  CHECK(can(acl, Operation::Create, "x", body({{"r1", 1}, {"r2", 2}})));
}

// ---------------------------------------------------------------------------
// §5: operation checks

TEST_CASE("acl ops: each operation needs its own capability", "[acl][5]") {
  struct Case {
    const char* cap;
    Operation op;
  };
  const Case cases[] = {{"read", Operation::Read},     {"list", Operation::List},   {"create", Operation::Create},
                        {"update", Operation::Update}, {"patch", Operation::Patch}, {"delete", Operation::Delete}};
  for (const auto& c : cases) {
    const auto acl = acl_of(std::string("path \"p/\" { capabilities = [\"") + c.cap + "\"] }");
    for (const auto& o : cases) {
      INFO(c.cap << " vs " << to_string(o.op));
      CHECK(can(acl, o.op, "p/") == (c.op == o.op));
    }
  }
  // update does not imply create (or patch), and create does not imply update.
  const auto up = acl_of(R"(path "p" { capabilities = ["update"] })");
  CHECK_FALSE(can(up, Operation::Create, "p"));
  CHECK_FALSE(can(up, Operation::Patch, "p"));
}

TEST_CASE("acl ops: deny rule denies every operation", "[acl][5]") {
  const auto acl = acl_of(R"(path "p" { capabilities = ["deny"] })");
  const auto d = acl.allow(Operation::Read, "p", Json::object(), std::nullopt);
  CHECK_FALSE(d.allowed);
  CHECK(d.reason == DenyReason::Capability);
  CHECK(d.capabilities == cap::kDeny);
}

TEST_CASE("acl ops: root-protected paths need sudo on the deciding rule", "[acl][5][9.5]") {
  const auto with = acl_of(R"(path "sys/audit/*" { capabilities = ["update", "sudo"] })");
  const auto without = acl_of(R"(path "sys/audit/*" { capabilities = ["update"] })");
  CHECK(with.allow(Operation::Update, "sys/audit/file", Json::object(), std::nullopt, true).allowed);
  CHECK(with.allow(Operation::Update, "sys/audit/file", Json::object(), std::nullopt, true).root_privs);
  const auto d = without.allow(Operation::Update, "sys/audit/file", Json::object(), std::nullopt, true);
  CHECK_FALSE(d.allowed);
  CHECK(d.reason == DenyReason::SudoRequired);
  CHECK(without.allow(Operation::Update, "sys/audit/file", Json::object(), std::nullopt, false).allowed);
  // sudo alone is not the operation's capability.
  const auto only_sudo = acl_of(R"(path "sys/audit/*" { capabilities = ["sudo"] })");
  CHECK_FALSE(only_sudo.allow(Operation::Update, "sys/audit/file", Json::object(), std::nullopt, true).allowed);
}

TEST_CASE("acl ops: wrapping bounds require a wrapped request within them", "[acl][5]") {
  const auto max = acl_of(R"(path "w" { capabilities = ["read"] max_wrapping_ttl = "1m" })");
  CHECK(can(max, Operation::Read, "w", Json::object(), 60));
  CHECK(can(max, Operation::Read, "w", Json::object(), 1));
  CHECK_FALSE(can(max, Operation::Read, "w", Json::object(), 61));
  CHECK_FALSE(can(max, Operation::Read, "w"));
  const auto min = acl_of(R"(path "w" { capabilities = ["read"] min_wrapping_ttl = 30 })");
  CHECK(can(min, Operation::Read, "w", Json::object(), 30));
  CHECK_FALSE(can(min, Operation::Read, "w", Json::object(), 29));
  CHECK_FALSE(can(min, Operation::Read, "w"));
  const auto none = acl_of(R"(path "w" { capabilities = ["read"] })");
  CHECK(can(none, Operation::Read, "w", Json::object(), 5));
  CHECK(max.allow(Operation::Read, "w", Json::object(), std::nullopt).reason == DenyReason::Wrapping);
}

TEST_CASE("acl params: checks apply to read/create/update/patch, never list or delete", "[acl][5]") {
  const auto acl = acl_of(R"(path "p/" {
    capabilities = ["read", "create", "update", "patch", "list", "delete"]
    denied_parameters = { "*" = [] }
  })");
  const Json b = body({{"x", 1}});
  CHECK_FALSE(can(acl, Operation::Read, "p/", b));
  CHECK_FALSE(can(acl, Operation::Create, "p/", b));
  CHECK_FALSE(can(acl, Operation::Update, "p/", b));
  CHECK_FALSE(can(acl, Operation::Patch, "p/", b));
  CHECK(can(acl, Operation::List, "p/", b));
  CHECK(can(acl, Operation::Delete, "p/", b));
}

TEST_CASE("acl params: required parameters (name lower-cased, body keys as sent)", "[acl][5]") {
  const auto acl = acl_of(R"(path "p" { capabilities = ["update"] required_parameters = ["Foo"] })");
  CHECK(can(acl, Operation::Update, "p", body({{"foo", 1}})));
  CHECK_FALSE(can(acl, Operation::Update, "p", body({{"Foo", 1}})));
  CHECK_FALSE(can(acl, Operation::Update, "p", body({{"bar", 1}})));
  CHECK_FALSE(can(acl, Operation::Update, "p"));  // empty body still needs them
  CHECK(acl.allow(Operation::Update, "p", Json::object(), std::nullopt).reason == DenyReason::Parameters);
}

TEST_CASE("acl params: an empty body is allowed whatever the allowed/denied lists say", "[acl][5]") {
  const auto acl = acl_of(R"(path "p" {
    capabilities = ["update"]
    allowed_parameters = { "a" = ["x"] }
    denied_parameters = { "*" = [] }
  })");
  CHECK(can(acl, Operation::Update, "p"));
  CHECK(can(acl, Operation::Update, "p", Json()));  // non-object counts as empty
}

TEST_CASE("acl params: denied '*' denies any non-empty body", "[acl][5]") {
  const auto acl = acl_of(R"(path "p" {
    capabilities = ["update"]
    denied_parameters = { "*" = ["only-this"] }
  })");
  CHECK_FALSE(can(acl, Operation::Update, "p", body({{"a", "other"}})));
}

TEST_CASE("acl params: denied name with values; names compared lower-cased", "[acl][5]") {
  const auto acl = acl_of(R"(path "p" {
    capabilities = ["update"]
    denied_parameters = { "Color" = ["red"], "size" = [] }
  })");
  CHECK_FALSE(can(acl, Operation::Update, "p", body({{"color", "red"}})));
  CHECK_FALSE(can(acl, Operation::Update, "p", body({{"COLOR", "red"}})));
  CHECK(can(acl, Operation::Update, "p", body({{"color", "blue"}})));
  CHECK_FALSE(can(acl, Operation::Update, "p", body({{"size", 3}})));  // empty list: any value
  CHECK(can(acl, Operation::Update, "p", body({{"other", "red"}})));
}

TEST_CASE("acl params: allowed lists; unlisted names denied unless '*' is listed", "[acl][5]") {
  const auto acl = acl_of(R"(path "p" {
    capabilities = ["update"]
    allowed_parameters = { "color" = ["red", "blue"], "free" = [] }
  })");
  CHECK(can(acl, Operation::Update, "p", body({{"color", "red"}, {"free", 42}})));
  CHECK(can(acl, Operation::Update, "p", body({{"Color", "blue"}})));
  CHECK_FALSE(can(acl, Operation::Update, "p", body({{"color", "green"}})));
  CHECK_FALSE(can(acl, Operation::Update, "p", body({{"other", "x"}})));
  const auto star_only = acl_of(R"(path "p" { capabilities = ["update"] allowed_parameters = { "*" = [] } })");
  CHECK(can(star_only, Operation::Update, "p", body({{"anything", "x"}})));
  const auto star_plus = acl_of(R"(path "p" {
    capabilities = ["update"]
    allowed_parameters = { "*" = [], "color" = ["red"] }
  })");
  CHECK(can(star_plus, Operation::Update, "p", body({{"anything", "x"}, {"color", "red"}})));
  CHECK_FALSE(can(star_plus, Operation::Update, "p", body({{"color", "blue"}})));
}

TEST_CASE("acl params: string globs only at the ends: 'bad*', '*good', '*x*', '*', '**'", "[acl][5]") {
  const auto acl = acl_of(R"(path "p" {
    capabilities = ["update"]
    allowed_parameters = {
      "pre"  = ["bad*"]
      "suf"  = ["*good"]
      "mid"  = ["*x*"]
      "star" = ["*"]
      "two"  = ["**"]
      "in"   = ["a*b"]
    }
  })");
  const auto ok = [&](const char* k, const char* v) { return can(acl, Operation::Update, "p", body({{k, v}})); };
  CHECK(ok("pre", "bad"));
  CHECK(ok("pre", "badly"));
  CHECK_FALSE(ok("pre", "notbad"));
  CHECK(ok("suf", "good"));
  CHECK(ok("suf", "verygood"));
  CHECK_FALSE(ok("suf", "goods"));
  CHECK(ok("mid", "x"));
  CHECK(ok("mid", "axb"));
  CHECK_FALSE(ok("mid", "abc"));
  CHECK(ok("star", "*"));  // a lone '*' is literal
  CHECK_FALSE(ok("star", "anything"));
  CHECK(ok("two", "anything"));  // '**' matches anything
  CHECK(ok("two", ""));
  CHECK(ok("in", "a*b"));  // inner '*' is literal
  CHECK_FALSE(ok("in", "axb"));
}

TEST_CASE("acl params: non-string values use deep equality; null matches only null", "[acl][5]") {
  const auto acl = acl_of(R"({"path": {"p": {"capabilities": ["update"],
    "allowed_parameters": {"n": [5, 2.5], "b": [true], "m": [{"k": "v"}], "s": ["5"], "l": [["a", "b"]]}}}})");
  CHECK(can(acl, Operation::Update, "p", body({{"n", 5}})));
  CHECK(can(acl, Operation::Update, "p", body({{"n", 5.0}})));
  CHECK(can(acl, Operation::Update, "p", body({{"n", 2.5}})));
  CHECK_FALSE(can(acl, Operation::Update, "p", body({{"n", 6}})));
  CHECK_FALSE(can(acl, Operation::Update, "p", body({{"n", "5"}})));
  CHECK(can(acl, Operation::Update, "p", body({{"b", true}})));
  CHECK_FALSE(can(acl, Operation::Update, "p", body({{"b", false}})));
  CHECK(can(acl, Operation::Update, "p", body({{"m", body({{"k", "v"}})}})));
  CHECK_FALSE(can(acl, Operation::Update, "p", body({{"m", body({{"k", "w"}})}})));
  CHECK_FALSE(can(acl, Operation::Update, "p", body({{"s", 5}})));
  CHECK_FALSE(can(acl, Operation::Update, "p", body({{"b", nullptr}})));
  // Whole-value matching of lists (OpenBao): the list must equal an element.
  CHECK(can(acl, Operation::Update, "p", body({{"l", Json::array({"a", "b"})}})));
  CHECK_FALSE(can(acl, Operation::Update, "p", body({{"l", Json::array({"a"})}})));
  const auto strs = acl_of(R"(path "p" { capabilities = ["update"] allowed_parameters = { "s" = ["a", "b"] } })");
  CHECK_FALSE(can(strs, Operation::Update, "p", body({{"s", Json::array({"a", "b"})}})));
}

TEST_CASE("acl ops: mfa_methods and control_group fail closed", "[acl][5]") {
  const auto mfa = acl_of(R"(path "p" { capabilities = ["read"] mfa_methods = ["totp"] })");
  CHECK(mfa.allow(Operation::Read, "p", Json::object(), std::nullopt).reason == DenyReason::MfaRequired);
  const auto cg = acl_of(R"(path "p" {
    capabilities = ["read"]
    control_group = { factor "x" { identity { group_names = ["g"] approvals = 1 } } }
  })");
  CHECK(cg.allow(Operation::Read, "p", Json::object(), std::nullopt).reason == DenyReason::ControlGroup);
  CHECK(cg.capabilities("p") == Caps{"read"});
}

// ---------------------------------------------------------------------------
// capabilities() and root

TEST_CASE("acl capabilities: fixed order, deny when explicit or empty, list-style fallback", "[acl][3.4]") {
  const auto acl = acl_of(R"(
path "a" { capabilities = ["patch", "create", "delete", "update", "list", "read", "sudo"] }
path "b" { capabilities = ["deny"] }
path "c" { capabilities = [] }
path "d" { capabilities = ["list"] }
)");
  CHECK(acl.capabilities("a") == Caps{"sudo", "read", "list", "update", "delete", "create", "patch"});
  CHECK(acl.capabilities("b") == Caps{"deny"});
  CHECK(acl.capabilities("c") == Caps{"deny"});
  CHECK(acl.capabilities("nothing") == Caps{"deny"});
  CHECK(acl.capabilities("d/") == Caps{"list"});  // trailing '/' falls back to "d"
  CHECK(acl.capabilities("/a") == acl.capabilities("a"));
}

TEST_CASE("acl root: everything allowed, ['root'], cannot be combined", "[acl][9.6]") {
  auto root = Acl::compile(std::vector<Policy>{make_root_policy("")}, IdentityContext{});
  REQUIRE(root.ok());
  CHECK(root->is_root());
  const auto d = root->allow(Operation::Delete, "sys/raw/x", Json::object(), std::nullopt, true);
  CHECK(d.allowed);
  CHECK(d.is_root);
  CHECK(d.root_privs);
  REQUIRE(d.granting_policies.size() == 1);
  CHECK(d.granting_policies[0].name == "root");
  CHECK(root->capabilities("anything/at/all") == Caps{"root"});
  CHECK(root->capabilities("ns1/secret/x") == Caps{"root"});

  const auto other = parsed(P{"p", R"(path "x" { capabilities = ["read"] })"});
  auto mixed = Acl::compile(std::vector<Policy>{make_root_policy(""), other}, IdentityContext{});
  REQUIRE_FALSE(mixed.ok());
  CHECK(mixed.error().message == "other policies present along with root");
}

TEST_CASE("acl root: a namespace root policy covers that namespace and below only", "[acl][9.6]") {
  auto root = Acl::compile(std::vector<Policy>{make_root_policy("ns1")}, IdentityContext{});
  REQUIRE(root.ok());
  CHECK(root->allow(Operation::Read, "ns1/secret/x", Json::object(), std::nullopt).allowed);
  CHECK(root->allow(Operation::Read, "ns1/child/secret/x", Json::object(), std::nullopt).allowed);
  const auto d = root->allow(Operation::Read, "ns10/secret/x", Json::object(), std::nullopt);
  CHECK_FALSE(d.allowed);
  CHECK(d.reason == DenyReason::OutsideRootNamespace);
  CHECK(root->capabilities("secret/x") == Caps{"deny"});
}

TEST_CASE("acl: a policy named root from text is an ordinary policy", "[acl][9.6]") {
  const auto acl = acl_of({P{"root", R"(path "x" { capabilities = ["read"] })"}});
  CHECK_FALSE(acl.is_root());
  CHECK_FALSE(can(acl, Operation::Read, "y"));
}

TEST_CASE("acl: the default policy grants what it says", "[acl][9.6]") {
  IdentityContext id;
  id.entity = EntityInfo{"ent-1", "alice", {}, {}};
  const auto acl = acl_of({P{"default", std::string(kDefaultPolicyText), "ns1"}}, id);
  CHECK(can(acl, Operation::Read, "ns1/auth/token/lookup-self"));
  CHECK(can(acl, Operation::Update, "ns1/auth/token/renew-self"));
  CHECK(can(acl, Operation::Create, "ns1/cubbyhole/x"));
  CHECK(can(acl, Operation::List, "ns1/cubbyhole/"));
  CHECK(can(acl, Operation::Read, "ns1/identity/entity/id/ent-1"));
  CHECK(can(acl, Operation::Read, "ns1/identity/entity/name/alice"));
  CHECK_FALSE(can(acl, Operation::Read, "ns1/identity/entity/id/ent-2"));
  CHECK(can(acl, Operation::Update, "ns1/identity/oidc/provider/p1/authorize"));
  CHECK_FALSE(can(acl, Operation::Read, "ns1/secret/x"));
  CHECK_FALSE(can(acl, Operation::Read, "auth/token/lookup-self"));  // root ns not covered
}

// ---------------------------------------------------------------------------
// Index structures and scale

TEST_CASE("acl radix tree: insert, find, longest prefix, every prefix", "[acl][radix]") {
  RadixTree t;
  t.insert("secret/") = 1;
  t.insert("secret/foo") = 2;
  t.insert("secret/fob") = 3;
  t.insert("") = 0;
  t.insert("sec") = 4;
  CHECK(t.find("secret/") == 1);
  CHECK(t.find("secret/fo") == RadixTree::kNone);
  CHECK(t.find("sec") == 4);
  CHECK(t.longest_prefix("secret/foobar") == 2);
  CHECK(t.longest_prefix("secret/fo") == 1);
  CHECK(t.longest_prefix("other") == 0);
  CHECK(t.longest_prefix("secre") == 4);
  std::vector<std::uint32_t> seen;
  t.for_each_prefix("secret/fob/x", [&](std::size_t, std::uint32_t v) { seen.push_back(v); });
  CHECK(seen == std::vector<std::uint32_t>{0, 4, 1, 3});
}

TEST_CASE("acl scale: 100,000 rules of every kind decide correctly", "[acl][scale]") {
  std::string text;
  text.reserve(100000 * 48);
  for (int i = 0; i < 25000; ++i) {
    const std::string n = std::to_string(i);
    text += "path \"kv/exact/" + n + "\" { capabilities = [\"read\"] }\n";
    text += "path \"kv/prefix/" + n + "/*\" { capabilities = [\"update\"] }\n";
    text += "path \"kv/+/seg" + n + "\" { capabilities = [\"list\"] }\n";
    text += "path \"kv/+/star" + n + "/*\" { capabilities = [\"delete\"] }\n";
  }
  const auto acl = acl_of(text);
  CHECK(acl.rule_count() == 100000);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 25000; i += 97) {
    const std::string n = std::to_string(i);
    CHECK(can(acl, Operation::Read, "kv/exact/" + n));
    CHECK(can(acl, Operation::Update, "kv/prefix/" + n + "/deep/path"));
    CHECK(can(acl, Operation::List, "kv/any/seg" + n + "/"));  // via trimmed fallback
    CHECK(can(acl, Operation::Delete, "kv/any/star" + n + "/x"));
    CHECK_FALSE(can(acl, Operation::Read, "kv/prefix/" + n + "/x"));
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  // ~1300 decisions; a linear scan of 100k rules each would take seconds.
  CHECK(elapsed < std::chrono::seconds(2));
}

// ---------------------------------------------------------------------------
// Events: subscribe_event_types (Vault's CapabilitiesAndSubscribeEventTypes)

TEST_CASE("acl: subscribe_event_types are unioned over merged blocks and follow the deciding rule", "[acl][events]") {
  const Acl acl = acl_of(
      {P{"a", R"(path "secret/data/*" { capabilities = ["subscribe"] subscribe_event_types = ["kv-v2/data-*"] })"},
       P{"b", R"(path "secret/data/*" { capabilities = ["read"] subscribe_event_types = ["kv-v1/*"] }
path "secret/data/private" { capabilities = ["deny"] subscribe_event_types = ["*"] }
path "other/*" { capabilities = ["subscribe"] })"}});
  CHECK(acl.subscribe_event_types("secret/data/app") == Caps{"kv-v2/data-*", "kv-v1/*"});
  CHECK(acl.subscribe_event_types("/secret/data/app") == Caps{"kv-v2/data-*", "kv-v1/*"});
  CHECK(acl.subscribe_event_types("secret/data/private").empty());  // deny decides
  CHECK(acl.subscribe_event_types("other/x").empty());              // subscribe, no types
  CHECK(acl.subscribe_event_types("nowhere").empty());

  auto root = Acl::compile(std::vector<Policy>{make_root_policy("")}, IdentityContext{});
  REQUIRE(root);
  CHECK(root->subscribe_event_types("secret/data/app") == Caps{"*"});
}
