// SPDX-License-Identifier: MPL-2.0
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "engine/backend/kv_common.hpp"
#include "engine/backend/kv_v2.hpp"
#include "engine/common/duration.hpp"
#include "engine/common/time.hpp"
#include "kv_test_util.hpp"

using engine::ErrorCode;
using engine::Json;
using engine::Operation;
using kvtest::J;
using kvtest::str;

namespace {

using V2 = kvtest::Harness<engine::KvV2Backend>;

Json body_data(const char* data_json) {
  Json b = Json::object();
  b["data"] = J(data_json);
  return b;
}

Json body_data_cas(const char* data_json, std::int64_t cas) {
  Json b = body_data(data_json);
  b["options"] = Json::object();
  b["options"]["cas"] = cas;
  return b;
}

Json versions(std::initializer_list<int> vs) {
  Json b = Json::object();
  b["versions"] = Json::array();
  for (int v : vs) b["versions"].push_back(v);
  return b;
}

Json read_version(const Json& v) {
  Json b = Json::object();
  b["version"] = v;
  return b;
}

std::string s(const Json& j) { return engine::to_plain(j.get<engine::SecureString>()); }

std::int64_t num(const Json& j) { return j.get<std::int64_t>(); }

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

// The stored bytes of version 1 of the store's only key.
engine::SecureBytes first_version_bytes(V2& h) {
  auto ids = h.store.list("ver/");
  REQUIRE(ids.ok());
  REQUIRE(ids->size() == 1);
  auto v1 = h.store.get("ver/" + (*ids)[0] + "1");
  REQUIRE(v1.ok());
  REQUIRE(v1->has_value());
  return **v1;
}

}  // namespace

// ---- formats ----------------------------------------------------------------

TEST_CASE("kv2: times are RFC 3339 UTC with Go's trimmed nanoseconds", "[kv2][format]") {
  CHECK(engine::format_time(1521685446945319214LL) == "2018-03-22T02:24:06.945319214Z");
  CHECK(engine::format_time(1521685446500000000LL) == "2018-03-22T02:24:06.5Z");
  CHECK(engine::format_time(1521685446000000000LL) == "2018-03-22T02:24:06Z");
  CHECK(engine::format_time(0) == "1970-01-01T00:00:00Z");
}

TEST_CASE("kv2: durations parse like Vault and print like Go", "[kv2][format]") {
  using engine::go_duration;
  using engine::kv::parse_duration_seconds;
  CHECK(*parse_duration_seconds(J("90"), "f") == 90);
  CHECK(*parse_duration_seconds(J(R"("90")"), "f") == 90);
  CHECK(*parse_duration_seconds(J(R"("3h")"), "f") == 3 * 3600);
  CHECK(*parse_duration_seconds(J(R"("1h30m")"), "f") == 5400);
  CHECK(*parse_duration_seconds(J(R"("1.5h")"), "f") == 5400);
  CHECK(*parse_duration_seconds(J(R"("0s")"), "f") == 0);
  CHECK(*parse_duration_seconds(J(R"("2d")"), "f") == 2 * 86400);
  CHECK(*parse_duration_seconds(J(R"("-1s")"), "f") == -1);
  CHECK(*parse_duration_seconds(J(R"("1500ms")"), "f") == 1);
  CHECK_FALSE(parse_duration_seconds(J(R"("3 hours")"), "f").ok());
  CHECK_FALSE(parse_duration_seconds(J(R"("h")"), "f").ok());
  CHECK_FALSE(parse_duration_seconds(J("true"), "f").ok());
  CHECK(go_duration(0) == "0s");
  CHECK(go_duration(45) == "45s");
  CHECK(go_duration(90) == "1m30s");
  CHECK(go_duration(3 * 3600) == "3h0m0s");
  CHECK(go_duration(-1) == "-1s");
}

// ---- data/ ------------------------------------------------------------------

TEST_CASE("kv2: write returns the version metadata in Vault's shape", "[kv2][data]") {
  V2 h;
  auto w = h.ok(Operation::Create, "data/app/db", body_data(R"({"user":"a"})"));
  CHECK(str(w.data) == R"({"created_time":"2018-03-22T02:24:06.946319214Z","custom_metadata":null,)"
                       R"("deletion_time":"","destroyed":false,"version":1})");
  REQUIRE(w.modified.has_value());
  CHECK(*w.modified == h.now);
}

TEST_CASE("kv2: read returns data and metadata, modified = the version's created_time", "[kv2][data]") {
  V2 h;
  h.ok(Operation::Create, "data/app/db", body_data(R"({"user":"a"})"));
  auto created = h.now;
  auto r = h.ok(Operation::Read, "data/app/db");
  CHECK(str(r.data["data"]) == R"({"user":"a"})");
  CHECK(str(r.data["metadata"]) == R"({"created_time":"2018-03-22T02:24:06.946319214Z","custom_metadata":null,)"
                                   R"("deletion_time":"","destroyed":false,"version":1})");
  REQUIRE(r.modified.has_value());
  CHECK(*r.modified == created);
}

TEST_CASE("kv2: each write is a new version; version param picks one (int or digits)", "[kv2][data]") {
  V2 h;
  h.ok(Operation::Create, "data/k", body_data(R"({"v":1})"));
  h.ok(Operation::Update, "data/k", body_data(R"({"v":2})"));
  auto w3 = h.ok(Operation::Update, "data/k", body_data(R"({"v":3})"));
  CHECK(num(w3.data["version"]) == 3);
  CHECK(str(h.ok(Operation::Read, "data/k").data["data"]) == R"({"v":3})");
  CHECK(str(h.ok(Operation::Read, "data/k", read_version(1)).data["data"]) == R"({"v":1})");
  CHECK(str(h.ok(Operation::Read, "data/k", read_version("2")).data["data"]) == R"({"v":2})");
  CHECK(num(h.ok(Operation::Read, "data/k", read_version(0)).data["metadata"]["version"]) == 3);
  auto e = h.err(Operation::Read, "data/k", read_version(4));
  CHECK(e.code == ErrorCode::NotFound);
  CHECK(e.message == "version 4 of secret k not found");
  CHECK(h.err(Operation::Read, "data/k", read_version("x")).code == ErrorCode::InvalidArgument);
}

TEST_CASE("kv2: read of a missing secret is NotFound and says so", "[kv2][data]") {
  V2 h;
  auto e = h.err(Operation::Read, "data/nope");
  CHECK(e.code == ErrorCode::NotFound);
  CHECK(e.message == "secret nope not found");
}

TEST_CASE("kv2: write without data is 'no data provided'; data must be an object", "[kv2][data]") {
  V2 h;
  auto e = h.err(Operation::Create, "data/k", J("{}"));
  CHECK(e.code == ErrorCode::InvalidArgument);
  CHECK(e.message == "no data provided");
  CHECK(h.err(Operation::Create, "data/k", J(R"({"data":null})")).message == "no data provided");
  CHECK(h.err(Operation::Create, "data/k", J(R"({"data":"x"})")).code == ErrorCode::InvalidArgument);
  CHECK(h.err(Operation::Create, "data/k", J(R"({"data":[1]})")).code == ErrorCode::InvalidArgument);
  // An empty object is a valid (empty) secret, as in Vault.
  h.ok(Operation::Create, "data/k", J(R"({"data":{}})"));
  CHECK(str(h.ok(Operation::Read, "data/k").data["data"]) == "{}");
}

