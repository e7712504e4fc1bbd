// SPDX-License-Identifier: MPL-2.0
// File paths → Vault API requests. Every access to data goes through
// Core::handle, so it is authorised like any API request; only the shape of
// the tree (which namespaces and mounts exist) is read from the router.
#include "engine/fileview/file_view.hpp"

#include <algorithm>
#include <mutex>

#include "engine/auth/auth_method.hpp"
#include "engine/common/fields.hpp"
#include "engine/common/names.hpp"
#include "engine/common/utf8.hpp"
#include "engine/core_impl.hpp"
#include "engine/fileview/body.hpp"
#include "engine/policy/hcl.hpp"
#include "engine/policy/policy.hpp"

namespace engine {

struct FileView::Located {
  // Api: any other mount (identity/, auth methods other than auth/token/),
  // shown generically: files are what Read answers, directories what List
  // answers, NAME@VIEW the sub-endpoint NAME/VIEW.
  enum class Kind { Missing, Sealed, Namespace, MountPrefix, Sys, Auth, Api, Kv };
  Kind kind = Kind::Missing;
  std::string ns_path;      // "" or "a/b/"
  std::string mount_path;   // Kv and Api: "secret/", "auth/userpass/", "identity/"
  std::string mount_type;   // Api: "identity", "userpass", "approle"...
  int kv_version = 0;
  std::string rel;          // below the mount, sys/, auth/ or identity/ (no trailing '/')
  std::vector<DirEntry> entries;  // Namespace, MountPrefix and the auth/ directory: the listing
};

namespace {

using Kind = FileView::Located::Kind;  // NOLINT: private type used in this file only

std::string_view strip_slashes(std::string_view p) {
  while (!p.empty() && p.front() == '/') p.remove_prefix(1);
  while (!p.empty() && p.back() == '/') p.remove_suffix(1);
  return p;
}

// The last segment of a path and what precedes it.
std::pair<std::string_view, std::string_view> split_last(std::string_view rel) {
  auto slash = rel.rfind('/');
  if (slash == std::string_view::npos) return {{}, rel};
  return {rel.substr(0, slash + 1), rel.substr(slash + 1)};
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A file name with its optional view and field: "db@3#password".
struct Suffixed {
  std::string name;
  std::string view;
  bool has_view = false;
  std::string field;
  bool has_field = false;
};

std::optional<Suffixed> parse_suffix(std::string_view segment) {
  Suffixed out;
  std::string_view rest = segment;
  if (auto hash = rest.rfind('#'); hash != std::string_view::npos) {
    out.field = std::string(rest.substr(hash + 1));
    out.has_field = true;
    rest = rest.substr(0, hash);
  }
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    out.view = std::string(rest.substr(at + 1));
    out.has_view = true;
    rest = rest.substr(0, at);
  }
  if (!out.has_view && !out.has_field) return std::nullopt;
  if (rest.empty()) return std::nullopt;
  out.name = std::string(rest);
  return out;
}

// The API path of NAME@VIEW below an API mount: NAME/VIEW, except NAME@data,
// which is the endpoint NAME itself where NAME is also a directory (Vault's
// create-by-POST collections: identity/group-alias, identity/entity...), as
// a KV secret that shares its name with a folder is NAME@data.
std::string api_view_path(std::string prefix, const Suffixed& s) {
  std::string out = std::move(prefix) + s.name;
  if (s.has_view && s.view != "data") out += "/" + s.view;
  return out;
}

// One top-level key of an object, raw: a string without quotes or newline,
// anything else as compact JSON.
Result<SecureString> field_of(const Json& object, std::string_view field) {
  if (!object.is_object()) return Error::not_found("not an object: no field \"" + std::string(field) + "\"");
  auto it = object.find(field);
  if (it == object.end()) return Error::not_found("no field \"" + std::string(field) + "\"");
  if (it->is_string()) return it->get_ref<const SecureString&>();
  return it->dump();
}

Result<SecureString> render(const Json& value, const Suffixed* suffix) {
  if (suffix != nullptr && suffix->has_field) return field_of(value, suffix->field);
  return render_pretty(value);
}

SecureString reply_of(const Response& resp) {
  if (resp.warnings.empty()) {
    if (resp.data.is_object() && resp.data.empty()) return {};
    return render_pretty(resp.data);
  }
  // Vault's warnings, beside the reply's fields as its HTTP replies carry
  // them: {"auth": {...}, "warnings": ["Policy \"nope\" does not exist"]}.
  Json out = resp.data.is_object() ? resp.data : Json::object();
  Json list = Json::array();
  for (const auto& w : resp.warnings) list.push_back(to_secure(w));
  out["warnings"] = std::move(list);
  return render_pretty(out);
}

// Sys paths that are directories whatever the store holds.
bool is_static_sys_dir(std::string_view rel) {
  return rel.empty() || rel == "mounts" || rel == "auth" || rel == "namespaces" || rel == "policies" ||
         rel == "policies/acl" || rel == "audit" || rel == "audit-hash" || rel == "config" || rel == "locked-users";
}

// sys/locked-users/ACCESSOR and .../ACCESSOR/unlock: folders of the mounts
// with locked users and their users; .../unlock/ALIAS: the file whose write
// unlocks ALIAS. The report itself (Vault's GET sys/locked-users) is
// sys/locked-users@data, the folder holding the name.
bool is_locked_users_dir(std::string_view rel) {
  if (!rel.starts_with("locked-users/") || rel.size() == 13) return false;
  std::string_view below = rel.substr(13);
  auto slash = below.find('/');
  return slash == std::string_view::npos || below.substr(slash + 1) == "unlock";
}
bool is_unlock_file(std::string_view rel) {
  if (!rel.starts_with("locked-users/")) return false;
  std::string_view below = rel.substr(13);
  auto slash = below.find('/');
  return slash != std::string_view::npos && slash > 0 && below.substr(slash + 1).starts_with("unlock/") &&
         below.size() > slash + 8 && below.find('/', slash + 8) == std::string_view::npos;
}

// sys/mounts/... and sys/auth/...: mount tables, whose paths may nest.
bool is_mount_table_path(std::string_view rel) { return rel.starts_with("mounts/") || rel.starts_with("auth/"); }

// sys/config/ holds settings files, not a listable API directory.
constexpr std::string_view kSysConfigFiles[] = {"group-policy-application"};

// sys/policies/acl/NAME: the file is the policy text itself (SPEC §1).
bool is_policy_file(std::string_view rel) {
  return rel.starts_with("policies/acl/") && rel.size() > 13 && rel.find('/', 13) == std::string_view::npos;
}

// sys file path → sys API path: "mounts/m@tune" → "mounts/m/tune" (also auth/).
std::string sys_api_rel(std::string_view rel) {
  if (rel == "locked-users@data") return "locked-users";
  if (is_mount_table_path(rel) && rel.ends_with("@tune")) {
    return std::string(rel.substr(0, rel.size() - 5)) + "/tune";
  }
  return std::string(rel);
}

// sys files that accept writes but have nothing to show.
bool is_write_only_sys(std::string_view rel) {
  return rel == "seal" || rel == "capabilities" || rel == "capabilities-self" || rel == "capabilities-accessor" ||
         rel.starts_with("audit-hash/") || is_unlock_file(rel);
}

// auth/token/ files (below "token/"): lookup-self is read; the rest are
// write-with-reply control files; accessors/ is a directory.
constexpr std::string_view kTokenFiles[] = {"create",         "create-orphan",   "lookup",       "lookup-accessor",
                                            "lookup-self",    "renew",           "renew-accessor", "renew-self",
                                            "revoke",         "revoke-accessor", "revoke-orphan", "revoke-self"};
bool is_token_file(std::string_view name) {
  for (std::string_view f : kTokenFiles) {
    if (f == name) return true;
  }
  return false;
}

// Endpoints whose write needs no body: `: > revoke-self`, `echo > create`.
bool body_optional(std::string_view api_rel) {
  return api_rel == "token/create" || api_rel == "token/create-orphan" || api_rel == "token/renew-self" ||
         api_rel == "token/revoke-self" || api_rel == "token/lookup-self";
}

bool grants_something(std::uint32_t bits) { return bits != 0 && (bits & policy::cap::kDeny) == 0; }

Status to_status(const Result<Response>& r) {
  if (r.ok()) return {};
  return r.error();
}

// Versions given as a JSON list, a number, or "1,2" from a key=value body.
Result<Json> versions_body(Json body) {
  auto it = body.find(std::string_view("versions"));
  if (it == body.end()) return body;
  if (it->is_string()) {
    Json list = Json::array();
    const SecureString& s = it->get_ref<const SecureString&>();
    std::size_t pos = 0;
    while (pos <= s.size()) {
      std::size_t comma = s.find(',', pos);
      std::string item(s.substr(pos, comma == SecureString::npos ? SecureString::npos : comma - pos));
      if (!all_digits(item)) return Error::invalid("versions must be a list of version numbers");
      COFFER_TRY(std::int64_t version, fields::parse_count(item, "version"));
      list.push_back(version);
      if (comma == SecureString::npos) break;
      pos = comma + 1;
    }
    *it = std::move(list);
  } else if (it->is_number_integer()) {
    *it = Json::array({*it});
  }
  return body;
}

}  // namespace

FileView::FileView(Core& core) : core_(core), epoch_(Clock::now()) {}

// ------------------------------------------------------- change notification

std::uint64_t FileView::add_change_listener(ChangeListener listener) {
  std::lock_guard lock(listeners_mu_);
  const std::uint64_t id = next_listener_++;
  listeners_.emplace_back(id, std::move(listener));
  return id;
}

void FileView::remove_change_listener(std::uint64_t id) {
  std::lock_guard lock(listeners_mu_);
  std::erase_if(listeners_, [id](const auto& entry) { return entry.first == id; });
}

bool FileView::cacheable(std::string_view path) const {
  const auto kind = locate(path).kind;
  return kind == Kind::Kv || kind == Kind::Namespace || kind == Kind::MountPrefix;
}

void FileView::notify(const Change& change) const {
  std::lock_guard lock(listeners_mu_);
  for (const auto& [id, listener] : listeners_) listener(change);
}

namespace {

// Only a KV secret's own files change when one is written or removed; any
// other write (policies, tokens, identity, mounts, namespaces, seal) may
// change what anyone sees.
Change change_of(FileView::Located::Kind kind, std::string_view path) {
  if (kind == FileView::Located::Kind::Kv) return Change{std::string(path), false};
  return Change{{}, true};
}

}  // namespace

Result<SecureString> FileView::write(const Caller& caller, std::string_view path, std::string_view body,
                                     WriteMode mode, SecureString* issued) {
  auto out = write_unnotified(caller, path, body, mode, issued);
  if (out.ok()) notify(change_of(locate(path).kind, path));
  return out;
}

Status FileView::remove(const Caller& caller, std::string_view path) {
  const auto kind = locate(path).kind;  // before: the secret is gone after
  auto st = remove_unnotified(caller, path);
  if (st.ok()) notify(change_of(kind, path));
  return st;
}

Status FileView::make_dir(const Caller& caller, std::string_view path) {
  auto st = make_dir_unnotified(caller, path);
  if (st.ok()) notify(Change{{}, true});
  return st;
}

Status FileView::remove_dir(const Caller& caller, std::string_view path) {
  auto st = remove_dir_unnotified(caller, path);
  if (st.ok()) notify(Change{{}, true});
  return st;
}

Status FileView::may_touch(const Caller& caller, const std::string& abs_path) const {
  COFFER_TRY(auto bits, core_.impl().capability_bits(caller.token, abs_path));
  if (!grants_something(bits)) return Error::denied();
  return {};
}

Result<bool> FileView::visible(const Caller& caller, const std::string& abs_dir) const {
  auto seen = core_.impl().may_see(caller.token, abs_dir);
  if (seen.ok() && *seen) return true;
  // No token, or a dead one, sees nothing; a sealed store answers sealed.
  if (!seen.ok() && seen.error().code != ErrorCode::PermissionDenied) return std::move(seen).error();
  return leads_to_login(abs_dir);
}

bool FileView::leads_to_login(const std::string& abs_dir) const {
  // Logins answer without a token (Vault's unauthenticated paths), so the
  // directories on the way to one are no secret: a login only reveals the
  // namespace and method it is made in, as in Vault.
  auto has_logins = [](const MountEntry& e) {
    return auth::is_login_path(e.type, "login") || auth::is_login_path(e.type, "login/x");
  };
  Core::Impl& impl = core_.impl();
  std::shared_lock lock(impl.mu);
  if (impl.barrier.sealed() || !impl.router.loaded()) return false;
  Route route = impl.router.resolve(impl.router.root(), abs_dir);
  if (!strip_slashes(route.rest).empty()) {
    // Below a namespace: only its own auth methods' login paths lie there.
    for (const auto& [mpath, mount] : route.ns->mounts) {
      if (!mpath.starts_with("auth/") || !has_logins(mount->entry)) continue;
      if ((route.ns->record.path + mpath + "login/").starts_with(abs_dir)) return true;
    }
    return false;
  }
  // A namespace: any login method in it or a namespace below it.
  std::vector<const NamespaceNode*> todo{route.ns};
  while (!todo.empty()) {
    const NamespaceNode* ns = todo.back();
    todo.pop_back();
    for (const auto& [mpath, mount] : ns->mounts) {
      if (mpath.starts_with("auth/") && has_logins(mount->entry)) return true;
    }
    for (const auto& [name, child] : ns->children) todo.push_back(child.get());
  }
  return false;
}

Status FileView::reveal(const Caller& caller, std::string_view path, const Located& at) const {
  std::string dir;  // what a caller must see at or below for the answer to be told
  switch (at.kind) {
    case Kind::Sealed: return {};
    case Kind::Missing:
    case Kind::Namespace:
    case Kind::MountPrefix: dir = std::string(strip_slashes(path)); break;
    case Kind::Kv:
    case Kind::Api:
      if (!at.rel.empty()) return {};  // the backend's ACL check answers
      dir = at.ns_path + at.mount_path;
      break;
    case Kind::Auth:
      // auth/ and auth/token/ are in every namespace; any other name here
      // is no auth method at all.
      dir = at.rel.empty() || at.rel == "token" || at.rel.starts_with("token/") ? at.ns_path
                                                                                : std::string(strip_slashes(path));
      break;
    case Kind::Sys: dir = at.ns_path; break;  // sys/ is in every namespace
  }
  if (dir.empty()) return {};  // the root the mount shows
  if (dir.back() != '/') dir.push_back('/');
  COFFER_TRY(bool shown, visible(caller, dir));
  if (!shown) return Error::denied();
  return {};
}

Result<Response> FileView::call(const Caller& caller, Operation op, std::string path, Json data) const {
  Request req;
  req.op = op;
  req.path = std::move(path);
  req.data = std::move(data);
  req.token = caller.token;
  req.uses = caller.uses;
  return core_.handle(req);
}

FileView::Located FileView::locate(std::string_view raw) const {
  std::string_view path = strip_slashes(raw);
  Core::Impl& impl = core_.impl();
  std::shared_lock lock(impl.mu);
  Located at;
  if (impl.barrier.sealed() || !impl.router.loaded()) {
    // A sealed store shows only what answers while sealed.
    if (path.empty()) {
      at.kind = Kind::Namespace;
      at.entries = {{"sys", NodeKind::Directory}};
    } else if (path == "sys" || path.starts_with("sys/")) {
      at.kind = Kind::Sys;
      at.rel = path.size() > 4 ? std::string(path.substr(4)) : std::string{};
    } else {
      at.kind = Kind::Sealed;
    }
    return at;
  }
  Router& router = impl.router;
  Route route = router.resolve(router.root(), path);
  at.ns_path = route.ns->record.path;
  std::string_view rest = strip_slashes(route.rest);
  if (rest.empty()) {
    at.kind = Kind::Namespace;
    for (const auto& [name, child] : route.ns->children) at.entries.push_back({name, NodeKind::Directory});
    for (const auto& [mpath, mount] : route.ns->mounts) {
      at.entries.push_back({mpath.substr(0, mpath.find('/')), NodeKind::Directory});
    }
    at.entries.push_back({"auth", NodeKind::Directory});
    return at;
  }
  if (route.mount) {
    const MountEntry& e = route.mount->entry;
    at.rel = std::string(strip_slashes(route.rel));
    if (e.type == "system") {
      at.kind = Kind::Sys;
    } else if (e.type == "kv") {
      at.kind = Kind::Kv;
      at.mount_path = e.path;
      at.kv_version = e.kv_version();
    } else if (e.type == "token") {
      at.kind = Kind::Auth;
      at.rel = "token" + (at.rel.empty() ? std::string{} : "/" + at.rel);
    } else {
      at.kind = Kind::Api;
      at.mount_path = e.path;
      at.mount_type = e.type;
    }
    return at;
  }
  if (rest == "auth" || rest.starts_with("auth/")) {
    at.kind = Kind::Auth;
    at.rel = rest.size() > 5 ? std::string(rest.substr(5)) : std::string{};
    if (at.rel.empty()) {
      // auth/: the token store and every auth method mounted here.
      at.entries.push_back({"token", NodeKind::Directory});
      for (auto it = route.ns->mounts.lower_bound("auth/");
           it != route.ns->mounts.end() && it->first.starts_with("auth/"); ++it) {
        std::string_view below = std::string_view(it->first).substr(5);
        at.entries.push_back({std::string(below.substr(0, below.find('/'))), NodeKind::Directory});
      }
    } else if (at.rel != "token" && !at.rel.starts_with("token/") &&
               Router::has_mount_below(*route.ns, std::string(rest) + "/")) {
      // auth/a/ when an auth method is mounted at auth/a/b/.
      at.kind = Kind::MountPrefix;
      std::string prefix = std::string(rest) + "/";
      for (auto it = route.ns->mounts.lower_bound(prefix);
           it != route.ns->mounts.end() && it->first.starts_with(prefix); ++it) {
        std::string_view below = std::string_view(it->first).substr(prefix.size());
        at.entries.push_back({std::string(below.substr(0, below.find('/'))), NodeKind::Directory});
      }
    }
    return at;
  }
  std::string prefix = std::string(rest) + "/";
  if (Router::has_mount_below(*route.ns, prefix)) {
    at.kind = Kind::MountPrefix;
    for (auto it = route.ns->mounts.lower_bound(prefix);
         it != route.ns->mounts.end() && it->first.starts_with(prefix); ++it) {
      std::string_view below = std::string_view(it->first).substr(prefix.size());
      at.entries.push_back({std::string(below.substr(0, below.find('/'))), NodeKind::Directory});
    }
  }
  return at;
}

// Sorted, without duplicates (a namespace's mounts "a/x/" and "a/y/" both give "a").
static std::vector<DirEntry> tidy(std::vector<DirEntry> entries) {
  auto by_name = [](const auto& a, const auto& b) { return a.name < b.name; };
  // Storage lists come sorted already; sorting them again was a fifth of `ls`.
  if (!std::is_sorted(entries.begin(), entries.end(), by_name)) std::sort(entries.begin(), entries.end(), by_name);
  entries.erase(std::unique(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.name == b.name; }),
                entries.end());
  return entries;
}

