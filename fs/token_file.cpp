// SPDX-License-Identifier: MPL-2.0
#include "fs/token_file.hpp"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "fs/log.hpp"

namespace fsd {

namespace {

constexpr std::size_t kMaxTokenBytes = 4096;

}  // namespace

engine::Result<engine::SecureString> read_token_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return engine::Error::invalid("token file " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && (st.st_mode & 077) != 0) {
    log_warn("token file ", path, " is accessible to group or others (chmod 600 it)");
  }
  engine::SecureString token;
  token.resize(kMaxTokenBytes + 1);
  std::size_t used = 0;
  while (used < token.size()) {
    const ssize_t n = ::read(fd, token.data() + used, token.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return engine::Error::invalid("token file " + path + ": " + std::strerror(err));
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (used > kMaxTokenBytes) return engine::Error::invalid("token file " + path + " is over 4 KiB");
  token.resize(used);
  while (!token.empty() &&
         (token.back() == '\n' || token.back() == '\r' || token.back() == ' ' || token.back() == '\t')) {
    token.pop_back();
  }
  if (token.empty()) return engine::Error::invalid("token file " + path + " is empty");
  return token;
}

bool TokenFile::stamp_of(const std::string& path, Stamp& out) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  out.dev = st.st_dev;
  out.ino = st.st_ino;
  out.size = st.st_size;
  out.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  out.ctime_ns = static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
  return true;
}

engine::Result<std::unique_ptr<TokenFile>> TokenFile::open(std::string path) {
  std::unique_ptr<TokenFile> file(new TokenFile(std::move(path)));
  std::lock_guard lock(file->mu_);
  file->watch();  // before the first stat: a change after it is heard
  stamp_of(file->path_, file->stamp_);
  file->checked_ = std::chrono::steady_clock::now();
  auto token = read_token_file(file->path_);
  if (!token.ok()) return std::move(token).error();
  file->token_ = std::move(token).value();
  return file;
}

TokenFile::~TokenFile() {
  if (inotify_ >= 0) ::close(inotify_);
}

void TokenFile::watch() {
  if (inotify_ < 0) {
    inotify_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_ < 0) {
      log_info("token file ", path_, ": no inotify (", std::strerror(errno), "); it is stat'ed at every request");
      return;
    }
  }
  // The directory's entries (renames, links, symlinks beside the file) and
  // the file itself, wherever a symlink leads (writes in place, its link
  // count when it is replaced or removed). Adding a watch again for the
  // same inode only updates it, so this is repeated after each change.
  constexpr std::uint32_t kDir = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY | IN_ATTRIB |
                                 IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF;
  constexpr std::uint32_t kFile = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF;
  const auto slash = path_.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path_.substr(0, slash);
  if (::inotify_add_watch(inotify_, dir.c_str(), kDir) < 0) {
    log_info("token file ", path_, ": cannot watch ", dir, " (", std::strerror(errno),
             "); it is stat'ed at every request");
    ::close(inotify_);
    inotify_ = -1;
    return;
  }
  // A file that is not there (yet) has nothing to watch: its directory
  // tells when it comes.
  (void)::inotify_add_watch(inotify_, path_.c_str(), kFile);
}

bool TokenFile::notified() {
  alignas(struct inotify_event) char buf[4096];
  bool any = false;
  for (;;) {
    const ssize_t n = ::read(inotify_, buf, sizeof buf);
    if (n > 0) {
      any = true;  // what it was does not matter: the stat decides
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // EAGAIN: all read. Anything else: cannot tell, so check.
    return any || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }
}

engine::SecureString TokenFile::current() {
  // What inotify cannot see (above the file's directory) is checked at
  // least this often.
  constexpr auto kRecheck = std::chrono::seconds(1);
  bool changed = false;
  engine::SecureString out;
  {
    // One lock around the look at inotify and the check it asks for: a
    // caller that finds the queue empty because another is re-reading the
    // file waits for that re-read instead of taking the old token.
    std::lock_guard lock(mu_);
    const auto now_time = std::chrono::steady_clock::now();
    if (inotify_ >= 0 && now_time - checked_ < kRecheck && !notified()) return token_;
    if (inotify_ >= 0) watch();  // the file may be another inode now
    checked_ = now_time;
    Stamp now;
    const bool present = stamp_of(path_, now);
    if (present && !(now == stamp_)) {
      auto token = read_token_file(path_);
      if (token.ok()) {
        stamp_ = now;
        failing_ = false;
        changed = !(*token == token_);
        token_ = std::move(token).value();
        if (changed) log_info("token file ", path_, " changed: using the new token");
      } else if (!failing_) {
        failing_ = true;
        log_error(token.error().message, "; keeping the previous token");
      }
    } else if (!present && !failing_) {
      failing_ = true;
      log_error("token file ", path_, " is gone; keeping the previous token");
    }
    out = token_;
  }
  if (changed && on_change_) on_change_();
  return out;
}

}  // namespace fsd
