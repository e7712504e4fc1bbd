// SPDX-License-Identifier: MPL-2.0
#include "fs/poll.hpp"

#include <poll.h>
#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/fileview/events.hpp"
#include "fs/invalidator.hpp"
#include "fs/node_paths.hpp"
#include "fs/template_files.hpp"

namespace fsd {
namespace {

struct Entry {
  fuse_pollhandle* ph = nullptr;
  const InodeTable* mount = nullptr;  // null: a stream (not followed)
  std::string path;
  bool changed = false;
  // A template's handle: what its render read (matched instead of path).
  bool is_template = false;
  std::vector<std::string> dependencies;
};

// The daemon's poll state and its one thread.
class Poller {
 public:
  ~Poller() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    for (auto& [h, e] : entries_) {
      if (e.ph != nullptr) fuse_pollhandle_destroy(e.ph);
    }
  }

  void track(const Handle* h, const InodeTable* mount, std::string path) {
    std::lock_guard lock(mu_);
    Entry& e = entries_[h];
    e.mount = mount;
    e.path = std::move(path);
    e.changed = false;
  }

  void track_template(const Handle* h, const InodeTable* mount, std::vector<std::string> dependencies) {
    std::lock_guard lock(mu_);
    Entry& e = entries_[h];
    e.mount = mount;
    e.path.clear();
    e.changed = false;
    e.is_template = true;
    e.dependencies = std::move(dependencies);
  }

  void forget(const Handle* h) {
    fuse_pollhandle* ph = nullptr;
    {
      std::lock_guard lock(mu_);
      auto it = entries_.find(h);
      if (it == entries_.end()) return;
      ph = it->second.ph;
      entries_.erase(it);
    }
    if (ph != nullptr) fuse_pollhandle_destroy(ph);
  }

  // Keeps ph for h; returns whether h's file changed since its last read.
  bool keep(const Handle* h, fuse_pollhandle* ph) {
    fuse_pollhandle* old = nullptr;
    bool changed = false;
    {
      std::lock_guard lock(mu_);
      Entry& e = entries_[h];
      old = std::exchange(e.ph, ph);
      changed = e.changed;
    }
    if (old != nullptr && old != ph) fuse_pollhandle_destroy(old);
    return changed;
  }

  bool take_changed(const Handle* h) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(h);
    if (it == entries_.end()) return false;
    return std::exchange(it->second.changed, false);
  }

  void changed(const InodeTable* mount, const engine::Change& change, std::string_view chroot) {
    // A login or token use changes no file's bytes: no wake-up for it.
    if (change.everything && engine::changes_access_only(change.event_type)) return;
    bool any = false;
    {
      std::lock_guard lock(mu_);
      std::vector<std::pair<Ino, std::string>> mine;
      std::vector<const Handle*> handles;
      auto mark = [&](const Handle* h, Entry& e) {
        e.changed = true;
        if (e.ph != nullptr) {
          queue_.push_back(h);
          any = true;
        }
      };
      for (auto& [h, e] : entries_) {
        if (e.mount != mount) continue;
        if (e.is_template) {
          if (template_touched_by(e.dependencies, change, chroot)) mark(h, e);
          continue;
        }
        // Stand-in inode numbers, above the root (which "everything" skips).
        mine.emplace_back(static_cast<Ino>(handles.size() + kRootIno + 1), e.path);
        handles.push_back(h);
      }
      for (const auto& [i, path] : Invalidator::affected(mine, change, chroot)) {
        const Handle* h = handles[i - kRootIno - 1];
        mark(h, entries_[h]);
      }
      if (any) start_locked();
    }
    if (any) cv_.notify_one();
  }

  void wake(const Handle* h) {
    {
      std::lock_guard lock(mu_);
      auto it = entries_.find(h);
      if (it == entries_.end() || it->second.ph == nullptr) return;
      queue_.push_back(h);
      start_locked();
    }
    cv_.notify_one();
  }

  std::uint64_t sent() const { return sent_.load(); }

 private:
  void start_locked() {
    if (started_) return;
    started_ = true;
    thread_ = thread_without_signals([this] { run(); });
  }

  void run() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      const Handle* h = queue_.front();
      queue_.pop_front();
      fuse_pollhandle* ph = nullptr;
      if (auto it = entries_.find(h); it != entries_.end()) ph = std::exchange(it->second.ph, nullptr);
      if (ph == nullptr) continue;  // already woken, or released
      lock.unlock();
      fuse_lowlevel_notify_poll(ph);
      fuse_pollhandle_destroy(ph);
      sent_.fetch_add(1);
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<const Handle*, Entry> entries_;
  std::deque<const Handle*> queue_;
  bool started_ = false;
  bool stopping_ = false;
  std::atomic<std::uint64_t> sent_{0};
  std::thread thread_;
};

Poller& poller() {
  static Poller p;
  return p;
}

}  // namespace

void poll_track(const Handle* h, const InodeTable* mount, std::string path) {
  poller().track(h, mount, std::move(path));
}

void poll_track_template(const Handle* h, const InodeTable* mount, std::vector<std::string> dependencies) {
  poller().track_template(h, mount, std::move(dependencies));
}

void poll_forget(const Handle* h) { poller().forget(h); }

unsigned poll_file(const Handle* h, fuse_pollhandle* ph) {
  unsigned mask = POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM;
  if (poller().keep(h, ph)) mask |= POLLPRI | POLLERR;
  return mask;
}

bool poll_take_changed(const Handle* h) { return poller().take_changed(h); }

void poll_changed(const InodeTable* mount, const engine::Change& change, std::string_view chroot) {
  poller().changed(mount, change, chroot);
}

void poll_keep(const Handle* h, fuse_pollhandle* ph) { (void)poller().keep(h, ph); }

void poll_wake(const Handle* h) { poller().wake(h); }

std::uint64_t poll_wakeups_sent() { return poller().sent(); }

}  // namespace fsd
