// SPDX-License-Identifier: MPL-2.0
// Token store rules against Vault's token_store.go: a namespace's store
// reaches only that namespace's tokens and its children's (by id and by
// accessor, on every endpoint); TTL arithmetic caps periods and saturates;
// Vault's warnings and error texts.
#include <catch2/catch.hpp>

#include "engine/common/duration.hpp"
#include "engine/common/time.hpp"
#include "engine/token/token_store.hpp"
#include "tests/unit/core/authz_support.hpp"

using namespace coffer_test;
using engine::ErrorCode;
using engine::Json;
using engine::Operation;

namespace {

std::string admin_policy() {
  return "path \"*\" { capabilities = [\"create\", \"read\", \"update\", \"delete\", \"list\", \"sudo\"] }\n";
}

// A write through the file view as `who`; the error (code, message) or the reply.
struct Outcome {
  bool ok = false;
  ErrorCode code = ErrorCode::Internal;
  std::string message;
  nlohmann::json reply;
};
Outcome write_as(DevCore& d, const std::string& token, const std::string& path, const std::string& body) {
  auto r = d.files->write(as(token), path, body, engine::WriteMode::Replace);
  Outcome out;
  out.ok = r.ok();
  if (r.ok()) {
    out.reply = reply(r.value());
  } else {
    out.code = r.error().code;
    out.message = r.error().message;
  }
  return out;
}

std::vector<std::string> warnings_of(const nlohmann::json& reply) {
  std::vector<std::string> out;
  if (reply.contains("warnings")) {
    for (const auto& w : reply["warnings"]) out.push_back(w.get<std::string>());
  }
  return out;
}

bool alive(DevCore& d, const std::string& token, const std::string& ns = "") {
  return d.files->read(as(token), ns + "auth/token/lookup-self").ok();
}

}  // namespace

TEST_CASE("a namespace admin reaches no parent token by accessor or id, on any endpoint", "[tokens][namespaces]") {
  DevCore d;
  REQUIRE(d.files->make_dir(d.root, "education").ok());
  REQUIRE(d.files->make_dir(d.root, "education/training").ok());
  REQUIRE(d.files->write(d.root, "education/sys/policies/acl/admin", admin_policy(), engine::WriteMode::Replace).ok());
  const std::string admin = make_token(d, R"({"policies":["admin"]})", "education/");
  const std::string parent = make_token(d, R"({"policies":["default"]})");  // a root-namespace token
  const std::string parent_accessor =
      reply(d.files->read(as(parent), "auth/token/lookup-self").value())["accessor"].get<std::string>();
  const std::string child = make_token(d, R"({"policies":["default"]})", "education/training/");
  const std::string child_accessor =
      reply(d.files->read(as(child), "education/training/auth/token/lookup-self").value())["accessor"]
          .get<std::string>();
  const std::string store = "education/auth/token/";

  // Each endpoint answers the parent's token exactly as an unknown one.
  struct Case {
    std::string endpoint, known, unknown;
  };
  const std::vector<Case> cases = {
      {"lookup-accessor", "accessor=" + parent_accessor, "accessor=nosuchaccessor00000000000"},
      {"renew-accessor", "accessor=" + parent_accessor, "accessor=nosuchaccessor00000000000"},
      {"revoke-accessor", "accessor=" + parent_accessor, "accessor=nosuchaccessor00000000000"},
      {"lookup", "token=" + parent, "token=hvs.nosuchtoken000000000000"},
      {"renew", "token=" + parent, "token=hvs.nosuchtoken000000000000"},
      {"revoke", "token=" + parent, "token=hvs.nosuchtoken000000000000"},
      {"revoke-orphan", "token=" + parent, "token=hvs.nosuchtoken000000000000"},
  };
  for (const auto& c : cases) {
    INFO(c.endpoint);
    const Outcome known = write_as(d, admin, store + c.endpoint, c.known);
    const Outcome unknown = write_as(d, admin, store + c.endpoint, c.unknown);
    CHECK(known.ok == unknown.ok);
    CHECK(known.code == unknown.code);
    CHECK(known.message == unknown.message);
    CHECK(known.reply == unknown.reply);
    CHECK_FALSE(known.reply.dump().find(parent_accessor) != std::string::npos);
    CHECK(alive(d, parent));  // not revoked, not orphaned
  }
  // Vault's answers for an unknown one.
  CHECK(write_as(d, admin, store + "lookup-accessor", "accessor=" + parent_accessor).message == "invalid accessor");
  CHECK(write_as(d, admin, store + "lookup-accessor", "accessor=" + parent_accessor).code ==
        ErrorCode::InvalidArgument);
  CHECK(write_as(d, admin, store + "renew", "token=" + parent).message == "token not found");
  CHECK(write_as(d, admin, store + "revoke-orphan", "token=" + parent).message == "token to revoke not found");
  CHECK(warnings_of(write_as(d, admin, store + "revoke-accessor", "accessor=" + parent_accessor).reply) ==
        std::vector<std::string>{"No token found with this accessor"});

  // sys/capabilities(-accessor) in the namespace: the same rule.
  auto caps_accessor = write_as(d, admin, "education/sys/capabilities-accessor",
                                R"({"accessor":")" + parent_accessor + R"(","paths":["x"]})");
  CHECK(caps_accessor.message == "invalid accessor");
  auto caps_token = write_as(d, admin, "education/sys/capabilities", R"({"token":")" + parent + R"(","paths":["x"]})");
  CHECK(caps_token.message == "invalid token");

  // A child namespace's token is reachable from its parent's store.
  auto below = write_as(d, admin, store + "lookup-accessor", "accessor=" + child_accessor);
  REQUIRE(below.ok);
  CHECK(below.reply["namespace_path"] == "education/training/");
  CHECK(write_as(d, admin, "education/sys/capabilities-accessor",
                 R"({"accessor":")" + child_accessor + R"(","paths":["x"]})")
            .ok);
  REQUIRE(write_as(d, admin, store + "revoke-accessor", "accessor=" + child_accessor).ok);
  CHECK_FALSE(alive(d, child, "education/training/"));
  // And the root namespace's store reaches everything below it.
  const std::string admin_accessor =
      reply(d.files->read(as(admin), "education/auth/token/lookup-self").value())["accessor"].get<std::string>();
  CHECK(reply(d.put("auth/token/lookup-accessor", "accessor=" + admin_accessor))["namespace_path"] == "education/");
}

