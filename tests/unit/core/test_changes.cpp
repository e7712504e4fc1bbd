// SPDX-License-Identifier: MPL-2.0
// The change bus: what the core announces for each committed change, and
// that the ACL cache follows it.
#include <catch2/catch.hpp>

#include "engine/common/change_bus.hpp"
#include "tests/unit/core/authz_support.hpp"

using namespace coffer_test;
using engine::ChangeBus;
using engine::ChangeEvent;
using engine::ChangeKind;
using engine::Json;
using engine::Operation;

namespace {

// Records what a core announces.
struct Recorder {
  std::vector<ChangeEvent> seen;
  ChangeBus::Subscription sub;
  explicit Recorder(engine::Core& core) : sub(core.subscribe([this](const ChangeEvent& c) { seen.push_back(c); })) {}
  std::vector<ChangeEvent> take() { return std::exchange(seen, {}); }
};

ChangeEvent event(ChangeKind kind, std::string path) {
  ChangeEvent c;
  c.kind = kind;
  c.path = std::move(path);
  return c;
}

Json secret(std::string_view value) { return Json{{"data", Json{{"k", engine::to_secure(value)}}}}; }

void ok(const engine::Result<engine::Response>& r) {
  if (!r.ok()) FAIL(r.error().message);
}

}  // namespace

TEST_CASE("change bus: revisions move once a publish, in order, to every subscriber", "[changes]") {
  ChangeBus bus;
  std::vector<std::uint64_t> a;
  std::vector<std::string> b;
  auto sa = bus.subscribe([&](const ChangeEvent& c) { a.push_back(c.revision); });
  auto sb = bus.subscribe([&](const ChangeEvent& c) { b.push_back(c.path); });
  CHECK(bus.revision() == 0);
  CHECK(bus.publish({}) == 0);  // nothing to say: no revision
  CHECK(bus.publish({event(ChangeKind::Secret, "x"), event(ChangeKind::Secret, "y")}) == 1);
  CHECK(bus.publish({event(ChangeKind::Policy, "z")}) == 2);
  CHECK(a == std::vector<std::uint64_t>{1, 1, 2});
  CHECK(b == std::vector<std::string>{"x", "y", "z"});
  sa.reset();
  bus.publish({event(ChangeKind::Token, "")});
  CHECK(a.size() == 3);
  CHECK(b.size() == 4);
  CHECK(bus.revision() == 3);
}

TEST_CASE("change bus: a KV write is announced once, after it is durable, with the secret's file path", "[changes]") {
  DevCore d;
  Recorder rec(*d.core);
  const auto before = d.core->generation();
  ok(api(d, "root", Operation::Update, "secret/data/app/db", secret("v1")));
  auto seen = rec.take();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].kind == ChangeKind::Secret);
  CHECK(seen[0].namespace_path.empty());
  CHECK(seen[0].path == "secret/app/db");
  CHECK(seen[0].revision == before + 1);
  CHECK(d.core->generation() == before + 1);

  // Reads, lists and refused writes commit nothing, so say nothing.
  ok(api(d, "root", Operation::Read, "secret/data/app/db"));
  ok(api(d, "root", Operation::List, "secret/metadata/"));
  CHECK_FALSE(api(d, "", Operation::Update, "secret/data/app/db", secret("v2")).ok());
  CHECK_FALSE(api(d, "root", Operation::Update, "secret/data/app/db", Json{{"data", 5}}).ok());
  CHECK(rec.take().empty());
  CHECK(d.core->generation() == before + 1);

  // Metadata and version changes name the same secret.
  ok(api(d, "root", Operation::Update, "secret/delete/app/db", Json{{"versions", Json::array({1})}}));
  ok(api(d, "root", Operation::Delete, "secret/metadata/app/db"));
  seen = rec.take();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].path == "secret/app/db");
  CHECK(seen[1].path == "secret/app/db");
  CHECK(seen[1].revision == seen[0].revision + 1);
}

TEST_CASE("change bus: namespaces, KV v1, policies, tokens, identity and mounts say what they are", "[changes]") {
  DevCore d;
  Recorder rec(*d.core);
  ok(api(d, "root", Operation::Update, "sys/namespaces/ns1"));
  auto seen = rec.take();
  REQUIRE_FALSE(seen.empty());
  CHECK(seen[0].kind == ChangeKind::Namespace);

  ok(api(d, "root", Operation::Update, "ns1/sys/mounts/kv", Json{{"type", "kv"}}));
  seen = rec.take();
  REQUIRE_FALSE(seen.empty());
  CHECK(seen[0].kind == ChangeKind::Mount);
  CHECK(seen[0].namespace_path == "ns1/");

  ok(api(d, "root", Operation::Update, "ns1/kv/app", Json{{"k", "v"}}));
  seen = rec.take();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].kind == ChangeKind::Secret);
  CHECK(seen[0].namespace_path == "ns1/");
  CHECK(seen[0].path == "kv/app");

  ok(api(d, "root", Operation::Update, "ns1/sys/policies/acl/reader",
         Json{{"policy", "path \"kv/*\" { capabilities = [\"read\"] }"}}));
  seen = rec.take();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].kind == ChangeKind::Policy);
  CHECK(seen[0].namespace_path == "ns1/");
  CHECK(seen[0].path == "sys/policies/acl/reader");

  ok(api(d, "root", Operation::Update, "auth/token/create", Json{{"policies", Json::array({"default"})}}));
  seen = rec.take();
  REQUIRE_FALSE(seen.empty());
  CHECK(seen[0].kind == ChangeKind::Token);
  for (const ChangeEvent& c : seen) CHECK(c.path.find("hvs.") == std::string::npos);  // no token ids

  ok(api(d, "root", Operation::Update, "identity/entity", Json{{"name", "alice"}}));
  seen = rec.take();
  REQUIRE_FALSE(seen.empty());
  CHECK(seen[0].kind == ChangeKind::Identity);
}

TEST_CASE("change bus: the ACL cache follows policy changes announced on the bus", "[changes][acl]") {
  DevCore d;
  ok(api(d, "root", Operation::Update, "secret/data/app", secret("v")));
  ok(api(d, "root", Operation::Update, "sys/policies/acl/app",
         Json{{"policy", "path \"secret/data/app\" { capabilities = [\"read\"] }"}}));
  const std::string token = make_token(d, R"({"policies":["app"]})");
  ok(api(d, token, Operation::Read, "secret/data/app"));  // compiled and cached
  ok(api(d, "root", Operation::Update, "sys/policies/acl/app",
         Json{{"policy", "path \"secret/data/other\" { capabilities = [\"read\"] }"}}));
  CHECK(code_of(api(d, token, Operation::Read, "secret/data/app")) == engine::ErrorCode::PermissionDenied);
}

TEST_CASE("change bus: sealing is announced", "[changes]") {
  DevCore d;
  Recorder rec(*d.core);
  ok(api(d, "root", Operation::Update, "sys/seal"));
  auto seen = rec.take();
  REQUIRE_FALSE(seen.empty());
  CHECK(seen.back().kind == ChangeKind::Seal);
}
