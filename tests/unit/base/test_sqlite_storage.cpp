// SPDX-License-Identifier: MPL-2.0
#include "engine/storage/sqlite_storage.hpp"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/unit/base/storage_conformance.hpp"
#include "tests/unit/base/temp_dir.hpp"

using engine::ErrorCode;
using engine::SqliteStorage;

namespace {

std::unique_ptr<SqliteStorage> open_ok(const std::string& path) {
  auto r = SqliteStorage::open(path, SqliteStorage::IfMissing::Create);
  if (!r.ok()) FAIL("open failed: " << r.error().message);
  return std::move(r).value();
}

void set_schema_version(const std::string& path, int version) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  const std::string sql = "UPDATE properties SET value = " + std::to_string(version) + " WHERE name = 'schema_version'";
  REQUIRE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
}

}  // namespace

TEST_CASE("SqliteStorage conforms to the Storage contract", "[storage][sqlite]") {
  testing::TempDir dir;
  auto s = open_ok(dir.file("store.db"));
  conformance::check_storage_conformance(*s);
}

TEST_CASE("SqliteStorage keeps data across reopen", "[storage][sqlite]") {
  testing::TempDir dir;
  const std::string path = dir.file("store.db");
  {
    auto s = open_ok(path);
    conformance::put(*s, "a/b", "1");
    conformance::put(*s, "c", std::string("\0\1\2", 3));
  }
  auto s = open_ok(path);
  CHECK(conformance::value_at(*s, "a/b") == "1");
  CHECK(conformance::value_at(*s, "c") == std::string("\0\1\2", 3));
  CHECK(conformance::list(*s, "") == std::vector<std::string>{"a/", "c"});
}

TEST_CASE("SqliteStorage refuses a store held by someone else", "[storage][sqlite]") {
  testing::TempDir dir;
  const std::string path = dir.file("store.db");
  auto first = open_ok(path);
  conformance::put(*first, "k", "v");

  SECTION("a second open in this process") {
    auto second = SqliteStorage::open(path);
    REQUIRE_FALSE(second.ok());
    CHECK(second.error().code == ErrorCode::Locked);
    CHECK(second.error().message == "store " + path + " is in use by another process");
    // The refused open must not disturb the holder.
    conformance::put(*first, "k2", "v2");
    CHECK(conformance::value_at(*first, "k") == "v");
  }

  SECTION("another process") {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      auto r = SqliteStorage::open(path);
      _exit(!r.ok() && r.error().code == ErrorCode::Locked ? 0 : 1);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }

  SECTION("free again once closed") {
    first.reset();
    auto again = open_ok(path);
    CHECK(conformance::value_at(*again, "k") == "v");
  }
}

TEST_CASE("SqliteStorage refuses a newer schema and garbage files", "[storage][sqlite]") {
  testing::TempDir dir;
  const std::string path = dir.file("store.db");

  SECTION("schema newer than this build") {
    open_ok(path).reset();
    set_schema_version(path, SqliteStorage::kSchemaVersion + 1);
    auto r = SqliteStorage::open(path);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::Storage);
    CHECK_THAT(r.error().message, Catch::Contains("newer than this cofferd supports"));
    // Refusing must leave the file alone.
    set_schema_version(path, SqliteStorage::kSchemaVersion);
    open_ok(path).reset();
  }

  SECTION("a file that is not a database") {
    std::ofstream(path) << std::string(4096, 'x');
    auto r = SqliteStorage::open(path);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::Storage);
    CHECK_THAT(r.error().message, Catch::Contains("not a database"));
  }

  SECTION("a directory that does not exist") {
    auto r = SqliteStorage::open(dir.file("missing/store.db"), SqliteStorage::IfMissing::Create);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::Storage);
  }
}

