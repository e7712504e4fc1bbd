// SPDX-License-Identifier: MPL-2.0
// The change feed of a PostgreSQL store: what other hosts committed, read
// from <t>_changes past the last revision this host has seen. A daemon runs
// one feed on a connection of its own that LISTENs on <t>_changes, so a
// commit anywhere wakes it; it reads at least once per wait without one.
//
// Each update also carries the state, at the update's revision, of every
// key its batches touched (read in the same snapshot as the change rows), so
// a host that mirrors the store applies it without another round trip and
// never mixes revisions of one key.
//
// Never a silent skip: when the feed cannot prove that it saw every revision
// in order — the store id changed (another database or a restored one), the
// revision went backwards, rows it has not read were trimmed, or the
// connection was lost and made again — it answers `reload`, and the caller
// must reload everything it caches from the store.
//
// Not thread-safe: one thread (the daemon's feed thread) owns a feed.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/storage/postgres_changes.hpp"
#include "engine/storage/postgres_storage.hpp"

namespace engine {

class PostgresFeed {
 public:
  using Batch = StoreChanges::Batch;
  using Update = StoreChanges;

  // A feed of the store `store_id` (PostgresStorage::store_id()) that has
  // seen every revision up to `seen`. Errors: Storage.
  static Result<std::unique_ptr<PostgresFeed>> open(const PostgresStorage::Options& opts, std::string store_id,
                                                    std::int64_t seen);
  ~PostgresFeed();
  PostgresFeed(const PostgresFeed&) = delete;
  PostgresFeed& operator=(const PostgresFeed&) = delete;

  // Waits up to `wait` for a commit notification (returns at once when one
  // is already queued), then reads every revision past the last one seen, at
  // most `max_revisions` of them (the next call reads on). Errors: Storage
  // (server unreachable: the caller is not current and must say so; the
  // next call reconnects and answers reload).
  Result<Update> next(std::chrono::milliseconds wait, std::size_t max_revisions = 1000);

  std::int64_t seen() const { return seen_; }

 private:
  PostgresFeed(PostgresStorage::Options opts, std::string store_id, std::int64_t seen);
  Status connect();
  Status wait_for_notify(std::chrono::milliseconds wait);
  Result<Update> read(std::size_t max_revisions);

  PostgresStorage::Options opts_;
  std::string store_id_;
  std::int64_t seen_;
  struct Conn;
  std::unique_ptr<Conn> conn_;
  bool lost_ = false;  // the connection broke since the last good read
};

}  // namespace engine