// ---------------------------------------------------------------- public API

Result<NodeInfo> FileView::stat(const Caller& caller, std::string_view path) {
  Located at = locate(path);
  COFFER_TRY_STATUS(reveal(caller, path, at));
  auto info = stat_located(caller, path, at);
  if (!info.ok() && info.error().code == ErrorCode::PermissionDenied &&
      (at.kind == Kind::Kv || at.kind == Kind::Api || at.kind == Kind::Sys) &&
      check_access(caller, path, NodeKind::File, /*read=*/false, /*write=*/true).ok()) {
    // Write-only (create or update without read): an empty file to write
    // into, whether or not something is stored there (SPEC §4).
    return NodeInfo{NodeKind::File, 0, epoch_};
  }
  return info;
}

Result<NodeInfo> FileView::stat_located(const Caller& caller, std::string_view path, const Located& at) {
  switch (at.kind) {
    case Kind::Missing: return Error::not_found("no such file or directory");
    case Kind::Sealed: return Error::sealed();
    case Kind::Namespace:
    case Kind::MountPrefix: return NodeInfo{NodeKind::Directory, 0, epoch_};
    case Kind::Api: return stat_api(caller, at);
    case Kind::Auth: {
      if (at.rel.empty() || at.rel == "token") return NodeInfo{NodeKind::Directory, 0, epoch_};
      if (at.rel == "token/accessors") {
        COFFER_TRY(auto bits, core_.impl().capability_bits(caller.token, at.ns_path + "auth/token/accessors/"));
        if (!grants_something(bits)) return Error::denied();
        return NodeInfo{NodeKind::Directory, 0, epoch_};
      }
      COFFER_TRY(auto content, read(caller, path));
      return NodeInfo{NodeKind::File, content.size(), epoch_};
    }
    case Kind::Sys: {
      if (is_static_sys_dir(at.rel)) return NodeInfo{NodeKind::Directory, 0, epoch_};
      if (is_locked_users_dir(at.rel)) {
        COFFER_TRY_STATUS(to_status(call(caller, Operation::List, at.ns_path + "sys/" + at.rel + "/")));
        return NodeInfo{NodeKind::Directory, 0, epoch_};
      }
      auto content = read(caller, path);
      if (content.ok()) return NodeInfo{NodeKind::File, content->size(), epoch_};
      if (content.error().code == ErrorCode::NotFound && is_mount_table_path(at.rel)) {
        auto listing = call(caller, Operation::List, at.ns_path + "sys/" + at.rel + "/");
        if (listing.ok() && !listing->data["keys"].empty()) return NodeInfo{NodeKind::Directory, 0, epoch_};
      }
      return std::move(content).error();
    }
    case Kind::Kv: return stat_kv_remembered(caller, path, at);
  }
  return Error::internal("unreachable");
}

