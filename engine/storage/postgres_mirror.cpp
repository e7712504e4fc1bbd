// SPDX-License-Identifier: MPL-2.0
#include "engine/storage/postgres_mirror.hpp"

namespace engine {
namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

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
  return data_.get(key);
}

Result<std::vector<std::string>> PostgresMirror::list(std::string_view prefix, std::size_t limit) {
  COFFER_TRY_STATUS(check_current());
  return data_.list(prefix, limit);
}

Status PostgresMirror::apply(std::span<const WriteOp> batch) {
  if (batch.empty()) return {};
  COFFER_TRY_STATUS(check_current());
  COFFER_TRY(const std::int64_t rev, pg_->apply_at(batch));
  // Durable now. Into memory in revision order: once the revisions before
  // this one are in (the feed brings other hosts' ones).
  std::unique_lock lock(mu_);
  const bool in_turn = applied_cv_.wait_for(lock, opts_.stale_after, [&] { return applied_ >= rev - 1 || !current(); });
  if (in_turn && applied_ == rev - 1) {
    COFFER_TRY_STATUS(data_.apply(batch));
    applied_ = rev;
    applied_cv_.notify_all();
  }
  // Otherwise the feed has brought this revision already (applied_ >= rev),
  // or will: the write is durable either way.
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
  // An in-memory apply fails only on a bad op, which the feed never makes.
  (void)data_.apply(ops);
}

Result<PostgresFeed::Update> PostgresMirror::follow(std::chrono::milliseconds wait) {
  COFFER_TRY(auto up, feed_->next(wait));
  {
    std::lock_guard lock(mu_);
    // A reload clears the prefix "" in the same batch (readers never see
    // an empty store). Otherwise local applies may have brought part of the
    // way; the snapshot's state of each touched key is at least as new.
    if (up.reload || up.revision > applied_) {
      put_update(up);
      applied_ = up.revision;
    }
    applied_cv_.notify_all();
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
