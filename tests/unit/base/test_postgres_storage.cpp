// SPDX-License-Identifier: MPL-2.0
// PostgresStorage against a real PostgreSQL 15 started for this process
// (tests/pg/postgres.sh): the Storage contract, revisions and change rows,
// two stores on one table, bad options, and a server crash mid-life.
#include "engine/storage/postgres_storage.hpp"

#include <libpq-fe.h>

#include <atomic>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/pg/test_postgres.hpp"
#include "tests/unit/base/storage_conformance.hpp"

using engine::ErrorCode;
using engine::PostgresStorage;

namespace {

// One server per test process, stopped at exit.
coffer_test::TestPostgres& server() {
  static coffer_test::TestPostgres pg;
  return pg;
}

// A table name no other run in this process used: a fresh, empty store.
std::string fresh_table() {
  static std::atomic<int> n{0};
  return "t" + std::to_string(::getpid()) + "_" + std::to_string(n++);
}

std::unique_ptr<PostgresStorage> open_ok(const std::string& table) {
  auto r = PostgresStorage::open({server().url(), table});
  if (!r.ok()) FAIL("open failed: " << r.error().message);
  return std::move(r).value();
}

// One column of one row, as text, straight from the server.
std::string query(const std::string& sql) {
  PGconn* c = PQconnectdb(server().url().c_str());
  REQUIRE(PQstatus(c) == CONNECTION_OK);
  PGresult* r = PQexec(c, sql.c_str());
  REQUIRE(PQresultStatus(r) == PGRES_TUPLES_OK);
  std::string out;
  for (int i = 0; i < PQntuples(r); ++i) out += std::string(i ? "," : "") + PQgetvalue(r, i, 0);
  PQclear(r);
  PQfinish(c);
  return out;
}

engine::WriteOp put_op(std::string key, std::string_view value) {
  return {engine::WriteOp::Kind::Put, std::move(key), conformance::bytes(value)};
}

}  // namespace

TEST_CASE("PostgresStorage conforms to the Storage contract", "[storage][postgres]") {
  auto s = open_ok(fresh_table());
  conformance::check_storage_conformance(*s);
}

TEST_CASE("PostgresStorage: each apply is the next revision, with a change row per key", "[storage][postgres]") {
  const std::string t = fresh_table();
  auto s = open_ok(t);
  CHECK(s->revision().value() == 0);
  std::vector<engine::WriteOp> batch{put_op("a/1", "x"), put_op("a/2", "y")};
  REQUIRE(s->apply(batch).ok());
  REQUIRE(s->del("a/1").ok());
  REQUIRE(s->del_prefix("a/").ok());
  CHECK(s->revision().value() == 3);
  CHECK(query("SELECT revision || ':' || convert_from(key, 'UTF8') FROM " + t +
              "_changes ORDER BY revision, key") == "1:a/1,1:a/2,2:a/1,3:a/");
  // The database holds what the caller gave, nothing more (the barrier above
  // makes it ciphertext).
  CHECK(query("SELECT count(*) FROM " + t + "_kv") == "0");

  // Change rows below a revision can be trimmed.
  REQUIRE(s->trim_changes(3).ok());
  CHECK(query("SELECT min(revision) FROM " + t + "_changes") == "3");

  // The store id stays with the tables.
  const std::string id = s->store_id();
  CHECK(id.size() == 36);
  s.reset();
  CHECK(open_ok(t)->store_id() == id);
}

TEST_CASE("PostgresStorage: two stores on one table (two hosts) share revisions without gaps", "[storage][postgres]") {
  const std::string t = fresh_table();
  auto a = open_ok(t);
  auto b = open_ok(t);
  CHECK(a->store_id() == b->store_id());
  constexpr int kEach = 40;
  std::atomic<int> failures{0};
  auto writer = [&](PostgresStorage& s, const std::string& name) {
    for (int i = 0; i < kEach; ++i) {
      if (!s.put(name + "/" + std::to_string(i), engine::bytes_of("v")).ok()) ++failures;
    }
  };
  std::thread ta(writer, std::ref(*a), "a");
  std::thread tb(writer, std::ref(*b), "b");
  ta.join();
  tb.join();
  CHECK(failures == 0);
  CHECK(a->revision().value() == 2 * kEach);
  CHECK(query("SELECT count(DISTINCT revision) FROM " + t + "_changes") == std::to_string(2 * kEach));
  CHECK(query("SELECT max(revision) - min(revision) + 1 FROM " + t + "_changes") == std::to_string(2 * kEach));
  CHECK(conformance::list(*b, "a/").size() == kEach);
  CHECK(conformance::value_at(*a, "b/7") == "v");
}

TEST_CASE("PostgresStorage refuses bad options with a clear error", "[storage][postgres]") {
  for (const char* table : {"", "Bad", "1abc", "a-b", "a;drop", "abcdefghijabcdefghijabcdefghijabcdefghij1"}) {
    auto r = PostgresStorage::open({server().url(), table});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::InvalidArgument);
  }
  auto unreachable = PostgresStorage::open({"postgresql://postgres@127.0.0.1:1/postgres?connect_timeout=2", "x"});
  REQUIRE_FALSE(unreachable.ok());
  CHECK(unreachable.error().code == ErrorCode::Storage);
  CHECK(unreachable.error().message.find("cannot connect") != std::string::npos);
}

TEST_CASE("PostgresStorage: a server crash fails writes, and the store recovers by itself", "[storage][postgres]") {
  auto s = open_ok(fresh_table());
  REQUIRE(s->put("k", engine::bytes_of("before")).ok());
  server().kill();
  auto during = s->put("k", engine::bytes_of("during"));
  REQUIRE_FALSE(during.ok());
  CHECK(during.error().code == ErrorCode::Storage);
  CHECK_FALSE(s->get("k").ok());
  server().restart();
  REQUIRE(s->put("k", engine::bytes_of("after")).ok());
  CHECK(conformance::value_at(*s, "k") == "after");
  CHECK(s->revision().value() == 2);  // the refused write took nothing
}