Result<std::vector<DirEntry>> FileView::list(const Caller& caller, std::string_view path) {
  Located at = locate(path);
  COFFER_TRY_STATUS(reveal(caller, path, at));
  switch (at.kind) {
    case Kind::Missing: return Error::not_found("no such directory");
    case Kind::Sealed: return Error::sealed();
    case Kind::Namespace:
    case Kind::MountPrefix: {
      // Only what the caller has some capability at or below (SPEC §4). A
      // sealed store shows its sys/ to everyone (seal-status, unseal).
      if (core_.sealed()) return tidy(std::move(at.entries));
      std::string dir = std::string(strip_slashes(path));
      if (!dir.empty()) dir.push_back('/');
      std::vector<DirEntry> shown;
      for (auto& e : tidy(std::move(at.entries))) {
        COFFER_TRY(bool visible, core_.impl().may_see(caller.token, dir + e.name + "/"));
        if (visible) shown.push_back(std::move(e));
      }
      return shown;
    }
    case Kind::Api: return list_api(caller, at);
    case Kind::Auth: {
      if (at.rel.empty()) {
        std::string dir = std::string(strip_slashes(path)) + "/";
        std::vector<DirEntry> shown;
        for (auto& e : tidy(std::move(at.entries))) {
          COFFER_TRY(bool visible, core_.impl().may_see(caller.token, dir + e.name + "/"));
          if (visible || e.name == "token") shown.push_back(std::move(e));
        }
        return shown;
      }
      if (at.rel == "token") {
        std::vector<DirEntry> out{{"accessors", NodeKind::Directory}};
        for (std::string_view f : kTokenFiles) out.push_back({std::string(f), NodeKind::File});
        return tidy(std::move(out));
      }
      if (at.rel == "token/accessors") {
        COFFER_TRY(auto resp, call(caller, Operation::List, at.ns_path + "auth/token/accessors/"));
        std::vector<DirEntry> out;
        for (const Json& key : resp.data["keys"]) out.push_back({key.get<std::string>(), NodeKind::File});
        return tidy(std::move(out));
      }
      if (at.rel.starts_with("token/") && is_token_file(std::string_view(at.rel).substr(6))) {
        return Error{ErrorCode::NotDirectory, "not a directory"};
      }
      return Error::not_found("no such auth path");
    }
    case Kind::Sys: {
      if (!is_static_sys_dir(at.rel) && !is_mount_table_path(at.rel) && !is_locked_users_dir(at.rel)) {
        return Error{ErrorCode::NotDirectory, "not a directory"};
      }
      if (at.rel == "config") {
        std::vector<DirEntry> out;
        for (std::string_view f : kSysConfigFiles) out.push_back({std::string(f), NodeKind::File});
        return out;
      }
      COFFER_TRY(auto resp, call(caller, Operation::List, at.ns_path + "sys/" + at.rel + "/"));
      std::vector<DirEntry> out;
      for (const Json& key : resp.data["keys"]) {
        std::string name = key.get<std::string>();
        bool dir = !name.empty() && name.back() == '/';
        if (dir) name.pop_back();
        // sys/namespaces lists namespaces as files (their records).
        out.push_back({name, dir && at.rel != "namespaces" ? NodeKind::Directory : NodeKind::File});
      }
      if (out.empty() && !is_static_sys_dir(at.rel)) return Error::not_found("no such directory");
      return tidy(std::move(out));
    }
    case Kind::Kv: return list_kv(caller, at);
  }
  return Error::internal("unreachable");
}

