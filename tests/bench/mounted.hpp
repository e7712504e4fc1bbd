// SPDX-License-Identifier: MPL-2.0
// Whether a path is a mountpoint now, for the benchmarks that start daemons.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace bench {

inline bool is_mounted(const std::string& mp) {
  std::ifstream mounts("/proc/self/mounts");
  std::string dev, where, rest;
  while (mounts >> dev >> where && std::getline(mounts, rest)) {
    if (where == mp) return true;
  }
  return false;
}

// In a forked child before exec: stdout and stderr go to the end of log
// (left as they are when it cannot be opened).
inline void redirect_output(const std::string& log) {
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd >= 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
  }
}

}  // namespace bench
