// SPDX-License-Identifier: MPL-2.0
// Group commit, shared by the SQLite and PostgreSQL stores: concurrent
// callers queue their batches, and the first caller that finds no commit
// running commits the whole queue as one group (one transaction, one sync);
// the others wait until their batch's result is final. Each caller returns
// only after its group committed (or failed), so nothing is acknowledged
// before it is durable. A caller alone forms a group of one.
//
// The commit delay. Without it, writers that keep writing split into two
// alternating groups: those acknowledged by one sync come back while the
// next group's sync is already running, so four writers share a sync two
// at a time. So the code that handles a write request announces it
// (CommitDelay::Announce, from the engine's core once the request is
// authorised, before the backend's reads), and a caller about to commit waits until every announced request
// has queued its batch, or half a recent commit has passed, whichever is
// first. The announced writers of a group that shared a commit are expected
// back too (between two requests nothing announces them): each new
// announcement takes the place of one, and the wait lasts until all came
// or the limit passed, after which none is expected any more. This is
// PostgreSQL's commit_delay (whose documentation suggests half a sync as
// the setting), but waiting only for writes known to be on their way: a
// writer alone never waits, nor one whose siblings are all queued, nor
// anyone after a group of unannounced writes (logins). A request that
// blocks on a lock a queued write holds (its key's, the token store's)
// says so (CommitDelay::lock), and is not waited for meanwhile.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <utility>
#include <vector>

namespace engine {

class CommitDelay {
 public:
  // While alive, the calling thread is handling a request that will likely
  // apply() a batch through `delay`'s queue. Nothing when delay is null or
  // the thread already announced a request. Once the thread has queued a
  // batch it is no longer waited for (nor for a second batch of the same
  // request).
  class Announce {
   public:
    explicit Announce(CommitDelay* delay);
    ~Announce();
    Announce(const Announce&) = delete;
    Announce& operator=(const Announce&) = delete;

   private:
    bool mine_ = false;
  };

  // Takes `lock` (a std::unique_lock or std::shared_lock made with
  // std::defer_lock). When it must wait, which happens when another write
  // holds it until its group commits, the calling thread's announced
  // request is not waited for while it waits.
  template <class Lock>
  static void lock(Lock& lock) {
    if (lock.try_lock()) return;
    const bool paused = pause();
    lock.lock();
    if (paused) resume();
  }

  // The same, as a lock taken on `mu`.
  template <class Mutex>
  [[nodiscard]] static std::unique_lock<Mutex> locked(Mutex& mu) {
    std::unique_lock<Mutex> held(mu, std::defer_lock);
    lock(held);
    return held;
  }
  template <class Mutex>
  [[nodiscard]] static std::shared_lock<Mutex> locked_shared(Mutex& mu) {
    std::shared_lock<Mutex> held(mu, std::defer_lock);
    lock(held);
    return held;
  }

  // Announced requests that have not queued a batch (tests).
  int underway() const {
    std::lock_guard lock(mu_);
    return underway_;
  }
  // How many commits waited for announced requests, and how many of those
  // waits ran to the limit (benchmarks, tests).
  std::pair<std::uint64_t, std::uint64_t> delays() const {
    std::lock_guard lock(mu_);
    return {delays_, timeouts_};
  }
  // Tests: every wait lasts at most `limit`, whatever a commit takes.
  void set_delay_limit(std::chrono::nanoseconds limit) {
    std::lock_guard lock(mu_);
    limit_ns_ = limit.count();
  }