Result<SecureString> FileView::read(const Caller& caller, std::string_view path) {
  Located at = locate(path);
  COFFER_TRY_STATUS(reveal(caller, path, at));
  switch (at.kind) {
    case Kind::Missing: return Error::not_found("no such file");
    case Kind::Sealed: return Error::sealed();
    case Kind::Namespace:
    case Kind::MountPrefix: return Error{ErrorCode::IsDirectory, "is a directory"};
    case Kind::Api: return read_api(caller, at);
    case Kind::Auth: {
      if (at.rel.empty() || at.rel == "token" || at.rel == "token/accessors") {
        return Error{ErrorCode::IsDirectory, "is a directory"};
      }
      std::string_view name = at.rel.starts_with("token/") ? std::string_view(at.rel).substr(6) : std::string_view{};
      auto hash = name.find('#');
      std::string_view base = name.substr(0, hash);
      if (!is_token_file(base)) return Error::not_found("no such auth path");
      if (base == "lookup-self") {
        COFFER_TRY(auto resp, call(caller, Operation::Read, at.ns_path + "auth/token/lookup-self"));
        if (hash != std::string_view::npos) return field_of(resp.data, name.substr(hash + 1));
        return render_pretty(resp.data);
      }
      if (hash != std::string_view::npos) return Error::not_found("a control file has no fields");
      COFFER_TRY_STATUS(may_touch(caller, at.ns_path + "auth/token/" + std::string(base)));
      return SecureString{};
    }
    case Kind::Sys: {
      if (is_static_sys_dir(at.rel)) return Error{ErrorCode::IsDirectory, "is a directory"};
      if (at.rel == "seal") return SecureString{};  // answers while sealed too
      if (is_write_only_sys(at.rel)) {
        // Authorised, so stat tells nothing to the denied.
        COFFER_TRY_STATUS(may_touch(caller, at.ns_path + "sys/" + at.rel));
        return SecureString{};
      }
      if (is_policy_file(at.rel)) {
        COFFER_TRY(auto resp, call(caller, Operation::Read, at.ns_path + "sys/" + at.rel));
        return field_of(resp.data, "policy");
      }
      auto literal = call(caller, Operation::Read, at.ns_path + "sys/" + sys_api_rel(at.rel));
      if (literal.ok()) return render_pretty(literal->data);
      // NAME#KEY: one field of any JSON file.
      auto hash = at.rel.rfind('#');
      const ErrorCode literal_code = literal.error().code;
      if ((literal_code != ErrorCode::NotFound && literal_code != ErrorCode::PermissionDenied &&
           literal_code != ErrorCode::Unsupported) ||
          hash == std::string::npos || hash == 0) {
        return std::move(literal).error();
      }
      COFFER_TRY(auto whole, call(caller, Operation::Read, at.ns_path + "sys/" + sys_api_rel(at.rel.substr(0, hash))));
      return field_of(whole.data, std::string_view(at.rel).substr(hash + 1));
    }
    case Kind::Kv: return read_kv(caller, at);
  }
  return Error::internal("unreachable");
}

Result<SecureString> FileView::write_unnotified(const Caller& caller, std::string_view path, std::string_view body,
                                     WriteMode mode, SecureString* issued) {
  if (body.size() > kMaxBodyBytes) return Error::too_large("request body is larger than 1 MiB");
  Located at = locate(path);
  COFFER_TRY_STATUS(reveal(caller, path, at));
  switch (at.kind) {
    case Kind::Missing: return Error::not_found("no such file or directory");
    case Kind::Sealed: {
      return Error::sealed();
    }
    case Kind::Namespace:
    case Kind::MountPrefix: return Error{ErrorCode::IsDirectory, "is a directory"};
    case Kind::Api: {
      Json parsed = Json::object();
      if (body.find_first_not_of(" \t\r\n") != std::string_view::npos) {
        COFFER_TRY(parsed, parse_body(body));
      }
      return write_api(caller, at, std::move(parsed), mode, issued);
    }
    case Kind::Auth: {
      if (!at.rel.starts_with("token/") || !is_token_file(std::string_view(at.rel).substr(6))) {
        if (at.rel.empty() || at.rel == "token" || at.rel == "token/accessors") {
          return Error{ErrorCode::IsDirectory, "is a directory"};
        }
        return Error::not_found("no such auth path");
      }
      Json parsed = Json::object();
      if (!body_optional(at.rel) || body.find_first_not_of(" \t\r\n") != std::string_view::npos) {
        COFFER_TRY(parsed, parse_body(body));
      }
      COFFER_TRY(auto resp, call(caller, Operation::Update, at.ns_path + "auth/" + at.rel, std::move(parsed)));
      if (issued != nullptr && resp.issued_token) *issued = *resp.issued_token;
      return reply_of(resp);
    }
    case Kind::Sys: {
      if (is_static_sys_dir(at.rel)) return Error{ErrorCode::IsDirectory, "is a directory"};
      if (is_policy_file(at.rel)) {
        // The body is the policy itself (HCL, JSON or base64), not a request.
        COFFER_TRY(auto resp, call(caller, Operation::Update, at.ns_path + "sys/" + at.rel,
                                   Json{{"policy", SecureString(body)}}));
        return reply_of(resp);
      }
      Json parsed;
      std::string_view trimmed = body;
      while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == ' ')) trimmed.remove_suffix(1);
      if (at.rel == "unseal" && !trimmed.empty() && trimmed.find_first_of("={ \n") == std::string_view::npos) {
        // `echo SHARE > sys/unseal`: a bare share is the key.
        parsed = Json{{"key", SecureString(trimmed)}};
      } else if (trimmed.empty() && (at.rel == "seal" || at.rel == "init" || is_unlock_file(at.rel))) {
        parsed = Json::object();  // `: > sys/seal`, `echo > sys/init` or an unlock: no parameters
      } else {
        COFFER_TRY(parsed, parse_body(body));
      }
      Operation op = mode == WriteMode::Append ? Operation::Patch : Operation::Update;
      COFFER_TRY(auto resp, call(caller, op, at.ns_path + "sys/" + sys_api_rel(at.rel), std::move(parsed)));
      return reply_of(resp);
    }
    case Kind::Kv: {
      COFFER_TRY(Json parsed, parse_body(body));
      return write_kv(caller, at, std::move(parsed), mode);
    }
  }
  return Error::internal("unreachable");
}

bool FileView::is_complete(std::string_view path, std::string_view body) const {
  // A policy is text, not a request: its end is known only at close (a
  // newline inside it proves nothing).
  std::string_view p = strip_slashes(path);
  if (auto at = p.find("sys/policies/acl/"); at != std::string_view::npos && (at == 0 || p[at - 1] == '/')) {
    return false;
  }
  return body_is_complete(body);
}

namespace {

// A request body (JSON or key=value, as parse_body reads it) that no
// further bytes can make valid. Messages never quote the body.
Status partial_body_error(std::string_view body) {
  if (!utf8::valid_prefix(body)) return Error::invalid("request body is not UTF-8 text");
  std::string_view text = body.substr(std::min(body.size(), body.find_first_not_of(" \t\r\n")));
  if (text.empty()) return {};
  if (text.front() == '[' || text.front() == '"') return Error::invalid("JSON body must be an object");
  if (text.front() == '{') {
    // The parser reads up to the byte it fails on; a failure caused by the
    // end of the text is past its last byte (more bytes may mend it), one
    // at or before the last byte is for good.
    // Nothing is kept (the callback drops every value), so no depth is built.
    try {
      const Json dropped =
          Json::parse(text.begin(), text.end(), [](int, Json::parse_event_t, Json&) { return false; });
      (void)dropped;
    } catch (const Json::parse_error& e) {
      if (e.byte <= text.size()) return Error::invalid("malformed JSON body");
    }
    return {};
  }
  if (text.find('\0') != std::string_view::npos) return Error::invalid("body must not contain NUL bytes");
  // key=value: the words before the last blank are whole (unless that blank
  // is escaped or quoted, which parse_body's own complaint shows).
  const std::size_t blank = text.find_last_of(" \t\r\n");
  if (blank == std::string_view::npos || blank == 0 || text[blank - 1] == '\\') return {};
  auto head = parse_body(text.substr(0, blank + 1));
  if (head.ok() || head.error().message.find("unbalanced") != std::string::npos) return {};
  return std::move(head).error();
}

// Policy text that no further bytes can make valid: not UTF-8, a NUL, or a
// text that parses whole and is refused (an unknown key or capability...).
// A text that does not parse yet may just be cut short.
Status partial_policy_error(std::string_view text, std::string_view name, std::string_view ns_path) {
  // The name is whole from the first byte: a bad one fails the first write.
  COFFER_TRY_STATUS(check_name_text(name, "policy name"));
  if (!utf8::valid_prefix(text) || text.find('\0') != std::string_view::npos) {
    return Error::invalid("policy text is not UTF-8 text");
  }
  auto doc = policy::hcl::parse(text);
  if (!doc.ok() || doc->items.empty()) return {};
  auto parsed = policy::parse_policy(policy::normalize_policy_name(name), text, ns_path);
  if (!parsed.ok()) return std::move(parsed).error();
  return {};
}

}  // namespace

