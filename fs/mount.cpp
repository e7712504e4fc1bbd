// SPDX-License-Identifier: MPL-2.0
#include "fs/mount.hpp"

#include <dirent.h>
#include <fuse_lowlevel.h>
#include <signal.h>
#include <sys/stat.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>
#include <vector>

#include "fs/callbacks.hpp"
#include "fs/log.hpp"
#include "fs/monitor.hpp"
#include "fs/poll.hpp"

namespace fsd {

namespace {

// The session the signal handler stops, and the signal that stopped it.
std::atomic<fuse_session*> g_signalled_session{nullptr};
std::atomic<int> g_stop_signal{0};

extern "C" void stop_on_signal(int sig) {
  g_stop_signal.store(sig);
  fsd::stop_monitors();  // blocked sys/monitor reads end, so workers can be joined
  // Only sets a flag (as libfuse's own handler does); the loop's wait is
  // interrupted by this signal and sees it.
  if (fuse_session* se = g_signalled_session.load()) fuse_session_exit(se);
}

// Installs stop_on_signal for SIGINT/SIGTERM/SIGHUP and ignores SIGPIPE,
// saving the old actions. libfuse's fuse_set_signal_handlers() leaves a signal
// alone when it was inherited as ignored, and a shell starts `cofferd &` with
// SIGINT ignored, so `kill -INT` would be lost; only SIGHUP's inherited
// SIG_IGN (nohup) is honoured here.
class SignalGuard {
 public:
  explicit SignalGuard(fuse_session* se) {
    g_stop_signal.store(0);
    g_signalled_session.store(se);
    struct sigaction sa {};
    sa.sa_handler = stop_on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: the loop's sem_wait must see EINTR
    for (std::size_t i = 0; i < kSignals.size(); ++i) {
      sigaction(kSignals[i], nullptr, &old_[i]);
      if (kSignals[i] == SIGHUP && old_[i].sa_handler == SIG_IGN) continue;
      sigaction(kSignals[i], &sa, nullptr);
    }
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, &old_pipe_);
  }
  ~SignalGuard() {
    for (std::size_t i = 0; i < kSignals.size(); ++i) sigaction(kSignals[i], &old_[i], nullptr);
    sigaction(SIGPIPE, &old_pipe_, nullptr);
    g_signalled_session.store(nullptr);
  }
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;

 private:
  static constexpr std::array<int, 3> kSignals = {SIGINT, SIGTERM, SIGHUP};
  std::array<struct sigaction, 3> old_{};
  struct sigaction old_pipe_ {};
};

// Kernel mount options: nothing on the mount is executable or a device, and
// no set-uid bit means anything (SPEC §3: exec from the mount is refused).
// How long the token watch waits for a rotated token's invalidations.
constexpr std::chrono::milliseconds kSettleWait{2000};

std::string kernel_options(const MountOptions& o) {
  std::string opts = "fsname=coffer,subtype=coffer,noexec,nosuid,nodev";
  if (o.allow_other) opts += ",allow_other";
  // A bound mount answers every caller with its one token, so the kernel
  // must hold other uids to the modes it shows (file_mode, dir_mode, uid,
  // gid): otherwise any local user let in by allow_other reads the
  // application's secrets. A shared mount leaves that to the ACL (each
  // caller brings a token), so it may not.
  if (!o.token.empty()) opts += ",default_permissions";
  if (o.fs.read_only) opts += ",ro";  // the kernel answers every write EROFS
  return opts;
}

}  // namespace