TEST_CASE("kv2: unknown body fields are rejected, naming the field", "[kv2][validation]") {
  V2 h;
  auto e = h.err(Operation::Create, "data/k", J(R"({"data":{"a":1},"foo":1})"));
  CHECK(e.code == ErrorCode::InvalidArgument);
  CHECK(contains(e.message, "\"foo\""));
  e = h.err(Operation::Create, "data/k", J(R"({"data":{"a":1},"options":{"cass":0}})"));
  CHECK(e.code == ErrorCode::InvalidArgument);
  CHECK(contains(e.message, "\"cass\""));
  h.ok(Operation::Create, "data/k", body_data(R"({"a":1})"));
  e = h.err(Operation::Patch, "data/k", J(R"({"data":{"a":1},"bogus":true})"));
  CHECK(contains(e.message, "\"bogus\""));
  e = h.err(Operation::Update, "metadata/k", J(R"({"max_version":3})"));
  CHECK(e.code == ErrorCode::InvalidArgument);
  CHECK(contains(e.message, "\"max_version\""));
  e = h.err(Operation::Patch, "metadata/k", J(R"({"casrequired":true})"));
  CHECK(contains(e.message, "\"casrequired\""));
  e = h.err(Operation::Update, "config", J(R"({"max_versions":3,"x":1})"));
  CHECK(contains(e.message, "\"x\""));
  for (const char* p : {"delete/k", "undelete/k", "destroy/k"}) {
    e = h.err(Operation::Update, p, J(R"({"versions":[1],"version":1})"));
    CHECK(e.code == ErrorCode::InvalidArgument);
    CHECK(contains(e.message, "\"version\""));
  }
  e = h.err(Operation::Read, "data/k", J(R"({"verison":1})"));
  CHECK(contains(e.message, "\"verison\""));
  // Nothing was changed by the refused requests.
  CHECK(num(h.ok(Operation::Read, "metadata/k").data["current_version"]) == 1);
  CHECK(num(h.ok(Operation::Read, "metadata/k").data["max_versions"]) == 0);
}

TEST_CASE("kv2: bad paths are InvalidArgument, unknown endpoints Unsupported", "[kv2][validation]") {
  V2 h;
  auto e = h.err(Operation::Create, "data/", body_data(R"({"a":1})"));
  CHECK(e.code == ErrorCode::InvalidArgument);
  CHECK(e.message == "missing path");
  e = h.err(Operation::Create, "data/a/", body_data(R"({"a":1})"));
  CHECK(e.code == ErrorCode::InvalidArgument);
  CHECK(contains(e.message, "cannot end in '/'"));
  CHECK(h.err(Operation::Read, "data/a//b").code == ErrorCode::InvalidArgument);
  CHECK(h.err(Operation::Read, "metadata/./a").code == ErrorCode::InvalidArgument);
  CHECK(h.err(Operation::Read, "nothing/a").code == ErrorCode::Unsupported);
  CHECK(h.err(Operation::Read, "data").code == ErrorCode::Unsupported);
  CHECK(h.err(Operation::List, "data/").code == ErrorCode::Unsupported);
  CHECK(h.err(Operation::Patch, "config", J(R"({"max_versions":1})")).code == ErrorCode::Unsupported);
  CHECK(h.err(Operation::Read, "destroy/a").code == ErrorCode::Unsupported);
}

// ---- check-and-set ----------------------------------------------------------

TEST_CASE("kv2: cas=0 creates only when the key does not exist", "[kv2][cas]") {
  V2 h;
  h.ok(Operation::Create, "data/k", body_data_cas(R"({"a":1})", 0));
  auto e = h.err(Operation::Update, "data/k", body_data_cas(R"({"a":2})", 0));
  CHECK(e.code == ErrorCode::CasMismatch);
  CHECK(e.message == "check-and-set parameter did not match the current version");
  CHECK(str(h.ok(Operation::Read, "data/k").data["data"]) == R"({"a":1})");
}

TEST_CASE("kv2: cas must equal the current version", "[kv2][cas]") {
  V2 h;
  h.ok(Operation::Create, "data/k", body_data(R"({"a":1})"));
  h.ok(Operation::Update, "data/k", body_data(R"({"a":2})"));
  CHECK(h.err(Operation::Update, "data/k", body_data_cas(R"({"a":3})", 1)).code == ErrorCode::CasMismatch);
  CHECK(h.err(Operation::Update, "data/k", body_data_cas(R"({"a":3})", 3)).code == ErrorCode::CasMismatch);
  auto w = h.ok(Operation::Update, "data/k", body_data_cas(R"({"a":3})", 2));
  CHECK(num(w.data["version"]) == 3);
  auto e = h.err(Operation::Update, "data/k", J(R"({"data":{},"options":{"cas":"x"}})"));
  CHECK(e.code == ErrorCode::InvalidArgument);
  CHECK(e.message == "error parsing check-and-set parameter");
}

TEST_CASE("kv2: cas_required on the engine config applies to every key", "[kv2][cas]") {
  V2 h;
  h.ok(Operation::Update, "config", J(R"({"cas_required":true})"));
  auto e = h.err(Operation::Create, "data/k", body_data(R"({"a":1})"));
  CHECK(e.code == ErrorCode::InvalidArgument);
  CHECK(e.message == "check-and-set parameter required for this call");
  h.ok(Operation::Create, "data/k", body_data_cas(R"({"a":1})", 0));
  CHECK(h.err(Operation::Update, "data/other", body_data(R"({"a":1})")).message ==
        "check-and-set parameter required for this call");
}

TEST_CASE("kv2: cas_required on one key applies to that key only", "[kv2][cas]") {
  V2 h;
  h.ok(Operation::Create, "metadata/k", J(R"({"cas_required":true})"));
  CHECK(h.err(Operation::Create, "data/k", body_data(R"({"a":1})")).message ==
        "check-and-set parameter required for this call");
  h.ok(Operation::Create, "data/k", body_data_cas(R"({"a":1})", 0));
  h.ok(Operation::Create, "data/other", body_data(R"({"a":1})"));
  h.ok(Operation::Update, "data/other", body_data(R"({"a":2})"));
}

TEST_CASE("kv2: turning off cas_required on a key while the engine requires it warns", "[kv2][cas]") {
  V2 h;
  h.ok(Operation::Update, "config", J(R"({"cas_required":true})"));
  auto r = h.ok(Operation::Create, "metadata/k", J(R"({"cas_required":false})"));
  REQUIRE(r.warnings.size() == 1);
  CHECK(r.warnings[0] ==
        "\"cas_required\" set to false, but is mandated by backend config. This value will be "
        "ignored.");
  CHECK(h.err(Operation::Create, "data/k", body_data(R"({"a":1})")).message ==
        "check-and-set parameter required for this call");
}

// ---- versions: max, purge ---------------------------------------------------

TEST_CASE("kv2: default max_versions is 10; oldest_version advances on purge", "[kv2][purge]") {
  V2 h;
  for (int i = 1; i <= 12; ++i) {
    Json b = Json::object();
    b["data"]["v"] = i;
    h.ok(Operation::Update, "data/k", b);
  }
  auto m = h.ok(Operation::Read, "metadata/k").data;
  CHECK(num(m["current_version"]) == 12);
  CHECK(num(m["oldest_version"]) == 3);
  CHECK(m["versions"].size() == 10);
  CHECK(m["versions"].find(std::string_view("2")) == m["versions"].end());
  CHECK(m["versions"].find(std::string_view("3")) != m["versions"].end());
  // The purged versions' data is gone from storage too.
  CHECK(kvtest::count_under(h.store, "ver/") == 10);
  auto e = h.err(Operation::Read, "data/k", read_version(2));
  CHECK(e.code == ErrorCode::NotFound);
  CHECK(contains(e.message, "purged"));
  CHECK(str(h.ok(Operation::Read, "data/k", read_version(3)).data["data"]) == R"({"v":3})");
}

