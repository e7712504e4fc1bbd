// SPDX-License-Identifier: MPL-2.0
// One FUSE mount: a fuse_session over a Filesystem, mounted at a directory,
// served by libfuse's multithreaded loop, unmounted when done.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <pthread.h>
#include <signal.h>

#include "engine/common/error.hpp"
#include "engine/common/secure.hpp"
#include "engine/fileview/file_view.hpp"
#include "fs/invalidator.hpp"
#include "fs/operations.hpp"
#include "fs/replay.hpp"
#include "fs/token_watch.hpp"

struct fuse_session;

namespace fsd {

struct MountOptions {
  std::string mountpoint;
  bool allow_other = false;    // let users other than the daemon's in
  FsSettings fs;               // owner, modes, chroot
  engine::SecureString token;  // the token every request uses ("" = none)
  // Let the kernel cache entries, attributes and data, invalidated on every
  // change made through the view (bound mounts only, SPEC §4).
  bool cache = false;
  unsigned max_threads = 10;      // libfuse's default worker cap
  unsigned max_idle_threads = 4;  // keep a few warm, let bursts' extras go
  bool fuse_debug = false;        // libfuse's own request trace on stderr
};

class Mount {
 public:
  // Checks the mountpoint (an existing, empty directory; a stale FUSE mount
  // left by a dead daemon is reported with the command that clears it),
  // creates the session and mounts it. view must outlive the Mount.
  // Errors: InvalidArgument (mountpoint), Internal (libfuse failed; it logs
  // why on stderr).
  static engine::Result<std::unique_ptr<Mount>> create(engine::FileView& view, MountOptions options);

  ~Mount();  // unmounts (if still mounted) and destroys the session
  Mount(const Mount&) = delete;
  Mount& operator=(const Mount&) = delete;

  // Serves requests until the filesystem is unmounted, stop() is called or,
  // with handle_signals, SIGINT/SIGTERM/SIGHUP arrives (handlers are
  // process-wide: only one Mount may run with them at a time; call from the
  // main thread, which is where signals land: libfuse's workers block them).
  // Blocks the calling thread. Errors: Internal when the loop fails.
  engine::Status run(bool handle_signals);

  // Ends run() from another thread: sets the session's exit flag and wakes
  // the thread blocked in run() with kWakeSignal (whose handler the caller
  // installs: see install_wake_handler), until run() has returned.
  void stop();
  // Installs the (empty) handler of kWakeSignal, without SA_RESTART, so the
  // signal interrupts the loop's wait. Call once before threads start.
  static void install_wake_handler();
  static constexpr int kWakeSignal = SIGUSR1;

  // Unmounts now (idempotent). Call after run() returns.
  void unmount();

  const std::string& mountpoint() const { return options_.mountpoint; }

  // Caching mounts: drops everything the kernel caches for this mount (the
  // token changed). No-op otherwise. Thread-safe; never blocks on FUSE.
  void post_everything();

 private:
  Mount(MountOptions options, std::unique_ptr<Filesystem> fs);

  MountOptions options_;
  std::unique_ptr<Filesystem> fs_;
  fuse_session* session_ = nullptr;
  bool mounted_ = false;
  // Caching mounts: sends kernel invalidations for changes made through
  // the view (listener listener_id_).
  std::unique_ptr<Invalidator> invalidator_;
  // Caching bound mounts: drops the kernel's cache when the token expires or
  // its file changes (fs/token_watch.hpp).
  std::unique_ptr<TokenWatch> token_watch_;
  engine::FileView* view_ = nullptr;
  std::uint64_t listener_id_ = 0;
  // inotify mounts: replays changes made elsewhere (fs/replay.hpp).
  std::unique_ptr<Replayer> replayer_;
  std::uint64_t replay_listener_id_ = 0;
  // Every mount: poll(2) wake-ups for changes (fs/poll.hpp).
  engine::FileView* notify_view_ = nullptr;
  std::uint64_t notify_listener_id_ = 0;
  // The thread in run(), for stop().
  std::atomic<bool> running_{false};
  pthread_t loop_thread_{};
};

// Checks that path can be mounted on: an existing, empty directory.
// Errors: InvalidArgument with a message naming the problem. Pure (reads the
// filesystem only).
engine::Status check_mountpoint(const std::string& path);

}  // namespace fsd
