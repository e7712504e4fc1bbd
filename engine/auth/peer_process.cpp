// SPDX-License-Identifier: MPL-2.0
#include "engine/auth/peer_process.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <system_error>

#include "engine/common/unique_fd.hpp"

namespace engine::auth {
namespace {

using Fd = UniqueFd;

// Up to max bytes of a file relative to dirfd; nullopt if unreadable.
std::optional<std::string> read_at(int dirfd, const char* name, std::size_t max) {
  Fd f(::openat(dirfd, name, O_RDONLY | O_CLOEXEC));
  if (f.fd < 0) return std::nullopt;
  std::string out;
  char buf[4096];
  while (out.size() < max) {
    const ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  if (out.size() > max) out.resize(max);
  return out;
}

// The filesystem id (the fourth of real, effective, saved, fs) on the
// "Uid:" or "Gid:" line of /proc/PID/status; nullopt when it is not there.
std::optional<std::uint32_t> fs_id(std::string_view status, std::string_view label) {
  for (std::size_t pos = 0; pos < status.size();) {
    std::size_t end = status.find('\n', pos);
    if (end == std::string_view::npos) end = status.size();
    std::string_view line = status.substr(pos, end - pos);
    pos = end + 1;
    if (!line.starts_with(label)) continue;
    line.remove_prefix(label.size());
    std::uint32_t id = 0;
    for (int field = 0; field < 4; ++field) {
      while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
      const auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), id);
      if (ec != std::errc()) return std::nullopt;
      line.remove_prefix(static_cast<std::size_t>(ptr - line.data()));
    }
    return id;
  }
  return std::nullopt;
}

bool is_unit_name(std::string_view s) {
  return (s.ends_with(".service") && s.size() > 8) || (s.ends_with(".scope") && s.size() > 6);
}

}  // namespace

std::optional<std::uint64_t> proc_start_time(std::string_view stat) {
  const auto paren = stat.rfind(')');
  if (paren == std::string_view::npos) return std::nullopt;
  std::string_view rest = stat.substr(paren + 1);
  int field = 2;
  std::size_t pos = 0;
  while (pos < rest.size()) {
    while (pos < rest.size() && (rest[pos] == ' ' || rest[pos] == '\n')) ++pos;
    if (pos >= rest.size()) break;
    std::size_t end = rest.find_first_of(" \n", pos);
    if (end == std::string_view::npos) end = rest.size();
    ++field;
    if (field == 22) {
      const std::string_view v = rest.substr(pos, end - pos);
      if (v.empty() || v.size() > 20) return std::nullopt;
      std::uint64_t n = 0;
      for (char c : v) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
      }
      return n;
    }
    pos = end;
  }
  return std::nullopt;
}

std::string cgroup_path(std::string_view text) {
  std::string v2;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    // hierarchy-ID:controller-list:cgroup-path (the path may hold ':').
    const auto a = line.find(':');
    if (a == std::string_view::npos) continue;
    const auto b = line.find(':', a + 1);
    if (b == std::string_view::npos) continue;
    const std::string_view id = line.substr(0, a);
    const std::string_view controllers = line.substr(a + 1, b - a - 1);
    const std::string_view path = line.substr(b + 1);
    if (path.empty() || path.front() != '/') continue;
    if (controllers == "name=systemd") return std::string(path);
    if (id == "0" && controllers.empty()) v2 = std::string(path);
  }
  return v2;
}

std::string unit_of_cgroup(std::string_view path) {
  std::size_t pos = 0;
  while (pos < path.size()) {
    while (pos < path.size() && path[pos] == '/') ++pos;
    if (pos >= path.size()) break;
    std::size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view seg = path.substr(pos, end - pos);
    pos = end;
    if (seg.ends_with(".slice")) continue;
    return is_unit_name(seg) ? std::string(seg) : std::string();
  }
  return {};
}

bool cgroup_under(std::string_view path, std::string_view prefix) {
  while (prefix.size() > 1 && prefix.back() == '/') prefix.remove_suffix(1);
  if (prefix == "/") return !path.empty() && path.front() == '/';
  if (!path.starts_with(prefix)) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

Result<PeerProcess> read_peer_process(std::string_view proc_root, const PeerCredentials& creds) {
  if (creds.pid <= 0) return Error::denied("the kernel named no process for this request");
  const std::string pid = std::to_string(creds.pid);
  if (creds.start_time == 0) return Error::denied("the start time of process " + pid + " is unknown");
  const std::string dir = std::string(proc_root) + "/" + pid;
  // The directory fd pins the process: once it has exited, reads through
  // it fail even if the pid is reused.
  Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.fd < 0) return Error::denied("process " + pid + " went away");
  auto same_process = [&]() -> Status {
    auto stat = read_at(d.fd, "stat", 4096);
    if (!stat) return Error::denied("process " + pid + " went away");
    auto start = proc_start_time(*stat);
    if (!start || *start != creds.start_time) {
      return Error::denied("process " + pid + " is not the process that asked (its start time changed)");
    }
    // The pid may have been reused before the start time was first read
    // (the asking thread killed mid-request): the process must also still
    // act as the uid and gid the kernel gave for the request, so a reused
    // pid of another user lends nobody its unit, cgroup or executable.
    auto status = read_at(d.fd, "status", 1 << 16);
    if (!status) return Error::denied("process " + pid + " went away");
    if (fs_id(*status, "Uid:") != creds.uid || fs_id(*status, "Gid:") != creds.gid) {
      return Error::denied("process " + pid + " no longer acts as uid " + std::to_string(creds.uid) + " gid " +
                           std::to_string(creds.gid));
    }
    return {};
  };
  COFFER_TRY_STATUS(same_process());
  PeerProcess out;
  out.uid = creds.uid;
  out.gid = creds.gid;
  out.pid = creds.pid;
  if (auto cg = read_at(d.fd, "cgroup", 1 << 16)) out.cgroup = cgroup_path(*cg);
  out.unit = unit_of_cgroup(out.cgroup);
  char buf[4096];
  const ssize_t n = ::readlinkat(d.fd, "exe", buf, sizeof buf);
  if (n > 0 && static_cast<std::size_t>(n) < sizeof buf) out.exe.assign(buf, static_cast<std::size_t>(n));
  // Still the same process after the reads: what was read is its own.
  COFFER_TRY_STATUS(same_process());
  return out;
}

}  // namespace engine::auth