TEST_CASE("kv2: oldest_version follows Vault's sliding window exactly", "[kv2][purge]") {
  V2 h;
  h.ok(Operation::Update, "config", J(R"({"max_versions":2})"));
  h.ok(Operation::Update, "data/k", body_data(R"({"v":1})"));
  CHECK(num(h.ok(Operation::Read, "metadata/k").data["oldest_version"]) == 0);
  h.ok(Operation::Update, "data/k", body_data(R"({"v":2})"));
  // Vault's AddVersion: current - oldest >= max → oldest = current - max + 1.
  CHECK(num(h.ok(Operation::Read, "metadata/k").data["oldest_version"]) == 1);
  h.ok(Operation::Update, "data/k", body_data(R"({"v":3})"));
  auto m = h.ok(Operation::Read, "metadata/k").data;
  CHECK(num(m["oldest_version"]) == 2);
  CHECK(m["versions"].size() == 2);
}

TEST_CASE("kv2: effective max_versions is max(key, engine), not the smaller", "[kv2][purge]") {
  V2 h;
  h.ok(Operation::Update, "config", J(R"({"max_versions":5})"));
  h.ok(Operation::Create, "metadata/k", J(R"({"max_versions":2})"));
  for (int i = 0; i < 7; ++i) h.ok(Operation::Update, "data/k", body_data(R"({"a":1})"));
  CHECK(h.ok(Operation::Read, "metadata/k").data["versions"].size() == 5);
}

TEST_CASE("kv2: a key's larger max_versions beats the engine's", "[kv2][purge]") {
  V2 h;
  h.ok(Operation::Update, "config", J(R"({"max_versions":2})"));
  h.ok(Operation::Create, "metadata/k", J(R"({"max_versions":4})"));
  for (int i = 0; i < 7; ++i) h.ok(Operation::Update, "data/k", body_data(R"({"a":1})"));
  CHECK(h.ok(Operation::Read, "metadata/k").data["versions"].size() == 4);
  CHECK(kvtest::count_under(h.store, "ver/") == 4);
}

TEST_CASE("kv2: lowering max_versions purges several versions on the next write", "[kv2][purge]") {
  V2 h;
  for (int i = 0; i < 6; ++i) h.ok(Operation::Update, "data/k", body_data(R"({"a":1})"));
  h.ok(Operation::Update, "metadata/k", J(R"({"max_versions":2})"));
  CHECK(h.ok(Operation::Read, "metadata/k").data["versions"].size() == 6);  // not yet
  h.ok(Operation::Update, "data/k", body_data(R"({"a":1})"));
  auto m = h.ok(Operation::Read, "metadata/k").data;
  CHECK(m["versions"].size() == 2);
  CHECK(num(m["oldest_version"]) == 6);
  CHECK(kvtest::count_under(h.store, "ver/") == 2);
}

// ---- delete / undelete / destroy --------------------------------------------

TEST_CASE("kv2: DELETE data soft-deletes only the latest version", "[kv2][delete]") {
  V2 h;
  h.ok(Operation::Create, "data/k", body_data(R"({"v":1})"));
  h.ok(Operation::Update, "data/k", body_data(R"({"v":2})"));
  h.ok(Operation::Delete, "data/k");
  auto e = h.err(Operation::Read, "data/k");
  CHECK(e.code == ErrorCode::NotFound);
  CHECK(e.message == "version 2 of secret k is deleted");
  CHECK(str(h.ok(Operation::Read, "data/k", read_version(1)).data["data"]) == R"({"v":1})");
  auto m = h.ok(Operation::Read, "metadata/k").data;
  CHECK(s(m["versions"]["2"]["deletion_time"]) != "");
  CHECK(s(m["versions"]["1"]["deletion_time"]) == "");
  // The data is kept (soft delete): undelete brings it back.
  h.ok(Operation::Update, "undelete/k", versions({2}));
  CHECK(str(h.ok(Operation::Read, "data/k").data["data"]) == R"({"v":2})");
}

TEST_CASE("kv2: DELETE data of a missing key is NotFound; of a deleted latest, a no-op", "[kv2][delete]") {
  V2 h;
  CHECK(h.err(Operation::Delete, "data/nope").code == ErrorCode::NotFound);
  h.ok(Operation::Create, "data/k", body_data(R"({"v":1})"));
  h.ok(Operation::Delete, "data/k");
  auto before = h.ok(Operation::Read, "metadata/k").data;
  h.ok(Operation::Delete, "data/k");
  CHECK(str(h.ok(Operation::Read, "metadata/k").data) == str(before));
}

TEST_CASE("kv2: delete/ soft-deletes the listed versions, not the latest", "[kv2][delete]") {
  V2 h;
  for (int i = 1; i <= 3; ++i) {
    Json b = Json::object();
    b["data"]["v"] = i;
    h.ok(Operation::Update, "data/k", b);
  }
  h.ok(Operation::Update, "delete/k", versions({1, 2, 99}));
  CHECK(h.err(Operation::Read, "data/k", read_version(1)).message == "version 1 of secret k is deleted");
  CHECK(h.err(Operation::Read, "data/k", read_version(2)).code == ErrorCode::NotFound);
  CHECK(str(h.ok(Operation::Read, "data/k").data["data"]) == R"({"v":3})");
}

TEST_CASE("kv2: versions may be given as a comma string; none is Vault's error", "[kv2][delete]") {
  V2 h;
  for (int i = 0; i < 3; ++i) h.ok(Operation::Update, "data/k", body_data(R"({"a":1})"));
  h.ok(Operation::Update, "delete/k", J(R"({"versions":"1, 3"})"));
  CHECK(h.err(Operation::Read, "data/k", read_version(1)).code == ErrorCode::NotFound);
  CHECK(h.err(Operation::Read, "data/k", read_version(3)).code == ErrorCode::NotFound);
  h.ok(Operation::Read, "data/k", read_version(2));
  CHECK(h.err(Operation::Update, "delete/k", J("{}")).message == "No version number provided");
  CHECK(h.err(Operation::Update, "undelete/k", J(R"({"versions":[]})")).message == "No version number provided");
  CHECK(h.err(Operation::Update, "destroy/k", J("{}")).message == "no version number provided");
}

TEST_CASE("kv2: destroy removes the data for good; undelete after destroy is a no-op", "[kv2][destroy]") {
  V2 h;
  h.ok(Operation::Create, "data/k", body_data(R"({"v":1})"));
  h.ok(Operation::Update, "data/k", body_data(R"({"v":2})"));
  REQUIRE(kvtest::count_under(h.store, "ver/") == 2);
  h.ok(Operation::Update, "destroy/k", versions({2}));
  CHECK(kvtest::count_under(h.store, "ver/") == 1);
  auto e = h.err(Operation::Read, "data/k");
  CHECK(e.code == ErrorCode::NotFound);
  CHECK(e.message == "version 2 of secret k is destroyed");
  h.ok(Operation::Update, "undelete/k", versions({2}));
  CHECK(h.err(Operation::Read, "data/k").message == "version 2 of secret k is destroyed");
  auto m = h.ok(Operation::Read, "metadata/k").data;
  CHECK(m["versions"]["2"]["destroyed"] == true);
  CHECK(m["versions"]["1"]["destroyed"] == false);
  // Deleting a destroyed version leaves it as it was (no deletion_time).
  h.ok(Operation::Update, "delete/k", versions({2}));
  CHECK(s(h.ok(Operation::Read, "metadata/k").data["versions"]["2"]["deletion_time"]) == "");
}

