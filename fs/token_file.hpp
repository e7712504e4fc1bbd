// SPDX-License-Identifier: MPL-2.0
// A bound mount's token file (`token_file`, `--token-file`): the token every
// request of the mount is made with, re-read when the file changes, so a
// token rotated by an agent (written in place or renamed over the file) is
// used from the next request on.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "engine/common/error.hpp"
#include "engine/common/secure.hpp"

namespace fsd {

// Reads a token file: its contents without trailing whitespace. Warns (once
// per call) when group or others may read it. Errors: InvalidArgument naming
// the file (missing, unreadable, empty, over 4 KiB).
engine::Result<engine::SecureString> read_token_file(const std::string& path);

class TokenFile {
 public:
  ~TokenFile();
  TokenFile(const TokenFile&) = delete;
  TokenFile& operator=(const TokenFile&) = delete;
  // Reads path now. Errors as read_token_file.
  static engine::Result<std::unique_ptr<TokenFile>> open(std::string path);

  // The current token. Checks the file's identity (device, inode, size,
  // mtime, ctime: one stat(2)) and re-reads it when any of them moved; a
  // file that became unreadable or empty keeps the last good token (and the
  // reason is logged once). Thread-safe.
  //
  // The stat is made only when inotify says the file or its directory may
  // have changed (a write in place, a rename over it, a symlink beside it
  // swapped: the kernel queues the event before the writer's call returns,
  // so the next request sees it), and at least once a second for what
  // inotify cannot see (a directory higher up the path renamed, swapped or
  // mounted over). Without inotify, at every call.
  engine::SecureString current();

  // Called (outside the lock, on the thread that noticed) after the token
  // changed, so cached answers made with the old one can be dropped. Set
  // before the mount serves requests.
  void on_change(std::function<void()> callback) { on_change_ = std::move(callback); }

  const std::string& path() const { return path_; }

 private:
  struct Stamp {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    std::int64_t mtime_ns = 0;
    std::int64_t ctime_ns = 0;
    bool operator==(const Stamp&) const = default;
  };
  explicit TokenFile(std::string path) : path_(std::move(path)) {}
  static bool stamp_of(const std::string& path, Stamp& out);
  // (Re)places the inotify watches on the file and its directory; on any
  // failure inotify is given up (a stat at every call). mu_ held.
  void watch();
  // Whether inotify reported anything since the last call (reads it all).
  // mu_ held.
  bool notified();

  const std::string path_;
  std::function<void()> on_change_;
  std::mutex mu_;
  Stamp stamp_;
  engine::SecureString token_;
  bool failing_ = false;                             // the last re-read failed (logged once)
  int inotify_ = -1;                                 // -1: none (stat at every call)
  std::chrono::steady_clock::time_point checked_{};  // the last stat
};

}  // namespace fsd