Status FileView::check_partial(const Caller& caller, std::string_view path, std::string_view body) {
  Located at = locate(path);
  const bool policy_file = at.kind == Kind::Sys && is_policy_file(at.rel);
  bool field = false;
  if (auto suffix = parse_suffix(split_last(at.rel).second)) field = suffix->has_field;
  if (policy_file || (at.kind == Kind::Kv && !at.rel.empty() && !field)) {
    // A secret or policy the caller may not write fails at close anyway.
    auto st = check_access(caller, path, NodeKind::File, /*read=*/false, /*write=*/true);
    if (!st.ok() && st.error().code == ErrorCode::PermissionDenied) return st;
  }
  switch (at.kind) {
    case Kind::Sys:
      if (policy_file) return partial_policy_error(body, std::string_view(at.rel).substr(13), at.ns_path);
      if (at.rel == "unseal") return {};  // a bare share is no key=value body
      return partial_body_error(body);
    case Kind::Kv:
    case Kind::Api:
    case Kind::Auth: return partial_body_error(body);
    default: return {};  // nothing here takes a body: the write says so
  }
}

Status FileView::remove_unnotified(const Caller& caller, std::string_view path) {
  Located at = locate(path);
  COFFER_TRY_STATUS(reveal(caller, path, at));
  switch (at.kind) {
    case Kind::Missing: return Error::not_found("no such file");
    case Kind::Sealed: return Error::sealed();
    case Kind::Namespace:
    case Kind::MountPrefix:
    case Kind::Auth: return Error{ErrorCode::IsDirectory, "is a directory"};
    case Kind::Sys:
      if (is_static_sys_dir(at.rel)) return Error{ErrorCode::IsDirectory, "is a directory"};
      return to_status(call(caller, Operation::Delete, at.ns_path + "sys/" + sys_api_rel(at.rel)));
    case Kind::Kv: return remove_kv(caller, at);
    case Kind::Api: {
      if (at.rel.empty()) return Error{ErrorCode::IsDirectory, "is a directory"};
      COFFER_TRY(std::string api, api_path(caller, at, nullptr));
      return to_status(call(caller, Operation::Delete, std::move(api)));
    }
  }
  return Error::internal("unreachable");
}

Status FileView::make_dir_unnotified(const Caller& caller, std::string_view path) {
  std::string_view clean = strip_slashes(path);
  auto [parent_path, name] = split_last(clean);
  if (name.empty()) return Error::exists("the root exists");
  COFFER_TRY_STATUS(reveal(caller, clean, locate(clean)));
  if (locate(clean).kind != Kind::Missing) {
    // Something is there already (a namespace, mount, or a KV folder/secret).
    Located existing = locate(clean);
    if (existing.kind == Kind::Api && !existing.rel.empty()) {
      if (stat_api(caller, existing).ok()) return Error::exists("file exists");
      return Error::unsupported("directories here are made by the API, not by mkdir");
    }
    if (existing.kind != Kind::Kv || existing.rel.empty()) return Error::exists("file exists");
    // A folder may share its name with a secret (the secret is then NAME@data),
    // so only an existing folder makes mkdir fail.
    auto st = stat_kv(caller, existing);
    if (st.ok() && st->kind == NodeKind::Directory) return Error::exists("file exists");
    if (!st.ok() && st.error().code != ErrorCode::NotFound) return std::move(st).error();
    std::lock_guard lock(folders_mu_);
    folders_.insert(existing.ns_path + existing.mount_path + existing.rel + "/");
    folders_gen_.fetch_add(1, std::memory_order_acq_rel);
    return {};
  }
  Located parent = locate(parent_path);
  if (parent.kind == Kind::Namespace) {
    // mkdir in a namespace directory creates a child namespace.
    return to_status(call(caller, Operation::Update, parent.ns_path + "sys/namespaces/" + std::string(name)));
  }
  return Error::unsupported("mkdir is possible in a namespace directory or inside a kv mount");
}

Status FileView::remove_dir_unnotified(const Caller& caller, std::string_view path) {
  std::string_view clean = strip_slashes(path);
  Located at = locate(clean);
  COFFER_TRY_STATUS(reveal(caller, clean, at));
  switch (at.kind) {
    case Kind::Missing: return Error::not_found("no such directory");
    case Kind::Sealed: return Error::sealed();
    case Kind::Namespace: {
      if (at.ns_path.empty()) return Error::invalid("cannot remove the root namespace");
      if (strip_slashes(at.ns_path) != clean) return Error::not_found("no such directory");
      {
        Core::Impl& impl = core_.impl();
        std::shared_lock lock(impl.mu);
        NamespaceNode* ns = impl.router.find_namespace(impl.router.root(), at.ns_path);
        if (ns == nullptr) return Error::not_found("no such namespace");
        if (!ns->children.empty()) return Error::not_empty("namespace has child namespaces");
        for (const auto& [mpath, mount] : ns->mounts) {
          if (!mount->entry.builtin()) return Error::not_empty("namespace still has mount " + mpath);
        }
      }
      std::string parent = parent_namespace_path(at.ns_path);
      return to_status(call(caller, Operation::Delete,
                            parent + "sys/namespaces/" + std::string(namespace_name(at.ns_path))));
    }
    case Kind::Kv: {
      if (at.rel.empty()) return Error::invalid("a mount is removed with rm sys/mounts/PATH");
      std::string key = at.ns_path + at.mount_path + at.rel + "/";
      auto listing = list_kv(caller, at);
      if (listing.ok() && !listing->empty()) return Error::not_empty("directory not empty");
      // Only a caller who may list the folder removes it.
      if (!listing.ok() && listing.error().code != ErrorCode::NotFound) return std::move(listing).error();
      std::lock_guard lock(folders_mu_);
      folders_gen_.fetch_add(1, std::memory_order_acq_rel);
      if (folders_.erase(key) == 0) {
        return listing.ok() ? Status{} : Status(std::move(listing).error());
      }
      return {};
    }
    default: return Error::unsupported("this directory cannot be removed");
  }
}

// ----------------------------------------------------------------- api files

namespace {

// Auth method paths anyone may write without a token: logins ("login" for
// AppRole, "login/NAME" for userpass, as each method says).
// NAME@data on an API mount: a collection's create endpoint (api_view_path).
bool is_collection_endpoint(const FileView::Located& at) {
  auto suffix = parse_suffix(split_last(at.rel).second);
  return suffix && suffix->has_view && suffix->view == "data";
}

bool is_login_file(const FileView::Located& at) {
  return at.mount_path.starts_with("auth/") && auth::is_login_path(at.mount_type, at.rel);
}

// The directory that holds a method's login files (userpass's "login").
bool is_login_dir(const FileView::Located& at) {
  return at.mount_path.starts_with("auth/") && !at.rel.empty() && !auth::is_login_path(at.mount_type, at.rel) &&
         auth::is_login_path(at.mount_type, at.rel + "/x");
}

}  // namespace

bool FileView::is_login(std::string_view path) const { return is_login_file(locate(path)); }

Result<std::string> FileView::api_path(const Caller& caller, const Located& at, std::string* field) const {
  const std::string abs = at.ns_path + at.mount_path + at.rel;
  auto [dir, last] = split_last(at.rel);
  auto suffix = parse_suffix(last);
  if (!suffix) return abs;
  // A literal name always wins over suffix parsing.
  // A literal the caller may not read, or that cannot be read, does not
  // stand in the way: the suffixed path gets its own ACL check.
  auto literal = call(caller, Operation::Read, abs);
  if (literal.ok() || (literal.error().code != ErrorCode::NotFound && literal.error().code != ErrorCode::Unsupported &&
                       literal.error().code != ErrorCode::PermissionDenied)) {
    return abs;
  }
  if (suffix->has_field) {
    if (field == nullptr) return Error::unsupported("a field is read-only");
    *field = suffix->field;
  }
  return api_view_path(at.ns_path + at.mount_path + std::string(dir), *suffix);
}

