// SPDX-License-Identifier: MPL-2.0
#include "fs/replay.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fs/log.hpp"
#include "fs/node_paths.hpp"

namespace fsd {
namespace {

thread_local const void* t_request_fs = nullptr;

// Replays waiting beyond this are dropped (oldest first): watchers then
// miss events, which is logged, rather than the daemon growing.
constexpr std::size_t kMaxQueued = 4096;

bool live(const InodeTable& inodes, const std::string& path) {
  if (path.empty()) return true;  // the root
  return inodes.lookup_count(inodes.peek(path)) > 0;
}

}  // namespace

void set_request_fs(const void* fs) noexcept { t_request_fs = fs; }
const void* request_fs() noexcept { return t_request_fs; }

Replayer::Replayer(std::string mountpoint, const InodeTable& inodes, std::string chroot, const void* own)
    : mountpoint_(std::move(mountpoint)), inodes_(inodes), chroot_(std::move(chroot)), own_(own) {}

Replayer::~Replayer() { stop(); }

void Replayer::start() {
  std::lock_guard lock(mu_);
  if (started_) return;
  started_ = true;
  thread_ = thread_without_signals([this] { run(); });
}

void Replayer::request_stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
}

void Replayer::stop() {
  request_stop();
  if (thread_.joinable()) thread_.join();
}

bool Replayer::job_of(const engine::Change& change, std::string_view chroot, Job& out) {
  if (change.everything || change.path.empty()) return false;
  std::string_view path = change.path;
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (!chroot.empty()) {
    if (!path.starts_with(chroot) || path.size() <= chroot.size() || path[chroot.size()] != '/') return false;
    path.remove_prefix(chroot.size() + 1);
  }
  path = base_of(path);
  if (path.empty()) return false;
  const std::string_view type = change.event_type;
  out.path = std::string(path);
  out.action = type == "kv-v1/delete" || type == "kv-v2/data-delete" || type == "kv-v2/metadata-delete"
                   ? Action::Unlink
                   : Action::Modify;
  return true;
}

void Replayer::post(const engine::Change& change) {
  // Made through this mount: its writer's syscalls raised the events.
  if (t_request_fs == own_) return;
  Job job;
  if (!job_of(change, chroot_, job)) return;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    queue_.push_back(std::move(job));
    while (queue_.size() > kMaxQueued) {
      queue_.pop_front();
      dropped_.fetch_add(1);
    }
  }
  cv_.notify_one();
}

bool Replayer::current_job(pid_t tid, Job& out) const {
  if (tid == 0 || tid != tid_.load(std::memory_order_acquire)) return false;
  std::lock_guard lock(mu_);
  out = current_;
  return true;
}

void Replayer::replay(const Job& job) {
  const std::string full = mountpoint_ + "/" + job.path;
  switch (job.action) {
    case Action::Modify: {
      const int fd = ::open(full.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY);
      if (fd < 0) {
        log_debug("inotify replay: open /", job.path, ": ", std::strerror(errno));
        return;
      }
      struct stat st {};
      if (::fstat(fd, &st) == 0 && ::ftruncate(fd, st.st_size) != 0) {
        log_debug("inotify replay: ftruncate /", job.path, ": ", std::strerror(errno));
      }
      ::close(fd);
      break;
    }
    case Action::Create: {
      const int fd = ::open(full.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
      if (fd < 0) {
        log_debug("inotify replay: create /", job.path, ": ", std::strerror(errno));
        return;
      }
      ::close(fd);
      break;
    }
    case Action::Unlink:
      if (::unlink(full.c_str()) != 0) log_debug("inotify replay: unlink /", job.path, ": ", std::strerror(errno));
      break;
  }
  replayed_.fetch_add(1);
}

void Replayer::run() {
  tid_.store(::gettid(), std::memory_order_release);
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) break;
    Job job = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    // Only where the kernel holds the folder's inode: otherwise nobody
    // watches it (a watch pins its inode), and the walk would cost lookups.
    const std::string parent(parent_of(job.path));
    bool go = live(inodes_, parent);
    // A secret the kernel has no inode for is new to it: a create.
    if (job.action == Action::Modify && !live(inodes_, job.path)) job.action = Action::Create;
    lock.lock();
    if (!go) continue;
    current_ = job;
    lock.unlock();
    try {
      replay(job);
    } catch (const std::exception& e) {
      log_error("inotify replay failed: ", e.what());
    }
    lock.lock();
  }
  tid_.store(0, std::memory_order_release);
}

}  // namespace fsd
