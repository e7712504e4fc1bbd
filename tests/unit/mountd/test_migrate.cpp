// SPDX-License-Identifier: MPL-2.0
// cofferd migrate: its arguments, the key walk and digest, a SQLite to SQLite
// copy that the same shares open, the refusals (non-empty target, source
// held by a running daemon, same store, empty source), and a round trip
// through a real PostgreSQL (tests/pg/postgres.sh) with the change rows
// cleared.
#include <catch2/catch.hpp>

#include <libpq-fe.h>

#include <filesystem>
#include <sstream>

#include "engine/crypto/sodium.hpp"
#include "engine/storage/memory_storage.hpp"
#include "engine/storage/postgres_storage.hpp"
#include "engine/storage/sqlite_storage.hpp"
#include "mountd/migrate.hpp"
#include "tests/pg/test_postgres.hpp"
#include "tests/unit/mountd/store_support.hpp"

using engine::ErrorCode;
using mountd::StoreLocation;

namespace {

StoreLocation sqlite_at(const std::string& path) {
  StoreLocation l;
  l.path = path;
  return l;
}

mountd::StoreDigest digest_of(const StoreLocation& where) {
  auto store = mountd::open_store(where, false);
  REQUIRE(store.ok());
  auto d = mountd::digest_store(**store);
  REQUIRE(d.ok());
  return *d;
}

std::string migrate_error(const StoreLocation& from, const StoreLocation& to, ErrorCode* code = nullptr) {
  auto r = mountd::migrate(from, to);
  REQUIRE_FALSE(r.ok());
  if (code != nullptr) *code = r.error().code;
  return r.error().message;
}

}  // namespace

TEST_CASE("migrate: arguments", "[migrate]") {
  auto a = mountd::parse_migrate_args({"--from", "sqlite:/var/lib/coffer/coffer.db", "--to=postgres://coffer@db1/coffer"});
  REQUIRE(a.ok());
  CHECK_FALSE(a->from.postgres);
  CHECK(a->from.path == "/var/lib/coffer/coffer.db");
  CHECK(a->to.postgres);
  CHECK(a->to.path == "postgres://coffer@db1/coffer");
  CHECK(a->to.table == "coffer");
  auto plain = mountd::parse_migrate_args({"--to", "/tmp/b.db", "--from", "postgresql://h/db"});
  REQUIRE(plain.ok());
  CHECK(plain->to.path == "/tmp/b.db");

  auto error_of = [](std::vector<std::string> args) {
    auto r = mountd::parse_migrate_args(args);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::InvalidArgument);
    return r.error().message;
  };
  CHECK_THAT(error_of({"--from", "sqlite:/a"}), Catch::Contains("needs --from and --to"));
  CHECK_THAT(error_of({"--from", "sqlite:/a", "--to"}), Catch::Contains("--to needs a value"));
  CHECK_THAT(error_of({"--from", "sqlite:", "--to", "/b"}), Catch::Contains("--from needs sqlite:PATH"));
  CHECK_THAT(error_of({"--from", "/a", "--from", "/b", "--to", "/c"}), Catch::Contains("--from is given twice"));
  CHECK_THAT(error_of({"--from", "/a", "--to", "/b", "extra"}), Catch::Contains("unexpected argument extra"));
  const std::string pw = error_of({"--from", "/a", "--to", "postgres://coffer:hunter2@db/coffer"});
  CHECK_THAT(pw, Catch::Contains("--to: the URL carries a password") && !Catch::Contains("hunter2"));
}

TEST_CASE("migrate: every key, in bytewise order, and a digest of keys and values", "[migrate]") {
  engine::MemoryStorage s;
  for (const char* k : {"a0", "a/x", "a", "a-b", "a/", "b/c/d", "\xc3\xa9", "a/y/z"}) {
    REQUIRE(s.put(k, engine::bytes_of(std::string("v-") + k)).ok());
  }
  auto keys = mountd::all_keys(s);
  REQUIRE(keys.ok());
  const std::vector<std::string> want{"a", "a-b", "a/", "a/x", "a/y/z", "a0", "b/c/d", "\xc3\xa9"};
  CHECK(*keys == want);

  auto d1 = mountd::digest_store(s);
  REQUIRE(d1.ok());
  CHECK(d1->keys == 8);
  CHECK(d1->hex.size() == 64);
  // Any change of a key or a value, or a key/value boundary moved, moves it.
  engine::MemoryStorage t;
  for (const auto& k : want) REQUIRE(t.put(k, engine::bytes_of("v-" + k)).ok());
  CHECK(*mountd::digest_store(t) == *d1);
  REQUIRE(t.put("a", engine::bytes_of("v-A")).ok());
  CHECK(mountd::digest_store(t)->hex != d1->hex);
  engine::MemoryStorage u, v;
  REQUIRE(u.put("ab", engine::bytes_of("c")).ok());
  REQUIRE(v.put("a", engine::bytes_of("bc")).ok());
  CHECK(mountd::digest_store(u)->hex != mountd::digest_store(v)->hex);
}