engine::Status check_mountpoint(const std::string& path) {
  if (path.empty()) return engine::Error::invalid("no mountpoint given");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOTCONN) {
      return engine::Error::invalid("mountpoint " + path +
                                    " is a dead FUSE mount (a daemon exited without "
                                    "unmounting); clear it with: fusermount3 -uz " +
                                    path);
    }
    return engine::Error::invalid("mountpoint " + path + ": " + std::strerror(err));
  }
  if (!S_ISDIR(st.st_mode)) return engine::Error::invalid("mountpoint " + path + " is not a directory");
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) {
    return engine::Error::invalid("mountpoint " + path + ": " + std::strerror(errno));
  }
  bool empty = true;
  while (const dirent* ent = ::readdir(dir)) {
    if (std::strcmp(ent->d_name, ".") != 0 && std::strcmp(ent->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  ::closedir(dir);
  if (!empty) return engine::Error::invalid("mountpoint " + path + " is not empty");
  return engine::ok_status();
}

Mount::Mount(MountOptions options, std::unique_ptr<Filesystem> fs) : options_(std::move(options)), fs_(std::move(fs)) {}

engine::Result<std::unique_ptr<Mount>> Mount::create(engine::FileView& view, MountOptions options) {
  if (auto st = check_mountpoint(options.mountpoint); !st.ok()) return std::move(st).error();

  options.fs.cache = options.cache;
  auto fs = std::make_unique<Filesystem>(view, options.fs, options.token);
  std::unique_ptr<Mount> mount(new Mount(std::move(options), std::move(fs)));
  const MountOptions& o = mount->options_;

  // fuse_session_new parses mount options from an argv; fuse_opt may keep
  // pointers into it until the session is made, so the strings outlive it.
  std::vector<std::string> args = {"cofferd", "-o", kernel_options(o)};
  if (o.fuse_debug) args.emplace_back("-d");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  fuse_args fargs = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());

  mount->session_ = fuse_session_new(&fargs, &lowlevel_ops(), sizeof(fuse_lowlevel_ops), mount->fs_.get());
  fuse_opt_free_args(&fargs);
  if (mount->session_ == nullptr) {
    return engine::Error::internal("could not create the FUSE session (see libfuse's message)");
  }
  if (fuse_session_mount(mount->session_, o.mountpoint.c_str()) != 0) {
    return engine::Error::internal("could not mount " + o.mountpoint + " (see libfuse's message; is /dev/fuse there?)");
  }
  mount->mounted_ = true;

  if (o.cache) {
    // Changes made through any mount of the view reach this one's kernel
    // cache from the invalidator's own thread.
    mount->invalidator_ = std::make_unique<Invalidator>(mount->fs_->inodes(), o.fs.chroot);
    Filesystem* fsys = mount->fs_.get();
    // Template files change with what their renders read, not their path.
    if (!o.fs.templates.empty()) {
      mount->invalidator_->set_extra_targets([fsys](const engine::Change& c) { return fsys->template_targets(c); });
    }
    mount->invalidator_->start(mount->session_);
    mount->view_ = &view;
    Invalidator* inv = mount->invalidator_.get();
    // The renders a change makes stale are dropped before the kernel's
    // pages are, so a read after the invalidation renders anew.
    mount->listener_id_ = view.add_change_listener([inv, fsys](const engine::Change& c) {
      fsys->templates_changed(c);
      inv->post(c);
    });
    if (fsys->callers().mount_bound()) {
      // Nothing the kernel keeps outlives the token it was answered with
      // (fs/token_watch.hpp). Started by run(), once the token file's
      // change callback is in place.
      mount->token_watch_ = std::make_unique<TokenWatch>(
          [fsys] { return fsys->mount_token_expiry(); },
          [fsys, inv] { fsys->confirm_mount_token([inv] { inv->wait_idle(kSettleWait); }); },
          [inv] {
            inv->post(engine::Change{{}, true});
          });
    }
  }
  if (o.fs.inotify) {
    // Changes made elsewhere are replayed on this mount, from its own thread.
    mount->replayer_ = std::make_unique<Replayer>(o.mountpoint, mount->fs_->inodes(), o.fs.chroot, mount->fs_.get());
    mount->fs_->set_replayer(mount->replayer_.get());
    mount->replayer_->start();
    Replayer* rep = mount->replayer_.get();
    mount->replay_listener_id_ = view.add_change_listener([rep](const engine::Change& c) { rep->post(c); });
  }
  // poll(2) on open files learns of changes made through any mount
  // (fs/poll.hpp: marked here, woken from the poll thread).
  {
    const InodeTable* inodes = &mount->fs_->inodes();
    std::string chroot = o.fs.chroot;
    mount->notify_view_ = &view;
    mount->notify_listener_id_ =
        view.add_change_listener([inodes, chroot](const engine::Change& c) { poll_changed(inodes, c, chroot); });
  }
  return mount;
}

void Mount::post_everything() {
  if (invalidator_) invalidator_->post(engine::Change{{}, true});
}

namespace {
extern "C" void wake_only(int /*sig*/) {}
}  // namespace

void Mount::install_wake_handler() {
  struct sigaction sa {};
  sa.sa_handler = wake_only;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: the loop's sem_wait must see EINTR
  sigaction(kWakeSignal, &sa, nullptr);
}

void Mount::stop() {
  // The loop checks the exit flag each time its wait is interrupted; the
  // signal may land just before it waits, so it is repeated until run()
  // has returned.
  stop_monitors();  // blocked sys/monitor reads end, so workers can be joined
  while (running_.load()) {
    fuse_session_exit(session_);
    pthread_kill(loop_thread_, kWakeSignal);
    struct timespec pause {
      0, 20'000'000
    };
    nanosleep(&pause, nullptr);
  }
}

engine::Status Mount::run(bool handle_signals) {
  loop_thread_ = pthread_self();
  running_.store(true);
  struct Running {
    std::atomic<bool>& flag;
    ~Running() { flag.store(false); }
  } running{running_};
  std::optional<SignalGuard> signals;
  if (handle_signals) signals.emplace(session_);
  if (token_watch_) token_watch_->start();
  fuse_loop_config* config = fuse_loop_cfg_create();
  // One /dev/fuse fd shared by the workers: clone_fd buys little at our
  // request sizes and costs an fd per thread.
  fuse_loop_cfg_set_clone_fd(config, 0);
  fuse_loop_cfg_set_max_threads(config, options_.max_threads);
  fuse_loop_cfg_set_idle_threads(config, options_.max_idle_threads);
  const int ret = fuse_session_loop_mt(session_, config);
  fuse_loop_cfg_destroy(config);
  signals.reset();
  // No request runs now. Files still open will get no RELEASE.
  if (const std::size_t left = fs_->release_open_files(); left != 0) {
    log_info("released ", left, " file(s) still open at the end of ", options_.mountpoint);
  }
  // ret: 0 (unmounted, or stopped by our handler), -errno on failure.
  if (const int sig = g_stop_signal.exchange(0); sig != 0) {
    log_info("signal ", sig, " received, unmounting ", options_.mountpoint);
    return engine::ok_status();
  }
  if (ret < 0) {
    return engine::Error::internal(std::string("FUSE loop failed: ") + std::strerror(-ret));
  }
  return engine::ok_status();
}

void Mount::unmount() {
  if (notify_view_ != nullptr) {
    if (replayer_) notify_view_->remove_change_listener(replay_listener_id_);
    notify_view_->remove_change_listener(notify_listener_id_);
    notify_view_ = nullptr;
  }
  if (replayer_) replayer_->request_stop();
  if (view_ != nullptr) {
    view_->remove_change_listener(listener_id_);
    view_ = nullptr;
  }
  if (token_watch_) token_watch_->stop();
  if (invalidator_) invalidator_->stop();
  if (mounted_) {
    fuse_session_unmount(session_);  // a replay blocked on the mount ends here
    mounted_ = false;
  }
  if (replayer_) replayer_->stop();
}

Mount::~Mount() {
  if (session_ == nullptr) return;
  unmount();
  fuse_session_destroy(session_);
}

}  // namespace fsd