TEST_CASE("kv2: delete/undelete/destroy of a missing key succeed as in Vault", "[kv2][delete]") {
  V2 h;
  h.ok(Operation::Update, "delete/nope", versions({1}));
  h.ok(Operation::Update, "undelete/nope", versions({1}));
  h.ok(Operation::Update, "destroy/nope", versions({1}));
  CHECK(h.err(Operation::Read, "metadata/nope").code == ErrorCode::NotFound);
}

// ---- patch ------------------------------------------------------------------

TEST_CASE("kv2: patch is a JSON merge patch of the current version into a new one", "[kv2][patch]") {
  V2 h;
  h.ok(Operation::Create, "data/k", body_data(R"({"keep":1,"drop":2,"nested":{"a":1,"b":2},"change":"x"})"));
  auto w =
      h.ok(Operation::Patch, "data/k", body_data(R"({"drop":null,"nested":{"b":null,"c":3},"change":"y","new":true})"));
  CHECK(num(w.data["version"]) == 2);
  CHECK(str(h.ok(Operation::Read, "data/k").data["data"]) ==
        R"({"change":"y","keep":1,"nested":{"a":1,"c":3},"new":true})");
  // The previous version is unchanged.
  CHECK(str(h.ok(Operation::Read, "data/k", read_version(1)).data["data"]) ==
        R"({"change":"x","drop":2,"keep":1,"nested":{"a":1,"b":2}})");
}

TEST_CASE("kv2: patch of a missing, deleted or destroyed current version is NotFound", "[kv2][patch]") {
  V2 h;
  CHECK(h.err(Operation::Patch, "data/k", body_data(R"({"a":1})")).code == ErrorCode::NotFound);
  h.ok(Operation::Create, "data/k", body_data(R"({"a":1})"));
  h.ok(Operation::Delete, "data/k");
  auto e = h.err(Operation::Patch, "data/k", body_data(R"({"a":2})"));
  CHECK(e.code == ErrorCode::NotFound);
  CHECK(e.message == "version 1 of secret k is deleted");
  h.ok(Operation::Update, "undelete/k", versions({1}));
  h.ok(Operation::Update, "destroy/k", versions({1}));
  e = h.err(Operation::Patch, "data/k", body_data(R"({"a":2})"));
  CHECK(e.code == ErrorCode::NotFound);
  CHECK(e.message == "version 1 of secret k is destroyed");
  CHECK(num(h.ok(Operation::Read, "metadata/k").data["current_version"]) == 1);
  // A key with metadata but no version cannot be patched either.
  h.ok(Operation::Create, "metadata/m", J(R"({"max_versions":3})"));
  CHECK(h.err(Operation::Patch, "data/m", body_data(R"({"a":1})")).code == ErrorCode::NotFound);
}

TEST_CASE("kv2: patch honours cas and needs data", "[kv2][patch]") {
  V2 h;
  h.ok(Operation::Create, "data/k", body_data(R"({"a":1})"));
  CHECK(h.err(Operation::Patch, "data/k", body_data_cas(R"({"a":2})", 0)).code == ErrorCode::CasMismatch);
  h.ok(Operation::Patch, "data/k", body_data_cas(R"({"a":2})", 1));
  CHECK(h.err(Operation::Patch, "data/k", J("{}")).message == "no data provided");
  h.ok(Operation::Update, "metadata/k", J(R"({"cas_required":true})"));
  CHECK(h.err(Operation::Patch, "data/k", body_data(R"({"a":3})")).message ==
        "check-and-set parameter required for this call");
}

// ---- metadata/ --------------------------------------------------------------

TEST_CASE("kv2: metadata read has Vault's fields; modified = updated_time", "[kv2][metadata]") {
  V2 h;
  h.ok(Operation::Create, "data/k", body_data(R"({"a":1})"));
  auto t1 = h.now;
  h.ok(Operation::Update, "data/k", body_data(R"({"a":2})"));
  auto t2 = h.now;
  auto r = h.ok(Operation::Read, "metadata/k");
  const Json& m = r.data;
  std::vector<std::string> keys;
  for (auto it = m.begin(); it != m.end(); ++it) keys.push_back(engine::to_plain(it.key()));
  CHECK(keys == std::vector<std::string>{"cas_required", "created_time", "current_version", "custom_metadata",
                                         "delete_version_after", "max_versions", "oldest_version", "updated_time",
                                         "versions"});
  CHECK(m["cas_required"] == false);
  CHECK(s(m["created_time"]) == engine::format_time(engine::kv::to_unix_nanos(t1)));
  CHECK(s(m["updated_time"]) == engine::format_time(engine::kv::to_unix_nanos(t2)));
  CHECK(num(m["current_version"]) == 2);
  CHECK(m["custom_metadata"].is_null());
  CHECK(s(m["delete_version_after"]) == "0s");
  CHECK(num(m["max_versions"]) == 0);
  CHECK(num(m["oldest_version"]) == 0);
  CHECK(str(m["versions"]["1"]) == R"({"created_time":")" + engine::format_time(engine::kv::to_unix_nanos(t1)) +
                                       R"(","deletion_time":"","destroyed":false})");
  REQUIRE(r.modified.has_value());
  CHECK(*r.modified == t2);
}

TEST_CASE("kv2: metadata write changes only the fields supplied", "[kv2][metadata]") {
  V2 h;
  h.ok(Operation::Create, "metadata/k",
       J(R"({"max_versions":3,"cas_required":true,"delete_version_after":"3h",)"
         R"("custom_metadata":{"owner":"a","team":"b"}})"));
  h.ok(Operation::Update, "metadata/k", J(R"({"max_versions":4})"));
  auto m = h.ok(Operation::Read, "metadata/k").data;
  CHECK(num(m["max_versions"]) == 4);
  CHECK(m["cas_required"] == true);
  CHECK(s(m["delete_version_after"]) == "3h0m0s");
  CHECK(str(m["custom_metadata"]) == R"({"owner":"a","team":"b"})");
  CHECK(num(m["current_version"]) == 0);
  // A supplied custom_metadata replaces the whole map.
  h.ok(Operation::Update, "metadata/k", J(R"({"custom_metadata":{"x":"y"}})"));
  CHECK(str(h.ok(Operation::Read, "metadata/k").data["custom_metadata"]) == R"({"x":"y"})");
  // Integer seconds are accepted too.
  h.ok(Operation::Update, "metadata/k", J(R"({"delete_version_after":90})"));
  CHECK(s(h.ok(Operation::Read, "metadata/k").data["delete_version_after"]) == "1m30s");
  auto e = h.err(Operation::Update, "metadata/k", J(R"({"delete_version_after":"-1s"})"));
  CHECK(e.code == ErrorCode::InvalidArgument);
  CHECK(h.err(Operation::Update, "metadata/k", J(R"({"max_versions":-1})")).code == ErrorCode::InvalidArgument);
}

