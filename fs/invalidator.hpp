// SPDX-License-Identifier: MPL-2.0
// Kernel cache invalidation for a caching (bound) mount (SPEC §4).
//
// A mount bound to one token may let the kernel cache entries, attributes
// and file data. When something changes through any mount of the daemon
// (engine::FileView's change listeners), the affected nodes of every caching
// mount are invalidated with fuse_lowlevel_notify_inval_inode/_entry. Those
// calls may block on kernel locks held by a request in flight, so they are
// never made inside a request handler: each caching mount has one thread
// that sends them. A request that changed something waits (bounded) until
// the invalidations it caused were sent, so its caller never reads stale
// data through a caching mount afterwards.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/fileview/file_view.hpp"
#include "fs/inode_table.hpp"

struct fuse_session;

namespace fsd {

class Invalidator {
 public:
  // inodes: the mount's table (outlives this). chroot: the mount's chroot
  // ("" = root): change paths are relative to the view's root and are
  // mapped into the mount by removing it.
  Invalidator(const InodeTable& inodes, std::string chroot);
  ~Invalidator();  // stops the thread (pending work is dropped)
  Invalidator(const Invalidator&) = delete;
  Invalidator& operator=(const Invalidator&) = delete;

  // Nodes a change touches that its path does not name (a mount's template
  // files, whose content comes from other paths): asked on the thread,
  // with no lock held, for every change but `everything` (which already
  // covers every live node). Set before start().
  using ExtraTargets = std::function<std::vector<std::pair<Ino, std::string>>(const engine::Change&)>;
  void set_extra_targets(ExtraTargets extra) { extra_ = std::move(extra); }

  // Starts sending to se (a mounted session). Until then, work is queued.
  void start(fuse_session* se);
  // Stops the thread; call before the session is unmounted/destroyed.
  void stop();

  // Queues what a change makes stale (a listener: quick, never blocks on
  // the kernel). Thread-safe.
  void post(const engine::Change& change);

  // Waits until every started invalidator but the one of skip (a mount's
  // inode table: its own requests may hold the kernel locks its
  // invalidations need) has sent what was queued before the call, at most
  // timeout. Returns false on timeout (logged). Thread-safe.
  static bool wait_for_all(const InodeTable* skip, std::chrono::milliseconds timeout);
  // Waits until this invalidator has sent what was queued before the call,
  // at most timeout (false then). Never from a request of its own mount.
  bool wait_idle(std::chrono::milliseconds timeout);

  // The mount-relative paths a change touches, given the mount's live
  // entries: the secret's own file and its views and fields (NAME, NAME@x,
  // NAME#k, NAME@x#k), or every entry for `everything`. Pure; for tests.
  static std::vector<std::pair<Ino, std::string>> affected(const std::vector<std::pair<Ino, std::string>>& entries,
                                                           const engine::Change& change, std::string_view chroot);
  // The same test for one mount-relative path (the root's "" included).
  // The returned predicate holds on to change.path.
  static std::function<bool(std::string_view)> touches(const engine::Change& change, std::string_view chroot);
  // The live folders above the secret a change names (not the mount root),
  // whose kept listings it may change; none for `everything`. Pure; tests.
  static std::vector<std::pair<Ino, std::string>> folders_above(const std::vector<std::pair<Ino, std::string>>& entries,
                                                                const engine::Change& change, std::string_view chroot);
  // The same test for one mount-relative path.
  static std::function<bool(std::string_view)> above(const engine::Change& change, std::string_view chroot);

 private:
  void run();
  void send(const engine::Change& change);
  bool wait_sent(std::uint64_t target, std::chrono::steady_clock::time_point deadline);

  const InodeTable& inodes_;
  const std::string chroot_;
  fuse_session* session_ = nullptr;
  ExtraTargets extra_;

  std::mutex mu_;
  std::condition_variable work_cv_;  // the thread waits for work
  std::condition_variable sent_cv_;  // writers wait for sent_
  std::deque<engine::Change> queue_;
  std::uint64_t posted_ = 0;  // changes queued so far
  std::uint64_t sent_ = 0;    // changes whose invalidations were sent
  bool stopping_ = false;
  bool started_ = false;
  std::thread thread_;
};

}  // namespace fsd
