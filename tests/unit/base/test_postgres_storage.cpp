// SPDX-License-Identifier: MPL-2.0
// PostgresStorage against a real PostgreSQL 15 started for this process
// (tests/pg/postgres.sh): the Storage contract, revisions and change rows,
// two stores on one table, bad options, a server crash mid-life, and group
// commit (concurrent applies in one transaction, each failing alone).
#include "engine/storage/postgres_changes.hpp"
#include "engine/storage/postgres_storage.hpp"
#include "engine/storage/postgres_feed.hpp"
#include "engine/storage/postgres_mirror.hpp"

#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <span>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/pg/test_postgres.hpp"
#include "tests/unit/base/storage_conformance.hpp"

using engine::ErrorCode;
using Ranges = std::vector<engine::KeyRange>;
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
  CHECK(query("SELECT revision || ':' || convert_from(key, 'UTF8') FROM " + t + "_changes ORDER BY revision, key") ==
        "1:a/1,1:a/2,2:a/1,3:a/");
  // Each row says whether it names a DeletePrefix's prefix.
  CHECK(query("SELECT string_agg(prefix::text, ',' ORDER BY revision, key) FROM " + t + "_changes") ==
        "false,false,false,true");
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

// ---- group commit ---------------------------------------------------------

namespace {

// A connection of another host that, for now, holds the store's meta row
// (or, with `rows`, the rows that query selects), so the next apply that
// needs it waits in its transaction while later ones queue behind it;
// release() lets them go.
class MetaLock {
 public:
  explicit MetaLock(const std::string& table, const std::string& rows = "")
      : conn_(PQconnectdb(server().url().c_str())) {
    REQUIRE(PQstatus(conn_) == CONNECTION_OK);
    exec("BEGIN");
    exec(rows.empty() ? "SELECT revision FROM " + table + "_meta WHERE id = 1 FOR UPDATE" : rows + " FOR UPDATE");
  }
  ~MetaLock() { PQfinish(conn_); }
  void release() { exec("COMMIT"); }
  void exec(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    const auto st = PQresultStatus(r);
    PQclear(r);
    REQUIRE((st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK));
  }