TEST_CASE("SqliteStorage: every acknowledged write survives kill -9", "[storage][sqlite]") {
  testing::TempDir dir;
  const std::string path = dir.file("store.db");
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    auto r = SqliteStorage::open(path, SqliteStorage::IfMissing::Create);
    if (!r.ok()) _exit(2);
    for (std::uint32_t i = 0;; ++i) {
      const std::string n = std::to_string(i);
      std::vector<engine::WriteOp> batch;
      batch.push_back({engine::WriteOp::Kind::Put, "k/" + n, conformance::bytes("value " + n)});
      batch.push_back({engine::WriteOp::Kind::Put, "m/" + n, conformance::bytes("mirror " + n)});
      if (!(*r)->apply(batch).ok()) _exit(3);
      // Only now is the batch acknowledged.
      if (write(fds[1], &i, sizeof i) != sizeof i) _exit(4);
    }
  }
  close(fds[1]);
  std::set<std::uint32_t> acked;
  std::uint32_t i = 0;
  while (acked.size() < 200 && read(fds[0], &i, sizeof i) == sizeof i) acked.insert(i);
  REQUIRE(kill(pid, SIGKILL) == 0);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFSIGNALED(status));
  while (read(fds[0], &i, sizeof i) == sizeof i) acked.insert(i);  // acks still in the pipe
  close(fds[0]);
  REQUIRE(acked.size() >= 200);

  auto s = open_ok(path);
  for (std::uint32_t k : acked) {
    const std::string n = std::to_string(k);
    CHECK(conformance::value_at(*s, "k/" + n) == "value " + n);
    CHECK(conformance::value_at(*s, "m/" + n) == "mirror " + n);
  }
  // A batch in flight at the kill is all there or not at all.
  auto keys = conformance::list(*s, "k/");
  auto mirrors = conformance::list(*s, "m/");
  CHECK(keys == mirrors);
  CHECK(keys.size() >= acked.size());
  CHECK(keys.size() <= acked.size() + 1);
}

namespace {

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

std::string write_error(SqliteStorage& s, const std::string& key) {
  engine::Status st = s.put(key, engine::bytes_of("v"));
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == ErrorCode::Storage);
  return st.error().message;
}

}  // namespace

TEST_CASE("SqliteStorage creates a store only when told to", "[storage][sqlite]") {
  testing::TempDir dir;
  const std::string path = dir.file("store.db");

  SECTION("no file: NotFound, and nothing is created") {
    auto r = SqliteStorage::open(path);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::NotFound);
    CHECK(r.error().message == "no store at " + path);
    CHECK_FALSE(exists(path));
    CHECK_FALSE(exists(path + "-wal"));
  }

  SECTION("an empty file is no store either") {
    std::ofstream{path};
    auto r = SqliteStorage::open(path);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::NotFound);
    CHECK(r.error().message == "no store at " + path + " (the file is empty)");
    // Create takes an empty file as it takes a missing one.
    open_ok(path).reset();
  }

  SECTION("Create makes one; later opens need no Create") {
    {
      auto s = open_ok(path);
      conformance::put(*s, "k", "v");
    }
    auto r = SqliteStorage::open(path);
    REQUIRE(r.ok());
    CHECK(conformance::value_at(**r, "k") == "v");
  }

  SECTION("a store moved away without its WAL is never created over") {
    // Crash with the latest commit only in the WAL, then lose the main file.
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      auto r = SqliteStorage::open(path, SqliteStorage::IfMissing::Create);
      if (!r.ok() || !(*r)->put("k", engine::bytes_of("v")).ok()) _exit(1);
      ::kill(::getpid(), SIGKILL);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(exists(path + "-wal"));
    REQUIRE(::rename(path.c_str(), dir.file("moved.db").c_str()) == 0);
    for (auto mode : {SqliteStorage::IfMissing::Fail, SqliteStorage::IfMissing::Create}) {
      auto r = SqliteStorage::open(path, mode);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == ErrorCode::Storage);
      CHECK_THAT(r.error().message, Catch::Contains("is missing but its write-ahead log"));
      CHECK_FALSE(exists(path));
    }
  }
}

