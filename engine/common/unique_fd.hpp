// SPDX-License-Identifier: MPL-2.0
// A file descriptor closed when it goes out of scope (reads of /proc).
#pragma once

#include <unistd.h>

namespace engine {

struct UniqueFd {
  int fd = -1;
  explicit UniqueFd(int f) : fd(f) {}
  ~UniqueFd() {
    if (fd >= 0) ::close(fd);
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
};

}  // namespace engine
