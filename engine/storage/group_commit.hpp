// SPDX-License-Identifier: MPL-2.0
// Group commit, shared by the SQLite and PostgreSQL stores: concurrent
// callers queue their batches, and the first caller that finds no commit
// running commits the whole queue as one group (one transaction, one sync);
// the others wait until their batch's result is final. Each caller returns
// only after its group committed (or failed), so nothing is acknowledged
// before it is durable. A caller alone forms a group of one.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <utility>
#include <vector>

namespace engine {

// Waiter: the store's queued batch, with a `bool done` (set here, under the
// queue's lock, once the group holding it has been committed).
template <class Waiter>
class GroupQueue {
 public:
  // Queues me and returns once me's group has been committed: by this
  // caller, which then runs commit(group) (a std::vector<Waiter*>, me among
  // them) with no lock of the queue held, or by another.
  template <class Commit>
  void run(Waiter& me, Commit&& commit) {
    std::unique_lock lock(mu_);
    queue_.push_back(&me);
    // Either a committer takes this batch along, or this caller commits next.
    cv_.wait(lock, [&] { return me.done || !committing_; });
    if (me.done) return;
    committing_ = true;
    std::vector<Waiter*> group;
    group.swap(queue_);
    lock.unlock();
    std::forward<Commit>(commit)(group);
    lock.lock();
    for (Waiter* w : group) w->done = true;
    committing_ = false;
    lock.unlock();
    cv_.notify_all();
  }

  // Batches waiting for the next commit (tests and benchmarks).
  std::size_t queued() const {
    std::lock_guard lock(mu_);
    return queue_.size();
  }

 private:
  mutable std::mutex mu_;  // guards queue_, committing_ and every Waiter::done
  std::condition_variable cv_;
  std::vector<Waiter*> queue_;
  bool committing_ = false;  // a caller is committing a group
};

}  // namespace engine
