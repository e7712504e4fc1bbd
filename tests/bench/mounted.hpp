// SPDX-License-Identifier: MPL-2.0
// Whether a path is a mountpoint now, for the benchmarks that start daemons.
#pragma once

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

}  // namespace bench
