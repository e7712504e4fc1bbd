// SPDX-License-Identifier: MPL-2.0
// Physical storage in PostgreSQL, for a fleet of hosts on one database
// (storage "postgresql" { connection_url = "postgres://..." table = "..." }).
// Values are opaque bytes (the barrier above encrypts them), so the database
// sees only ciphertext and key paths.
//
// Tables, named after `table` (default "coffer"):
//   <t>_kv       (key bytea primary key, value bytea): the store;
//   <t>_meta     one row: store_id (random at creation) and revision, the
//                store's commit counter;
//   <t>_changes  (revision, key, prefix): which keys each revision touched,
//                prefix true for a DeletePrefix's prefix (which may end in
//                any byte), for the change feed of other hosts; trimmed by
//                trim_changes(). open() adds the prefix column to a store
//                made without it; its rows keep NULL, read as before: a key
//                ending in '/' is a prefix.
// Keys are bytea, so they compare and sort bytewise, as in SQLite.
//
// Each apply() batch takes the next revision by updating the one meta row
// inside its transaction, so revisions are gap-free and in commit order (the
// row lock orders writers across hosts), writes a change row per op and
// NOTIFYs <t>_changes with the revision. It is acknowledged only after
// COMMIT returns (synchronous_commit is left as the server has it; keep it
// on). Concurrent apply() calls share a transaction (group commit): while
// one group commits, the batches that arrive queue up, and the next caller
// to run commits all of them in one transaction, one COMMIT and one WAL
// flush. The group first locks the meta row (so no other host commits
// between its batches; BEGIN with it, in one round trip), then runs each
// batch in a savepoint of its own, with its own revision and change rows,
// exactly as if it had committed alone: a batch that fails (a Conflict, an
// SQL error) is rolled back to its savepoint and fails alone, and the next
// batch takes the revision it left. A batch alone is a transaction of its
// own, with no savepoint. The batches' statements and the COMMIT go to the
// server down one libpq pipeline, without waiting for each answer
// (pipeline() says how a failing batch still fails alone), so a group
// costs two round trips however many statements it holds, one more for
// each batch in it that fails. A COMMIT that fails, or a connection lost
// mid-transaction, fails every batch of the group and acknowledges none:
// PostgreSQL rolls the transaction back, or, if the COMMIT was sent and its
// answer lost, the changes may have landed and show in the feed.
//
// Every value is bound as a parameter; the only text spliced into SQL is
// the table name, which open() checks to be [a-z_][a-z0-9_]{0,39}.
//
// Thread-safe: one writer connection (groups of apply() calls take turns on it)
// and a pool of reader connections, opened on demand. A broken connection is
// reset on its next use, so the store recovers when the server comes back.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/storage/postgres_changes.hpp"
#include "engine/storage/group_commit.hpp"
#include "engine/storage/storage.hpp"

namespace engine {

class PostgresStorage final : public Storage {
 public:
  struct Options {
    std::string connection_url;  // libpq URI or key=value string; never logged
    std::string table = "coffer";
    // Make the tables when they are missing; false: a missing store is
    // NotFound (a dropped store must not come back as a new, uninitialised one).
    bool create = true;
  };

  // Connects, and creates the tables if they are missing or brings an older
  // layout up to date (under an advisory lock, so two hosts starting at once
  // do it once). Errors:
  // InvalidArgument (table name), NotFound (no tables and !create), Storage
  // (cannot connect, SQL errors).
  static Result<std::unique_ptr<PostgresStorage>> open(Options opts);
  ~PostgresStorage() override;

  PostgresStorage(const PostgresStorage&) = delete;
  PostgresStorage& operator=(const PostgresStorage&) = delete;

