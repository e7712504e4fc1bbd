// SPDX-License-Identifier: MPL-2.0
// What /proc says of a peer login's caller (engine/auth/peer.hpp): its
// cgroup, the systemd unit that cgroup belongs to, and its executable, read
// through one /proc/PID directory fd so every fact belongs to one process,
// and only while that process is the one the kernel named (its start time
// matches the request's, before and after the reads).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/common/error.hpp"
#include "engine/common/request.hpp"

namespace engine::auth {

struct PeerProcess {
  std::uint32_t uid = 0;  // the kernel's (FUSE fsuid)
  std::uint32_t gid = 0;  // the kernel's (FUSE fsgid)
  std::int32_t pid = 0;
  std::string cgroup;  // "/system.slice/nginx.service" ("" = unknown)
  std::string unit;    // "nginx.service" ("" = none)
  std::string exe;     // the resolved /proc/PID/exe ("" = unreadable)
};

// --- parsing, public for tests -----------------------------------------------

// The start time (field 22) in the text of /proc/PID/stat; nullopt if
// malformed. Fields are counted after the last ')' (comm may hold any byte).
std::optional<std::uint64_t> proc_start_time(std::string_view stat);

// The cgroup path of a /proc/PID/cgroup text: the v1 `name=systemd`
// hierarchy's when there is one, else the v2 one ("0::PATH"); "" when
// neither is there.
std::string cgroup_path(std::string_view cgroup_file);

// The systemd unit a cgroup path belongs to: its first segment that is not
// a slice, when that is a unit name (".service" or ".scope"); "" otherwise.
// "/system.slice/nginx.service/worker" → "nginx.service";
// "/user.slice/user-1000.slice/session-3.scope" → "session-3.scope".
std::string unit_of_cgroup(std::string_view path);

// Is `path` the cgroup `prefix` or below it (segment-wise)?
bool cgroup_under(std::string_view path, std::string_view prefix);

// --- reading -----------------------------------------------------------------

// The process creds.pid names, from `proc_root` ("/proc"). Errors
// (PermissionDenied, the reason in the message): no pid or start time, the
// process is gone, or its start time is not creds.start_time (the pid is
// now another process), before or after the reads.
Result<PeerProcess> read_peer_process(std::string_view proc_root, const PeerCredentials& creds);

}  // namespace engine::auth
