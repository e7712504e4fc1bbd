// SPDX-License-Identifier: MPL-2.0
// The peer auth method, mounted at auth/<path>/: a process logs in by the
// kernel's word alone (as PostgreSQL's peer authentication), with nothing
// secret written. The FUSE request names the caller's uid, gid and pid
// (BackendRequest::peer); /proc of that pid, while it is still the same
// process, gives its cgroup, systemd unit and executable
// (engine/auth/peer_process.hpp).
//
//   role/                LIST role names
//   role/NAME            read, write, delete (a delete revokes the tokens
//                        its logins made)
//   login                write {role?}: a login through role NAME, or
//                        without one through the first matching role,
//                        ordered by name
//
// A role's bindings (at least one): bound_uids, bound_gids,
// bound_systemd_units, bound_cgroups (path prefixes), bound_executables
// (absolute paths; refused at write when the file or a parent directory is
// writable by anyone but root). A role matches when every binding it sets
// matches. Storage: role/<name> → PeerRoleEntry.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "engine/auth/peer_process.hpp"
#include "engine/auth/token_params.hpp"
#include "engine/backend/backend.hpp"

namespace engine::auth {

struct PeerRoleEntry {
  std::vector<std::uint32_t> bound_uids;
  std::vector<std::uint32_t> bound_gids;
  std::vector<std::string> bound_systemd_units;
  std::vector<std::string> bound_cgroups;
  std::vector<std::string> bound_executables;
  TokenParams token;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(bound_uids, bound_gids, bound_systemd_units, bound_cgroups, bound_executables, token);
  }
};

// Does `role` (named `name`) admit `p`? Ok when every binding it sets
// matches; otherwise the first reason it does not ("uid 1001 not in
// bound_uids of role web"), or that it binds nothing.
Status peer_role_matches(const std::string& name, const PeerRoleEntry& role, const PeerProcess& p);

// The message of every refused peer login (PermissionDenied, EACCES).
inline constexpr std::string_view kNoMatchingPeerRole = "no matching peer role";

class PeerBackend final : public Backend {
 public:
  // proc_root: where /proc is (tests point it at a fake tree).
  explicit PeerBackend(std::string proc_root = "/proc") : proc_root_(std::move(proc_root)) {}

  Result<Response> handle(const BackendRequest& req) override;
  Result<bool> exists(const BackendRequest& req) override;

  static bool is_login_path(std::string_view rel) { return rel == "login"; }

 private:
  Result<Response> write_role(const BackendRequest& req, const std::string& name);
  Result<Response> login(const BackendRequest& req);

  const std::string proc_root_;
  std::mutex mu_;  // serialises role read-modify-writes
};

}  // namespace engine::auth

CEREAL_CLASS_VERSION(engine::auth::PeerRoleEntry, 1);