 private:
  PGconn* conn_;
};

void wait_queued(PostgresStorage& s, std::size_t n) {
  for (int i = 0; i < 10000 && s.queued() != n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  REQUIRE(s.queued() == n);
}

// The keys of one revision's change rows, joined with '+'.
std::string changed_at(const std::string& table, std::int64_t rev) {
  return query("SELECT coalesce(string_agg(convert_from(key, 'UTF8'), '+' ORDER BY key), '') FROM " + table +
               "_changes WHERE revision = " + std::to_string(rev));
}

std::vector<engine::WriteOp> puts_of(std::vector<std::string> keys) {
  std::vector<engine::WriteOp> b;
  for (auto& k : keys) b.push_back(put_op(k, "v-" + k));
  return b;
}

}  // namespace

TEST_CASE("PostgresStorage: concurrent applies share one commit; a conflicting or failing batch fails alone",
          "[storage][postgres][group]") {
  const std::string t = fresh_table();
  auto s = open_ok(t);
  REQUIRE(s->put("x", engine::bytes_of("0")).ok());  // revision 1
  server().psql("CREATE FUNCTION " + t + "_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN " +
                "IF NEW.key = convert_to('bad', 'UTF8') THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$; " +
                "CREATE TRIGGER refuse BEFORE INSERT ON " + t + "_kv FOR EACH ROW EXECUTE FUNCTION " + t + "_refuse()");
  const std::uint64_t before = s->commits();
  MetaLock lock(t);

  const std::vector<std::vector<engine::WriteOp>> batches{puts_of({"a"}), puts_of({"b1", "b2"}), puts_of({"c", "bad"}),
                                                          puts_of({"e"}), puts_of({"d"})};
  // Batch 3 expects x to hold what it does not: a Conflict.
  const PostgresStorage::Expect stale{"x", conformance::bytes("other")};
  std::vector<engine::Result<std::int64_t>> results(batches.size(), std::int64_t{0});
  std::vector<std::thread> threads;
  threads.emplace_back([&] { results[0] = s->apply_at(batches[0]); });
  // The first caller commits alone: give it time to take its batch and
  // wait on the meta row before the others arrive.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  REQUIRE(s->queued() == 0);
  for (std::size_t i = 1; i < batches.size(); ++i) {
    threads.emplace_back(
        [&, i] { results[i] = i == 3 ? s->apply_at(batches[i], std::span(&stale, 1)) : s->apply_at(batches[i]); });
  }
  wait_queued(*s, 4);
  lock.release();
  for (auto& th : threads) th.join();

  REQUIRE(results[0].ok());
  CHECK(results[0].value() == 2);
  REQUIRE_FALSE(results[2].ok());
  CHECK(results[2].error().code == ErrorCode::Storage);
  CHECK(results[2].error().message.find("refused") != std::string::npos);
  REQUIRE_FALSE(results[3].ok());
  CHECK(results[3].error().code == ErrorCode::Conflict);
  REQUIRE(results[1].ok());
  REQUIRE(results[4].ok());
  CHECK(s->commits() - before == 2);  // the first alone, then the four queued together
  // The two that committed in the group took the next revisions, without
  // gaps (a failed batch leaves its revision to the next), each with its
  // own change rows.
  CHECK(std::set<std::int64_t>{results[1].value(), results[4].value()} == std::set<std::int64_t>{3, 4});
  CHECK(s->revision().value() == 4);
  CHECK(changed_at(t, 2) == "a");
  CHECK(changed_at(t, results[1].value()) == "b1+b2");
  CHECK(changed_at(t, results[4].value()) == "d");
  CHECK(query("SELECT count(*) FROM " + t + "_changes") == "5");
  CHECK(conformance::list(*s, "") == std::vector<std::string>{"a", "b1", "b2", "d", "x"});  // nothing of the failed
  CHECK(conformance::value_at(*s, "b2") == "v-b2");
}

TEST_CASE("PostgresStorage: in a pipelined group, batches failing first, in the middle and last each fail alone",
          "[storage][postgres][group]") {
  const std::string t = fresh_table();
  auto s = open_ok(t);
  REQUIRE(s->put("x", engine::bytes_of("v-0")).ok());  // revision 1
  server().psql("CREATE FUNCTION " + t + "_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN " +
                "IF NEW.key = convert_to('bad', 'UTF8') THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$; " +
                "CREATE TRIGGER refuse BEFORE INSERT ON " + t + "_kv FOR EACH ROW EXECUTE FUNCTION " + t + "_refuse()");
  const std::uint64_t before = s->commits();
  MetaLock lock(t);
  using Expect = PostgresStorage::Expect;
  const Expect x_old{"x", conformance::bytes("v-0")}, x_new{"x", conformance::bytes("v-x")};
  const Expect none{"nokey", std::nullopt}, y_stale{"y", conformance::bytes("other")};
  struct Job {
    std::vector<engine::WriteOp> batch;
    std::vector<Expect> expect;
  };
  const std::vector<Job> jobs{
      {puts_of({"first"}), {}},     // alone, ahead of the group
      {puts_of({"bad"}), {}},       // the group's first batch: the trigger refuses it
      {puts_of({"x"}), {}},         // x = v-x
      {puts_of({"y"}), {x_old}},    // read x before the batch above wrote it: Conflict
      {puts_of({"z"}), {x_new}},    // sees what the group's earlier batch wrote
      {puts_of({"w"}), {none}},     // a key that must be absent, and is
      {puts_of({"q"}), {y_stale}},  // the last batch fails: the COMMIT goes in a round of its own
  };
  std::vector<engine::Result<std::int64_t>> results(jobs.size(), std::int64_t{0});
  std::vector<std::thread> threads;
  auto start = [&](std::size_t i) {
    threads.emplace_back([&, i] { results[i] = s->apply_at(jobs[i].batch, jobs[i].expect); });
  };
  start(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  REQUIRE(s->queued() == 0);
  // One after another, so the group runs them in this order.
  for (std::size_t i = 1; i < jobs.size(); ++i) {
    start(i);
    wait_queued(*s, i);
  }
  lock.release();
  for (auto& th : threads) th.join();

  REQUIRE(results[0].ok());
  CHECK(results[0].value() == 2);
  REQUIRE_FALSE(results[1].ok());
  CHECK(results[1].error().code == ErrorCode::Storage);
  CHECK(results[1].error().message.find("refused") != std::string::npos);
  REQUIRE(results[2].ok());
  CHECK(results[2].value() == 3);
  REQUIRE_FALSE(results[3].ok());
  CHECK(results[3].error().code == ErrorCode::Conflict);
  // It says what happened: this host's own write, in the same group.
  CHECK(results[3].error().message.find("a write of this host") != std::string::npos);
  REQUIRE(results[4].ok());
  CHECK(results[4].value() == 4);
  REQUIRE(results[5].ok());
  CHECK(results[5].value() == 5);
  REQUIRE_FALSE(results[6].ok());
  CHECK(results[6].error().code == ErrorCode::Conflict);
  CHECK(results[6].error().message.find("another host") != std::string::npos);
  CHECK(s->commits() - before == 2);  // the first alone, then the group
  CHECK(s->revision().value() == 5);
  CHECK(changed_at(t, 3) == "x");
  CHECK(changed_at(t, 4) == "z");
  CHECK(changed_at(t, 5) == "w");
  CHECK(query("SELECT count(*) FROM " + t + "_changes") == "5");
  CHECK(conformance::list(*s, "") == std::vector<std::string>{"first", "w", "x", "z"});
  CHECK(conformance::value_at(*s, "x") == "v-x");
}

TEST_CASE("PostgresStorage: a group whose every batch fails writes nothing, and the store goes on",
          "[storage][postgres][group]") {
  const std::string t = fresh_table();
  auto s = open_ok(t);
  REQUIRE(s->put("x", engine::bytes_of("v-0")).ok());  // revision 1
  const std::uint64_t before = s->commits();
  MetaLock lock(t);
  const PostgresStorage::Expect stale{"x", conformance::bytes("other")};
  const auto batches =
      std::vector<std::vector<engine::WriteOp>>{puts_of({"a"}), puts_of({"b"}), puts_of({"c"}), puts_of({"d"})};
  std::vector<engine::Result<std::int64_t>> results(batches.size(), std::int64_t{0});
  std::vector<std::thread> threads;
  threads.emplace_back([&] { results[0] = s->apply_at(batches[0]); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (std::size_t i = 1; i < batches.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = s->apply_at(batches[i], std::span(&stale, 1)); });
    wait_queued(*s, i);
  }
  lock.release();
  for (auto& th : threads) th.join();

  REQUIRE(results[0].ok());
  for (std::size_t i = 1; i < batches.size(); ++i) {
    REQUIRE_FALSE(results[i].ok());
    CHECK(results[i].error().code == ErrorCode::Conflict);
  }
  CHECK(s->commits() - before == 1);
  CHECK(s->revision().value() == 2);
  CHECK(conformance::list(*s, "") == std::vector<std::string>{"a", "x"});
  REQUIRE(s->put("e", engine::bytes_of("1")).ok());
  CHECK(s->revision().value() == 3);
}

TEST_CASE("PostgresStorage: a group whose COMMIT fails fails every batch in it", "[storage][postgres][group]") {
  const std::string t = fresh_table();
  auto s = open_ok(t);
  // Checked at COMMIT: a deferred constraint trigger refuses the key "poison".
  server().psql("CREATE FUNCTION " + t + "_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN " +
                "IF NEW.key = convert_to('poison', 'UTF8') THEN RAISE EXCEPTION 'refused at commit'; END IF; " +
                "RETURN NULL; END $$; CREATE CONSTRAINT TRIGGER poison AFTER INSERT ON " + t +
                "_kv DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION " + t + "_poison()");
  const std::uint64_t before = s->commits();
  MetaLock lock(t);
  const std::vector<std::vector<engine::WriteOp>> batches{puts_of({"a"}), puts_of({"p1"}), puts_of({"poison"}),
                                                          puts_of({"p3"})};
  std::vector<engine::Status> results(batches.size());
  std::vector<std::thread> threads;
  threads.emplace_back([&] { results[0] = s->apply(batches[0]); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  REQUIRE(s->queued() == 0);
  for (std::size_t i = 1; i < batches.size(); ++i) threads.emplace_back([&, i] { results[i] = s->apply(batches[i]); });
  wait_queued(*s, 3);
  lock.release();
  for (auto& th : threads) th.join();

  CHECK(results[0].ok());
  for (std::size_t i = 1; i < batches.size(); ++i) {
    REQUIRE_FALSE(results[i].ok());
    CHECK(results[i].error().code == ErrorCode::Storage);
    CHECK(results[i].error().message.find("refused at commit") != std::string::npos);
  }
  CHECK(s->commits() - before == 1);
  CHECK(s->revision().value() == 1);
  CHECK(query("SELECT count(*) FROM " + t + "_changes") == "1");
  CHECK(conformance::list(*s, "") == std::vector<std::string>{"a"});
  // The store goes on.
  REQUIRE(s->put("p1", engine::bytes_of("again")).ok());
  CHECK(s->revision().value() == 2);
}

TEST_CASE("PostgresStorage: a server killed in the middle of a group fails every batch in it",
          "[storage][postgres][group]") {
  const std::string t = fresh_table();
  auto s = open_ok(t);
  REQUIRE(s->put("k", engine::bytes_of("0")).ok());  // revision 1
  // The group's second batch writes k, which another connection holds, so
  // the group waits there with its first batch done in its savepoint.
  auto meta = std::make_unique<MetaLock>(t);
  auto row = std::make_unique<MetaLock>(t, "SELECT key FROM " + t + "_kv WHERE key = convert_to('k', 'UTF8')");
  const std::vector<std::vector<engine::WriteOp>> batches{puts_of({"a"}), puts_of({"b"}), puts_of({"k"}),
                                                          puts_of({"c"})};
  std::vector<engine::Status> results(batches.size());
  std::vector<std::thread> threads;
  threads.emplace_back([&] { results[0] = s->apply(batches[0]); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // One after another, so the group runs them in this order.
  for (std::size_t i = 1; i < batches.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = s->apply(batches[i]); });
    wait_queued(*s, i);
  }
  meta->release();
  // The first committed alone; the group waits on k.
  auto waiting = [] { return query("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"); };
  for (int i = 0; i < 1000 && (s->commits() < 2 || waiting() != "1"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  REQUIRE(s->commits() == 2);
  REQUIRE(waiting() == "1");
  server().kill();
  for (auto& th : threads) th.join();
  meta.reset();
  row.reset();
  server().restart();
  // The writer comes back (out of pipeline mode, reconnected) by itself.
  REQUIRE(s->put("after", engine::bytes_of("1")).ok());
  CHECK(s->revision().value() == 3);
  REQUIRE(s->del("after").ok());

  CHECK(results[0].ok());  // revision 2, alone
  for (std::size_t i = 1; i < batches.size(); ++i) {
    REQUIRE_FALSE(results[i].ok());
    CHECK(results[i].error().code == ErrorCode::Storage);
  }
  // Nothing of the group landed, the batch done before the kill included.
  CHECK(s->revision().value() == 4);  // 2, and the write and delete after the restart
  CHECK(conformance::list(*s, "") == std::vector<std::string>{"a", "k"});
  CHECK(conformance::value_at(*s, "k") == "0");
}

TEST_CASE("PostgresStorage: a group settles its catch-ups in revision order, other hosts' revisions first",
          "[storage][postgres][group]") {
  const std::string t = fresh_table();
  auto s = open_ok(t);                                     // this host
  auto other = open_ok(t);                                 // another host
  REQUIRE(other->put("o/1", engine::bytes_of("1")).ok());  // revision 1

  // What a mirror does with its catch-up: holds a revision, takes in what
  // settle() brings.
  struct Settled {
    std::int64_t earlier;
    std::vector<std::string> keys;
    std::optional<std::int64_t> committed;
  };
  std::mutex mu;
  std::int64_t held = 1;
  std::vector<Settled> settled;
  const PostgresStorage::CatchUp catch_up{[&] {
                                            std::lock_guard l(mu);
                                            return held;
                                          },
                                          [&](const engine::StoreChanges& e, std::optional<std::int64_t> committed) {
                                            if (committed == 2) {
                                              // The other host's write, queued on the meta row, commits
                                              // before this host's group begins (which waits for this
                                              // settle): otherwise which of the two takes the row next
                                              // is a race.
                                              for (int i = 0; i < 10000; ++i) {
                                                auto rev = other->revision();
                                                if (rev.ok() && rev.value() >= 3) break;
                                                std::this_thread::sleep_for(std::chrono::milliseconds(2));
                                              }
                                            }
                                            std::lock_guard l(mu);
                                            Settled one{e.revision, {}, committed};
                                            for (const auto& [key, value] : e.values) one.keys.push_back(key);
                                            settled.push_back(std::move(one));
                                            if (e.revision > held) held = e.revision;
                                            if (committed) held = *committed;
                                          }};
  MetaLock lock(t);
  std::vector<engine::Result<std::int64_t>> results(4, std::int64_t{0});
  std::vector<std::thread> threads;
  const auto batches =
      std::vector<std::vector<engine::WriteOp>>{puts_of({"a/0"}), puts_of({"a/1"}), puts_of({"a/2"}), puts_of({"a/3"})};
  threads.emplace_back([&] { results[0] = s->apply_at(batches[0], {}, &catch_up); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // The other host's write waits on the meta row behind this host's first.
  threads.emplace_back([&] { REQUIRE(other->put("o/2", engine::bytes_of("2")).ok()); });
  // (Up to 20 s: on a loaded machine the other host's connection may take
  // long to get there, and the order below needs it queued first.)
  bool queued_behind = false;
  for (int i = 0; i < 10000 && !queued_behind; ++i) {
    queued_behind = query("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'") == "2";
    if (!queued_behind) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  REQUIRE(queued_behind);
  for (std::size_t i = 1; i < batches.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = s->apply_at(batches[i], {}, &catch_up); });
  }
  wait_queued(*s, 3);
  lock.release();
  for (auto& th : threads) th.join();

  // Revision 2 alone, 3 the other host's, 4..6 the group's.
  REQUIRE(settled.size() == 4);
  CHECK(settled[0].earlier == 0);
  CHECK(settled[0].committed == 2);
  CHECK(settled[1].earlier == 3);  // the other host's revision, read inside the group
  CHECK(settled[1].keys == std::vector<std::string>{"o/2"});
  for (std::size_t i = 1; i < settled.size(); ++i) {
    CHECK(settled[i].committed == static_cast<std::int64_t>(i) + 3);
    if (i > 1) CHECK(settled[i].earlier == 0);
  }
  CHECK(held == 6);
  for (const auto& r : results) REQUIRE(r.ok());
}

// ---- the change feed ------------------------------------------------------

namespace {

std::unique_ptr<engine::PostgresFeed> feed_of(const std::string& table, const PostgresStorage& s) {
  auto f = engine::PostgresFeed::open({server().url(), table}, s.store_id(), 0);
  if (!f.ok()) FAIL("feed: " << f.error().message);
  return std::move(f).value();
}

}  // namespace

TEST_CASE("PostgresFeed: a commit on another store wakes the feed and names its keys", "[storage][postgres][feed]") {
  const std::string t = fresh_table();
  auto a = open_ok(t);
  auto b = open_ok(t);  // the other host
  auto feed = feed_of(t, *a);
  auto idle = feed->next(std::chrono::milliseconds(50));
  REQUIRE(idle.ok());
  CHECK_FALSE(idle->reload);
  CHECK(idle->batches.empty());

  std::vector<engine::WriteOp> batch{put_op("p/1", "x"), put_op("p/2", "y")};
  REQUIRE(b->apply(batch).ok());
  REQUIRE(b->del_prefix("p/").ok());
  // Woken by NOTIFY long before the wait runs out.
  const auto start = std::chrono::steady_clock::now();
  auto up = feed->next(std::chrono::seconds(10));
  REQUIRE(up.ok());
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  CHECK_FALSE(up->reload);
  REQUIRE(up->batches.size() == 2);
  CHECK(up->batches[0].revision == 1);
  CHECK(up->batches[0].keys == Ranges{{"p/1", false}, {"p/2", false}});
  CHECK(up->batches[1].revision == 2);
  CHECK(up->batches[1].keys == Ranges{{"p/", true}});
  CHECK(feed->seen() == 2);
  // With the state at revision 2 of what they touched: p/ cleared, nothing left.
  REQUIRE(up->cleared.size() == 1);
  CHECK(up->cleared[0].key == "p/");
  CHECK(up->cleared[0].prefix);
  CHECK(up->values.empty());

  // A read is bounded; the next call reads on.
  for (int i = 0; i < 5; ++i) REQUIRE(b->put("q/" + std::to_string(i), engine::bytes_of("v")).ok());
  auto first = feed->next(std::chrono::milliseconds(0), 3);
  REQUIRE(first.ok());
  CHECK(first->batches.size() == 3);
  CHECK(first->revision == 5);
  // The values of the snapshot, not of later commits: q/0..q/2 only.
  REQUIRE(first->values.size() == 3);
  CHECK(first->values[0].first == "q/0");
  CHECK(std::string(first->values[0].second.begin(), first->values[0].second.end()) == "v");
  auto rest = feed->next(std::chrono::milliseconds(0), 3);
  REQUIRE(rest.ok());
  REQUIRE(rest->batches.size() == 2);
  CHECK(rest->batches.back().revision == 7);
}

TEST_CASE("PostgresFeed: revisions stay in numeric order past 99, in bounded reads", "[storage][postgres][feed]") {
  const std::string t = fresh_table();
  auto s = open_ok(t);
  auto feed = feed_of(t, *s);
  for (int i = 1; i <= 120; ++i) REQUIRE(s->put("k/" + std::to_string(i), engine::bytes_of("v")).ok());
  std::int64_t expect = 1;
  while (feed->seen() < 120) {
    auto up = feed->next(std::chrono::milliseconds(0), 7);
    REQUIRE(up.ok());
    REQUIRE_FALSE(up->reload);
    for (const auto& b : up->batches) {
      CHECK(b.revision == expect);
      CHECK(b.keys == Ranges{{"k/" + std::to_string(expect), false}});
      ++expect;
    }
  }
  CHECK(expect == 121);
}

TEST_CASE("PostgresStorage: a store made before change rows had a prefix flag upgrades on open",
          "[storage][postgres][feed]") {
  // The tables as the code before the flag made them, with its rows: p/1
  // and q written, then the prefix p/ and the key q deleted.
  const std::string t = fresh_table();
  server().psql("CREATE TABLE " + t + "_kv (key bytea PRIMARY KEY, value bytea NOT NULL); CREATE TABLE " + t +
                "_meta (id int PRIMARY KEY CHECK (id = 1), store_id text NOT NULL, revision bigint NOT NULL); "
                "CREATE TABLE " +
                t + "_changes (revision bigint NOT NULL, key bytea NOT NULL); CREATE INDEX " + t +
                "_changes_revision ON " + t + "_changes (revision); INSERT INTO " + t +
                "_meta VALUES (1, gen_random_uuid()::text, 3); INSERT INTO " + t +
                "_changes VALUES (1, 'p/1'), (1, 'q'), (2, 'p/'), (3, 'q')");
  engine::PostgresStorage::Options o{server().url(), t};
  o.create = false;  // an existing store: upgraded all the same
  auto opened = PostgresStorage::open(o);
  if (!opened.ok()) FAIL("open failed: " << opened.error().message);
  auto s = std::move(opened).value();
  CHECK(query("SELECT data_type || ',' || is_nullable FROM information_schema.columns WHERE table_name = '" + t +
              "_changes' AND column_name = 'prefix'") == "boolean,YES");
  REQUIRE(s->put("abc", engine::bytes_of("v")).ok());
  REQUIRE(s->del_prefix("ab").ok());
  // Opening again finds the column and changes nothing.
  REQUIRE(PostgresStorage::open(o).ok());
  CHECK(query("SELECT count(*) FROM " + t + "_changes WHERE prefix IS NULL") == "4");

  // The old rows keep their meaning (a key ending in '/' was a prefix),
  // the new ones say theirs.
  auto feed = feed_of(t, *s);
  auto up = feed->next(std::chrono::milliseconds(0));
  REQUIRE(up.ok());
  REQUIRE_FALSE(up->reload);
  REQUIRE(up->batches.size() == 5);
  CHECK(up->batches[0].keys == Ranges{{"p/1", false}, {"q", false}});
  CHECK(up->batches[1].keys == Ranges{{"p/", true}});
  CHECK(up->batches[2].keys == Ranges{{"q", false}});
  CHECK(up->batches[3].keys == Ranges{{"abc", false}});
  CHECK(up->batches[4].keys == Ranges{{"ab", true}});
  CHECK(up->cleared == Ranges{{"ab", true}, {"p/", true}, {"q", false}});
  CHECK(up->values.empty());
}

TEST_CASE("PostgresFeed: trimmed rows, another store id and a lost connection mean reload",
          "[storage][postgres][feed]") {
  const std::string t = fresh_table();
  auto s = open_ok(t);
  auto feed = feed_of(t, *s);
  for (int i = 0; i < 4; ++i) REQUIRE(s->put("k" + std::to_string(i), engine::bytes_of("v")).ok());

  SECTION("rows this feed has not read were trimmed") {
    REQUIRE(s->trim_changes(3).ok());
    auto up = feed->next(std::chrono::milliseconds(0));
    REQUIRE(up.ok());
    CHECK(up->reload);
    CHECK(up->why.find("gone") != std::string::npos);
    CHECK(up->revision == 4);
    // Then the chain goes on from where the reload left it.
    REQUIRE(s->put("k9", engine::bytes_of("v")).ok());
    auto next = feed->next(std::chrono::milliseconds(0));
    REQUIRE(next.ok());
    CHECK_FALSE(next->reload);
    REQUIRE(next->batches.size() == 1);
    CHECK(next->batches[0].keys == Ranges{{"k9", false}});
  }
  SECTION("the tables were made anew (another store)") {
    server().psql("DROP TABLE " + t + "_kv, " + t + "_meta, " + t + "_changes");
    auto again = open_ok(t);
    REQUIRE(again->put("x", engine::bytes_of("v")).ok());
    auto up = feed->next(std::chrono::milliseconds(0));
    REQUIRE(up.ok());
    CHECK(up->reload);
    CHECK(up->why.find("store id") != std::string::npos);
  }
  SECTION("the revision went backwards (a restored backup)") {
    REQUIRE(feed->next(std::chrono::milliseconds(0)).ok());
    server().psql("UPDATE " + t + "_meta SET revision = 2");
    auto up = feed->next(std::chrono::milliseconds(0));
    REQUIRE(up.ok());
    CHECK(up->reload);
    CHECK(up->why.find("backwards") != std::string::npos);
  }
  SECTION("the server went away and came back") {
    REQUIRE(feed->next(std::chrono::milliseconds(0)).ok());
    server().kill();
    auto down = feed->next(std::chrono::milliseconds(200));
    REQUIRE_FALSE(down.ok());
    CHECK(down.error().code == ErrorCode::Storage);
    server().restart();
    auto up = feed->next(std::chrono::milliseconds(0));
    INFO((up.ok() ? std::string() : up.error().message));
    REQUIRE(up.ok());
    CHECK(up->reload);
    CHECK(up->why.find("reconnected") != std::string::npos);
  }
}

// ---- the mirror: a fleet host's view --------------------------------------

namespace {

std::unique_ptr<engine::PostgresMirror> mirror_of(const std::string& table,
                                                  std::chrono::milliseconds stale = std::chrono::milliseconds(5000)) {
  engine::PostgresMirror::Options o;
  o.store = {server().url(), table};
  o.stale_after = stale;
  auto m = engine::PostgresMirror::open(o);
  if (!m.ok()) FAIL("mirror: " << m.error().message);
  return std::move(m).value();
}

// A feed thread, as cofferd runs one beside every mirror.
class Following {
 public:
  explicit Following(engine::PostgresMirror& m)
      : thread_([this, &m] {
          while (!stop_) (void)m.follow(std::chrono::milliseconds(100));
        }) {}
  ~Following() {
    stop_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Follows until the mirror holds revision `rev` (or fails the test).
void follow_to(engine::PostgresMirror& m, std::int64_t rev) {
  for (int i = 0; i < 50 && m.revision() < rev; ++i) REQUIRE(m.follow(std::chrono::milliseconds(200)).ok());
  REQUIRE(m.revision() == rev);
}

}  // namespace

TEST_CASE("PostgresMirror conforms to the Storage contract", "[storage][postgres][mirror]") {
  auto m = mirror_of(fresh_table());
  Following feed(*m);
  conformance::check_storage_conformance(*m);
}

TEST_CASE("PostgresMirror: two hosts see each other's commits, in revision order", "[storage][postgres][mirror]") {
  const std::string t = fresh_table();
  auto seed = open_ok(t);
  REQUIRE(seed->put("old/1", engine::bytes_of("x")).ok());
  auto a = mirror_of(t);  // loads what is there
  auto b = mirror_of(t);
  CHECK(conformance::value_at(*a, "old/1") == "x");
  CHECK(a->store_id() == b->store_id());

  // A's own write is in A at once; B has it after its feed read.
  REQUIRE(a->put("s/app", engine::bytes_of("v1")).ok());
  CHECK(conformance::value_at(*a, "s/app") == "v1");
  CHECK_FALSE(b->get("s/app").value().has_value());
  follow_to(*b, 2);
  CHECK(conformance::value_at(*b, "s/app") == "v1");

  // B writes on top of a revision it has; a DeletePrefix reaches A whole.
  REQUIRE(b->put("s/db", engine::bytes_of("d")).ok());
  REQUIRE(b->del_prefix("old/").ok());
  follow_to(*a, 4);
  CHECK(conformance::value_at(*a, "s/db") == "d");
  CHECK(conformance::list(*a, "").size() == 1);  // "s/"
  CHECK(conformance::list(*a, "s/") == std::vector<std::string>{"app", "db"});

  // A write on a host that has not read the other's last commit waits for
  // it (in revision order), so the older commit cannot land over the newer.
  REQUIRE(b->put("s/app", engine::bytes_of("v2")).ok());  // revision 5, A has not read it
  std::thread feed([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    (void)a->follow(std::chrono::milliseconds(0));
  });
  REQUIRE(a->put("s/app", engine::bytes_of("v3")).ok());  // revision 6
  feed.join();
  CHECK(a->revision() == 6);
  CHECK(conformance::value_at(*a, "s/app") == "v3");
  follow_to(*b, 6);
  CHECK(conformance::value_at(*b, "s/app") == "v3");
}

TEST_CASE("PostgresMirror: another host's DeletePrefix of any prefix reaches the mirror whole",
          "[storage][postgres][mirror]") {
  // Storage takes any prefix, not only one ending in '/': the change row
  // must say it is a prefix, or the feed clears one key only.
  const std::string t = fresh_table();
  auto a = open_ok(t);  // the other host
  for (const char* k : {"x\xff", "x\xff\xff/a", "x\xfe", "ab", "abc", "ab/d", "a"}) {
    REQUIRE(a->put(k, engine::bytes_of("v")).ok());
  }
  auto b = mirror_of(t);
  CHECK(conformance::has(*b, "x\xff\xff/a"));
  REQUIRE(a->del_prefix("x\xff").ok());
  REQUIRE(a->del_prefix("ab").ok());
  // A key that ends in '/' is a key, not a prefix.
  REQUIRE(a->put("dir/", engine::bytes_of("v")).ok());
  REQUIRE(a->put("dir/x", engine::bytes_of("v")).ok());
  REQUIRE(a->del("dir/").ok());
  follow_to(*b, 12);
  for (const char* k : {"x\xff", "x\xff\xff/a", "ab", "abc", "ab/d", "dir/"}) CHECK_FALSE(conformance::has(*b, k));
  for (const char* k : {"x\xfe", "a", "dir/x"}) CHECK(conformance::has(*b, k));
}

TEST_CASE("PostgresMirror fails closed when its feed cannot read, and recovers by itself",
          "[storage][postgres][mirror]") {
  const std::string t = fresh_table();
  auto m = mirror_of(t, std::chrono::milliseconds(300));
  REQUIRE(m->put("k", engine::bytes_of("before")).ok());
  server().kill();
  const auto start = std::chrono::steady_clock::now();
  while (m->current() && std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
    CHECK_FALSE(m->follow(std::chrono::milliseconds(50)).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK_FALSE(m->current());
  auto got = m->get("k");
  REQUIRE_FALSE(got.ok());
  CHECK(got.error().code == ErrorCode::Storage);
  CHECK(got.error().message.find("not current") != std::string::npos);
  CHECK_FALSE(m->list("").ok());
  CHECK_FALSE(m->put("k", engine::bytes_of("during")).ok());

  // Meanwhile another host wrote (the server is back for it first).
  server().restart();
  REQUIRE(open_ok(t)->put("k", engine::bytes_of("elsewhere")).ok());
  auto up = m->follow(std::chrono::milliseconds(0));
  if (!up.ok()) FAIL(up.error().message);
  CHECK(up->reload);  // a reconnect: the whole store again
  CHECK(m->current());
  CHECK(conformance::value_at(*m, "k") == "elsewhere");
  CHECK(m->revision() == 2);
}

TEST_CASE("PostgresMirror: a missing store is NotFound unless asked to create it", "[storage][postgres][mirror]") {
  engine::PostgresMirror::Options o;
  o.store = {server().url(), fresh_table()};
  o.store.create = false;
  auto none = engine::PostgresMirror::open(o);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == ErrorCode::NotFound);
  o.store.create = true;
  REQUIRE(engine::PostgresMirror::open(o).ok());
  o.store.create = false;
  CHECK(engine::PostgresMirror::open(o).ok());
}

TEST_CASE("PostgreSQL connections time out on a silent server unless the URL says otherwise", "[storage][postgres]") {
  auto option = [](PGconn* c, std::string_view key) {
    std::string out;
    PQconninfoOption* opts = PQconninfo(c);
    for (PQconninfoOption* o = opts; o != nullptr && o->keyword != nullptr; ++o) {
      if (key == o->keyword && o->val != nullptr) out = o->val;
    }
    PQconninfoFree(opts);
    return out;
  };
  PGconn* c = engine::pg_changes::connect(server().url());
  REQUIRE(PQstatus(c) == CONNECTION_OK);
  CHECK(option(c, "connect_timeout") == "5");
  CHECK(option(c, "tcp_user_timeout") == "10000");
  CHECK(option(c, "keepalives_idle") == "5");
  PQfinish(c);
  const std::string url = server().url();
  c = engine::pg_changes::connect(url + (url.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=7");
  REQUIRE(PQstatus(c) == CONNECTION_OK);
  CHECK(option(c, "connect_timeout") == "7");
  CHECK(option(c, "tcp_user_timeout") == "10000");
  PQfinish(c);
}