TEST_CASE("SqliteStorage refuses writes once its file is gone from the path", "[storage][sqlite]") {
  testing::TempDir dir;
  const std::string path = dir.file("store.db");
  auto s = open_ok(path);
  conformance::put(*s, "before", "1");

  SECTION("deleted") {
    REQUIRE(::unlink(path.c_str()) == 0);
    CHECK(write_error(*s, "after") == "store " + path +
                                          " was deleted or renamed while in use: writes are refused until it "
                                          "is back at that path");
    // Reads go on: the open file still holds every acknowledged write.
    CHECK(conformance::value_at(*s, "before") == "1");
    CHECK_FALSE(conformance::has(*s, "after"));
    const std::string_view keys[] = {"after", "before"};  // through the writer, as no reader can open
    auto many = s->get_many(keys);
    REQUIRE(many.ok());
    REQUIRE(many->size() == 2);
    CHECK_FALSE((*many)[0].has_value());
    REQUIRE((*many)[1].has_value());
    CHECK(engine::as_view(*(*many)[1]) == "1");
    // Nothing was created at the path either.
    CHECK_FALSE(exists(path));
  }

  SECTION("renamed, then renamed back") {
    const std::string moved = dir.file("moved.db");
    REQUIRE(::rename(path.c_str(), moved.c_str()) == 0);
    CHECK_THAT(write_error(*s, "after"), Catch::Contains("was deleted or renamed while in use"));
    REQUIRE(::rename(moved.c_str(), path.c_str()) == 0);
    conformance::put(*s, "back", "2");
    CHECK(conformance::value_at(*s, "back") == "2");
  }

  SECTION("replaced by another file") {
    const std::string other = dir.file("other.db");
    std::ofstream(other) << "x";
    REQUIRE(::rename(other.c_str(), path.c_str()) == 0);
    CHECK_THAT(write_error(*s, "after"),
               Catch::Contains("store " + path + " was replaced by another file while in use"));
  }

  SECTION("its WAL deleted") {
    REQUIRE(::unlink((path + "-wal").c_str()) == 0);
    CHECK_THAT(write_error(*s, "after"), Catch::Contains("the write-ahead log " + path +
                                                         "-wal of the store was deleted or renamed while in use"));
  }

  SECTION("its WAL replaced") {
    REQUIRE(::rename((path + "-wal").c_str(), dir.file("w").c_str()) == 0);
    std::ofstream(path + "-wal") << "";
    CHECK_THAT(write_error(*s, "after"), Catch::Contains("-wal of the store was replaced"));
  }

  SECTION("a refused batch changes nothing") {
    REQUIRE(::rename(path.c_str(), dir.file("moved.db").c_str()) == 0);
    std::vector<engine::WriteOp> batch;
    batch.push_back({engine::WriteOp::Kind::Put, "a", conformance::bytes("x")});
    batch.push_back({engine::WriteOp::Kind::Delete, "before", {}});
    CHECK_FALSE(s->apply(batch).ok());
    CHECK(conformance::value_at(*s, "before") == "1");
    CHECK_FALSE(conformance::has(*s, "a"));
  }
}

TEST_CASE("SqliteStorage through a symbolic link checks the files it names", "[storage][sqlite]") {
  testing::TempDir dir;
  const std::string real = dir.file("real.db");
  const std::string link = dir.file("link.db");
  REQUIRE(::symlink(real.c_str(), link.c_str()) == 0);
  auto s = open_ok(link);
  conformance::put(*s, "k", "v");  // the WAL is real.db-wal, not link.db-wal
  CHECK(exists(real + "-wal"));
  REQUIRE(::rename(real.c_str(), dir.file("moved.db").c_str()) == 0);
  CHECK_THAT(write_error(*s, "k2"), Catch::Contains("store " + link + " was deleted or renamed"));
}