  // Storage. Errors: Storage, with the server's message (never a value).
  Result<std::optional<SecureBytes>> get(std::string_view key) override;
  Result<std::vector<std::string>> list(std::string_view prefix, std::size_t limit = 0) override;
  Status apply(std::span<const WriteOp> batch) override;
  CommitDelay* commit_delay() override { return &group_; }
  // What a key must hold for a conditional apply (nullopt: no such key).
  struct Expect {
    std::string key;
    std::optional<SecureBytes> value;
  };
  // apply(), answering the revision the batch committed as. With `expect`,
  // the batch commits only if every such key still holds that value, checked
  // after the meta row is locked (every writer of every host waits there, so
  // nothing changes between the check and the commit); otherwise Conflict,
  // and nothing is written.
  //
  // With `catch_up` (a host that mirrors the store): `have` is asked, under
  // the writer lock, which revision the caller holds; the revisions of other
  // hosts committed after it and before this batch's are read inside the
  // transaction (under the meta row lock, so they are exactly the
  // revisions before this one); and `settle` is called, still under the
  // writer lock, with them and with the revision the batch committed as
  // (nullopt when it did not, e.g. Conflict). So the caller takes in every
  // revision in order, its own included, without waiting for its feed.
  // In a group, `settle` is called for each batch after the group's COMMIT,
  // in revision order, before any of them returns; the other hosts'
  // revisions before the group come with the first batch that has a
  // catch_up (the later ones have only the group's own batches before them,
  // which their callers take in through their own `settle`).
  struct CatchUp {
    std::function<std::int64_t()> have;
    std::function<void(const StoreChanges& before, std::optional<std::int64_t> committed)> settle;
  };
  Result<std::int64_t> apply_at(std::span<const WriteOp> batch, std::span<const Expect> expect = {},
                                const CatchUp* catch_up = nullptr);
  const Options& options() const { return opts_; }

  // Transactions committed so far, and batches now waiting for the next
  // one (group commit figures, for tests and benchmarks).
  std::uint64_t commits() const { return commits_.load(std::memory_order_relaxed); }
  std::size_t queued();

  // The store's id (random, made with the tables) and its revision now.
  const std::string& store_id() const { return store_id_; }
  Result<std::int64_t> revision();
  // Drops the change rows of revisions below `below` (every host has read
  // past them, or will reload).
  Status trim_changes(std::int64_t below);

  struct Connection;  // one PGconn and what was prepared on it

 private:
  explicit PostgresStorage(Options opts);

  Result<std::unique_ptr<Connection>> acquire_reader();
  void release_reader(std::unique_ptr<Connection> conn);
  template <class Read>
  auto with_reader(Read&& read) -> decltype(read(std::declval<Connection&>()));

  // One apply_at() call waiting for its batch to be committed.
  struct Waiter {
    std::span<const WriteOp> batch;
    std::span<const Expect> expect;
    const CatchUp* catch_up;
    Result<std::int64_t> result = std::int64_t{0};  // the revision, or why not
    bool done = false;                              // under group_'s lock: result is final
  };
  // Commits the group's batches in one transaction (under write_mu_), sets
  // each waiter's result and settles each catch_up, in revision order.
  void commit_group(const std::vector<Waiter*>& group);
  // One round of the group's batches [from, end) in the open transaction,
  // which holds the meta row, all sent down one libpq pipeline without
  // waiting for an answer: each batch (its savepoint in a group, revision
  // and NOTIFY, expectations, ops with their change rows) is a segment
  // ending in a sync point, and the COMMIT goes in the last batch's. A
  // statement that fails makes the server skip the rest of its segment
  // and leaves the transaction aborted, so every later segment fails at
  // its first statement, the COMMIT with them: the first batch to fail is
  // the only one that answers for itself (its result is set), and the ones
  // after it did nothing. Returns its index, for the next round to roll
  // back to its savepoint (`recover`) and send the rest again (the first
  // batch of a round takes revision `next`), or group.size() once the
  // COMMIT went through. An error (a lost connection, a failed COMMIT) is
  // every batch's. Reads of other hosts' revisions depend on the row lock's
  // answer, so they stay out of the pipeline, before it.
  Result<std::size_t> pipeline(const std::vector<Waiter*>& group, std::size_t from, std::int64_t next, bool recover);

  Options opts_;
  std::string store_id_;

  GroupQueue<Waiter> group_;  // engine/storage/group_commit.hpp
  std::atomic<std::uint64_t> commits_{0};

  std::mutex write_mu_;  // serialises use of writer_
  std::unique_ptr<Connection> writer_;

  std::mutex pool_mu_;  // guards only the idle list, never held during a query
  std::vector<std::unique_ptr<Connection>> idle_readers_;
};

}  // namespace engine