TEST_CASE("saturating duration arithmetic and Go duration texts", "[tokens][ttl]") {
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  CHECK(engine::saturating_add(kMax, 1) == kMax);
  CHECK(engine::saturating_add(kMin, -1) == kMin);
  CHECK(engine::saturating_add(5, -7) == -2);
  CHECK(engine::saturating_mul(kMax / 2, 3) == kMax);
  CHECK(engine::saturating_mul(-(kMax / 2), 3) == kMin);
  CHECK(engine::seconds_to_ns(9'000'000'000'000'000'000) == kMax);
  CHECK(engine::ns_after(1'700'000'000'000'000'000, 9'000'000'000'000'000'000) == kMax);
  CHECK(engine::ns_after(1, 2) == 2'000'000'001);
  CHECK(engine::go_duration(768 * 3600) == "768h0m0s");
  CHECK(engine::go_duration(90) == "1m30s");
  CHECK(engine::go_duration(45) == "45s");
  CHECK(engine::go_duration(0) == "0s");
  CHECK(engine::go_duration(3661) == "1h1m1s");
}

TEST_CASE("calculate_ttl follows Vault's CalculateTTL and never overflows", "[tokens][ttl]") {
  const std::int64_t now = 1'800'000'000;
  const std::int64_t max = engine::kMaxTokenTtlSeconds;
  engine::TtlInputs in;
  in.start_unix = now;
  in.now_unix = now;
  in.period = 800 * 3600;
  auto capped = engine::calculate_ttl(in);
  REQUIRE(capped.ok());
  CHECK(capped->ttl == max);
  CHECK(capped->warnings ==
        std::vector<std::string>{"period of \"800h0m0s\" exceeded the effective max_ttl of \"768h0m0s\"; period value "
                                 "is capped accordingly"});
  for (std::int64_t huge : {std::int64_t{9'000'000'000'000'000'000}, std::numeric_limits<std::int64_t>::max()}) {
    engine::TtlInputs p = in;
    p.period = huge;
    CHECK(engine::calculate_ttl(p)->ttl == max);
    engine::TtlInputs t = in;
    t.period = 0;
    t.backend_ttl = huge;
    auto ttl = engine::calculate_ttl(t);
    CHECK(ttl->ttl == max);
    CHECK(ttl->warnings.size() == 1);
    engine::TtlInputs e = t;
    e.backend_ttl = 3600;
    e.explicit_max_ttl = huge;
    CHECK(engine::calculate_ttl(e)->ttl == 3600);
    engine::TtlInputs r = e;
    r.increment = huge;  // a renewal's increment
    CHECK(engine::calculate_ttl(r)->ttl == max);
    engine::TtlInputs pe = p;
    pe.explicit_max_ttl = huge;
    CHECK(engine::calculate_ttl(pe)->ttl == max);
  }
  // A period under an explicit max: capped at it; renewals stop at start + explicit max.
  engine::TtlInputs pe = in;
  pe.period = 3600;
  pe.explicit_max_ttl = 1800;
  CHECK(engine::calculate_ttl(pe)->ttl == 1800);
  pe.explicit_max_ttl = 7200;
  pe.now_unix = now + 7000;
  auto late = engine::calculate_ttl(pe);
  CHECK(late->ttl == 200);
  CHECK(late->warnings ==
        std::vector<std::string>{"TTL of \"1h0m0s\" exceeded the effective max_ttl of \"3m20s\"; TTL value is capped "
                                 "accordingly"});
  pe.now_unix = now + 7201;
  CHECK(engine::calculate_ttl(pe).error().message == "past the max TTL, cannot renew");
}

TEST_CASE("huge period, ttl and explicit_max_ttl give a token capped at the max TTL, alive", "[tokens][ttl]") {
  DevCore d;
  const std::int64_t max = engine::kMaxTokenTtlSeconds;
  auto created = reply(d.put("auth/token/create", R"({"period":"800h","policies":["default"]})"));
  CHECK(created["auth"]["lease_duration"] == max);
  CHECK(warnings_of(created) ==
        std::vector<std::string>{"period of \"800h0m0s\" exceeded the effective max_ttl of \"768h0m0s\"; period "
                                 "value is capped accordingly"});
  const std::string periodic = created["auth"]["client_token"];
  auto looked = reply(d.files->read(as(periodic), "auth/token/lookup-self").value());
  CHECK(looked["period"] == 800 * 3600);  // shown as given, as Vault does
  CHECK(looked["ttl"].get<std::int64_t>() <= max);
  CHECK(looked["ttl"].get<std::int64_t>() > max - 60);

  for (const char* body :
       {R"({"period":"9000000000000000000","policies":["default"]})", R"({"period":"2562047h","policies":["default"]})",
        R"({"ttl":"9000000000000000000","policies":["default"]})",
        R"({"ttl":"1h","explicit_max_ttl":"9000000000000000000","policies":["default"]})",
        R"({"period":"1h","explicit_max_ttl":"9000000000000000000","policies":["default"]})"}) {
    INFO(body);
    auto r = reply(d.put("auth/token/create", body));
    const std::int64_t lease = r["auth"]["lease_duration"];
    CHECK(lease > 0);
    CHECK(lease <= max);
    const std::string t = r["auth"]["client_token"];
    auto self = reply(d.files->read(as(t), "auth/token/lookup-self").value());
    CHECK(self["ttl"].get<std::int64_t>() > 0);
    CHECK(self["ttl"].get<std::int64_t>() <= max);
    // expire_time is this century's, not 2149's or 1677's.
    CHECK(self["expire_time"].get<std::string>().substr(0, 2) == "20");
    CHECK(self["expire_time"].get<std::string>() < "2100");
    // A huge renewal increment: still capped, still alive.
    auto renewed = reply(
        d.files->write(as(t), "auth/token/renew-self", "increment=9000000000000000000", engine::WriteMode::Replace)
            .value());
    CHECK(renewed["auth"]["lease_duration"].get<std::int64_t>() > 0);
    CHECK(renewed["auth"]["lease_duration"].get<std::int64_t>() <= max);
    CHECK(alive(d, t));
  }
}

TEST_CASE("token create warns, as Vault does, about policies that do not exist", "[tokens][warnings]") {
  DevCore d;
  d.put("sys/policies/acl/real", "path \"x\" { capabilities = [\"read\"] }\n");
  auto r = reply(d.put("auth/token/create", R"({"policies":["real","nope"]})"));
  CHECK(warnings_of(r) == std::vector<std::string>{"Policy \"nope\" does not exist"});
  CHECK(r["auth"]["policies"] == nlohmann::json::array({"default", "nope", "real"}));
  // None when every policy exists; none for root.
  CHECK_FALSE(reply(d.put("auth/token/create", R"({"policies":["real"]})")).contains("warnings"));
  CHECK_FALSE(reply(d.put("auth/token/create", R"({"policies":["root"]})")).contains("warnings"));
  // A custom id: Vault's SHA1 warning.
  auto custom = reply(d.put("auth/token/create", R"({"id":"my-id","policies":["real"]})"));
  REQUIRE(warnings_of(custom).size() == 1);
  CHECK(warnings_of(custom)[0].starts_with("Supplying a custom ID for the token uses the weaker SHA1 hashing"));
}

TEST_CASE("token store errors carry Vault's texts and errnos", "[tokens][errors]") {
  DevCore d;
  REQUIRE(d.files->make_dir(d.root, "education").ok());
  // A root-namespace token that may write the child's create path, without sudo.
  d.put("sys/policies/acl/maker", "path \"education/auth/token/create\" { capabilities = [\"update\"] }\n");
  d.put("sys/policies/acl/sudo-maker",
        "path \"education/auth/token/create\" { capabilities = [\"update\", \"sudo\"] }\n");
  const std::string maker = make_token(d, R"({"policies":["maker"]})");
  const std::string sudo_maker = make_token(d, R"({"policies":["sudo-maker"]})");
  auto plain = write_as(d, maker, "education/auth/token/create", "{}");
  CHECK(plain.code == ErrorCode::InvalidArgument);  // Vault's 400
  CHECK(plain.message == "root or sudo privileges required to directly generate a token in a child namespace");
  auto rooted = write_as(d, sudo_maker, "education/auth/token/create", R"({"policies":["root"]})");
  CHECK(rooted.code == ErrorCode::InvalidArgument);
  CHECK(rooted.message == "root tokens may not be created from a parent namespace");
  CHECK(write_as(d, "root", "education/auth/token/create", R"({"policies":["Root"]})").message ==
        "root tokens may not be created from a parent namespace");
  // With sudo and other policies: an admin token of the child namespace.
  auto made = write_as(d, sudo_maker, "education/auth/token/create", R"({"policies":["x"]})");
  REQUIRE(made.ok);
  CHECK(made.reply["auth"]["policies"] == nlohmann::json::array({"default", "x"}));

  const std::string limited = make_token(d, R"({"num_uses":3})");
  auto restricted = write_as(d, limited, "auth/token/create", "{}");
  CHECK(restricted.code == ErrorCode::InvalidArgument);
  CHECK(restricted.message == "restricted use token cannot generate child tokens");
  const std::string weak = make_token(d, R"({"policies":["default"]})");
  CHECK(write_as(d, "root", "auth/token/create", R"({"policies":["root"]})").ok);
  d.put("sys/policies/acl/creator", "path \"auth/token/create\" { capabilities = [\"update\", \"sudo\"] }\n");
  const std::string creator = make_token(d, R"({"policies":["creator"]})");
  CHECK(write_as(d, creator, "auth/token/create", R"({"policies":["root"]})").message ==
        "root tokens may not be created without parent token being root");

  // Missing inputs.
  CHECK(write_as(d, "root", "auth/token/lookup-accessor", "{}").message == "missing accessor");
  CHECK(write_as(d, "root", "auth/token/revoke", "{}").message == "missing token ID");
  CHECK(write_as(d, "root", "auth/token/renew", "{}").message == "missing token ID");
  CHECK(write_as(d, "root", "auth/token/revoke-orphan", "{}").message == "missing token ID");
  // lookup without a token looks up the caller (Vault's handleLookup).
  CHECK(write_as(d, "root", "auth/token/lookup", "{}").reply["display_name"] == "root");
  // Unknown ones.
  auto bad = write_as(d, "root", "auth/token/lookup", "token=hvs.nope");
  CHECK(bad.code == ErrorCode::PermissionDenied);  // Vault's 403
  CHECK(bad.message == "bad token");
  CHECK(write_as(d, "root", "auth/token/renew-accessor", "accessor=nope").message == "invalid accessor");
  // Custom ids.
  CHECK(write_as(d, "root", "auth/token/create", R"({"id":"hvs.x"})").message ==
        "custom token ID cannot have the 'hvs.' prefix");
  CHECK(write_as(d, "root", "auth/token/create", R"({"id":"s.x"})").message ==
        "custom token ID cannot have the 's.' prefix");
  CHECK(write_as(d, "root", "auth/token/create", R"({"id":"a.b"})").message ==
        "custom token ID cannot have a '.' in the value");
  CHECK(write_as(d, "root", "education/auth/token/create", R"({"id":"abc"})").message ==
        "token IDs can only be manually specified in the root namespace");
  CHECK(write_as(d, "root", "auth/token/create", R"({"type":"weird"})").message == "invalid 'token_type' value");
  CHECK(write_as(d, "root", "auth/token/create", R"({"entity_alias":"x"})").message ==
        "'entity_alias' is only allowed in combination with token role");
  // revoke-orphan without sudo: Vault's 400.
  d.put("sys/policies/acl/orphaner", "path \"auth/token/revoke-orphan\" { capabilities = [\"update\"] }\n");
  const std::string orphaner = make_token(d, R"({"policies":["orphaner"]})");
  auto no_sudo = write_as(d, orphaner, "auth/token/revoke-orphan", "token=" + weak);
  CHECK(no_sudo.code == ErrorCode::InvalidArgument);
  CHECK(no_sudo.message == "root or sudo privileges required to revoke and orphan");
}
