// SPDX-License-Identifier: MPL-2.0
#include "fs/invalidator.hpp"

#include <fuse_lowlevel.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "fs/log.hpp"
#include "fs/node_paths.hpp"

namespace fsd {

namespace {

// Every started invalidator, for wait_for_all.
std::mutex g_registry_mu;
std::set<Invalidator*> g_registry;

std::string_view name_of(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

Invalidator::Invalidator(const InodeTable& inodes, std::string chroot) : inodes_(inodes), chroot_(std::move(chroot)) {}

Invalidator::~Invalidator() { stop(); }

void Invalidator::start(fuse_session* se) {
  std::lock_guard lock(mu_);
  if (started_) return;
  session_ = se;
  started_ = true;
  thread_ = thread_without_signals([this] { run(); });
  std::lock_guard registry(g_registry_mu);
  g_registry.insert(this);
}

void Invalidator::stop() {
  {
    std::lock_guard registry(g_registry_mu);
    g_registry.erase(this);
  }
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  sent_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Invalidator::post(const engine::Change& change) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    // A queued "everything" covers whatever follows it until it is sent.
    // A queued "everything" not yet sent covers this change too: waiting for
    // posted_ waits for it.
    if (!queue_.empty() && queue_.back().everything) return;
    queue_.push_back(change);
    ++posted_;
  }
  work_cv_.notify_one();
}

bool Invalidator::wait_sent(std::uint64_t target, std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return sent_cv_.wait_until(lock, deadline, [&] { return sent_ >= target || stopping_; });
}

bool Invalidator::wait_idle(std::chrono::milliseconds timeout) {
  std::uint64_t target = 0;
  {
    std::lock_guard lock(mu_);
    target = posted_;
  }
  return wait_sent(target, std::chrono::steady_clock::now() + timeout);
}

bool Invalidator::wait_for_all(const InodeTable* skip, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::lock_guard registry(g_registry_mu);
  bool all = true;
  for (Invalidator* inv : g_registry) {
    if (&inv->inodes_ == skip) continue;
    std::uint64_t target = 0;
    {
      std::lock_guard lock(inv->mu_);
      target = inv->posted_;
    }
    if (!inv->wait_sent(target, deadline)) all = false;
  }
  if (!all) {
    log_warn("kernel cache invalidations still pending after ", timeout.count(),
             " ms; a caching mount may serve the old data until they are sent");
  }
  return all;
}

std::function<bool(std::string_view)> Invalidator::touches(const engine::Change& change, std::string_view chroot) {
  if (change.everything) return [](std::string_view p) { return !p.empty(); };  // all but the root
  std::string_view path = change.path;
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (!chroot.empty()) {
    if (!path.starts_with(chroot) || path.size() <= chroot.size() || path[chroot.size()] != '/') {
      return [](std::string_view) { return false; };  // outside this mount's root
    }
    path.remove_prefix(chroot.size() + 1);
  }
  return [base = std::string(base_of(path))](std::string_view p) {
    return p == base ||
           (p.size() > base.size() && p.starts_with(base) && (p[base.size()] == '@' || p[base.size()] == '#'));
  };
}

std::vector<std::pair<Ino, std::string>> Invalidator::affected(const std::vector<std::pair<Ino, std::string>>& entries,
                                                               const engine::Change& change, std::string_view chroot) {
  const auto touched = touches(change, chroot);
  std::vector<std::pair<Ino, std::string>> out;
  for (const auto& e : entries) {
    if (touched(e.second)) out.push_back(e);
  }
  return out;
}

std::function<bool(std::string_view)> Invalidator::above(const engine::Change& change, std::string_view chroot) {
  if (change.everything) return [](std::string_view) { return false; };  // touches() names every node already
  std::string_view path = change.path;
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (!chroot.empty()) {
    if (!path.starts_with(chroot) || path.size() <= chroot.size() || path[chroot.size()] != '/') {
      return [](std::string_view) { return false; };
    }
    path.remove_prefix(chroot.size() + 1);
  }
  return [base = std::string(base_of(path))](std::string_view p) {
    return !p.empty() && p.size() < base.size() && base.starts_with(p) && base[p.size()] == '/';
  };
}

std::vector<std::pair<Ino, std::string>> Invalidator::folders_above(
    const std::vector<std::pair<Ino, std::string>>& entries, const engine::Change& change, std::string_view chroot) {
  const auto is_above = above(change, chroot);
  std::vector<std::pair<Ino, std::string>> out;
  for (const auto& e : entries) {
    if (is_above(e.second)) out.push_back(e);
  }
  return out;
}

void Invalidator::send(const engine::Change& change) {
  // Only the touched entries are copied: a mount holding a million inodes
  // would otherwise copy every path for each write.
  auto targets = inodes_.entries_if(touches(change, chroot_));
  if (extra_ && !change.everything) {
    for (auto& t : extra_(change)) targets.push_back(std::move(t));
  }
  for (const auto& [ino, path] : targets) {
    // Attributes and every cached page of the node.
    const int r = fuse_lowlevel_notify_inval_inode(session_, ino, 0, 0);
    if (r != 0 && r != -ENOENT) {
      log_debug("invalidate inode /", path, ": ", std::strerror(-r));
    }
    // The name: the node may be gone, or be another kind now.
    const std::string_view name = name_of(path);
    const Ino parent = parent_of(path).empty() ? kRootIno : inodes_.peek(parent_of(path));
    const int e = fuse_lowlevel_notify_inval_entry(session_, parent, name.data(), name.size());
    if (e != 0 && e != -ENOENT) {
      log_debug("invalidate entry /", path, ": ", std::strerror(-e));
    }
  }
  // The folders above the secret, and the mount root: a listing the kernel
  // keeps of one (cache_readdir) may have gained or lost a name. Their
  // names stay (an entry invalidation would drop every cached child).
  const auto folders = inodes_.entries_if(above(change, chroot_));
  for (const auto& [ino, path] : folders) {
    const int r = fuse_lowlevel_notify_inval_inode(session_, ino, 0, 0);
    if (r != 0 && r != -ENOENT) log_debug("invalidate folder /", path, ": ", std::strerror(-r));
  }
  if (change.everything || !targets.empty() || !folders.empty()) {
    fuse_lowlevel_notify_inval_inode(session_, kRootIno, 0, 0);
  }
  log_debug("cache: ", targets.size(), " node(s) invalidated", change.everything ? " (everything changed)" : "");
}

void Invalidator::run() {
  std::unique_lock lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    engine::Change change = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    try {
      send(change);
    } catch (const std::exception& e) {
      log_error("cache invalidation failed: ", e.what());
    }
    lock.lock();
    ++sent_;
    sent_cv_.notify_all();
  }
}

}  // namespace fsd