Result<NodeInfo> FileView::stat_api(const Caller& caller, const Located& at) {
  if (at.rel.empty()) return NodeInfo{NodeKind::Directory, 0, epoch_};
  // A login endpoint is there for everyone, token or not.
  if (is_login_file(at)) return NodeInfo{NodeKind::File, 0, epoch_, /*login=*/true};
  if (is_login_dir(at)) return NodeInfo{NodeKind::Directory, 0, epoch_};
  std::string field;
  COFFER_TRY(std::string api, api_path(caller, at, &field));
  auto content = read_api(caller, at);
  if (content.ok()) return NodeInfo{NodeKind::File, content->size(), epoch_};
  const ErrorCode code = content.error().code;
  if (code == ErrorCode::IsDirectory) return NodeInfo{NodeKind::Directory, 0, epoch_};  // read_api listed it
  if (field.empty() && !is_collection_endpoint(at) && (code == ErrorCode::NotFound || code == ErrorCode::Unsupported)) {
    auto listing = call(caller, Operation::List, api + "/");
    if (listing.ok()) return NodeInfo{NodeKind::Directory, 0, epoch_};
  }
  // Endpoints that only take writes (role/r@secret-id) are empty files.
  if (code == ErrorCode::Unsupported) return NodeInfo{NodeKind::File, 0, epoch_};
  return std::move(content).error();
}

Result<std::vector<DirEntry>> FileView::list_api(const Caller& caller, const Located& at) {
  if (is_login_dir(at)) return std::vector<DirEntry>{};  // logins are not listed: any name may log in
  std::string dir = at.ns_path + at.mount_path + at.rel;
  if (!at.rel.empty()) dir.push_back('/');
  auto listing = call(caller, Operation::List, dir);
  if (!listing.ok()) {
    if (listing.error().code == ErrorCode::NotFound || listing.error().code == ErrorCode::Unsupported) {
      // A file, or nothing at all.
      auto read = call(caller, Operation::Read, dir.substr(0, dir.size() - 1));
      if (read.ok()) return Error{ErrorCode::NotDirectory, "not a directory"};
      if (at.rel.empty()) return std::vector<DirEntry>{};
    }
    return std::move(listing).error();
  }
  std::vector<DirEntry> out;
  const Json& keys = listing->data["keys"];
  if (keys.is_array()) {
    for (const Json& key : keys) {
      if (!key.is_string()) continue;
      std::string name = key.get<std::string>();
      bool is_dir = !name.empty() && name.back() == '/';
      if (is_dir) name.pop_back();
      if (name.empty() || name.find('/') != std::string::npos) continue;
      out.push_back({name, is_dir ? NodeKind::Directory : NodeKind::File});
    }
  }
  return tidy(std::move(out));
}

Result<SecureString> FileView::read_api(const Caller& caller, const Located& at) {
  if (at.rel.empty()) return Error{ErrorCode::IsDirectory, "is a directory"};
  if (is_login_file(at)) return SecureString{};
  if (is_login_dir(at)) return Error{ErrorCode::IsDirectory, "is a directory"};
  std::string field;
  COFFER_TRY(std::string api, api_path(caller, at, &field));
  auto resp = call(caller, Operation::Read, api);
  if (!resp.ok()) {
    if (is_collection_endpoint(at) && field.empty() &&
        (resp.error().code == ErrorCode::Unsupported || resp.error().code == ErrorCode::NotFound)) {
      return SecureString{};  // a create endpoint: written, its reply read from the same handle
    }
    if (resp.error().code == ErrorCode::Unsupported || resp.error().code == ErrorCode::NotFound) {
      auto listing = call(caller, Operation::List, api + "/");
      if (listing.ok()) return Error{ErrorCode::IsDirectory, "is a directory"};
    }
    // An endpoint that only takes writes reads as empty (its reply is read
    // from the handle that wrote).
    if (resp.error().code == ErrorCode::Unsupported && field.empty()) return SecureString{};
    return std::move(resp).error();
  }
  if (!field.empty()) return field_of(resp->data, field);
  return render_pretty(resp->data);
}

Result<SecureString> FileView::write_api(const Caller& caller, const Located& at, Json body, WriteMode mode,
                                         SecureString* issued) {
  if (at.rel.empty()) return Error{ErrorCode::IsDirectory, "is a directory"};
  std::string api;
  if (is_login_file(at)) {
    api = at.ns_path + at.mount_path + at.rel;  // no lookups on the way: the caller may have no token
  } else {
    COFFER_TRY(api, api_path(caller, at, nullptr));
  }
  Operation op = mode == WriteMode::Append ? Operation::Patch : Operation::Update;
  COFFER_TRY(auto resp, call(caller, op, std::move(api), std::move(body)));
  if (issued != nullptr && resp.issued_token) *issued = *resp.issued_token;
  return reply_of(resp);
}

// ------------------------------------------------------------------ kv files

namespace {

// API paths of a KV mount ("ns/secret/" + "data/" + rel for v2; no infix for v1).
std::string kv_path(const std::string& mount_abs, int version, std::string_view endpoint, std::string_view rel) {
  if (version == 1) return mount_abs + std::string(rel);
  return mount_abs + std::string(endpoint) + "/" + std::string(rel);
}

}  // namespace

bool FileView::has_folder(const std::string& absolute) const {
  std::lock_guard lock(folders_mu_);
  return folders_.contains(absolute);
}

// A `cat` asks for the same attributes twice (LOOKUP, then GETATTR for
// fstat), and each costs a folder probe and a decrypt. The answer is kept
// for the same token and path while nothing has changed since: no request
// that may change state has run (Core::generation), no mkdir/rmdir folder
// came or went, and at most kStatMemoFor has passed. The token is still
// checked each time, so a revoked or expired token gets nothing from it.
// Only kind, size and mtime are kept, never contents.
Result<NodeInfo> FileView::stat_kv_remembered(const Caller& caller, std::string_view path, const Located& at) {
  constexpr auto kStatMemoFor = std::chrono::milliseconds(500);
  constexpr std::size_t kStatMemoMax = 4096;
  const std::uint64_t gen = core_.generation();
  const std::uint64_t folders_gen = folders_gen_.load(std::memory_order_acquire);
  const auto now = std::chrono::steady_clock::now();
  std::string key(strip_slashes(path));
  {
    std::lock_guard lock(memo_mu_);
    if (auto it = stat_memo_.find(key); it != stat_memo_.end()) {
      const StatMemo& m = it->second;
      if (m.generation == gen && m.folders_generation == folders_gen && now - m.at < kStatMemoFor &&
          m.token == caller.token) {
        NodeInfo info = m.info;
        COFFER_TRY_STATUS(check_token(caller));
        return info;
      }
    }
  }
  auto info = stat_kv(caller, at);
  if (info.ok()) {
    std::lock_guard lock(memo_mu_);
    if (stat_memo_.size() >= kStatMemoMax) stat_memo_.clear();
    stat_memo_[std::move(key)] = StatMemo{caller.token, *info, gen, folders_gen, now};
  }
  return info;
}