TEST_CASE("kv2: an empty metadata write creates nothing (Vault's fast path)", "[kv2][metadata]") {
  V2 h;
  h.ok(Operation::Create, "metadata/k", J("{}"));
  CHECK(h.err(Operation::Read, "metadata/k").code == ErrorCode::NotFound);
}

TEST_CASE("kv2: custom_metadata shows in data reads and writes", "[kv2][metadata]") {
  V2 h;
  h.ok(Operation::Create, "metadata/k", J(R"({"custom_metadata":{"owner":"ops"}})"));
  auto w = h.ok(Operation::Create, "data/k", body_data(R"({"a":1})"));
  CHECK(str(w.data["custom_metadata"]) == R"({"owner":"ops"})");
  CHECK(str(h.ok(Operation::Read, "data/k").data["metadata"]["custom_metadata"]) == R"({"owner":"ops"})");
}

TEST_CASE("kv2: metadata patch merges custom_metadata; null removes a key", "[kv2][metadata]") {
  V2 h;
  CHECK(h.err(Operation::Patch, "metadata/k", J(R"({"max_versions":1})")).code == ErrorCode::NotFound);
  h.ok(Operation::Create, "metadata/k", J(R"({"max_versions":3,"custom_metadata":{"a":"1","b":"2"}})"));
  h.ok(Operation::Patch, "metadata/k", J(R"({"custom_metadata":{"a":null,"c":"3"}})"));
  auto m = h.ok(Operation::Read, "metadata/k").data;
  CHECK(str(m["custom_metadata"]) == R"({"b":"2","c":"3"})");
  CHECK(num(m["max_versions"]) == 3);
  h.ok(Operation::Patch, "metadata/k", J(R"({"cas_required":true})"));
  m = h.ok(Operation::Read, "metadata/k").data;
  CHECK(m["cas_required"] == true);
  CHECK(num(m["max_versions"]) == 3);
  CHECK(str(m["custom_metadata"]) == R"({"b":"2","c":"3"})");
}

TEST_CASE("kv2: custom_metadata limits and Vault's messages", "[kv2][metadata]") {
  V2 h;
  auto cm = [](Json map) {
    Json b = Json::object();
    b["custom_metadata"] = std::move(map);
    return b;
  };
  Json at_limit = Json::object();
  for (int i = 0; i < 64; ++i) at_limit[engine::to_secure("k" + std::to_string(i))] = "v";
  at_limit["k0"] = engine::to_secure(std::string(512, 'v'));
  at_limit[engine::to_secure(std::string(128, 'K'))] = "v";
  at_limit.erase("k1");
  h.ok(Operation::Create, "metadata/ok", cm(at_limit));

  Json over = at_limit;
  over["one-more"] = "v";
  auto e = h.err(Operation::Create, "metadata/k", cm(over));
  CHECK(e.code == ErrorCode::InvalidArgument);
  CHECK(e.message ==
        "1 error occurred:\n\t* custom_metadata validation failed: payload must contain at most "
        "64 keys, provided 65\n\n");

  Json long_key = Json::object();
  long_key[engine::to_secure(std::string(129, 'K'))] = "v";
  e = h.err(Operation::Create, "metadata/k", cm(long_key));
  CHECK(contains(e.message, "is 129 but must be 0 < len(key) <= 128"));

  e = h.err(Operation::Create, "metadata/k", cm(J(R"({"k":""})")));
  CHECK(e.message ==
        "1 error occurred:\n\t* custom_metadata validation failed: length of value for key \"k\" "
        "is 0 but must be 0 < len(value) <= 512\n\n");

  Json long_value = Json::object();
  long_value["k"] = engine::to_secure(std::string(513, 'v'));
  e = h.err(Operation::Create, "metadata/k", cm(long_value));
  CHECK(contains(e.message, "is 513 but must be 0 < len(value) <= 512"));

  e = h.err(Operation::Create, "metadata/k", cm(J(R"({"":"v","b":""})")));
  CHECK(contains(e.message, "2 errors occurred:"));
  CHECK(h.err(Operation::Read, "metadata/k").code == ErrorCode::NotFound);

  // A patch may not push the merged map over the key limit.
  Json one = Json::object();
  one["extra"] = "v";
  CHECK(h.err(Operation::Patch, "metadata/ok", cm(one)).code == ErrorCode::InvalidArgument);
}

TEST_CASE("kv2: metadata delete removes every version and the key from lists", "[kv2][metadata]") {
  V2 h;
  h.ok(Operation::Create, "data/a/k", body_data(R"({"v":1})"));
  h.ok(Operation::Update, "data/a/k", body_data(R"({"v":2})"));
  h.ok(Operation::Create, "data/a/other", body_data(R"({"v":1})"));
  REQUIRE(kvtest::count_under(h.store, "ver/") == 3);
  h.ok(Operation::Delete, "metadata/a/k");
  CHECK(kvtest::count_under(h.store, "ver/") == 1);
  CHECK(h.err(Operation::Read, "data/a/k").code == ErrorCode::NotFound);
  CHECK(h.err(Operation::Read, "metadata/a/k").code == ErrorCode::NotFound);
  CHECK(str(h.ok(Operation::List, "metadata/a/").data) == R"({"keys":["other"]})");
  CHECK(h.err(Operation::Delete, "metadata/a/k").code == ErrorCode::NotFound);
  // A new key of the same name starts again at version 1 and sees no old data.
  auto w = h.ok(Operation::Create, "data/a/k", body_data(R"({"v":"new"})"));
  CHECK(num(w.data["version"]) == 1);
  CHECK(h.err(Operation::Read, "data/a/k", read_version(2)).code == ErrorCode::NotFound);
}

TEST_CASE("kv2: metadata list shows nested folders with a trailing slash", "[kv2][list]") {
  V2 h;
  h.ok(Operation::Create, "data/a/b", body_data(R"({"x":1})"));
  h.ok(Operation::Create, "data/a/c/d", body_data(R"({"x":1})"));
  h.ok(Operation::Create, "data/a/c/e/f", body_data(R"({"x":1})"));
  h.ok(Operation::Create, "data/top", body_data(R"({"x":1})"));
  CHECK(str(h.ok(Operation::List, "metadata/").data) == R"({"keys":["a/","top"]})");
  CHECK(str(h.ok(Operation::List, "metadata").data) == R"({"keys":["a/","top"]})");
  CHECK(str(h.ok(Operation::List, "metadata/a/").data) == R"({"keys":["b","c/"]})");
  CHECK(str(h.ok(Operation::List, "metadata/a/c/").data) == R"({"keys":["d","e/"]})");
  CHECK(str(h.ok(Operation::List, "metadata/a/c/e").data) == R"({"keys":["f"]})");
  CHECK(h.err(Operation::List, "metadata/none/").code == ErrorCode::NotFound);
}

TEST_CASE("kv2: soft-deleted and destroyed keys still list; metadata-only keys list", "[kv2][list]") {
  V2 h;
  h.ok(Operation::Create, "data/d", body_data(R"({"x":1})"));
  h.ok(Operation::Delete, "data/d");
  h.ok(Operation::Create, "metadata/m", J(R"({"max_versions":2})"));
  CHECK(str(h.ok(Operation::List, "metadata/").data) == R"({"keys":["d","m"]})");
  auto e = h.err(Operation::Read, "data/m");
  CHECK(e.code == ErrorCode::NotFound);
  CHECK(e.message == "secret m has no versions");
}

// ---- existence ----------------------------------------------------------------

