// SPDX-License-Identifier: MPL-2.0
#include "fs/token_file.hpp"

#include <fcntl.h>
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
  stamp_of(file->path_, file->stamp_);
  auto token = read_token_file(file->path_);
  if (!token.ok()) return std::move(token).error();
  file->token_ = std::move(token).value();
  return file;
}

engine::SecureString TokenFile::current() {
  Stamp now;
  const bool present = stamp_of(path_, now);
  bool changed = false;
  engine::SecureString out;
  {
    std::lock_guard lock(mu_);
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