Result<NodeInfo> FileView::stat_kv(const Caller& caller, const Located& at) {
  if (at.rel.empty()) return NodeInfo{NodeKind::Directory, 0, epoch_};
  const std::string mount_abs = at.ns_path + at.mount_path;
  // A folder wins over a secret of the same name (the secret is then NAME@data).
  // A mkdir folder is shown only to callers who may reach something below it.
  if (has_folder(mount_abs + at.rel + "/")) {
    bool reachable = false;
    for (const char* endpoint : {"data", "metadata"}) {
      COFFER_TRY(reachable, core_.impl().may_see(caller.token, kv_path(mount_abs, at.kv_version, endpoint, at.rel + "/")));
      if (reachable || at.kv_version == 1) break;
    }
    if (reachable) return NodeInfo{NodeKind::Directory, 0, epoch_};
  }
  // One key is enough to know a folder is there.
  auto listing = call(caller, Operation::List, kv_path(mount_abs, at.kv_version, "metadata", at.rel + "/"),
                      Json{{"limit", 1}});
  if (listing.ok()) return NodeInfo{NodeKind::Directory, 0, epoch_};

  auto content = read_kv(caller, at);
  if (content.ok()) {
    return NodeInfo{NodeKind::File, content->size(), epoch_};
  }
  if (content.error().code == ErrorCode::NotFound && at.kv_version == 2) {
    // A secret whose current version is deleted still exists (its metadata
    // does, and `ls` shows it): an empty file that cannot be read.
    auto meta = call(caller, Operation::Read, kv_path(mount_abs, 2, "metadata", at.rel));
    if (meta.ok()) return NodeInfo{NodeKind::File, 0, meta->modified.value_or(epoch_)};
  }
  if (!listing.ok() && listing.error().code == ErrorCode::PermissionDenied &&
      (content.error().code == ErrorCode::NotFound || content.error().code == ErrorCode::PermissionDenied)) {
    // A folder the caller may not list is still a directory to a caller
    // who may reach something below it: a config file names
    // kv/db/postgres#password, and its reader holds only read on that secret.
    // But a name the caller may write is a file: a write-only "drop box"
    // (create without read or list) must take `echo ... > name`.
    if (check_access(caller, at.ns_path + at.mount_path + at.rel, NodeKind::File, false, true).ok()) {
      return NodeInfo{NodeKind::File, 0, epoch_};
    }
    std::string below = at.kv_version == 2 ? mount_abs + "data/" + at.rel + "/" : mount_abs + at.rel + "/";
    COFFER_TRY(bool reachable, core_.impl().may_see(caller.token, below));
    if (reachable) return NodeInfo{NodeKind::Directory, 0, epoch_};
    return std::move(listing).error();
  }
  return std::move(content).error();
}

Result<std::vector<DirEntry>> FileView::list_kv(const Caller& caller, const Located& at) {
  const std::string mount_abs = at.ns_path + at.mount_path;
  std::string dir = at.rel.empty() ? std::string{} : at.rel + "/";
  std::vector<DirEntry> out;
  auto listing = call(caller, Operation::List, kv_path(mount_abs, at.kv_version, "metadata", dir));
  if (listing.ok()) {
    for (const Json& key : listing->data["keys"]) {
      std::string name = key.get<std::string>();
      bool is_dir = !name.empty() && name.back() == '/';
      if (is_dir) name.pop_back();
      out.push_back({name, is_dir ? NodeKind::Directory : NodeKind::File});
    }
  } else if (listing.error().code != ErrorCode::NotFound) {
    return std::move(listing).error();
  }
  // Folders made by mkdir directly below this one.
  std::string prefix = mount_abs + dir;
  bool self_exists = at.rel.empty() || listing.ok();
  {
    std::lock_guard lock(folders_mu_);
    for (auto it = folders_.lower_bound(prefix); it != folders_.end() && it->starts_with(prefix); ++it) {
      std::string_view below = std::string_view(*it).substr(prefix.size());
      if (below.empty()) {
        self_exists = true;
        continue;
      }
      out.push_back({std::string(below.substr(0, below.find('/'))), NodeKind::Directory});
      self_exists = true;
    }
  }
  if (!self_exists) {
    // Not a folder: a secret, or nothing.
    auto st = stat_kv(caller, at);
    if (st.ok()) return Error{ErrorCode::NotDirectory, "not a directory"};
    return std::move(listing).error();
  }
  // A name that is both a secret and a folder shows once, as the folder.
  auto order = [](const auto& a, const auto& b) {
    return a.name != b.name ? a.name < b.name : a.kind == NodeKind::Directory && b.kind != NodeKind::Directory;
  };
  if (!std::is_sorted(out.begin(), out.end(), order)) std::stable_sort(out.begin(), out.end(), order);
  out.erase(std::unique(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name == b.name; }),
            out.end());
  return out;
}

Result<SecureString> FileView::read_kv(const Caller& caller, const Located& at) {
  if (at.rel.empty()) return Error{ErrorCode::IsDirectory, "is a directory"};
  const std::string mount_abs = at.ns_path + at.mount_path;
  const int v = at.kv_version;

  // Literal name first.
  auto literal = call(caller, Operation::Read, kv_path(mount_abs, v, "data", at.rel));
  if (literal.ok()) return render(v == 2 ? literal->data["data"] : literal->data, nullptr);
  // Not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
  const auto dir_and_last = split_last(at.rel);
  const auto& dir = dir_and_last.first;
  auto suffix = parse_suffix(dir_and_last.second);
  // A literal name that is absent, or that the caller may not read (a rule
  // names "app", never "app#v"), gives way to the suffix reading.
  const ErrorCode literal_code = literal.error().code;
  if (!suffix || (literal_code != ErrorCode::NotFound && literal_code != ErrorCode::PermissionDenied)) {
    return std::move(literal).error();
  }
  // The suffix reading: NAME@VIEW, NAME#FIELD, NAME@VIEW#FIELD.
  auto by_suffix = [&]() -> Result<SecureString> {
    std::string rel = std::string(dir) + suffix->name;
    const std::string& view = suffix->view;
    if (suffix->has_view && view.empty()) {
      // `cat NAME@`: the views of NAME.
      Json views = Json::array();
      if (v == 2) {
        COFFER_TRY(auto meta, call(caller, Operation::Read, kv_path(mount_abs, 2, "metadata", rel)));
        for (const auto& [num, info] : meta.data["versions"].items()) views.push_back(num);
        for (const char* name : {"data", "delete", "destroy", "metadata", "subkeys", "undelete"}) views.push_back(name);
      } else {
        COFFER_TRY(auto data, call(caller, Operation::Read, kv_path(mount_abs, 1, "", rel)));
        (void)data;
        views.push_back("data");
      }
      return render(Json{{"views", views}}, suffix->has_field ? &*suffix : nullptr);
    }
    if (!suffix->has_view || view == "data") {
      COFFER_TRY(auto resp, call(caller, Operation::Read, kv_path(mount_abs, v, "data", rel)));
      return render(v == 2 ? resp.data["data"] : resp.data, &*suffix);
    }
    if (v == 1) return Error::not_found("kv v1 secrets have no view \"" + view + "\"");
    if (all_digits(view)) {
      COFFER_TRY(std::int64_t version, fields::parse_count(view, "version"));
      COFFER_TRY(auto resp, call(caller, Operation::Read, kv_path(mount_abs, 2, "data", rel),
                                 Json{{"version", version}}));
      return render(resp.data["data"], &*suffix);
    }
    if (view == "metadata" || view == "subkeys") {
      COFFER_TRY(auto resp, call(caller, Operation::Read, kv_path(mount_abs, 2, view, rel)));
      return render(resp.data, &*suffix);
    }
    if (view == "delete" || view == "undelete" || view == "destroy") {
      // Write-only endpoints: they exist while the secret's metadata does.
      COFFER_TRY(auto meta, call(caller, Operation::Read, kv_path(mount_abs, 2, "metadata", rel)));
      (void)meta;
      return SecureString{};
    }
    return Error::not_found("no view \"" + view + "\" (cat NAME@ lists them)");
};
  if (literal_code == ErrorCode::PermissionDenied) {
    auto via_suffix = by_suffix();
    // Denied stays denied when the suffix reading finds nothing either.
    if (!via_suffix.ok() && via_suffix.error().code == ErrorCode::NotFound) return std::move(literal).error();
    return via_suffix;
  }
  return by_suffix();
}

