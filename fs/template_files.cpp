// SPDX-License-Identifier: MPL-2.0
#include "fs/template_files.hpp"

namespace fsd {

namespace {

std::string_view trim_slashes(std::string_view p) {
  while (!p.empty() && p.front() == '/') p.remove_prefix(1);
  while (!p.empty() && p.back() == '/') p.remove_suffix(1);
  return p;
}

// p is c, or lies below it.
bool covers(std::string_view c, std::string_view p) {
  if (c.empty()) return true;
  return p == c || (p.size() > c.size() && p.starts_with(c) && p[c.size()] == '/');
}

}  // namespace

bool template_touched_by(const std::vector<std::string>& dependencies, const engine::Change& change,
                         std::string_view chroot) {
  if (change.everything) return true;
  std::string_view path = trim_slashes(change.path);
  if (!chroot.empty()) {
    if (!path.starts_with(chroot) || path.size() <= chroot.size() || path[chroot.size()] != '/') return false;
    path.remove_prefix(chroot.size() + 1);
  }
  for (const auto& raw : dependencies) {
    const std::string_view dep = trim_slashes(raw);
    // The path as read (KV v1), and with each "data"/"metadata" segment
    // dropped in turn (KV v2's API paths: the mount is the part before it).
    // A Read of a secret also covers what lies below its name, which only
    // a List dependency needs: harmless.
    if (covers(dep, path)) return true;
    std::size_t start = 0;
    while (start <= dep.size()) {
      const std::size_t slash = dep.find('/', start);
      const std::size_t end = slash == std::string_view::npos ? dep.size() : slash;
      const std::string_view seg = dep.substr(start, end - start);
      if (start > 0 && (seg == "data" || seg == "metadata")) {
        std::string dropped(dep.substr(0, start - 1));
        if (end < dep.size()) dropped.append(dep.substr(end));
        if (covers(dropped, path)) return true;
      }
      if (slash == std::string_view::npos) break;
      start = slash + 1;
    }
  }
  return false;
}

}  // namespace fsd