TEST_CASE("kv2: exists is 'metadata exists', so a write after deletes is an update", "[kv2][exists]") {
  V2 h;
  CHECK_FALSE(*h.exists("data/k"));
  CHECK_FALSE(*h.exists("metadata/k"));
  CHECK(*h.exists("config"));
  h.ok(Operation::Create, "data/k", body_data(R"({"a":1})"));
  CHECK(*h.exists("data/k"));
  CHECK(*h.exists("metadata/k"));
  h.ok(Operation::Delete, "data/k");
  h.ok(Operation::Update, "destroy/k", versions({1}));
  CHECK(*h.exists("data/k"));
  h.ok(Operation::Delete, "metadata/k");
  CHECK_FALSE(*h.exists("data/k"));
  h.ok(Operation::Create, "metadata/m", J(R"({"max_versions":2})"));
  CHECK(*h.exists("data/m"));
}

// ---- subkeys/ -----------------------------------------------------------------

TEST_CASE("kv2: subkeys replaces leaf values with null, keeping structure", "[kv2][subkeys]") {
  V2 h;
  h.ok(Operation::Create, "data/k", body_data(R"({"a":1,"b":{"c":"x","d":{},"e":{"f":[1,2]}},"g":[{"h":1}]})"));
  auto r = h.ok(Operation::Read, "subkeys/k");
  CHECK(str(r.data["subkeys"]) == R"({"a":null,"b":{"c":null,"d":null,"e":{"f":null}},"g":null})");
  CHECK(num(r.data["metadata"]["version"]) == 1);
  Json depth = Json::object();
  depth["depth"] = 1;
  CHECK(str(h.ok(Operation::Read, "subkeys/k", depth).data["subkeys"]) == R"({"a":null,"b":null,"g":null})");
  depth["depth"] = "2";
  CHECK(str(h.ok(Operation::Read, "subkeys/k", depth).data["subkeys"]) ==
        R"({"a":null,"b":{"c":null,"d":null,"e":null},"g":null})");
  h.ok(Operation::Delete, "data/k");
  CHECK(h.err(Operation::Read, "subkeys/k").code == ErrorCode::NotFound);
}

// ---- config -------------------------------------------------------------------

TEST_CASE("kv2: config reads defaults and stores only what is supplied", "[kv2][config]") {
  V2 h;
  CHECK(str(h.ok(Operation::Read, "config").data) ==
        R"({"cas_required":false,"delete_version_after":"0s","max_versions":0})");
  h.ok(Operation::Update, "config", J(R"({"max_versions":7,"delete_version_after":"1h"})"));
  h.ok(Operation::Update, "config", J(R"({"cas_required":"true"})"));
  CHECK(str(h.ok(Operation::Read, "config").data) ==
        R"({"cas_required":true,"delete_version_after":"1h0m0s","max_versions":7})");
  h.ok(Operation::Update, "config", J(R"({"delete_version_after":"-5s"})"));
  CHECK(s(h.ok(Operation::Read, "config").data["delete_version_after"]) == "-1s");
  h.ok(Operation::Update, "config", J(R"({"delete_version_after":0})"));
  CHECK(s(h.ok(Operation::Read, "config").data["delete_version_after"]) == "0s");
  CHECK(h.err(Operation::Update, "config", J(R"({"cas_required":"maybe"})")).code == ErrorCode::InvalidArgument);
}

// ---- delete_version_after ------------------------------------------------------

TEST_CASE("kv2: delete_version_after sets a future deletion_time; the smaller wins", "[kv2][dva]") {
  V2 h;
  h.ok(Operation::Update, "config", J(R"({"delete_version_after":"1h"})"));
  h.ok(Operation::Create, "metadata/k", J(R"({"delete_version_after":"10s"})"));
  auto w = h.ok(Operation::Create, "data/k", body_data(R"({"a":1})"));
  auto created = h.now;
  CHECK(s(w.data["deletion_time"]) ==
        engine::format_time(engine::kv::to_unix_nanos(created + std::chrono::seconds(10))));
  // Readable until then.
  h.ok(Operation::Read, "data/k");
  h.now += std::chrono::seconds(11);
  CHECK(h.err(Operation::Read, "data/k").message == "version 1 of secret k is deleted");
  // Engine-wide disable (negative) wins over the key's setting.
  h.ok(Operation::Update, "config", J(R"({"delete_version_after":-1})"));
  auto w2 = h.ok(Operation::Update, "data/k", body_data(R"({"a":2})"));
  CHECK(s(w2.data["deletion_time"]) == "");
}

// ---- concurrency ----------------------------------------------------------------

TEST_CASE("kv2: concurrent writers get distinct consecutive versions", "[kv2][concurrency]") {
  engine::MemoryStorage store;
  engine::KvV2Backend kv;
  constexpr int kThreads = 8, kWrites = 25;
  std::vector<std::vector<std::int64_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        Json body = Json::object();
        body["data"]["writer"] = t;
        body["data"]["i"] = i;
        engine::BackendRequest req{Operation::Update, "data/shared", body, store,
                                   engine::TimePoint(std::chrono::seconds(1700000000 + i))};
        auto r = kv.handle(req);
        if (r.ok()) got[t].push_back(r->data["version"].get<std::int64_t>());
        // Readers run alongside and must never see a half-made version.
        Json none = Json::object();
        engine::BackendRequest rd{Operation::Read, "data/shared", none, store,
                                  engine::TimePoint(std::chrono::seconds(1700000000 + i))};
        auto rr = kv.handle(rd);
        if (!rr.ok()) got[t].push_back(-1);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<std::int64_t> all;
  for (const auto& g : got) all.insert(all.end(), g.begin(), g.end());
  std::sort(all.begin(), all.end());
  REQUIRE(all.size() == static_cast<std::size_t>(kThreads * kWrites));
  for (std::size_t i = 0; i < all.size(); ++i) CHECK(all[i] == static_cast<std::int64_t>(i + 1));
  Json none = Json::object();
  engine::BackendRequest req{Operation::Read, "metadata/shared", none, store,
                             engine::TimePoint(std::chrono::seconds(1800000000))};
  auto m = kv.handle(req);
  REQUIRE(m.ok());
  CHECK(m->data["current_version"].get<std::int64_t>() == kThreads * kWrites);
}

TEST_CASE("kv2: writers of different keys run at once, beside config writes", "[kv2][concurrency]") {
  engine::MemoryStorage store;
  engine::KvV2Backend kv;
  constexpr int kThreads = 6, kWrites = 30;
  const auto now = engine::TimePoint(std::chrono::seconds(1700000000));
  // Every max_versions written keeps all versions, so none is pruned.
  Json config = Json::object();
  config["max_versions"] = 100;
  engine::BackendRequest set{Operation::Update, "config", config, store, now};
  REQUIRE(kv.handle(set).ok());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        Json body = Json::object();
        body["data"]["i"] = i;
        engine::BackendRequest req{Operation::Update, "data/k" + std::to_string(t), body, store, now};
        if (!kv.handle(req).ok()) ++failures;
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < kWrites; ++i) {
      Json body = Json::object();
      body["max_versions"] = 100 + i;
      engine::BackendRequest req{Operation::Update, "config", body, store, now};
      if (!kv.handle(req).ok()) ++failures;
    }
  });
  for (auto& th : threads) th.join();
  CHECK(failures == 0);
  for (int t = 0; t < kThreads; ++t) {
    Json none = Json::object();
    engine::BackendRequest req{Operation::Read, "metadata/k" + std::to_string(t), none, store, now};
    auto m = kv.handle(req);
    REQUIRE(m.ok());
    CHECK(m->data["current_version"].get<std::int64_t>() == kWrites);
    CHECK(m->data["versions"].size() == static_cast<std::size_t>(kWrites));
  }
}

