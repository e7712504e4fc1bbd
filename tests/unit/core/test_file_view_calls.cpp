// SPDX-License-Identifier: MPL-2.0
// How many engine calls (Core::handle) a file operation costs, pinned with
// Core::handle_calls(); and numbers in file names range-checked.
#include <catch2/catch.hpp>

#include "tests/unit/core/authz_support.hpp"

using namespace coffer_test;
using engine::ErrorCode;

namespace {

template <typename F>
std::uint64_t calls_of(DevCore& d, F&& f) {
  const std::uint64_t before = d.core->handle_calls();
  f();
  return d.core->handle_calls() - before;
}

}  // namespace

TEST_CASE("file view: engine calls for a KV v2 secret and an absent name", "[file_view][calls]") {
  DevCore d;
  d.put("secret/app/db", R"({"password":"p"})");

  // LOOKUP (stat), then the read of `cat`.
  CHECK(calls_of(d, [&] { REQUIRE(d.files->stat(d.root, "secret/app/db").ok()); }) == 2);
  // fstat right after: the stat memo answers.
  CHECK(calls_of(d, [&] { REQUIRE(d.files->stat(d.root, "secret/app/db").ok()); }) == 0);
  CHECK(calls_of(d, [&] { REQUIRE(d.files->read(d.root, "secret/app/db").ok()); }) == 1);
  CHECK(calls_of(d, [&] { REQUIRE(d.files->read(d.root, "secret/app/db#password").ok()); }) == 2);

  // LOOKUP of an absent name: the folder probe and the Read (a deleted
  // secret is absent too, so no metadata Read follows).
  CHECK(calls_of(d, [&] {
          auto st = d.files->stat(d.root, "secret/app/nope");
          REQUIRE_FALSE(st.ok());
          CHECK(st.error().code == ErrorCode::NotFound);
        }) == 2);
  // LOOKUP of an absent name on an API mount: its Read, then its List
  // (once: what List answered is not asked again).
  d.put("sys/auth/userpass", "type=userpass");
  CHECK(calls_of(d, [&] {
          auto st = d.files->stat(d.root, "identity/entity/name/nope");
          CHECK_FALSE(st.ok());
        }) == 2);
  // Resolving what kind of mount a path is in costs no engine call.
  CHECK(calls_of(d, [&] { CHECK(d.files->cacheable("secret/app/db")); }) == 0);
}

TEST_CASE("file view: a LOOKUP inside a folder just looked up skips the folder probe", "[file_view][calls]") {
  DevCore d;
  d.put("secret/app/db", R"({"password":"p"})");
  d.put("secret/app/cache", R"({"password":"q"})");
  d.put("secret/app/db2/inner", R"({"password":"r"})");

  // `cat secret/app/db`: LOOKUP app (its folder probe lists it), LOOKUP db
  // (only its Read: the listing says there is no folder db/), then the read.
  CHECK(calls_of(d, [&] { REQUIRE(d.files->stat(d.root, "secret/app").ok()); }) == 1);
  CHECK(calls_of(d, [&] {
          auto st = d.files->stat(d.root, "secret/app/db");
          REQUIRE(st.ok());
          CHECK(st->kind == engine::NodeKind::File);
          CHECK(st->size == d.cat("secret/app/db").size());
        }) == 2);  // the stat's Read and cat's Read
  // `cat secret/app/db#password`: no literal secret of that name in the
  // listing, so no Read of it: the field's Read, for the stat and the read.
  CHECK(calls_of(d, [&] { REQUIRE(d.files->stat(d.root, "secret/app/db#password").ok()); }) == 1);
  CHECK(calls_of(d, [&] { CHECK(d.cat("secret/app/db#password") == "p"); }) == 1);
  // An absent name costs what it did without the listing.
  CHECK(calls_of(d, [&] { CHECK(d.files->stat(d.root, "secret/app/nope").error().code == ErrorCode::NotFound); }) == 2);
  // An absent field still fails as it did.
  CHECK(d.cat_error("secret/app/db#nope") == ErrorCode::NotFound);
  // A folder named in the listing still gets its probe; it is a directory.
  CHECK(calls_of(d, [&] { CHECK(d.files->stat(d.root, "secret/app/db2")->kind == engine::NodeKind::Directory); }) == 1);
  // `ls` fills the listing too.
  d.ls("secret/app");
  CHECK(calls_of(d, [&] { REQUIRE(d.files->stat(d.root, "secret/app/cache").ok()); }) == 1);

  // A commit drops every listing: the probe comes back.
  d.put("secret/app/new", R"({"password":"n"})");
  CHECK(calls_of(d, [&] { REQUIRE(d.files->stat(d.root, "secret/app/db").ok()); }) == 2);
}

