// SPDX-License-Identifier: MPL-2.0
// Physical storage in one SQLite file (SPEC §5): table kv(key, value), WAL
// journal, synchronous=FULL so an acknowledged apply() survives a crash or a
// power loss. Values are opaque bytes (the barrier above encrypts them).
//
// Concurrency: one writer connection and a pool of reader connections, so
// reads run in parallel with each other and with a write (WAL readers see the
// last committed state). get_many() reads its keys in one read transaction. Concurrent apply() calls share a commit
// (group commit): while one transaction commits, the batches that arrive queue up, and the next caller to run commits
// all of them in one transaction and one WAL sync, each batch inside a savepoint of its own (and waits a moment for
// announced writes, group_commit.hpp). Each call returns only
// after its batch is durable; a batch whose statements fail is rolled back
// alone, and a commit that fails fails every batch in it. The file is held
// with flock() for the object's lifetime, so a second cofferd on the same
// store is refused instead of interleaving writes.
//
// The store must stay where it was opened: each apply() checks, before and
// after its transaction, that the path and its WAL (PATH-wal) still name the
// files this object has open (two stat() calls), and fails with Storage when
// either was deleted, renamed or replaced, since what it would acknowledge
// would not be found at that path on the next start. Reads go on: the open
// file still holds every acknowledged write (a reader opened from then on
// would open the path, so the writer connection serves them instead).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "engine/storage/group_commit.hpp"
#include "engine/storage/storage.hpp"

namespace engine {

class SqliteStorage final : public Storage {
 public:
  // The schema version this build writes. open() migrates older stores up to
  // it and refuses newer ones.
  static constexpr int kSchemaVersion = 1;

  // What open() does when there is no file at the path.
  enum class IfMissing {
    Fail,    // NotFound "no store at PATH": a store that disappeared is not
             // silently replaced by an empty, uninitialised one
    Create,  // create a new, empty store (cofferd --init)
  };

  // Opens the store at path. Errors: NotFound when there is no file and
  // if_missing is Fail; Storage when the file is missing but its WAL is not
  // (a store moved without its latest commits; never created over, even with
  // Create); Locked when another process (or another SqliteStorage in this
  // one) holds the file; Storage for SQLite failures, a file that is not a
  // store, or a schema newer than kSchemaVersion.
  static Result<std::unique_ptr<SqliteStorage>> open(const std::string& path, IfMissing if_missing = IfMissing::Fail);
  ~SqliteStorage() override;

  SqliteStorage(const SqliteStorage&) = delete;
  SqliteStorage& operator=(const SqliteStorage&) = delete;

  const std::string& path() const { return path_; }

  // Transactions committed so far, and batches now waiting for the next
  // one (group commit figures, for tests and benchmarks).
  std::uint64_t commits() const { return commits_.load(std::memory_order_relaxed); }
  std::size_t queued();

  // Storage. Thread-safe. Errors: Storage (with SQLite's message, or saying
  // the file was deleted, renamed or replaced under this process: apply()).
  Result<std::optional<SecureBytes>> get(std::string_view key) override;
  Result<std::vector<std::optional<SecureBytes>>> get_many(std::span<const std::string_view> keys) override;
  Result<std::vector<std::string>> list(std::string_view prefix, std::size_t limit = 0) override;
  Status apply(std::span<const WriteOp> batch) override;
  CommitDelay* commit_delay() override { return &group_; }

  struct Connection;  // one sqlite3 handle and its prepared statements

 private:
  SqliteStorage(std::string path, int lock_fd);

  // Ok while path_ and its WAL still name the files opened; Storage naming
  // the problem otherwise. One stat() per file.
  Status check_in_place();

  // A reader from the pool (opened on demand); give it back with release().
  // Null when a new one is needed and the path no longer names the store.
  Result<std::unique_ptr<Connection>> acquire_reader();
  void release_reader(std::unique_ptr<Connection> conn);
  // read(Connection&, bool in_transaction) on a pooled reader, or on the
  // writer (under write_mu_) when acquire_reader() gives null. Inside a
  // ReadTogether scope, on the reader this thread holds with its read
  // transaction open (in_transaction: the read must not BEGIN its own).
  template <class Read>
  auto with_reader(Read&& read) -> decltype(read(std::declval<Connection&>(), false));
  struct Together;  // a ReadTogether scope's reader (sqlite_storage.cpp)
  static thread_local Together together_;

  std::string path_;
  std::string wal_path_;  // the WAL as SQLite names it (path_ + "-wal", links resolved)
  int lock_fd_ = -1;
  // (st_dev, st_ino) of the open store and of its WAL, for check_in_place().
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  dev_t wal_dev_ = 0;
  ino_t wal_ino_ = 0;

  // One apply() call waiting for its batch to be committed.
  struct Waiter {
    std::span<const WriteOp> batch;
    Status result{};
    bool done = false;  // under group_'s lock: result is final
  };
  // Commits the group's batches in one transaction (under write_mu_) and sets
  // each waiter's result.
  void commit_group(const std::vector<Waiter*>& group);
  // The ops of one batch, in the open transaction.
  Status write_ops(std::span<const WriteOp> batch);

  GroupQueue<Waiter> group_;  // engine/storage/group_commit.hpp
  std::atomic<std::uint64_t> commits_{0};

  std::mutex write_mu_;  // serialises use of writer_
  std::unique_ptr<Connection> writer_;

  std::mutex pool_mu_;  // guards only the idle list, never held during a query
  std::vector<std::unique_ptr<Connection>> idle_readers_;
};

}  // namespace engine
