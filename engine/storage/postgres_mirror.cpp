// SPDX-License-Identifier: MPL-2.0
#include "engine/storage/postgres_mirror.hpp"

namespace engine {
namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// What this thread read from a mirror since its last apply there: the
// conditions of its next apply. Bounded: past the cap the oldest reads are
// forgotten (their keys are then written unconditionally).
struct ThreadReads {
  const PostgresMirror* owner = nullptr;
  std::vector<PostgresStorage::Expect> reads;
};
thread_local ThreadReads t_reads;
constexpr std::size_t kMaxReads = 64;

}  // namespace

void PostgresMirror::remember_read(std::string_view key, const std::optional<SecureBytes>& value) {
  if (t_reads.owner != this) t_reads = ThreadReads{this, {}};
  auto& reads = t_reads.reads;
  for (auto& r : reads) {
    if (r.key == key) {
      r.value = value;
      return;
    }
  }
  if (reads.size() >= kMaxReads) reads.erase(reads.begin());
  reads.push_back({std::string(key), value});
}

std::vector<PostgresStorage::Expect> PostgresMirror::expectations(std::span<const WriteOp> batch) {
  std::vector<PostgresStorage::Expect> out;
  if (t_reads.owner != this) return out;
  for (auto& r : t_reads.reads) {
    for (const WriteOp& op : batch) {
      if (op.kind != WriteOp::Kind::DeletePrefix && op.key == r.key) {
        out.push_back(std::move(r));
        break;
      }
    }
  }
  t_reads.reads.clear();
  return out;
}

PostgresMirror::PostgresMirror(Options opts, std::unique_ptr<PostgresStorage> pg, std::unique_ptr<PostgresFeed> feed)
    : opts_(std::move(opts)), pg_(std::move(pg)), feed_(std::move(feed)) {}
PostgresMirror::~PostgresMirror() = default;

Result<std::unique_ptr<PostgresMirror>> PostgresMirror::open(Options opts) {
  COFFER_TRY(auto pg, PostgresStorage::open(opts.store));
  // A feed that has seen nothing of no store: its first read is a reload,
  // which loads the whole store in one snapshot.
  COFFER_TRY(auto feed, PostgresFeed::open(opts.store, /*store_id=*/"", /*seen=*/0));
  std::unique_ptr<PostgresMirror> m(new PostgresMirror(std::move(opts), std::move(pg), std::move(feed)));
  COFFER_TRY(auto first, m->follow(std::chrono::milliseconds(0)));
  (void)first;
  return m;
}

bool PostgresMirror::current() const {
  const std::int64_t last = last_read_ns_.load(std::memory_order_acquire);
  return last != 0 && now_ns() - last <= std::chrono::nanoseconds(opts_.stale_after).count();
}

std::int64_t PostgresMirror::revision() const {
  std::lock_guard lock(mu_);
  return applied_;
}

Status PostgresMirror::check_current() const {
  if (current()) return {};
  return Error::storage("the store is not current: no change-feed read from PostgreSQL for more than " +
                        std::to_string(opts_.stale_after.count()) + " ms");
}

Result<std::optional<SecureBytes>> PostgresMirror::get(std::string_view key) {
  COFFER_TRY_STATUS(check_current());
  auto value = data_.get(key);
  if (value.ok()) remember_read(key, *value);
  return value;
}

Result<std::vector<std::string>> PostgresMirror::list(std::string_view prefix, std::size_t limit) {
  COFFER_TRY_STATUS(check_current());
  return data_.list(prefix, limit);
}

Status PostgresMirror::apply(std::span<const WriteOp> batch) {
  if (batch.empty()) return {};
  COFFER_TRY_STATUS(check_current());
  const std::vector<PostgresStorage::Expect> expect = expectations(batch);
  // Into memory in revision order, under the writer lock: other hosts'
  // revisions before this one (the state at exactly rev - 1), then this
  // batch; unless the feed got here first and holds them already. A
  // Conflict leaves the mirror at the other host's commit: the request, run
  // again by the core, reads it.
  const PostgresStorage::CatchUp catch_up{[this] { return revision(); },
                                          [&](const StoreChanges& earlier, std::optional<std::int64_t> committed) {
                                            std::lock_guard lock(mu_);
                                            if (earlier.revision > applied_) {
                                              put_update(earlier);
                                              applied_ = earlier.revision;
                                            }
                                            if (committed && applied_ == *committed - 1) {
                                              (void)data_.apply(batch);  // an in-memory apply cannot fail
                                              applied_ = *committed;
                                              // A commit that took in every revision before it proves the mirror
                                              // current.
                                              last_read_ns_.store(now_ns(), std::memory_order_release);
                                            }
                                          }};
  COFFER_TRY(const std::int64_t rev, pg_->apply_at(batch, expect, &catch_up));
  (void)rev;
  return {};
}

void PostgresMirror::put_update(const PostgresFeed::Update& up) {
  // One batch, so a reader sees the state before or after, never between.
  std::vector<WriteOp> ops;
  ops.reserve(up.cleared.size() + up.values.size());
  for (const auto& range : up.cleared) {
    ops.push_back({range.prefix ? WriteOp::Kind::DeletePrefix : WriteOp::Kind::Delete, range.key, {}});
  }
  for (const auto& [key, value] : up.values) ops.push_back({WriteOp::Kind::Put, key, value});
  // An in-memory apply cannot fail.
  (void)data_.apply(ops);
}

Result<PostgresFeed::Update> PostgresMirror::follow(std::chrono::milliseconds wait) {
  COFFER_TRY(auto up, feed_->next(wait));
  bool behind = false;
  {
    std::lock_guard lock(mu_);
    // A reload clears the prefix "" in the same batch (readers never see
    // an empty store). Otherwise local applies may have brought part of the
    // way; the snapshot's state of each touched key is at least as new.
    if (up.reload || up.revision > applied_) {
      behind = up.revision < applied_;  // a reload whose snapshot predates a local apply
      put_update(up);
      applied_ = up.revision;
    }
  }
  // Read on at once rather than serve the older snapshot until the next
  // wake-up. The caller reloads everything anyway (up.reload).
  while (behind) {
    COFFER_TRY(auto more, feed_->next(std::chrono::milliseconds(0)));
    std::lock_guard lock(mu_);
    if (more.reload || more.revision > applied_) {
      put_update(more);
      applied_ = more.revision;
    }
    behind = !more.empty() && !more.reload;
  }
  last_read_ns_.store(now_ns(), std::memory_order_release);
  if (opts_.keep_changes > 0 && up.revision - trimmed_ > opts_.keep_changes + 1000) {
    // Best effort: a failed trim is tried again after the next thousand.
    const std::int64_t below = up.revision - opts_.keep_changes;
    if (pg_->trim_changes(below).ok()) trimmed_ = below;
  }
  return up;
}

}  // namespace engine
