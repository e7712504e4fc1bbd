// SPDX-License-Identifier: MPL-2.0
// File paths → Vault API requests. Every access to data goes through
// Core::handle, so it is authorised like any API request; only the shape of
// the tree (which namespaces and mounts exist) is read, from the core's
// immutable namespace snapshot (Core::namespaces), holding no core lock.
//
// This file locates a path, checks its answer may be told (reveal), and
// hands the five verbs to the kind of file found there (file_kind.hpp: one
// .cpp per kind); mkdir, rmdir, access(2) and partial writes are answered
// here.
#include "engine/fileview/file_view.hpp"

#include <algorithm>
#include <mutex>

#include "engine/auth/auth_method.hpp"
#include "engine/common/names.hpp"
#include "engine/common/utf8.hpp"
#include "engine/core.hpp"
#include "engine/fileview/body.hpp"
#include "engine/fileview/events.hpp"
#include "engine/fileview/file_kind.hpp"
#include "engine/namespace/namespace.hpp"
#include "engine/policy/hcl.hpp"
#include "engine/policy/policy.hpp"

namespace engine {

namespace fileview {

struct Kinds {
  Kinds(ViewState& state, FileView& view) : tree(state), sys(state), token(state), api(state), kv(state, view) {}
  TreeFiles tree;
  SysFiles sys;
  TokenFiles token;
  ApiFiles api;
  KvFiles kv;
};

}  // namespace fileview

using namespace fileview;  // NOLINT: the file view's own internals

namespace {

// What a committed change makes stale in the file tree. A KV secret named by
// the change: its files; secrets engines' and auth methods' other data, the
// audit table and lockout records: nothing a listener caches (KV files,
// namespace and mount directories, see cacheable()); anything else:
// everything.
std::optional<Change> view_change_of(const ChangeEvent& event) {
  switch (event.kind) {
    case ChangeKind::Secret:
      if (event.path.empty() || event.path.back() == '/') return Change{{}, true};  // which secret: unknown
      return Change{event.namespace_path + event.path, false, event.event_type};
    case ChangeKind::AuthData:
    case ChangeKind::Audit:
    case ChangeKind::Lockout: return std::nullopt;
    default: return Change{{}, true, event.event_type};
  }
}

}  // namespace

FileView::FileView(Core& core)
    : core_(core), state_(std::make_unique<ViewState>(core)), kinds_(std::make_unique<Kinds>(*state_, *this)) {
  changes_ = core_.subscribe([this](const ChangeEvent& event) {
    auto change = view_change_of(event);
    if (!change) return;
    if (change->everything && !changes_access_only(change->event_type)) {
      // One commit, told once. Token and identity changes are told each
      // (a commit rarely has more than one): poll(2) skips them, so they
      // must not hide a change of another kind in the same commit.
      if (everything_at_ == event.revision) return;
      everything_at_ = event.revision;
    }
    notify(*change);
  });
}

FileView::~FileView() = default;

FileKind& FileView::kind_of(const Located& at) const {
  switch (at.kind) {
    case Kind::Sys: return kinds_->sys;
    case Kind::Auth: return kinds_->token;
    case Kind::Api: return kinds_->api;
    case Kind::Kv: return kinds_->kv;
    case Kind::Missing:
    case Kind::Sealed:
    case Kind::Namespace:
    case Kind::MountPrefix: break;
  }
  return kinds_->tree;
}

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

bool FileView::names_node(std::string_view path) const {
  const auto kind = locate(path).kind;
  return kind != Kind::Missing && kind != Kind::Sealed;
}

void FileView::notify(const Change& change) const {
  std::lock_guard lock(listeners_mu_);
  for (const auto& [id, listener] : listeners_) listener(change);
}

Result<SecureString> FileView::write(const Caller& caller, std::string_view path, std::string_view body, WriteMode mode,
                                     SecureString* issued) {
  return write_unnotified(caller, path, body, mode, issued);  // the bus announces what it committed
}

Status FileView::remove(const Caller& caller, std::string_view path) { return remove_unnotified(caller, path); }

// A folder made or removed in a KV mount lives in the view only: no commit,
// so no bus change; the view says it itself. Namespaces are commits.
Status FileView::make_dir(const Caller& caller, std::string_view path) {
  const bool folder = locate(path).kind == Kind::Kv;
  auto st = make_dir_unnotified(caller, path);
  if (st.ok() && folder) notify(Change{{}, true});
  return st;
}

Status FileView::remove_dir(const Caller& caller, std::string_view path) {
  const bool folder = locate(path).kind == Kind::Kv;
  auto st = remove_dir_unnotified(caller, path);
  if (st.ok() && folder) notify(Change{{}, true});
  return st;
}

Result<bool> FileView::visible(const Caller& caller, const std::string& abs_dir) const {
  auto seen = core_.may_see(caller.token, abs_dir);
  if (seen.ok() && *seen) return true;
  // No token, or a dead one, sees nothing; a sealed store answers sealed.
  if (!seen.ok() && seen.error().code != ErrorCode::PermissionDenied) return std::move(seen).error();
  return leads_to_login(abs_dir);
}

bool FileView::leads_to_login(const std::string& abs_dir) const {
  // Logins answer without a token (Vault's unauthenticated paths), so the
  // directories on the way to one are no secret: a login only reveals the
  // namespace and method it is made in, as in Vault.
  auto has_logins = [](const MountView& e) {
    return auth::is_login_path(e.type, "login") || auth::is_login_path(e.type, "login/x");
  };
  const auto tree = core_.namespaces();
  if (tree->sealed) return false;
  SnapshotRoute route = tree->resolve(abs_dir);
  if (!strip_slashes(route.rest).empty()) {
    // Below a namespace: only its own auth methods' login paths lie there.
    for (const auto& [mpath, mount] : route.ns->mounts) {
      if (!mpath.starts_with("auth/") || !has_logins(mount)) continue;
      if ((route.ns->path + mpath + "login/").starts_with(abs_dir)) return true;
    }
    return false;
  }
  // A namespace: any login method in it or a namespace below it.
  std::vector<const NamespaceView*> todo{route.ns};
  while (!todo.empty()) {
    const NamespaceView* ns = todo.back();
    todo.pop_back();
    for (const auto& [mpath, mount] : ns->mounts) {
      if (mpath.starts_with("auth/") && has_logins(mount)) return true;
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

FileView::Located FileView::locate(std::string_view raw) const {
  std::string_view path = strip_slashes(raw);
  // The tree as it stands, held without any core lock.
  const auto tree = core_.namespaces();
  Located at;
  if (tree->sealed) {
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
  SnapshotRoute route = tree->resolve(path);
  at.ns_path = route.ns->path;
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
  if (route.mount != nullptr) {
    const MountView& e = *route.mount;
    at.rel = std::string(strip_slashes(route.rel));
    if (e.type == "system") {
      at.kind = Kind::Sys;
    } else if (e.type == "kv") {
      at.kind = Kind::Kv;
      at.mount_path = e.path;
      at.kv_version = e.kv_version;
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
               route.ns->has_mount_below(std::string(rest) + "/")) {
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
  if (route.ns->has_mount_below(prefix)) {
    at.kind = Kind::MountPrefix;
    for (auto it = route.ns->mounts.lower_bound(prefix); it != route.ns->mounts.end() && it->first.starts_with(prefix);
         ++it) {
      std::string_view below = std::string_view(it->first).substr(prefix.size());
      at.entries.push_back({std::string(below.substr(0, below.find('/'))), NodeKind::Directory});
    }
  }
  return at;
}

// ---------------------------------------------------------------- public API

Result<NodeInfo> FileView::stat(const Caller& caller, std::string_view path) {
  Located at = locate(path);
  COFFER_TRY_STATUS(reveal(caller, path, at));
  auto info = kind_of(at).stat(caller, path, at);
  if (!info.ok() && info.error().code == ErrorCode::PermissionDenied &&
      (at.kind == Kind::Kv || at.kind == Kind::Api || at.kind == Kind::Sys) &&
      check_access(caller, path, NodeKind::File, /*read=*/false, /*write=*/true).ok()) {
    // Write-only (create or update without read): an empty file to write
    // into, whether or not something is stored there (SPEC §4).
    return state_->empty_file();
  }
  return info;
}

Result<std::vector<DirEntry>> FileView::list(const Caller& caller, std::string_view path) {
  Located at = locate(path);
  COFFER_TRY_STATUS(reveal(caller, path, at));
  return kind_of(at).list(caller, path, at);
}

Result<SecureString> FileView::read(const Caller& caller, std::string_view path) {
  Located at = locate(path);
  COFFER_TRY_STATUS(reveal(caller, path, at));
  return kind_of(at).read(caller, path, at);
}

Result<SecureString> FileView::write_unnotified(const Caller& caller, std::string_view path, std::string_view body,
                                                WriteMode mode, SecureString* issued) {
  if (body.size() > kMaxBodyBytes) return Error::too_large("request body is larger than 1 MiB");
  Located at = locate(path);
  COFFER_TRY_STATUS(reveal(caller, path, at));
  return kind_of(at).write(caller, at, body, mode, issued);
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
      const Json dropped = Json::parse(text.begin(), text.end(), [](int, Json::parse_event_t, Json&) { return false; });
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
  const bool policy_file = at.kind == Kind::Sys && SysFiles::is_policy_file(at.rel);
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
  return kind_of(at).remove(caller, at);
}

Result<bool> FileView::rename(const Caller& caller, std::string_view from_path, std::string_view to_path) {
  const std::string_view from = strip_slashes(from_path);
  const std::string_view to = strip_slashes(to_path);
  const auto [from_dir, from_name] = split_last(from);
  const auto [to_dir, to_name] = split_last(to);
  // One directory only, and names, not views or fields.
  if (from_dir != to_dir || from_name.empty() || to_name.empty() || parse_suffix(from_name) || parse_suffix(to_name)) {
    return false;
  }
  const Located a = locate(from);
  const Located b = locate(to);
  if (a.kind != b.kind || a.ns_path != b.ns_path) return false;
  std::string source_delete;  // the API path whose Delete removes the source entirely
  if (a.kind == Kind::Kv) {
    if (a.mount_path != b.mount_path || a.rel.empty() || b.rel.empty()) return false;
    const std::string mount = a.ns_path + a.mount_path;
    source_delete = a.kv_version == 2 ? mount + "metadata/" + a.rel : mount + a.rel;
  } else if (a.kind == Kind::Sys && SysFiles::is_policy_file(a.rel) && SysFiles::is_policy_file(b.rel)) {
    source_delete = a.ns_path + "sys/" + SysFiles::api_rel(a.rel);
  } else {
    return false;
  }
  COFFER_TRY_STATUS(reveal(caller, from, a));
  if (from == to) {
    COFFER_TRY(auto same, stat(caller, from));
    (void)same;
    return true;  // rename(2) of a name onto itself changes nothing
  }
  // The delete half is asked first, so a caller who may not remove the
  // source changes nothing; the read and the write check themselves.
  COFFER_TRY(std::uint32_t bits, core_.capabilities(caller.token, source_delete));
  if ((bits & policy::cap::kDeny) != 0 || (bits & policy::cap::kDelete) == 0) {
    return Error::denied("rename needs delete on the source (" + source_delete + ")");
  }
  COFFER_TRY(SecureString content, read(caller, from));
  COFFER_TRY(SecureString reply, write_unnotified(caller, to, as_view(content), WriteMode::Replace, nullptr));
  (void)reply;
  auto gone = state_->call(caller, Operation::Delete, source_delete);
  if (!gone.ok()) {
    Error e = std::move(gone).error();
    e.message = "rename wrote the target but could not remove the source: " + e.message;
    return e;
  }
  return true;
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
      if (kinds_->api.stat(caller, clean, existing).ok()) return Error::exists("file exists");
      return Error::unsupported("directories here are made by the API, not by mkdir");
    }
    if (existing.kind != Kind::Kv || existing.rel.empty()) return Error::exists("file exists");
    // A folder may share its name with a secret (the secret is then NAME@data),
    // so only an existing folder makes mkdir fail.
    auto st = kinds_->kv.stat_fresh(caller, existing);
    if (st.ok() && st->kind == NodeKind::Directory) return Error::exists("file exists");
    if (!st.ok() && st.error().code != ErrorCode::NotFound) return std::move(st).error();
    state_->add_folder(existing.ns_path + existing.mount_path + existing.rel + "/");
    return {};
  }
  Located parent = locate(parent_path);
  if (parent.kind == Kind::Namespace) {
    // mkdir in a namespace directory creates a child namespace.
    return to_status(state_->call(caller, Operation::Update, parent.ns_path + "sys/namespaces/" + std::string(name)));
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
        const auto tree = core_.namespaces();
        const NamespaceView* ns = tree->find(at.ns_path);
        if (ns == nullptr) return Error::not_found("no such namespace");
        if (!ns->children.empty()) return Error::not_empty("namespace has child namespaces");
        for (const auto& [mpath, mount] : ns->mounts) {
          if (!mount.builtin) return Error::not_empty("namespace still has mount " + mpath);
        }
      }
      std::string parent = parent_namespace_path(at.ns_path);
      return to_status(state_->call(caller, Operation::Delete,
                                    parent + "sys/namespaces/" + std::string(namespace_name(at.ns_path))));
    }
    case Kind::Kv: {
      if (at.rel.empty()) return Error::invalid("a mount is removed with rm sys/mounts/PATH");
      std::string key = at.ns_path + at.mount_path + at.rel + "/";
      auto listing = kinds_->kv.list(caller, clean, at);
      if (listing.ok() && !listing->empty()) return Error::not_empty("directory not empty");
      // Only a caller who may list the folder removes it.
      if (!listing.ok() && listing.error().code != ErrorCode::NotFound) return std::move(listing).error();
      if (!state_->erase_folder(key)) {
        return listing.ok() ? Status{} : Status(std::move(listing).error());
      }
      return {};
    }
    default: return Error::unsupported("this directory cannot be removed");
  }
}

bool FileView::is_login(std::string_view path) const { return ApiFiles::is_login_file(locate(path)); }

// ------------------------------------------------------------------- access(2)

Status FileView::check_token(const Caller& caller) {
  COFFER_TRY(auto standing, core_.check_token(caller.token));
  (void)standing;
  return {};
}

Status FileView::check_access(const Caller& caller, std::string_view path, NodeKind kind, bool read, bool write) {
  Located at = locate(path);
  COFFER_TRY_STATUS(reveal(caller, path, at));
  if (at.kind == Kind::Missing) return Error::not_found("no such file or directory");
  if (at.kind == Kind::Sealed) return Error::sealed();
  const bool dir = kind == NodeKind::Directory;
  auto bits_of = [&](const std::string& abs) { return core_.capabilities(caller.token, abs); };
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
        COFFER_TRY(bool visible, core_.may_see(caller.token, d + "/"));
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
        read_path = write_path = at.ns_path + "sys/" + SysFiles::api_rel(at.rel) + (dir ? "/" : "");
        if (!dir && SysFiles::is_write_only(at.rel)) read_caps = 0;
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
        abs = ApiFiles::view_path(std::move(abs), *suffix);
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
