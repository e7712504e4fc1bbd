// SPDX-License-Identifier: MPL-2.0
// Physical storage in one SQLite file (SPEC §5): table kv(key, value), WAL
// journal, synchronous=FULL so an acknowledged apply() survives a crash or a
// power loss. Values are opaque bytes (the barrier above encrypts them).
//
// Concurrency: one writer connection (apply() calls are serialised on it) and
// a pool of reader connections, so reads run in parallel with each other and
// with a write (WAL readers see the last committed state). The file is held
// with flock() for the object's lifetime, so a second cofferd on the same
// store is refused instead of interleaving writes.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/storage/storage.hpp"

namespace engine {

class SqliteStorage final : public Storage {
 public:
  // The schema version this build writes. open() migrates older stores up to
  // it and refuses newer ones.
  static constexpr int kSchemaVersion = 1;

  // Opens (creating if needed) the store at path. Errors: Locked when another
  // process (or another SqliteStorage in this one) holds the file; Storage for
  // SQLite failures, a file that is not a store, or a schema newer than
  // kSchemaVersion.
  static Result<std::unique_ptr<SqliteStorage>> open(const std::string& path);
  ~SqliteStorage() override;

  SqliteStorage(const SqliteStorage&) = delete;
  SqliteStorage& operator=(const SqliteStorage&) = delete;

  const std::string& path() const { return path_; }

  // Storage. Thread-safe. Errors: Storage (with SQLite's message).
  Result<std::optional<SecureBytes>> get(std::string_view key) override;
  Result<std::vector<std::string>> list(std::string_view prefix, std::size_t limit = 0) override;
  Status apply(std::span<const WriteOp> batch) override;

  struct Connection;  // one sqlite3 handle and its prepared statements

 private:
  SqliteStorage(std::string path, int lock_fd);

  // A reader from the pool (opened on demand); give it back with release().
  Result<std::unique_ptr<Connection>> acquire_reader();
  void release_reader(std::unique_ptr<Connection> conn);

  std::string path_;
  int lock_fd_ = -1;

  std::mutex write_mu_;  // serialises apply() on writer_
  std::unique_ptr<Connection> writer_;

  std::mutex pool_mu_;  // guards only the idle list, never held during a query
  std::vector<std::unique_ptr<Connection>> idle_readers_;
};

}  // namespace engine
