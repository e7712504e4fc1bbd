// SPDX-License-Identifier: MPL-2.0
#include "engine/auth/peer.hpp"

#include <sys/stat.h>

#include <algorithm>

#include "engine/auth/records.hpp"
#include "engine/common/fields.hpp"

namespace engine::auth {
namespace {

// One uid or gid: decimal, 0 to 4294967294 (-1 is "no id" to the kernel).
Result<std::uint32_t> parse_id(std::string_view s, std::string_view key) {
  auto bad = [&] {
    return Error::invalid("\"" + std::string(key) + "\": \"" + std::string(s) + "\" is not a uid/gid");
  };
  if (s.empty() || s.size() > 10) return bad();
  std::uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return bad();
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (n >= 4294967295ULL) return bad();
  return static_cast<std::uint32_t>(n);
}

// A list of ids: a JSON array of numbers or strings, a number, or a
// comma-separated string. nullopt when absent.
Result<std::optional<std::vector<std::uint32_t>>> id_list(const Json& body, std::string_view key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::optional<std::vector<std::uint32_t>>{};
  std::vector<std::string> items;
  auto add = [&](const Json& v) -> Status {
    if (v.is_number_integer()) {
      // Negative numbers stay visibly wrong: parse_id refuses the '-'.
      items.push_back(std::to_string(v.get<std::int64_t>()));
    } else if (v.is_string()) {
      items.push_back(v.get<std::string>());
    } else {
      return Error::invalid("\"" + std::string(key) + "\" must be a list of uids/gids");
    }
    return {};
  };
  if (it->is_array()) {
    for (const auto& v : *it) COFFER_TRY_STATUS(add(v));
  } else if (it->is_string()) {
    COFFER_TRY(auto list, fields::get_string_list(body, key));
    if (list) items = std::move(*list);
  } else {
    COFFER_TRY_STATUS(add(*it));
  }
  std::vector<std::uint32_t> out;
  for (auto& s : items) {
    while (!s.empty() && s.front() == ' ') s.erase(s.begin());
    while (!s.empty() && s.back() == ' ') s.pop_back();
    COFFER_TRY(auto id, parse_id(s, key));
    out.push_back(id);
  }
  return std::optional<std::vector<std::uint32_t>>{std::move(out)};
}

// An absolute path: starts with '/', no "." or ".." segment, no NUL, no
// empty segment; a trailing '/' is dropped.
Result<std::string> absolute_path(std::string s, std::string_view key) {
  auto bad = [&](std::string_view why) {
    return Error::invalid("\"" + std::string(key) + "\": \"" + s + "\" " + std::string(why));
  };
  if (s.empty() || s.front() != '/') return bad("is not an absolute path");
  if (s.find('\0') != std::string::npos) return bad("holds a NUL byte");
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  std::size_t pos = 1;
  while (pos < s.size()) {
    std::size_t end = s.find('/', pos);
    if (end == std::string::npos) end = s.size();
    const std::string_view seg = std::string_view(s).substr(pos, end - pos);
    if (seg.empty() || seg == "." || seg == "..") return bad("is not a canonical absolute path");
    pos = end + 1;
  }
  return s;
}

// Refuses an executable binding worth nothing: the file, or a directory on
// its way, is a symlink (/proc/PID/exe shows resolved paths) or can be
// replaced by someone other than root.
Status check_executable(const std::string& path) {
  std::string at = path;
  bool first = true;
  while (true) {
    struct stat st {};
    if (::lstat(at.c_str(), &st) != 0) {
      return Error::invalid("\"bound_executables\": \"" + at + "\" does not exist or cannot be read");
    }
    if (S_ISLNK(st.st_mode)) {
      return Error::invalid("\"bound_executables\": \"" + at +
                            "\" is a symbolic link; give the resolved path, as /proc/PID/exe shows it");
    }
    if (first && !S_ISREG(st.st_mode)) {
      return Error::invalid("\"bound_executables\": \"" + at + "\" is not a regular file");
    }
    const bool writable =
        st.st_uid != 0 || (st.st_mode & S_IWOTH) != 0 || ((st.st_mode & S_IWGRP) != 0 && st.st_gid != 0);
    if (writable) {
      return Error::invalid("\"bound_executables\": \"" + at + "\" is writable by someone other than root, so \"" +
                            path + "\" proves nothing about who runs it");
    }
    if (at == "/") return {};
    first = false;
    const auto slash = at.rfind('/');
    at = slash == 0 ? std::string("/") : at.substr(0, slash);
  }
}

Result<std::optional<std::vector<std::string>>> path_list(const Json& body, std::string_view key) {
  COFFER_TRY(auto list, fields::get_string_list(body, key));
  if (!list) return list;
  std::vector<std::string> out;
  for (auto& s : *list) {
    COFFER_TRY(auto p, absolute_path(std::move(s), key));
    out.push_back(std::move(p));
  }
  return std::optional<std::vector<std::string>>{std::move(out)};
}

Json id_json(const std::vector<std::uint32_t>& ids) {
  Json out = Json::array();
  for (auto id : ids) out.push_back(id);
  return out;
}

Json string_json(const std::vector<std::string>& v) {
  Json out = Json::array();
  for (const auto& s : v) out.push_back(s);
  return out;
}

bool binds_nothing(const PeerRoleEntry& r) {
  return r.bound_uids.empty() && r.bound_gids.empty() && r.bound_systemd_units.empty() && r.bound_cgroups.empty() &&
         r.bound_executables.empty();
}

template <class T>
bool contains(const std::vector<T>& v, const T& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

Status peer_role_matches(const std::string& name, const PeerRoleEntry& role, const PeerProcess& p) {
  const std::string of = " of role " + name;
  if (binds_nothing(role)) return Error::denied("role " + name + " binds nothing");
  if (!role.bound_uids.empty() && !contains(role.bound_uids, p.uid)) {
    return Error::denied("uid " + std::to_string(p.uid) + " not in bound_uids" + of);
  }
  if (!role.bound_gids.empty() && !contains(role.bound_gids, p.gid)) {
    return Error::denied("gid " + std::to_string(p.gid) + " not in bound_gids" + of);
  }
  if (!role.bound_systemd_units.empty() && (p.unit.empty() || !contains(role.bound_systemd_units, p.unit))) {
    return Error::denied("unit \"" + p.unit + "\" not in bound_systemd_units" + of);
  }
  if (!role.bound_cgroups.empty()) {
    const bool under =
        !p.cgroup.empty() && std::any_of(role.bound_cgroups.begin(), role.bound_cgroups.end(),
                                         [&](const std::string& c) { return cgroup_under(p.cgroup, c); });
    if (!under) return Error::denied("cgroup \"" + p.cgroup + "\" not under bound_cgroups" + of);
  }
  if (!role.bound_executables.empty() && (p.exe.empty() || !contains(role.bound_executables, p.exe))) {
    return Error::denied("executable \"" + p.exe + "\" not in bound_executables" + of);
  }
  return {};
}

Result<bool> PeerBackend::exists(const BackendRequest& req) { return role_exists(req); }

Result<Response> PeerBackend::handle(const BackendRequest& req) {
  std::string_view rel = req.path;
  const bool write = req.op == Operation::Create || req.op == Operation::Update;
  if (rel.empty() || rel == "/") {
    // Not in Vault: lets `ls auth/peer/` show where things are.
    if (req.op != Operation::List && req.op != Operation::Read) return Error::unsupported_path(rel);
    return keys_reply(Json::array({"login", "role/"}));
  }
  if (is_login_path(rel)) {
    if (!write) return Error::unsupported_path(rel);
    return login(req);
  }
  if (rel == "role" || rel == "role/") {
    if (req.op != Operation::List) return Error::unsupported_path(rel);
    return list_roles(req.storage);
  }
  if (!rel.starts_with("role/")) return Error::unsupported_path(rel);
  const std::string name(rel.substr(5));
  if (auto bad = check_name(name, "role_name"); !bad.ok()) {
    if (req.op == Operation::Read || req.op == Operation::List) return Error::not_found("role not found");
    return std::move(bad).error();
  }
  switch (req.op) {
    case Operation::Read: {
      COFFER_TRY(auto role, get_record<PeerRoleEntry>(req.storage, role_key(name), "peer role"));
      if (!role) return Error::not_found("role \"" + name + "\" not found");
      Response resp;
      resp.data = Json{{"bound_uids", id_json(role->bound_uids)},
                       {"bound_gids", id_json(role->bound_gids)},
                       {"bound_systemd_units", string_json(role->bound_systemd_units)},
                       {"bound_cgroups", string_json(role->bound_cgroups)},
                       {"bound_executables", string_json(role->bound_executables)}};
      show_token_params(role->token, resp.data);
      return resp;
    }
    case Operation::Create:
    case Operation::Update: return write_role(req, name);
    case Operation::Delete: {
      std::lock_guard lock(mu_);
      COFFER_TRY_STATUS(req.storage.del(role_key(name)));
      Response resp;
      resp.revoke_logins = std::pair<std::string, std::string>{"role", name};  // its logins end with it
      return resp;
    }
    default: return Error::unsupported_path(rel);
  }
}

Result<Response> PeerBackend::write_role(const BackendRequest& req, const std::string& name) {
  COFFER_TRY_STATUS(only_with_token_params(req.data, {"role_name", "bound_uids", "bound_gids", "bound_systemd_units",
                                                      "bound_cgroups", "bound_executables"}));
  COFFER_TRY(auto uids, id_list(req.data, "bound_uids"));
  COFFER_TRY(auto gids, id_list(req.data, "bound_gids"));
  COFFER_TRY(auto units, fields::get_string_list(req.data, "bound_systemd_units"));
  if (units) {
    for (const auto& u : *units) {
      const bool ok = (u.ends_with(".service") || u.ends_with(".scope")) && u.find('/') == std::string::npos &&
                      u.size() <= 255 && u.front() != '.';
      if (!ok) {
        return Error::invalid("\"bound_systemd_units\": \"" + u + "\" is not a systemd service or scope name");
      }
    }
  }
  COFFER_TRY(auto cgroups, path_list(req.data, "bound_cgroups"));
  COFFER_TRY(auto exes, path_list(req.data, "bound_executables"));
  if (exes) {
    for (const auto& e : *exes) COFFER_TRY_STATUS(check_executable(e));
  }
  std::lock_guard lock(mu_);
  COFFER_TRY(auto existing, get_record<PeerRoleEntry>(req.storage, role_key(name), "peer role"));
  PeerRoleEntry role = existing.value_or(PeerRoleEntry{});
  if (uids) role.bound_uids = std::move(*uids);
  if (gids) role.bound_gids = std::move(*gids);
  if (units) role.bound_systemd_units = std::move(*units);
  if (cgroups) role.bound_cgroups = std::move(*cgroups);
  if (exes) role.bound_executables = std::move(*exes);
  COFFER_TRY_STATUS(parse_token_params(req.data, role.token));
  if (binds_nothing(role)) {
    return Error::invalid(
        "at least one of bound_uids, bound_gids, bound_systemd_units, bound_cgroups, bound_executables must be set");
  }
  COFFER_TRY_STATUS(put_record(req.storage, role_key(name), role));
  return Response{};
}

Result<Response> PeerBackend::login(const BackendRequest& req) {
  const std::string refused(kNoMatchingPeerRole);
  COFFER_TRY_STATUS(fields::only(req.data, {"role"}));
  COFFER_TRY(auto wanted, fields::get_string(req.data, "role"));
  if (req.peer == nullptr) {
    return Error::denied(refused + ": the request did not come through the FUSE mount, so no kernel names its caller");
  }
  auto process = read_peer_process(proc_root_, *req.peer);
  if (!process.ok()) return Error::denied(refused + ": " + process.error().message);
  std::vector<std::string> names;
  if (wanted && !wanted->empty()) {
    if (!check_name(*wanted, "role").ok()) return Error::denied(refused + ": no role \"" + *wanted + "\"");
    names.push_back(*wanted);
  } else {
    COFFER_TRY(auto listed, req.storage.list("role/"));
    for (auto& n : listed) {
      if (!n.empty() && n.back() != '/') names.push_back(std::move(n));
    }
    std::sort(names.begin(), names.end());
  }
  std::string reasons;
  for (const auto& name : names) {
    COFFER_TRY(auto role, get_record<PeerRoleEntry>(req.storage, role_key(name), "peer role"));
    if (!role) {
      reasons += (reasons.empty() ? "" : "; ") + std::string("no role \"") + name + "\"";
      continue;
    }
    Status match = peer_role_matches(name, *role, *process);
    if (!match.ok()) {
      reasons += (reasons.empty() ? "" : "; ") + match.error().message;
      continue;
    }
    const PeerProcess& p = *process;
    LoginAuth login;
    fill_login(role->token, login);
    login.display_name = name;
    login.metadata = {{"role", name},
                      {"uid", std::to_string(p.uid)},
                      {"gid", std::to_string(p.gid)},
                      {"unit", p.unit},
                      {"exe", p.exe},
                      {"cgroup", p.cgroup}};
    // One alias per role and unit (a service's processes share an entity),
    // or per role and uid when the role binds no unit.
    login.alias_name = name + ":" + (!role->bound_systemd_units.empty() ? p.unit : "uid=" + std::to_string(p.uid));
    login.alias_metadata = login.metadata;
    Response resp;
    resp.login = std::move(login);
    return resp;
  }
  if (names.empty()) reasons = "no roles";
  return Error::denied(refused + ": " + reasons);
}

}  // namespace engine::auth
