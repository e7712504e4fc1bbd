// SPDX-License-Identifier: MPL-2.0
#include "engine/storage/sqlite_storage.hpp"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>

#include <catch2/catch.hpp>

#include "tests/unit/base/storage_conformance.hpp"
#include "tests/unit/base/temp_dir.hpp"

using engine::ErrorCode;
using engine::SqliteStorage;

namespace {

std::unique_ptr<SqliteStorage> open_ok(const std::string& path) {
  auto r = SqliteStorage::open(path);
  if (!r.ok()) FAIL("open failed: " << r.error().message);
  return std::move(r).value();
}

void set_schema_version(const std::string& path, int version) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  const std::string sql =
      "UPDATE properties SET value = " + std::to_string(version) + " WHERE name = 'schema_version'";
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
    auto r = SqliteStorage::open(dir.file("missing/store.db"));
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
    auto r = SqliteStorage::open(path);
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