// ---- storage layout -------------------------------------------------------------

TEST_CASE("kv2: storage holds meta/<p>, ver/<key_id>/<N>, live/<p> and config", "[kv2][storage]") {
  V2 h;
  h.ok(Operation::Create, "data/a/b", body_data(R"({"x":1})"));
  h.ok(Operation::Update, "config", J(R"({"max_versions":3})"));
  auto top = h.store.list("");
  REQUIRE(top.ok());
  CHECK(*top == std::vector<std::string>{"config", "live/", "meta/", "ver/"});
  auto meta = h.store.get("meta/a/b");
  REQUIRE(meta.ok());
  CHECK(meta->has_value());
  const engine::SecureBytes v1 = first_version_bytes(h);
  // The data as `cat` shows it (render_pretty), which every JSON reader parses.
  CHECK(engine::as_view(v1) == "{\n  \"x\": 1\n}\n");
}

TEST_CASE("kv2: custom_metadata refuses what Go's unicode.IsPrint refuses, not only ASCII controls",
          "[kv2][metadata]") {
  V2 h;
  auto cm = [](std::string key, std::string value) {
    Json map = Json::object();
    map[engine::to_secure(key)] = engine::to_secure(value);
    Json b = Json::object();
    b["custom_metadata"] = std::move(map);
    return b;
  };
  // Printable in Go's sense: letters, marks, numbers, punctuation, symbols, U+0020.
  for (const char* fine : {"café", "日本語", "e\xcc\x81", "🔑 key", "a b", "x-y_z.1", "€£", "\xd9\xa3"}) {
    INFO(fine);
    h.ok(Operation::Update, "metadata/ok", cm(fine, fine));
  }
  // Not printable: other spaces (Zs, Zl, Zp), format characters (Cf),
  // controls, private use, unassigned code points, invalid UTF-8.
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"zero\xe2\x80\x8bwidth", "\"zero\\u200bwidth\""},  // U+200B ZERO WIDTH SPACE (Cf)
      {"no\xc2\xa0"
       "break",
       "\"no\\u00a0break\""},                         // U+00A0 NO-BREAK SPACE (Zs)
      {"em\xe2\x80\x83space", "\"em\\u2003space\""},  // U+2003 EM SPACE (Zs)
      {"soft\xc2\xad"
       "hyphen",
       "\"soft\\u00adhyphen\""},  // U+00AD SOFT HYPHEN (Cf)
      {"\xef\xbb\xbf"
       "bom",
       "\"\\ufeffbom\""},                             // U+FEFF (Cf)
      {"line\xe2\x80\xa8sep", "\"line\\u2028sep\""},  // U+2028 (Zl)
      {"priv\xee\x80\x80", "\"priv\\ue000\""},        // U+E000 (Co)
      {"un\xcd\xb8", "\"un\\u0378\""},                // U+0378 unassigned (Cn)
      {"bell\a", "\"bell\\a\""},
      {"del\x7f", "\"del\\x7f\""},
      {"bad\xff", "\"bad\\xff\""},
  };
  for (const auto& [text, quoted] : refused) {
    INFO(quoted);
    auto e = h.err(Operation::Update, "metadata/k", cm(text, "v"));
    CHECK(e.code == ErrorCode::InvalidArgument);
    CHECK(e.message == "1 error occurred:\n\t* custom_metadata validation failed: key " + quoted + " (" + text +
                           ") contains unprintable characters\n\n");
    e = h.err(Operation::Update, "metadata/k", cm("k", text));
    CHECK(e.message ==
          "1 error occurred:\n\t* custom_metadata validation failed: value for key \"k\" contains unprintable "
          "characters\n\n");
  }
  CHECK(h.err(Operation::Read, "metadata/k").code == ErrorCode::NotFound);
}

TEST_CASE("kv2: a huge delete_version_after saturates instead of deleting at once", "[kv2][metadata]") {
  V2 h;
  h.ok(Operation::Update, "metadata/k", J(R"({"delete_version_after":9000000000000000000})"));
  h.ok(Operation::Create, "data/k", body_data(R"({"v":1})"));
  // The deletion time would wrap into the past without saturation.
  auto r = h.ok(Operation::Read, "data/k");
  CHECK(r.data["metadata"]["deletion_time"] != "");
  CHECK(str(r.data["data"]) == R"({"v":1})");
}

// ---- the file view's live listing --------------------------------------------

namespace {
std::vector<std::string> keys_of(const engine::Response& r) {
  std::vector<std::string> out;
  for (const Json& k : r.data["keys"]) out.push_back(s(k));
  return out;
}
const Json kLive = Json{{"live", true}};
}  // namespace

TEST_CASE("kv v2: LIST with live shows only keys whose current version reads", "[kv2][live]") {
  V2 h;
  h.ok(Operation::Update, "data/app/db", body_data(R"({"a":"1"})"));
  h.ok(Operation::Update, "data/app/old", body_data(R"({"a":"1"})"));
  h.ok(Operation::Update, "data/gone/x", body_data(R"({"a":"1"})"));
  h.ok(Operation::Update, "metadata/empty", J(R"({"max_versions":3})"));
  h.ok(Operation::Delete, "data/app/old");
  h.ok(Operation::Update, "destroy/gone/x", versions({1}));
  // Vault's LIST: every key with metadata.
  CHECK(keys_of(h.ok(Operation::List, "metadata/")) == std::vector<std::string>{"app/", "empty", "gone/"});
  CHECK(keys_of(h.ok(Operation::List, "metadata/app/")) == std::vector<std::string>{"db", "old"});
  // Live: a deleted or destroyed current version, or none, is not listed
  // and keeps no folder alive.
  CHECK(keys_of(h.ok(Operation::List, "metadata/", kLive)) == std::vector<std::string>{"app/"});
  CHECK(keys_of(h.ok(Operation::List, "metadata/app/", kLive)) == std::vector<std::string>{"db"});
  // A folder of deleted keys only lists nothing, and is still there.
  CHECK(keys_of(h.ok(Operation::List, "metadata/gone/", kLive)).empty());
  CHECK(h.err(Operation::List, "metadata/none/", kLive).code == ErrorCode::NotFound);
  // Undelete and a new version bring keys back; a metadata delete drops them.
  h.ok(Operation::Update, "undelete/app/old", versions({1}));
  h.ok(Operation::Update, "data/gone/x", body_data(R"({"a":"2"})"));
  CHECK(keys_of(h.ok(Operation::List, "metadata/", kLive)) == std::vector<std::string>{"app/", "gone/"});
  CHECK(keys_of(h.ok(Operation::List, "metadata/app/", kLive)) == std::vector<std::string>{"db", "old"});
  h.ok(Operation::Delete, "metadata/app/db");
  CHECK(keys_of(h.ok(Operation::List, "metadata/app/", kLive)) == std::vector<std::string>{"old"});
  // Deleting the current version by number counts too.
  h.ok(Operation::Update, "delete/app/old", versions({2, 1}));
  CHECK(keys_of(h.ok(Operation::List, "metadata/app/", kLive)).empty());
  CHECK(keys_of(h.ok(Operation::List, "metadata/", kLive)) == std::vector<std::string>{"gone/"});
}