TEST_CASE("SqliteStorage: concurrent applies share one commit, and a failing batch fails alone", "[storage][sqlite]") {
  testing::TempDir dir;
  const std::string path = dir.file("store.db");
  auto s = open_ok(path);
  // Another connection refuses one key and, for now, holds the write lock,
  // so the first apply waits in BEGIN while the others queue behind it.
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other,
                       "CREATE TRIGGER refuse BEFORE INSERT ON kv WHEN NEW.key = 'bad' "
                       "BEGIN SELECT RAISE(ABORT, 'refused'); END;",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  const std::uint64_t before = s->commits();
  REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);

  auto batch_of = [](std::vector<std::string> keys) {
    std::vector<engine::WriteOp> b;
    for (auto& k : keys) b.push_back({engine::WriteOp::Kind::Put, k, conformance::bytes("v-" + k)});
    return b;
  };
  const std::vector<std::vector<engine::WriteOp>> batches{batch_of({"a"}), batch_of({"b1", "b2"}),
                                                          batch_of({"c", "bad"}), batch_of({"d"})};
  std::vector<engine::Status> results(batches.size());
  std::vector<std::thread> threads;
  threads.emplace_back([&] { results[0] = s->apply(batches[0]); });
  // The first caller commits alone: give it time to take its batch and
  // block in BEGIN before the others arrive.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  REQUIRE(s->queued() == 0);
  for (std::size_t i = 1; i < batches.size(); ++i) threads.emplace_back([&, i] { results[i] = s->apply(batches[i]); });
  for (int i = 0; i < 1000 && s->queued() != 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  REQUIRE(s->queued() == 3);
  REQUIRE(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
  for (auto& t : threads) t.join();
  sqlite3_close(other);

  CHECK(results[0].ok());
  CHECK(results[1].ok());
  REQUIRE_FALSE(results[2].ok());
  CHECK(results[2].error().code == ErrorCode::Storage);
  CHECK(results[2].error().message.find("refused") != std::string::npos);
  CHECK(results[3].ok());
  CHECK(s->commits() - before == 2);  // the first alone, then the three queued together
  CHECK(conformance::value_at(*s, "a") == "v-a");
  CHECK(conformance::value_at(*s, "b1") == "v-b1");
  CHECK(conformance::value_at(*s, "b2") == "v-b2");
  CHECK(conformance::value_at(*s, "d") == "v-d");
  CHECK(conformance::list(*s, "") == std::vector<std::string>{"a", "b1", "b2", "d"});  // nothing of the failed batch
}

TEST_CASE("SqliteStorage: many writers at once lose nothing", "[storage][sqlite]") {
  testing::TempDir dir;
  auto s = open_ok(dir.file("store.db"));
  constexpr int kThreads = 8, kEach = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string n = std::to_string(t) + "-" + std::to_string(i);
        std::vector<engine::WriteOp> batch;
        batch.push_back({engine::WriteOp::Kind::Put, "k/" + n, conformance::bytes(n)});
        batch.push_back({engine::WriteOp::Kind::Put, "m/" + n, conformance::bytes(n)});
        if (!s->apply(batch).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  CHECK(conformance::list(*s, "k/").size() == kThreads * kEach);
  CHECK(conformance::list(*s, "m/") == conformance::list(*s, "k/"));
  CHECK(s->commits() <= static_cast<std::uint64_t>(kThreads * kEach));
}

TEST_CASE("SqliteStorage: reads in a ReadTogether scope share one snapshot", "[storage][sqlite]") {
  testing::TempDir dir;
  auto s = open_ok(dir.file("store.db"));
  REQUIRE(s->put("a/k", engine::bytes_of("v1")).ok());
  REQUIRE(s->put("a/x", engine::bytes_of("x")).ok());
  auto value = [&](std::string_view key) {
    auto r = s->get(key);
    REQUIRE(r.ok());
    return *r ? std::string(r->value().begin(), r->value().end()) : std::string("(none)");
  };
  // Writes made by another thread while the scope is open.
  auto write_elsewhere = [&](std::string_view key, std::string_view v) {
    engine::Status st;
    std::thread([&] { st = s->put(key, engine::bytes_of(v)); }).join();
    REQUIRE(st.ok());
  };
  {
    const engine::ReadTogether together;
    CHECK(value("a/k") == "v1");
    write_elsewhere("a/k", "v2");
    write_elsewhere("a/new", "n");
    {
      const engine::ReadTogether inner;  // nested: the outer scope's transaction goes on
      CHECK(value("a/k") == "v1");
    }
    CHECK(value("a/k") == "v1");
    CHECK(value("a/new") == "(none)");
    // get_many and list read inside the same transaction (no BEGIN of their own).
    const std::string_view keys[] = {"a/k", "a/new", "a/x"};
    auto many = s->get_many(keys);
    REQUIRE(many.ok());
    REQUIRE(many->size() == 3);
    CHECK((*many)[0].has_value());
    CHECK_FALSE((*many)[1].has_value());
    auto names = s->list("a/");
    REQUIRE(names.ok());
    CHECK(*names == std::vector<std::string>{"k", "x"});
    // Another thread's reads are not in this thread's snapshot.
    std::string seen;
    std::thread([&] { seen = value("a/k"); }).join();
    CHECK(seen == "v2");
  }
  // Once the scope ends, reads see the latest commit again, on a reader
  // given back to the pool in a clean state.
  CHECK(value("a/k") == "v2");
  CHECK(value("a/new") == "n");
  for (int i = 0; i < 50; ++i) {
    const engine::ReadTogether together;
    CHECK(value("a/k") == "v2");
  }
  REQUIRE(s->put("a/k", engine::bytes_of("v3")).ok());
  CHECK(value("a/k") == "v3");
}