TEST_CASE("file view: a folder's listing serves only the token that listed it", "[file_view][calls]") {
  DevCore d;
  d.put("secret/app/db", R"({"password":"p"})");
  engine::Caller other{engine::to_secure(make_token(d, R"({"policies":["root"]})"))};
  REQUIRE(d.files->stat(d.root, "secret/app").ok());
  CHECK(calls_of(d, [&] { REQUIRE(d.files->stat(other, "secret/app/db").ok()); }) == 2);
  CHECK(calls_of(d, [&] { REQUIRE(d.files->stat(d.root, "secret/app/db").ok()); }) == 1);
}

TEST_CASE("file view: numbers in file names are range-checked", "[file_view]") {
  DevCore d;
  d.put("secret/db", R"({"password":"p"})");
  CHECK(d.cat_error("secret/db@99999999999999999999") == ErrorCode::InvalidArgument);
  CHECK(d.cat_error("secret/db@-1") == ErrorCode::InvalidArgument);
  CHECK(d.cat("secret/db@0#password") == "p");  // version 0 is the latest, as in Vault
  CHECK(d.cat("secret/db@1#password") == "p");
  CHECK_FALSE(d.files->remove(d.root, "secret/db@99999999999999999999").ok());
  CHECK(d.files->remove(d.root, "secret/db@-1").error().code == ErrorCode::InvalidArgument);
  // A # key is a name, not a number: a huge one is just absent.
  CHECK(d.cat_error("secret/db#99999999999999999999") == ErrorCode::NotFound);
  CHECK(d.cat_error("secret/db@1#" + std::string(200, '9')) == ErrorCode::NotFound);
}

TEST_CASE("file view: a stat of NAME#KEY makes one Read, recorded or not, audited or not", "[file_view][calls]") {
  DevCore d;
  engine::Json many = engine::Json::object();  // more fields than a write records sizes for
  for (int i = 0; i < 40; ++i) many[engine::to_secure("f" + std::to_string(i))] = engine::to_secure("v" + std::to_string(i));
  const std::string many_body = engine::to_plain(engine::SecureString(many.dump()));
  // The stat of a field, then of the same field under another name (no memo).
  auto field_stat_calls = [&](const std::string& path) {
    return calls_of(d, [&] {
      auto st = d.files->stat(d.root, path);
      REQUIRE(st.ok());
      CHECK(st->size == d.cat(path).size());
    });
  };
  d.put("secret/app/db", R"({"password":"p2"})");
  d.put("secret/app/many", many_body);
  REQUIRE(d.files->stat(d.root, "secret/app").ok());  // the folder's probe, out of the counts
  const std::uint64_t recorded = field_stat_calls("secret/app/db#password");
  const std::uint64_t unrecorded = field_stat_calls("secret/app/many#f7");
  CHECK(recorded == unrecorded);
  CHECK(recorded <= 2);
  // With an audit device the engine hands no size over: the reply's data
  // serves, in as many calls (each one an audited request).
  char dir[] = "/tmp/coffer-calls-XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  d.put("sys/audit/file", std::string("type=file file_path=") + dir + "/audit.log");
  d.put("secret/app/db2", R"({"password":"p3"})");
  d.put("secret/app/many2", many_body);
  REQUIRE(d.files->stat(d.root, "secret/app").ok());
  CHECK(field_stat_calls("secret/app/db2#password") == recorded);
  CHECK(field_stat_calls("secret/app/many2#f7") == recorded);
  std::system((std::string("rm -rf '") + dir + "'").c_str());
}