Result<SecureString> FileView::write_kv(const Caller& caller, const Located& at, Json body, WriteMode mode) {
  if (at.rel.empty()) return Error{ErrorCode::IsDirectory, "is a directory"};
  const std::string mount_abs = at.ns_path + at.mount_path;
  const int v = at.kv_version;
  auto [dir, last] = split_last(at.rel);
  auto suffix = parse_suffix(last);
  // A view only when no secret has the literal name.
  if (suffix && call(caller, Operation::Read, kv_path(mount_abs, v, "data", at.rel)).ok()) suffix.reset();
  std::string rel = suffix ? std::string(dir) + suffix->name : at.rel;
  std::string view = suffix && suffix->has_view ? suffix->view : "data";
  if (suffix && suffix->has_field) return Error::unsupported("a field is read-only: write the whole secret");

  Result<Response> resp = Error::internal("unset");
  if (v == 1) {
    if (view != "data") return Error::not_found("kv v1 secrets have no view \"" + view + "\"");
    if (mode == WriteMode::Append) return Error::unsupported("kv v1 has no patch: write the whole secret with >");
    resp = call(caller, Operation::Update, kv_path(mount_abs, 1, "", rel), std::move(body));
  } else if (view == "data") {
    // The body is the secret's data, or Vault's envelope {"data":{..},"options":{..}}
    // (for check-and-set) when it has exactly those two keys with object values.
    bool envelope = body.size() == 2 && body.contains(std::string_view("data")) &&
                    body.contains(std::string_view("options")) && body["data"].is_object() &&
                    body["options"].is_object();
    Json request = envelope ? std::move(body) : Json{{"data", std::move(body)}};
    Operation op = mode == WriteMode::Append ? Operation::Patch : Operation::Update;
    resp = call(caller, op, kv_path(mount_abs, 2, "data", rel), std::move(request));
  } else if (view == "metadata") {
    Operation op = mode == WriteMode::Append ? Operation::Patch : Operation::Update;
    resp = call(caller, op, kv_path(mount_abs, 2, "metadata", rel), std::move(body));
  } else if (view == "delete" || view == "undelete" || view == "destroy") {
    COFFER_TRY(Json versions, versions_body(std::move(body)));
    resp = call(caller, Operation::Update, kv_path(mount_abs, 2, view, rel), std::move(versions));
  } else if (all_digits(view)) {
    return Error::unsupported("a version is read-only: write the secret itself for a new version");
  } else {
    return Error::not_found("no view \"" + view + "\" (cat NAME@ lists them)");
  }
  if (!resp.ok()) return std::move(resp).error();
  forget_folders_above(mount_abs + rel);
  return reply_of(*resp);
}

void FileView::forget_folders_above(std::string_view secret_path) {
  // The secret now makes its folders; mkdir's placeholders have done their job.
  std::lock_guard lock(folders_mu_);
  for (auto slash = secret_path.find('/'); slash != std::string_view::npos;
       slash = secret_path.find('/', slash + 1)) {
    if (auto it = folders_.find(secret_path.substr(0, slash + 1)); it != folders_.end()) folders_.erase(it);
  }
}

Status FileView::remove_kv(const Caller& caller, const Located& at) {
  if (at.rel.empty()) return Error{ErrorCode::IsDirectory, "is a directory"};
  const std::string mount_abs = at.ns_path + at.mount_path;
  const int v = at.kv_version;
  auto [dir, last] = split_last(at.rel);
  auto suffix = parse_suffix(last);
  if (suffix) {
    auto literal = call(caller, Operation::Read, kv_path(mount_abs, v, "data", at.rel));
    if (literal.ok()) suffix.reset();
  }
  if (!suffix) {
    if (v == 2) {
      // rm of a secret soft-deletes its latest version; a missing one is ENOENT.
      COFFER_TRY(auto meta, call(caller, Operation::Read, kv_path(mount_abs, 2, "metadata", at.rel)));
      (void)meta;
    } else {
      COFFER_TRY(auto cur, call(caller, Operation::Read, kv_path(mount_abs, 1, "", at.rel)));
      (void)cur;
    }
    return to_status(call(caller, Operation::Delete, kv_path(mount_abs, v, "data", at.rel)));
  }
  std::string rel = std::string(dir) + suffix->name;
  if (suffix->has_field) return Error::unsupported("a field cannot be removed on its own");
  if (v == 2 && suffix->view == "metadata") {
    return to_status(call(caller, Operation::Delete, kv_path(mount_abs, 2, "metadata", rel)));
  }
  if (v == 2 && all_digits(suffix->view)) {
    COFFER_TRY(std::int64_t version, fields::parse_count(suffix->view, "version"));
    return to_status(call(caller, Operation::Update, kv_path(mount_abs, 2, "delete", rel),
                          Json{{"versions", Json::array({version})}}));
  }
  if (suffix->view == "data") return to_status(call(caller, Operation::Delete, kv_path(mount_abs, v, "data", rel)));
  return Error::unsupported("this view cannot be removed");
}

// ------------------------------------------------------------------- access(2)

Status FileView::check_token(const Caller& caller) {
  Core::Impl& impl = core_.impl();
  std::shared_lock lock(impl.mu);
  if (impl.barrier.sealed() || !impl.router.loaded()) return Error::sealed();
  COFFER_TRY(Auth auth, impl.authenticate(caller.token, Clock::now()));
  (void)auth;
  return {};
}

Status FileView::check_access(const Caller& caller, std::string_view path, NodeKind kind, bool read, bool write) {
  Located at = locate(path);
  COFFER_TRY_STATUS(reveal(caller, path, at));
  if (at.kind == Kind::Missing) return Error::not_found("no such file or directory");
  if (at.kind == Kind::Sealed) return Error::sealed();
  const bool dir = kind == NodeKind::Directory;
  Core::Impl& impl = core_.impl();
  auto bits_of = [&](const std::string& abs) { return impl.capability_bits(caller.token, abs); };
  auto need = [&](const std::string& abs, std::uint32_t wanted) -> Status {
    COFFER_TRY(auto bits, bits_of(abs));
    if (!grants_something(bits) || (wanted != 0 && (bits & wanted) == 0)) return Error::denied();
    return {};
  };
  constexpr std::uint32_t kWrite = policy::cap::kCreate | policy::cap::kUpdate | policy::cap::kPatch;
  // The last segment without its #field, and its @view.
  std::string rel = at.rel;
  std::string view;
  bool field = false;
  if (auto [head, last] = split_last(rel); auto suffix = parse_suffix(last)) {
    rel = std::string(head) + suffix->name;
    view = suffix->view;
    field = suffix->has_field;
  }
  std::string read_path;   // "" = visible to anyone who sees the tree
  std::string write_path;  // "" = never writable
  std::uint32_t read_caps = dir ? policy::cap::kList : policy::cap::kRead;
  switch (at.kind) {
    case Kind::Namespace:
    case Kind::MountPrefix: {
      std::string d = std::string(strip_slashes(path));
      if (read && !d.empty()) {
        COFFER_TRY(bool visible, impl.may_see(caller.token, d + "/"));
        if (!visible) return Error::denied();
      }
      if (!write) return check_token(caller);
      if (at.kind == Kind::MountPrefix) return Error::denied();
      return need(at.ns_path + "sys/namespaces/", kWrite);
    }
    case Kind::Kv: {
      const std::string mount = at.ns_path + at.mount_path;
      if (at.kv_version == 1) {
        read_path = write_path = mount + rel + (dir ? "/" : "");
      } else if (dir) {
        read_path = mount + "metadata/" + rel + (rel.empty() ? "" : "/");
        write_path = mount + "data/" + rel + (rel.empty() ? "" : "/");
      } else {
        const bool other_view = view == "metadata" || view == "delete" || view == "undelete" || view == "destroy";
        read_path = write_path = mount + (other_view ? view : std::string("data")) + "/" + rel;
      }
      break;
    }
    case Kind::Sys: {
      if (dir && at.rel.empty()) {
        read_path = "";
        write_path = "";
      } else {
        read_path = write_path = at.ns_path + "sys/" + sys_api_rel(at.rel) + (dir ? "/" : "");
        if (!dir && is_write_only_sys(at.rel)) read_caps = 0;
      }
      break;
    }
    case Kind::Auth: {
      if (at.rel.empty() || at.rel == "token") {
        read_path = "";
      } else {
        read_path = write_path = at.ns_path + "auth/" + at.rel + (dir ? "/" : "");
        if (!dir && at.rel != "token/lookup-self") read_caps = 0;  // control files: any capability
      }
      break;
    }
    default: {
      // Any other mount (identity/, auth methods): below a namespace the
      // file path is the API path, a view NAME@V being NAME/V.
      auto [head, last] = split_last(strip_slashes(path));
      std::string abs(head);
      if (auto suffix = parse_suffix(last)) {
        abs = api_view_path(std::move(abs), *suffix);
      } else {
        abs += last;
      }
      const std::string_view below_ns = std::string_view(abs).substr(std::min(abs.size(), at.ns_path.size()));
      if (below_ns.starts_with("auth/") && below_ns.find("/login") != std::string_view::npos) {
        // Logins answer everyone, token or not.
        return {};
      }
      read_path = write_path = abs + (dir ? "/" : "");
      break;
    }
  }
  if (read) {
    if (read_path.empty()) {
      COFFER_TRY_STATUS(check_token(caller));
    } else {
      COFFER_TRY_STATUS(need(read_path, read_caps));
    }
  }
  if (write) {
    if (write_path.empty() || field) return Error::denied();
    COFFER_TRY_STATUS(need(write_path, kWrite));
  }
  if (!read && !write) COFFER_TRY_STATUS(check_token(caller));
  return {};
}

}  // namespace engine
