// SPDX-License-Identifier: MPL-2.0
// A PostgreSQL store as one host of a fleet sees it: the whole store
// (ciphertext and key paths, as the barrier wrote them) mirrored in memory,
// kept exact by this host's own writes and by the change feed of the others.
//
//   get, list     from memory: a cat on a fleet host costs what it costs on
//                 SQLite, with no round trip;
//   apply         to PostgreSQL (the next revision, in a transaction of its
//                 own or in a group's, postgres_storage.hpp), then into
//                 memory, in revision order;
//   follow()      reads what other hosts committed (PostgresFeed) and puts
//                 it into memory; the daemon's feed thread calls it in a loop
//                 and hands each update to the engine (Core::absorb).
//
// Revision order: the mirror holds the store exactly as of revision
// `revision()`. A local apply committed as revision r reads, inside its
// transaction, the revisions of other hosts between the mirror's and r, and
// puts them into memory before its own batch; it never waits for the feed.
// The feed jumps the mirror to the revision of its snapshot, with the state
// of every key the revisions in between touched, and skips what a local
// apply already brought, so no key is ever older than a key written after it.
//
// Races between hosts: a request that reads a key and then writes it (a
// check-and-set, a token's use count, a one-time secret id, a failed-login
// counter) must not overwrite what another host wrote in between. Each
// thread remembers what it read from the mirror since its last apply; the
// apply is conditional on each key it writes still holding, in PostgreSQL,
// the value this thread read (PostgresStorage::Expect). A changed key is a
// Conflict: nothing is written, the mirror waits until its feed has brought
// the other host's commit, and the core runs the whole request again on the
// new state (which may then refuse it: a check-and-set that no longer
// matches). Writes of keys the request did not read are not conditional.
//
// Fail closed: when the feed has not read successfully for longer than
// `stale_after`, every get, list and apply fails with Storage (EIO) until a
// read succeeds again, so a host cut off from the database serves no revoked
// token, no old version and no deleted policy. A reload (PostgresFeed says
// when) replaces the whole mirror.
//
// Thread-safe; follow() is for one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>

#include "engine/storage/memory_storage.hpp"
#include "engine/storage/postgres_feed.hpp"
#include "engine/storage/postgres_storage.hpp"

namespace engine {

class PostgresMirror final : public Storage {
 public:
  struct Options {
    PostgresStorage::Options store;
    // No feed read for longer than this: not current, requests fail (EIO).
    std::chrono::milliseconds stale_after{5000};
    // Change rows this many revisions behind are trimmed; a host further
    // behind reloads the whole store.
    std::int64_t keep_changes = 100000;
  };

  // Connects (making the tables on first use) and loads the whole store.
  // Errors: InvalidArgument (table), Storage.
  static Result<std::unique_ptr<PostgresMirror>> open(Options opts);
  ~PostgresMirror() override;

  Result<std::optional<SecureBytes>> get(std::string_view key) override;
  Result<std::vector<std::string>> list(std::string_view prefix, std::size_t limit = 0) override;
  Status apply(std::span<const WriteOp> batch) override;
  CommitDelay* commit_delay() override { return pg_->commit_delay(); }

  // Waits up to `wait` for a commit of any host, then brings the mirror up
  // to the store's revision. The update says which keys moved (or reload).
  // Errors: Storage (the database is unreachable; the next call reconnects
  // and answers reload).
  Result<PostgresFeed::Update> follow(std::chrono::milliseconds wait);

  // Whether the last successful feed read is within the stale bound.
  bool current() const;
  // The revision the mirror holds.
  std::int64_t revision() const;
  const std::string& store_id() const { return pg_->store_id(); }

 private:
  PostgresMirror(Options opts, std::unique_ptr<PostgresStorage> pg, std::unique_ptr<PostgresFeed> feed);
  Status check_current() const;
  void remember_read(std::string_view key, const std::optional<SecureBytes>& value);
  std::vector<PostgresStorage::Expect> expectations(std::span<const WriteOp> batch);
  void put_update(const PostgresFeed::Update& up);  // holds mu_

  Options opts_;
  std::unique_ptr<PostgresStorage> pg_;
  std::unique_ptr<PostgresFeed> feed_;  // follow()'s thread only
  MemoryStorage data_;                  // the store as of applied_

  mutable std::mutex mu_;  // orders what goes into data_ by revision (never held over a round trip)
  std::int64_t applied_ = 0;
  std::int64_t trimmed_ = 0;  // follow()'s thread only

  std::atomic<std::int64_t> last_read_ns_{0};  // steady clock, of the last good feed read
};

}  // namespace engine
