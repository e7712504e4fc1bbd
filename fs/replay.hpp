// SPDX-License-Identifier: MPL-2.0
// inotify by replay (a mount's `inotify = true`, `--inotify`).
//
// The kernel raises inotify events only for syscalls made through the
// mount, and FUSE has no notification that raises one. So for a change made
// elsewhere (another mount of the daemon, the engine, later another host)
// the daemon replays it on its own mount, from this mount's replay thread:
//
//   a secret written   open(O_WRONLY) + fstat + ftruncate(same size) + close
//                      (IN_OPEN, IN_MODIFY, IN_CLOSE_WRITE)
//   a secret new to    open(O_CREAT) + close (IN_CREATE on the folder)
//     the kernel
//   a secret deleted   unlink (IN_DELETE on the folder, IN_DELETE_SELF)
//
// The fs answers those requests as no-ops (Filesystem::replay_*): no token,
// no ACL, no audit entry, no data touched, no token use. It knows them by
// the request's pid, which is the calling thread's tid: one of the replay
// threads registered here while they run. A tid is unique system-wide while
// its thread lives, so no other process can pass for a replay (its
// requests are ordinary ones).
//
// A change made through this mount is not replayed (the writer's own
// syscalls raised the events), nor one whose folder the kernel holds no
// inode for (nobody can be watching it). Replays never run on a request
// thread or under an engine lock; post() only queues, so no writer waits
// for them. Thread-safe.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "engine/fileview/file_view.hpp"
#include "fs/inode_table.hpp"

namespace fsd {

class Replayer {
 public:
  enum class Action { Modify, Create, Unlink };
  struct Job {
    Action action = Action::Modify;
    std::string path;  // mount-relative
  };

  // own: the Filesystem of the mount (to skip its own requests' changes).
  Replayer(std::string mountpoint, const InodeTable& inodes, std::string chroot, const void* own);
  ~Replayer();
  Replayer(const Replayer&) = delete;
  Replayer& operator=(const Replayer&) = delete;

  void start();
  // Asks the thread to end (queued replays are dropped); stop() also joins
  // it. A replay blocked on the mount ends when the session is unmounted,
  // so: request_stop(), unmount, then stop() (or destroy).
  void request_stop();
  void stop();

  // A change announced through the view (a listener: quick, never blocks).
  void post(const engine::Change& change);

  // The job the replay thread tid is running on this mount, if tid is one
  // of this mount's replay threads (false otherwise).
  bool current_job(pid_t tid, Job& out) const;

  std::uint64_t replayed() const { return replayed_.load(); }
  std::uint64_t dropped() const { return dropped_.load(); }

  // What a change is replayed as: nullopt-like false when it is not one to
  // replay (everything, outside the chroot). Pure; for tests.
  static bool job_of(const engine::Change& change, std::string_view chroot, Job& out);

 private:
  void run();
  void replay(const Job& job);

  const std::string mountpoint_;
  const InodeTable& inodes_;
  const std::string chroot_;
  const void* own_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  bool started_ = false;
  std::atomic<pid_t> tid_{0};
  Job current_;  // under mu_, while tid_ runs it
  std::atomic<std::uint64_t> replayed_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::thread thread_;
};

// The Filesystem whose request this thread is serving ("" outside one): set
// by the FUSE callbacks, so a change made by that request is not replayed
// on its own mount.
void set_request_fs(const void* fs) noexcept;
const void* request_fs() noexcept;

}  // namespace fsd