 protected:
  // Under mu_, by the caller that commits next: waits (releasing `lock`)
  // while an announced request has not queued its batch or a writer
  // expected back has not announced, at most half the recent commit time.
  void wait_for_underway(std::unique_lock<std::mutex>& lock) {
    if (idle()) return;
    const std::int64_t limit = limit_ns_ != 0 ? limit_ns_ : std::min<std::int64_t>(commit_ns_ / 2, kMaxDelayNs);
    if (limit == 0) return;
    gathering_ = true;
    ++delays_;
    if (!gather_cv_.wait_for(lock, std::chrono::nanoseconds(limit), [&] { return idle(); })) ++timeouts_;
    gathering_ = false;
    expected_ = 0;  // who has not come back by now is not waited for again
  }
  // Under mu_: the calling thread queues a batch, and is no longer waited for.
  void queued_one() {
    if (current_ != this || !counted_) return;
    counted_ = false;
    ++announced_queued_;
    leave_underway();
  }
  // Under mu_, by the caller that commits next: the batches it takes came
  // from this many announced requests.
  int take_announced() { return std::exchange(announced_queued_, 0); }
  // Under mu_: a group holding `announced` batches of announced requests
  // was committed in `ns`. The delay follows a moving average of that
  // time, and when several announced writers shared the commit, they are
  // expected back: each new announcement takes the place of one of them.
  // (Not a writer alone: it has nobody to share a commit with.)
  void committed(int announced, std::int64_t ns) {
    commit_ns_ = commit_ns_ == 0 ? ns : (7 * commit_ns_ + ns) / 8;
    expected_ = announced > 1 ? announced : 0;
  }

  mutable std::mutex mu_;  // guards the queue (GroupQueue) and everything here

 private:
  // No commit waits longer than this, whatever a commit takes.
  static constexpr std::int64_t kMaxDelayNs = 2'000'000;

  bool idle() const { return underway_ == 0 && expected_ == 0; }
  void leave_underway() {
    --underway_;
    if (gathering_ && idle()) gather_cv_.notify_one();
  }
  static bool pause();
  static void resume();

  std::condition_variable gather_cv_;
  int underway_ = 0;            // announced requests not queued (nor paused)
  int expected_ = 0;            // writers of the last group not announced again
  int announced_queued_ = 0;    // queued batches of announced requests
  bool gathering_ = false;      // a caller waits in wait_for_underway()
  std::int64_t commit_ns_ = 0;  // moving average of a group's commit
  std::int64_t limit_ns_ = 0;   // set_delay_limit()
  std::uint64_t delays_ = 0, timeouts_ = 0;

  // The calling thread's announcement: to which queue, and whether it is
  // counted in that queue's underway_ now.
  static inline thread_local CommitDelay* current_ = nullptr;
  static inline thread_local bool counted_ = false;
};

inline CommitDelay::Announce::Announce(CommitDelay* delay) {
  if (delay == nullptr || current_ != nullptr) return;
  mine_ = true;
  current_ = delay;
  counted_ = true;
  std::lock_guard lock(delay->mu_);
  ++delay->underway_;
  if (delay->expected_ > 0) --delay->expected_;
}

inline CommitDelay::Announce::~Announce() {
  if (!mine_) return;
  if (counted_) {
    std::lock_guard lock(current_->mu_);
    current_->leave_underway();
  }
  current_ = nullptr;
  counted_ = false;
}

inline bool CommitDelay::pause() {
  if (current_ == nullptr || !counted_) return false;
  std::lock_guard lock(current_->mu_);
  counted_ = false;
  current_->leave_underway();
  return true;
}

inline void CommitDelay::resume() {
  std::lock_guard lock(current_->mu_);
  counted_ = true;
  ++current_->underway_;
}

// Waiter: the store's queued batch, with a `bool done` (set here, under the
// queue's lock, once the group holding it has been committed).
template <class Waiter>
class GroupQueue : public CommitDelay {
 public:
  // Queues me and returns once me's group has been committed: by this
  // caller, which then runs commit(group) (a std::vector<Waiter*>, me among
  // them) with no lock of the queue held, or by another.
  template <class Commit>
  void run(Waiter& me, Commit&& commit) {
    std::unique_lock lock(mu_);
    queue_.push_back(&me);
    queued_one();
    // Either a committer takes this batch along, or this caller commits next.
    cv_.wait(lock, [&] { return me.done || !committing_; });
    if (me.done) return;
    committing_ = true;
    wait_for_underway(lock);
    std::vector<Waiter*> group;
    group.swap(queue_);
    const int announced = take_announced();
    lock.unlock();
    const auto started = std::chrono::steady_clock::now();
    std::forward<Commit>(commit)(group);
    const auto took = std::chrono::steady_clock::now() - started;
    lock.lock();
    committed(announced, std::chrono::duration_cast<std::chrono::nanoseconds>(took).count());
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
  std::condition_variable cv_;
  std::vector<Waiter*> queue_;
  bool committing_ = false;  // a caller is committing a group
};

}  // namespace engine