TEST_CASE("kv v2: a store from before the live index gets it at the first live LIST", "[kv2][live]") {
  V2 h;
  h.ok(Operation::Update, "data/a/b/c", body_data(R"({"a":"1"})"));
  h.ok(Operation::Update, "data/a/d", body_data(R"({"a":"1"})"));
  h.ok(Operation::Update, "data/e", body_data(R"({"a":"1"})"));
  h.ok(Operation::Delete, "data/e");
  // Forget the index, as a store written before it has none.
  std::vector<engine::WriteOp> drop{{engine::WriteOp::Kind::DeletePrefix, "live/", {}},
                                    {engine::WriteOp::Kind::Delete, "live-index", {}}};
  REQUIRE(h.store.apply(drop).ok());
  REQUIRE(kvtest::count_under(h.store, "live/") == 0);
  engine::KvV2Backend fresh;
  engine::BackendRequest req{Operation::List, "metadata/", kLive, h.store, h.now};
  auto listed = fresh.handle(req);
  REQUIRE(listed.ok());
  CHECK(keys_of(*listed) == std::vector<std::string>{"a/"});
  CHECK(kvtest::count_under(h.store, "live/") == 2);
  auto marker = h.store.get("live-index");
  REQUIRE(marker.ok());
  CHECK(marker->has_value());
}

namespace {
// Forwards to a MemoryStorage and keeps the keys of every batch applied.
class RecordingStorage final : public engine::Storage {
 public:
  engine::MemoryStorage inner;
  std::vector<std::vector<std::string>> batches;

  engine::Result<std::optional<engine::SecureBytes>> get(std::string_view key) override { return inner.get(key); }
  engine::Result<std::vector<std::string>> list(std::string_view prefix, std::size_t limit = 0) override {
    return inner.list(prefix, limit);
  }
  engine::Status apply(std::span<const engine::WriteOp> batch) override {
    std::vector<std::string> keys;
    for (const engine::WriteOp& op : batch) keys.push_back(op.key);
    batches.push_back(std::move(keys));
    return inner.apply(batch);
  }
  bool last_touches(const std::string& key) const {
    const auto& b = batches.back();
    return std::find(b.begin(), b.end(), key) != b.end();
  }
};
}  // namespace

TEST_CASE("kv v2: a write to a key that stays live leaves its live/ entry alone", "[kv2][live]") {
  RecordingStorage store;
  engine::KvV2Backend kv;
  engine::TimePoint now{std::chrono::nanoseconds(1521685446945319214LL)};
  auto call = [&](Operation op, const std::string& path, const Json& body) {
    now += std::chrono::milliseconds(1);
    engine::BackendRequest req{op, path, body, store, now};
    auto r = kv.handle(req);
    REQUIRE(r.ok());
  };
  auto listed = [&] {
    now += std::chrono::milliseconds(1);
    engine::BackendRequest req{Operation::List, "metadata/", kLive, store, now};
    auto r = kv.handle(req);
    REQUIRE(r.ok());
    return keys_of(*r);
  };
  const std::vector<std::string> app{"app"};

  call(Operation::Update, "data/app", body_data(R"({"a":"1"})"));
  CHECK(store.last_touches("live/app"));  // a new key
  call(Operation::Update, "data/app", body_data(R"({"a":"2"})"));
  CHECK_FALSE(store.last_touches("live/app"));  // live before and after
  CHECK(store.last_touches("meta/app"));
  CHECK(listed() == app);
  call(Operation::Patch, "data/app", body_data(R"({"b":"3"})"));
  CHECK_FALSE(store.last_touches("live/app"));
  CHECK(listed() == app);

  // Deleted, then written again: the entry goes, then comes back.
  call(Operation::Delete, "data/app", Json::object());
  CHECK(store.last_touches("live/app"));
  CHECK(listed().empty());
  call(Operation::Update, "data/app", body_data(R"({"a":"4"})"));
  CHECK(store.last_touches("live/app"));
  CHECK(listed() == app);

  // A version with a deletion time to come counts as live, but its entry is
  // not taken for granted: the next write writes it.
  call(Operation::Update, "metadata/app", J(R"({"delete_version_after":"1h"})"));
  call(Operation::Update, "data/app", body_data(R"({"a":"5"})"));
  call(Operation::Update, "data/app", body_data(R"({"a":"6"})"));
  CHECK(store.last_touches("live/app"));
  CHECK(listed() == app);
}

TEST_CASE("kv2: a rendering past 2 MiB is stored compact, and reads as before", "[kv2][storage]") {
  // 40,000 leaves 60 levels deep: about 80 KB as a body, about 5 MB indented.
  const Json data = kvtest::deep_secret(40000);
  Json body = Json::object();
  body["data"] = data;
  V2 h;
  h.ok(Operation::Create, "data/deep", body);
  const engine::SecureBytes v1 = first_version_bytes(h);
  CHECK(engine::as_view(v1) == engine::as_view(data.dump()));
  CHECK(v1.size() < engine::render_pretty(data).size() / 10);
  CHECK(h.ok(Operation::Read, "data/deep").data["data"] == data);
}

TEST_CASE("kv2: a secret past 8 MiB as a file is refused, by a deep body or patch by patch", "[kv2][storage]") {
  V2 h;
  // 200,000 leaves 60 levels deep: about 400 KB as a body, about 25 MB indented.
  const Json data = kvtest::deep_secret(200000);
  Json body = Json::object();
  body["data"] = data;
  REQUIRE(engine::render_pretty(data).size() > engine::kv::kMaxRenderedSecret);
  auto e = h.err(Operation::Create, "data/deep", body);
  CHECK(e.code == ErrorCode::TooLarge);
  CHECK_THAT(e.message, Catch::Contains("over the limit of 8 MiB"));
  CHECK(h.err(Operation::Read, "data/deep").code == ErrorCode::NotFound);  // nothing was written
  CHECK(h.err(Operation::Read, "metadata/deep").code == ErrorCode::NotFound);

  // Grown by patches, each of which is small enough alone: the one that
  // would pass the bound is refused, and the current version stays.
  const std::string chunk(3u << 20, 'x');
  Json first = Json::object();
  first["data"] = Json::object();
  first["data"]["a"] = chunk;
  h.ok(Operation::Create, "data/grown", first);
  Json more = Json::object();
  more["data"] = Json::object();
  more["data"]["b"] = chunk;
  h.ok(Operation::Patch, "data/grown", more);
  more["data"] = Json::object();
  more["data"]["c"] = chunk;
  e = h.err(Operation::Patch, "data/grown", more);
  CHECK(e.code == ErrorCode::TooLarge);
  auto r = h.ok(Operation::Read, "data/grown");
  CHECK(r.data["metadata"]["version"] == 2);
  CHECK(r.data["data"].size() == 2);
  // Just under the bound is fine: a rendering of exactly 8 MiB.
  Json exact = Json::object();
  exact["data"] = Json::object();
  exact["data"]["a"] = "";
  const std::size_t overhead = engine::render_pretty(exact["data"]).size();
  exact["data"]["a"] = std::string(engine::kv::kMaxRenderedSecret - overhead, 'y');
  REQUIRE(engine::render_pretty(exact["data"]).size() == engine::kv::kMaxRenderedSecret);
  h.ok(Operation::Create, "data/exact", exact);
  exact["data"]["a"] = std::string(engine::kv::kMaxRenderedSecret - overhead + 1, 'y');
  CHECK(h.err(Operation::Update, "data/exact", exact).code == ErrorCode::TooLarge);
}