TEST_CASE("migrate: the digest is BLAKE2b-256 of length-prefixed keys and values", "[migrate]") {
  // Reference values from Python's hashlib.blake2b(digest_size=32).
  engine::crypto::StreamHash h;
  CHECK(h.final_hex() == "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  h.update(engine::bytes_of("a"));
  h.update(engine::bytes_of("bc"));
  CHECK(h.final_hex() == "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  engine::MemoryStorage s;
  REQUIRE(s.put("b/c", engine::ByteView()).ok());
  REQUIRE(s.put("a", engine::bytes_of("1")).ok());
  // sum(len(k).to_bytes(8,'big') + k + len(v).to_bytes(8,'big') + v) in key order.
  CHECK(mountd::digest_store(s)->hex == "1ae1e206901092183431c9959001c3b2d62294fca11d097f53fab973b266fda5");
}

TEST_CASE("migrate: SQLite to SQLite, opened by the same shares", "[migrate]") {
  coffer_test::TempDir dir;
  const auto made = coffer_test::make_store(dir / "a.db");
  const StoreLocation from = sqlite_at(dir / "a.db");
  const StoreLocation to = sqlite_at(dir / "b.db");
  const auto before = digest_of(from);

  auto report = mountd::migrate(from, to, /*batch=*/7);
  REQUIRE(report.ok());
  CHECK(report->digest == before);
  CHECK(digest_of(to) == before);
  CHECK(report->digest.keys > 7);  // more than one batch
  CHECK_THAT(coffer_test::read_secret(dir / "b.db", made, "kv/app"), Catch::Contains("hunter2"));
  CHECK_THAT(coffer_test::read_secret(dir / "b.db", made, "kv/db"), Catch::Contains("s3cret"));

  // run_migrate prints the count and the digest.
  std::ostringstream out, err;
  REQUIRE(mountd::run_migrate({"--from", "sqlite:" + dir / "a.db", "--to", "sqlite:" + dir / "c.db"}, out, err) == 0);
  CHECK_THAT(out.str(), Catch::Contains("keys: " + std::to_string(before.keys)) &&
                            Catch::Contains("blake2b-256: " + before.hex));
}

TEST_CASE("migrate: refusals change nothing", "[migrate]") {
  coffer_test::TempDir dir;
  coffer_test::make_store(dir / "a.db");
  coffer_test::make_store(dir / "b.db");
  const StoreLocation a = sqlite_at(dir / "a.db");
  const StoreLocation b = sqlite_at(dir / "b.db");
  const auto da = digest_of(a), db = digest_of(b);

  ErrorCode code{};
  CHECK_THAT(migrate_error(a, b, &code), Catch::Contains("the target sqlite:" + b.path + " is not empty"));
  CHECK(code == ErrorCode::NotEmpty);
  CHECK(digest_of(b) == db);

  {
    auto held = engine::SqliteStorage::open(a.path);  // as a running cofferd holds it
    REQUIRE(held.ok());
    CHECK_THAT(migrate_error(a, sqlite_at(dir / "new.db"), &code),
               Catch::Contains("is in use (a running cofferd holds its lock)"));
    CHECK(code == ErrorCode::Locked);
    CHECK_FALSE(std::filesystem::exists(dir / "new.db"));
  }
  CHECK_THAT(migrate_error(a, a), Catch::Contains("the same store"));
  CHECK_THAT(migrate_error(sqlite_at(dir / "missing.db"), sqlite_at(dir / "new.db")),
             Catch::Contains("cannot open the source") && Catch::Contains("no store at"));
  CHECK_FALSE(std::filesystem::exists(dir / "new.db"));
  {
    auto empty = engine::SqliteStorage::open(dir / "empty.db", engine::SqliteStorage::IfMissing::Create);
    REQUIRE(empty.ok());
  }
  CHECK_THAT(migrate_error(sqlite_at(dir / "empty.db"), sqlite_at(dir / "new.db")), Catch::Contains("holds no key"));
  // A target that cannot be made.
  CHECK_THAT(migrate_error(a, sqlite_at(dir / "no/such/dir.db")), Catch::Contains("cannot open the target"));
  CHECK(digest_of(a) == da);

  std::ostringstream out, err;
  CHECK(mountd::run_migrate({"--from", a.path, "--to", b.path}, out, err) == 1);
  CHECK_THAT(err.str(), Catch::StartsWith("cofferd: migrate: the target"));
  CHECK(mountd::run_migrate({"--from", a.path}, out, err) == 2);
}

TEST_CASE("migrate: SQLite to PostgreSQL and back, change rows cleared", "[migrate][postgres]") {
  coffer_test::TempDir dir;
  coffer_test::TestPostgres pg;
  const auto made = coffer_test::make_store(dir / "a.db");
  const StoreLocation a = sqlite_at(dir / "a.db");
  StoreLocation p;
  p.postgres = true;
  p.path = pg.url();
  const auto before = digest_of(a);

  auto there = mountd::migrate(a, p, /*batch=*/5);
  REQUIRE(there.ok());
  CHECK(there->digest == before);
  {
    PGconn* c = PQconnectdb(pg.url().c_str());
    REQUIRE(PQstatus(c) == CONNECTION_OK);
    PGresult* r = PQexec(c, "SELECT count(*) FROM coffer_changes");
    REQUIRE(PQresultStatus(r) == PGRES_TUPLES_OK);
    CHECK(std::string(PQgetvalue(r, 0, 0)) == "0");
    PQclear(r);
    PQfinish(c);
  }
  // Non-empty now: a second migrate into it is refused.
  CHECK_THAT(migrate_error(a, p), Catch::Contains("is not empty"));

  auto back = mountd::migrate(p, sqlite_at(dir / "back.db"));
  REQUIRE(back.ok());
  CHECK(back->digest == before);
  CHECK_THAT(coffer_test::read_secret(dir / "back.db", made, "kv/app"), Catch::Contains("hunter2"));
}
