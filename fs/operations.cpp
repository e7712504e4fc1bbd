// SPDX-License-Identifier: MPL-2.0
#include "fs/operations.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <optional>

#include "engine/fileview/events.hpp"
#include "engine/fileview/monitor.hpp"
#include "engine/fileview/template_render.hpp"
#include "fs/errno_map.hpp"
#include "fs/invalidator.hpp"
#include "fs/node_paths.hpp"
#include "fs/monitor.hpp"
#include "fs/op_log.hpp"
#include "fs/poll.hpp"
#include "fs/token_watch.hpp"
#include "fs/write_policy.hpp"

namespace fsd {

namespace {

// The flag open_exec() adds (__FMODE_EXEC), which FUSE forwards in the open
// flags. Nothing on the mount is executable, and reading the environ of a
// process exec'ing from the mount would deadlock (SPEC §3), so such opens are
// refused before any other work.
constexpr int kFmodeExec = 0x20;

constexpr double kNoCache = 0.0;  // entry/attr timeouts: see SPEC §4

// How long a request that changed something waits for the invalidations it
// caused on caching mounts (normally microseconds; bounded so a stuck
// kernel lock can never hang a writer).
constexpr std::chrono::milliseconds kInvalidationWait{2000};

timespec to_timespec(engine::TimePoint t) {
  const auto ns = t.time_since_epoch().count();
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  return ts;
}

std::string join(std::string_view dir, std::string_view name) {
  std::string out;
  out.reserve(dir.size() + 1 + name.size());
  out.append(dir);
  if (!dir.empty()) out += '/';
  out.append(name);
  return out;
}

CallerSettings caller_settings(engine::FileView& view, const FsSettings& fs, engine::SecureString mount_token) {
  CallerSettings c;
  if (!fs.peer_login.empty()) {
    std::string method = fs.peer_login;
    while (!method.empty() && method.back() == '/') method.pop_back();
    const std::string login = fs.chroot.empty() ? method + "/login" : join(fs.chroot, method + "/login");
    c.peer_login = [&view, login](const engine::PeerCredentials& creds) -> std::optional<engine::SecureString> {
      engine::Caller caller;
      caller.peer = creds;
      engine::SecureString issued;
      auto wrote = view.write(caller, login, "{}", engine::WriteMode::Replace, &issued);
      if (!wrote.ok()) {
        // The reason names bindings and ids, never anything secret.
        log_info("peer login of process ", creds.pid, " (uid ", creds.uid, ") through /", login,
                 " refused: ", wrote.error().message);
        return std::nullopt;
      }
      if (issued.empty()) return std::nullopt;
      return issued;
    };
  }
  c.mount_token = std::move(mount_token);
  c.mount_token_source = fs.mount_token_source;
  c.env_token = fs.env_token;
  c.fallback_token = fs.fallback_token;
  c.fallback_uid = fs.fallback_uid;
  return c;
}

bool is_blank(std::string_view data) { return data.find_first_not_of(" \t\r\n") == std::string_view::npos; }

bool starts_json(std::string_view body) {
  const auto first = body.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && body[first] == '{';
}

bool is_revoke_self(std::string_view path) {
  return path == "auth/token/revoke-self" || path.ends_with("/auth/token/revoke-self");
}

}  // namespace

Filesystem::Filesystem(engine::FileView& view, FsSettings settings, engine::SecureString mount_token)
    : view_(view),
      settings_(std::move(settings)),
      callers_(caller_settings(view_, settings_, std::move(mount_token))),
      started_(engine::Clock::now()),
      session_(view_, callers_) {
  for (const auto& t : settings_.templates) {
    auto node = std::make_unique<TemplateNode>();
    node->file = t;
    templates_.push_back(std::move(node));
  }
}

// ------------------------------------------------------------ template files

Filesystem::TemplateNode* Filesystem::template_at(std::string_view path) const {
  if (templates_.empty() || path.empty() || path.find('/') != std::string_view::npos) return nullptr;
  for (const auto& t : templates_) {
    if (t->file.name != path) continue;
    // A namespace or mount of that name, made after the config was loaded
    // (the loader refuses the ones there at start), wins: its way into
    // the tree must not be blocked by a file.
    const bool hidden = view_.names_node(engine_path(path));
    if (hidden != t->hidden.exchange(hidden)) {
      if (hidden) {
        log_warn("template /", path, ": hidden by a namespace or mount of the same name");
      } else {
        log_info("template /", path, ": shown again (nothing else of that name)");
      }
    }
    return hidden ? nullptr : t.get();
  }
  return nullptr;
}

int Filesystem::render(const char* op, const engine::Caller& caller, TemplateNode& t, Rendered& out) {
  std::uint64_t gen = 0;
  if (settings_.cache) {
    std::optional<Rendered> hit;
    {
      std::lock_guard lock(t.mu);
      gen = t.gen;
      if (t.kept && t.kept_token == caller.token) hit = *t.kept;
    }
    if (hit) {
      // The kept bytes are only told to a token still alive (a revoked or
      // expired one is refused at once, as at every open).
      if (auto alive = view_.check_token(caller); !alive.ok()) return log_failure(op, t.file.name, alive.error());
      out = std::move(*hit);
      return 0;
    }
  }
  const std::string ns = settings_.chroot.empty() ? std::string() : settings_.chroot + "/";
  auto r = engine::render_template(view_.core(), caller, ns, *t.file.parsed);
  if (!r.ok()) {
    // The error names the template's line and what failed (a path, a key
    // name), never a value.
    return log_failure(op, t.file.name, r.error());
  }
  out.bytes = engine::to_secure(r->bytes);
  engine::secure_zero(r->bytes.data(), r->bytes.size());
  out.modified = r->modified.value_or(engine::TimePoint{});
  out.dependencies = std::move(r->dependencies);
  std::lock_guard lock(t.mu);
  t.dependencies = out.dependencies;
  if (settings_.cache && t.gen == gen) {
    t.kept = out;
    t.kept_token = caller.token;
  }
  return 0;
}

void Filesystem::templates_changed(const engine::Change& change) {
  for (const auto& t : templates_) {
    std::lock_guard lock(t->mu);
    // Anything may look different after an `everything` change (a policy,
    // token, identity, mount): the kept render goes with it.
    if (change.everything || template_touched_by(t->dependencies, change, settings_.chroot)) {
      ++t->gen;
      t->kept.reset();
      t->kept_token.clear();
    }
  }
}

std::vector<std::pair<Ino, std::string>> Filesystem::template_targets(const engine::Change& change) const {
  std::vector<std::pair<Ino, std::string>> out;
  for (const auto& t : templates_) {
    bool touched = false;
    {
      std::lock_guard lock(t->mu);
      touched = template_touched_by(t->dependencies, change, settings_.chroot);
    }
    if (touched) out.emplace_back(inodes_.peek(t->file.name), t->file.name);
  }
  return out;
}

std::vector<std::string> Filesystem::templates_touched(const engine::ChangeEvent& change) const {
  std::vector<std::string> out;
  const engine::Change as_file{change.namespace_path + change.path, false, change.event_type};
  for (const auto& t : templates_) {
    std::lock_guard lock(t->mu);
    if (template_touched_by(t->dependencies, as_file, settings_.chroot)) out.push_back(t->file.name);
  }
  return out;
}

struct stat Filesystem::template_attr(Ino ino, const TemplateNode& t, std::size_t size,
                                      engine::TimePoint modified) const {
  struct stat st = make_attr(ino, engine::NodeInfo{engine::NodeKind::File, size, modified});
  const mode_t perms = t.file.perms != 0 ? t.file.perms : settings_.file_mode;
  st.st_mode = S_IFREG | (perms & 0666);  // never executable
  return st;
}

int Filesystem::path_of(const char* op, Ino ino, std::string& out) const {
  auto path = inodes_.path_of(ino);
  if (!path) {
    // The kernel only uses inodes it holds a reference to; this is a bug.
    log_error(op, ": unknown inode ", ino, " (ESTALE)");
    return ESTALE;
  }
  out = std::move(*path);
  return 0;
}

int Filesystem::child_path(const char* op, Ino parent, std::string_view name, std::string& out) const {
  auto dir = inodes_.path_of(parent);
  if (!dir) return log_rejection(op, name, ESTALE, "unknown parent inode", LogLevel::Error);
  if (name.size() > kNameMax) {
    return log_rejection(op, join(*dir, name.substr(0, 32)), ENAMETOOLONG, "name over 255 bytes");
  }
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos) {
    return log_rejection(op, join(*dir, name), EINVAL, "not a valid name");
  }
  out = join(*dir, name);
  return 0;
}

std::string Filesystem::engine_path(std::string_view path) const {
  if (settings_.chroot.empty()) return std::string(path);
  return join(settings_.chroot, path);
}

struct stat Filesystem::make_attr(Ino ino, const engine::NodeInfo& info) const {
  struct stat st {};
  st.st_ino = ino;
  st.st_uid = settings_.uid;
  st.st_gid = settings_.gid;
  if (info.kind == engine::NodeKind::Directory) {
    st.st_mode = S_IFDIR | (settings_.dir_mode & 0777);
    st.st_nlink = 2;
  } else {
    st.st_mode = S_IFREG | (settings_.file_mode & 0666);
    st.st_nlink = 1;
    st.st_size = static_cast<off_t>(info.size);
    st.st_blocks = static_cast<blkcnt_t>((info.size + 511) / 512);
  }
  st.st_blksize = 4096;
  // An unset time (the endpoint has no notion of it) shows the mount time,
  // not "now", so it does not move between two stats.
  const engine::TimePoint when = info.modified == engine::TimePoint{} ? started_ : info.modified;
  st.st_mtim = to_timespec(when);
  st.st_ctim = st.st_mtim;
  st.st_atim = st.st_mtim;
  if (settings_.inotify && S_ISREG(st.st_mode)) {
    // Only for an inode the kernel holds (a readdirplus entry it will not
    // cache has none): forget() drops it with the last reference.
    std::lock_guard lock(sizes_mu_);
    if (inodes_.lookup_count(ino) > 0) sizes_[ino] = st.st_size;
  }
  return st;
}

void Filesystem::forget(Ino ino, std::uint64_t n) {
  if (!inodes_.forget(ino, n) || !settings_.inotify) return;
  // Dropped: the kernel knows nothing of this file any more, so its size
  // is not needed. Unless a LOOKUP took the number again meanwhile; that
  // one's make_attr() records its size after the table has it, so with
  // the check under sizes_mu_ its size stays.
  std::lock_guard lock(sizes_mu_);
  if (inodes_.lookup_count(ino) == 0) sizes_.erase(ino);
}

std::size_t Filesystem::told_sizes() const {
  std::lock_guard lock(sizes_mu_);
  return sizes_.size();
}

engine::NodeInfo Filesystem::synthetic_dir() const {
  return engine::NodeInfo{engine::NodeKind::Directory, 0, started_};
}

engine::NodeInfo Filesystem::synthetic_file() const { return engine::NodeInfo{engine::NodeKind::File, 0, started_}; }

void Filesystem::fill_entry(fuse_entry_param& e, Ino ino, const engine::NodeInfo& info,
                            const engine::SecureString& token) const {
  e.ino = ino;
  e.generation = 0;
  e.attr = make_attr(ino, info);
  e.attr_timeout = cache_timeout(ino, token);
  e.entry_timeout = e.attr_timeout;
  if (e.attr_timeout == kNoCache) mark_volatile(e.attr);
}

void Filesystem::mark_volatile(struct stat& st) const {
  if (kernel_reads() && S_ISREG(st.st_mode)) {
    // A file that changes by itself (sys/, auth/token/lookup-self) on a
    // mount whose reads the kernel serves: a new mtime at every stat makes
    // the kernel (auto_inval_data) drop its pages and read it again.
    st.st_mtim = to_timespec(engine::Clock::now());
    st.st_ctim = st.st_mtim;
    st.st_atim = st.st_mtim;
  }
}

double Filesystem::cache_timeout(Ino ino, const engine::SecureString& token) const {
  if (!settings_.cache) return kNoCache;
  auto path = inodes_.path_of(ino);
  if (!path) return kNoCache;
  if (template_at(*path) == nullptr && !view_.cacheable(engine_path(*path))) return kNoCache;
  return std::min(settings_.cache_seconds, token_seconds_left(token));
}

engine::TimePoint Filesystem::mount_token_expiry() const {
  if (!callers_.mount_bound()) return {};
  return token_expiry(callers_.mount_token());
}

engine::TimePoint Filesystem::token_expiry(const engine::SecureString& token) const {
  if (!callers_.mount_bound()) return {};
  const std::uint64_t gen = view_.core().generation();
  {
    std::lock_guard lock(life_mu_);
    if (life_.known && life_.generation == gen && life_.token == token) return life_.expires;
  }
  // Asked outside the leaf lock (the core takes its own). A renewal or a
  // revocation moves the generation, so the memo never outlives either.
  auto standing = view_.core().check_token(token);
  // A dead token (revoked, expired, sealed store): long past.
  const engine::TimePoint expires = standing.ok() ? standing->expires : kDeadToken;
  std::lock_guard lock(life_mu_);
  life_.token = token;
  life_.generation = gen;
  life_.known = true;
  life_.expires = expires;
  life_.uses_left = standing.ok() ? standing->uses_left : 0;
  return expires;
}

void Filesystem::confirm_mount_token(const std::function<void()>& settle) {
  engine::SecureString token = callers_.mount_token();  // a change here posts `everything`
  {
    std::lock_guard lock(life_mu_);
    if (confirmed_token_ == token) return;
  }
  settle();  // whatever the kernel kept for the old token is gone now
  std::lock_guard lock(life_mu_);
  confirmed_token_ = std::move(token);
}

bool Filesystem::token_known_good(const engine::SecureString& token) const {
  {
    std::lock_guard lock(life_mu_);
    if (confirmed_token_.empty() || confirmed_token_ != token) return false;
  }
  const engine::TimePoint expires = token_expiry(token);  // the memo, or asked again after a change
  std::lock_guard lock(life_mu_);
  if (life_.token != token || life_.uses_left != 0 || expires == kDeadToken) return false;
  return expires == engine::TimePoint{} || engine::Clock::now() < expires;
}

double Filesystem::token_seconds_left(const engine::SecureString& token) const {
  const engine::TimePoint expires = token_expiry(token);
  if (expires == engine::TimePoint{}) return settings_.cache_seconds;
  // The kernel counts the timeout from when it gets the reply, in jiffies:
  // a margin keeps its copy from outliving the token by that much.
  constexpr double kMargin = 0.05;
  const double left = std::chrono::duration<double>(expires - engine::Clock::now()).count() - kMargin;
  return left > 0 ? left : 0.0;
}

int Filesystem::decide_no_open(const Who& who) {
  const OpenMode mode = open_mode_.load();
  if (mode == OpenMode::Kernel) return ENOSYS;  // an open sent before the kernel heard
  if (mode == OpenMode::PerOpen) return 0;
  if (!no_open_capable_.load()) {
    if (open_mode_.exchange(OpenMode::PerOpen) == OpenMode::Undecided) {
      log_warn("this kernel has no FUSE no-open support: every open of this read-only cached mount asks the daemon");
    }
    return 0;
  }
  auto standing = view_.core().check_token(who.caller.token);
  if (!standing.ok()) return 0;  // the open fails as usual; decided at a later one
  if (standing->uses_left != 0) {
    if (open_mode_.exchange(OpenMode::PerOpen) == OpenMode::Undecided) {
      log_info(
          "the mount token is use-limited (num_uses): every open is checked by the daemon, and reads are not "
          "served by the kernel alone");
    }
    return 0;
  }
  if (open_mode_.exchange(OpenMode::Kernel) == OpenMode::Undecided) {
    log_info(
        "reads are served from the kernel's cache alone (FUSE no-open: no OPEN, FLUSH or RELEASE is sent); "
        "changes, revocations and the token's expiry invalidate it");
  }
  return ENOSYS;
}

int Filesystem::do_read_unopened(const Who& who, Ino ino, std::size_t size, off_t off, engine::SecureString& out) {
  std::string path;
  if (int err = path_of("read", ino, path)) return err;
  if (SessionFile::is(path) || engine::is_monitor_path(path) || engine::is_events_path(engine_path(path))) {
    return log_rejection("read", path, EOPNOTSUPP,
                         "streams and the session file need an open file of their own, and this read-only "
                         "cached mount has the kernel serve reads alone; use another mount");
  }
  engine::UseBudget budget;  // one use at most (use-limited tokens keep their opens: decide_no_open)
  engine::Caller caller = who.caller;
  caller.uses = &budget;
  engine::SecureString bytes;
  if (TemplateNode* t = template_at(path)) {
    Rendered r;
    if (int err = render("read", caller, *t, r)) return err;
    bytes = std::move(r.bytes);
  } else {
    auto read = view_.read(caller, engine_path(path));
    if (!read.ok()) return log_failure("read", path, read.error());
    bytes = std::move(read).value();
  }
  const std::size_t from = off < 0 ? 0 : std::min(bytes.size(), static_cast<std::size_t>(off));
  out.assign(bytes.data() + from, std::min(size, bytes.size() - from));
  return 0;
}

bool Filesystem::is_created_and_open(Ino ino) const {
  std::lock_guard lock(created_mu_);
  return created_open_.count(ino) != 0;
}

int Filesystem::do_lookup(const engine::Caller& caller, Ino parent, const char* name, fuse_entry_param& e) {
  std::string path;
  if (int err = child_path("lookup", parent, name, path)) return err;
  if (SessionFile::is(path)) {
    fill_entry(e, inodes_.lookup(path), SessionFile::info(), caller.token);
    return 0;
  }
  if (TemplateNode* t = template_at(path)) {
    Rendered r;
    if (int err = render("lookup", caller, *t, r)) return err;
    const Ino ino = inodes_.lookup(path);
    e.ino = ino;
    e.generation = 0;
    e.attr = template_attr(ino, *t, r.bytes.size(), r.modified);
    e.attr_timeout = cache_timeout(ino, caller.token);
    e.entry_timeout = e.attr_timeout;
    return 0;
  }
  auto info = view_.stat(caller, engine_path(path));
  if (!info.ok()) return log_failure("lookup", path, info.error());
  // On a shared mount each lookup of a login file is a new inode, so each
  // open of it is: the kernel serializes writes to one inode (its lock is
  // held for a write's whole round trip, and an O_TRUNC open takes it
  // alone), and one caller's failed login, answered no sooner than the
  // failed-login delay, must not hold up another caller's login.
  const bool own_inode = info->login && !callers_.mount_bound();
  fill_entry(e, own_inode ? inodes_.lookup_unique(path) : inodes_.lookup(path), *info, caller.token);
  return 0;
}

int Filesystem::do_getattr(const engine::Caller& caller, Ino ino, struct stat& st, const Handle* h) {
  std::string path;
  if (int err = path_of("getattr", ino, path)) return err;
  if (SessionFile::is(path)) {
    st = make_attr(ino, SessionFile::info());
    return 0;
  }
  if (TemplateNode* t = template_at(path)) {
    if (h != nullptr && h->is_template() && h->has_snapshot()) {
      // fstat: the bytes this fd reads (rendered at its open).
      st = template_attr(ino, *t, h->snapshot_slice(0, SIZE_MAX).size(), h->template_modified());
      return 0;
    }
    Rendered r;
    if (int err = render("getattr", caller, *t, r)) return err;
    st = template_attr(ino, *t, r.bytes.size(), r.modified);
    return 0;
  }
  auto info = view_.stat(caller, engine_path(path));
  if (info.ok()) {
    st = make_attr(ino, *info);
    if (kernel_reads() && cache_timeout(ino, caller.token) == kNoCache) mark_volatile(st);
    return 0;
  }
  if (ino == kRootIno) {
    // The mount root is always a directory, even to a caller the engine
    // tells nothing (no token, sealed store): the way to sys/unseal and the
    // login endpoints goes through it.
    log_debug("getattr /: ", engine::to_string(info.error().code), ", answering a plain directory");
    st = make_attr(ino, synthetic_dir());
    return 0;
  }
  if (info.error().code == engine::ErrorCode::NotFound && is_created_and_open(ino)) {
    st = make_attr(ino, synthetic_file());
    return 0;
  }
  return log_failure("getattr", path, info.error());
}

int Filesystem::do_setattr(const engine::Caller& caller, Ino ino, const struct stat& attr, int to_set,
                           struct stat& st) {
  std::string path;
  if (int err = path_of("setattr", ino, path)) return err;
  if (template_at(path) != nullptr) {
    return log_rejection("setattr", path, EACCES, "a template file is read-only (no truncation, mode or time)");
  }
  if ((to_set & FUSE_SET_ATTR_SIZE) && attr.st_size != 0) {
    return log_rejection("setattr", path, EINVAL, "only truncation to size 0 is accepted (it deletes nothing)");
  }
  if (((to_set & FUSE_SET_ATTR_UID) && attr.st_uid != settings_.uid) ||
      ((to_set & FUSE_SET_ATTR_GID) && attr.st_gid != settings_.gid)) {
    return log_rejection("setattr", path, EPERM, "owners are set per mount");
  }
  // Size 0, modes and times are accepted and ignored: `>` and `touch` must
  // work, truncation never deletes anything, and modes are per mount.
  return do_getattr(caller, ino, st);
}

int Filesystem::do_access(const engine::Caller& caller, Ino ino, int mask) {
  std::string path;
  if (int err = path_of("access", ino, path)) return err;
  if (SessionFile::is(path)) return session_.access(mask);
  if (TemplateNode* t = template_at(path)) {
    if (mask & X_OK) return log_rejection("access", path, EACCES, "nothing on the mount is executable");
    if (mask & W_OK) return log_rejection("access", path, EACCES, "a template file is read-only");
    if ((mask & R_OK) == 0) return 0;
    Rendered r;  // R_OK: the caller's render must succeed
    return render("access", caller, *t, r);
  }
  engine::NodeKind kind = engine::NodeKind::Directory;
  if (ino != kRootIno) {
    auto info = view_.stat(caller, engine_path(path));
    if (!info.ok()) {
      if (info.error().code == engine::ErrorCode::NotFound && is_created_and_open(ino)) return 0;
      return log_failure("access", path, info.error());
    }
    kind = info->kind;
  }
  if ((mask & X_OK) && kind == engine::NodeKind::File) {
    return log_rejection("access", path, EACCES, "nothing on the mount is executable");
  }
  // The ACL answers per caller (SPEC §4): R_OK needs read (files) or list
  // (directories), W_OK create or update, on the path the file maps to.
  const bool want_read = (mask & R_OK) != 0;
  const bool want_write = (mask & W_OK) != 0;
  if (ino == kRootIno && !want_write) return 0;                // the way to unseal and log in
  if (!want_read && !want_write && ino != kRootIno) return 0;  // stat said it may be seen
  auto st = view_.check_access(caller, engine_path(path), kind, want_read, want_write);
  if (!st.ok()) return log_failure("access", path, st.error());
  return 0;
}

DirHandle* Filesystem::keep_dir(std::unique_ptr<DirHandle> dir) { return open_dirs_.keep(std::move(dir)); }

void Filesystem::drop_dir(DirHandle* dir) { open_dirs_.take(dir); }

int Filesystem::do_opendir(const engine::Caller& caller, Ino ino, std::unique_ptr<DirHandle>& out) {
  std::string path;
  if (int err = path_of("opendir", ino, path)) return err;
  if (template_at(path) != nullptr) return log_rejection("opendir", path, ENOTDIR, "a template is a file");
  const bool kept = cache_timeout(ino, caller.token) > 0;
  if (kept && token_known_good(caller.token)) {
    // What the kernel keeps of this directory is exact (every change below
    // it invalidates it): the listing is read only if it asks (READDIR).
    out = std::make_unique<DirHandle>(DirHandle{std::move(path), {}, {}, true, true});
    return 0;
  }
  std::vector<engine::DirEntry> listed;
  if (int err = list_dir("opendir", caller, ino, path, listed)) return err;
  out = std::make_unique<DirHandle>(DirHandle{std::move(path), std::move(listed), {}, kept, false});
  return 0;
}

int Filesystem::list_dir(const char* op, const engine::Caller& caller, Ino ino, const std::string& path,
                         std::vector<engine::DirEntry>& listed) {
  auto entries = view_.list(caller, engine_path(path));
  if (!entries.ok()) return log_failure(op, path, entries.error());
  listed = std::move(entries).value();
  // Names no directory entry may carry are left out here, once per listing,
  // so that readdir's offsets count only what it sends.
  const auto invalid = [](const engine::DirEntry& d) {
    return d.name.empty() || d.name == "." || d.name == ".." || d.name.find('/') != std::string::npos ||
           d.name.size() > kNameMax;
  };
  if (std::any_of(listed.begin(), listed.end(), invalid)) {
    log_warn("readdir /", path, ": skipping entries with an invalid name");
    std::erase_if(listed, invalid);
  }
  if (ino == kRootIno && !templates_.empty()) {
    // The mount's template files, among the root's entries (sorted by name).
    for (const auto& t : templates_) {
      if (template_at(t->file.name) == nullptr) continue;
      const bool there =
          std::any_of(listed.begin(), listed.end(), [&](const engine::DirEntry& d) { return d.name == t->file.name; });
      if (!there) listed.push_back(engine::DirEntry{t->file.name, engine::NodeKind::File});
    }
    std::sort(listed.begin(), listed.end(),
              [](const engine::DirEntry& a, const engine::DirEntry& b) { return a.name < b.name; });
  }
  return 0;
}

int Filesystem::do_readdir(const engine::Caller& caller, Ino ino, DirHandle& dir, off_t off, bool plus,
                           const DirSink& add) {
  if (dir.deferred) {
    // The kernel kept no listing after all (dropped, or never read): read
    // it now, as the opener (the mount token), once for this handle.
    if (int err = list_dir("readdir", caller, ino, dir.path, dir.entries)) return err;
    dir.deferred = false;
  }
  // Offsets: entry i of [".", "..", entries...] carries offset i + 1, so a
  // readdir resumed at `off` starts at index `off`.
  const std::size_t total = dir.entries.size() + 2;
  const std::size_t first = off < 0 ? 0 : static_cast<std::size_t>(off);
  if (!plus && dir.inos.size() != dir.entries.size() && first < total) {
    // A plain READDIR tells the kernel a name, a number and a type: the
    // numbers of the whole listing come from one pass over the table.
    thread_local std::vector<std::string_view> names;
    names.clear();
    for (const auto& entry : dir.entries) names.emplace_back(entry.name);
    dir.inos.resize(dir.entries.size());
    inodes_.peek_children(dir.path, names, dir.inos);
    names.clear();
  }
  for (std::size_t i = first; i < total; ++i) {
    const char* name = nullptr;  // points into dir: no copy per entry
    fuse_entry_param e{};
    bool took_ref = false;
    if (i < 2) {
      name = i == 0 ? "." : "..";
      e.attr.st_ino = i == 0 ? ino : (dir.path.empty() ? kRootIno : inodes_.peek(parent_of(dir.path)));
      e.attr.st_mode = S_IFDIR;
      // e.ino stays 0: the kernel links no dentry for "." and "..".
    } else {
      const engine::DirEntry& entry = dir.entries[i - 2];
      name = entry.name.c_str();
      TemplateNode* t = dir.path.empty() ? template_at(entry.name) : nullptr;
      if (!plus && t == nullptr) {
        // Only st_ino and the type reach the kernel (fuse_add_direntry).
        e.attr.st_ino = dir.inos[i - 2];
        e.attr.st_mode = entry.kind == engine::NodeKind::Directory ? S_IFDIR : S_IFREG;
      } else {
        const std::string child = join(dir.path, entry.name);
        Rendered r;
        if (t != nullptr && plus && render("readdirplus", caller, *t, r) == 0) {
          const Ino child_ino = inodes_.lookup(child);
          e.ino = child_ino;
          e.attr = template_attr(child_ino, *t, r.bytes.size(), r.modified);
          e.attr_timeout = cache_timeout(child_ino, caller.token);
          e.entry_timeout = e.attr_timeout;
          took_ref = true;
        } else if (t != nullptr) {
          e.attr = template_attr(inodes_.peek(child), *t, 0, started_);
        } else if (auto info = view_.stat(caller, engine_path(child)); info.ok()) {
          fill_entry(e, inodes_.lookup(child), *info, caller.token);
          took_ref = true;
        } else {
          // e.ino 0: the kernel shows the name but caches nothing for it.
          const bool folder = entry.kind == engine::NodeKind::Directory;
          e.attr = make_attr(inodes_.peek(child), folder ? synthetic_dir() : synthetic_file());
        }
      }
    }
    if (!add(name, e, static_cast<off_t>(i + 1))) {
      if (took_ref) forget(e.ino, 1);  // not sent: the kernel holds no reference
      break;
    }
  }
  return 0;
}

int Filesystem::do_open(const Who& who, Ino ino, fuse_file_info& fi, std::unique_ptr<Handle>& out) {
  std::string path;
  if (int err = path_of("open", ino, path)) return err;
  if (fi.flags & kFmodeExec) return log_rejection("open", path, EACCES, "exec from the mount is refused");
  if (kernel_reads() && (fi.flags & O_ACCMODE) == O_RDONLY) {
    if (int err = decide_no_open(who)) return err;  // ENOSYS: the kernel's own from now on
  }
  // O_TRUNC needs nothing here: a Replace-mode write replaces, and truncation
  // alone deletes nothing. O_APPEND makes writes patches.
  const auto mode = (fi.flags & O_APPEND) ? engine::WriteMode::Append : engine::WriteMode::Replace;
  if (TemplateNode* t = template_at(path)) {
    if ((fi.flags & O_ACCMODE) != O_RDONLY || (fi.flags & O_TRUNC)) {
      return log_rejection("open", path, EACCES, "a template file is read-only");
    }
    // Rendered now, once, as the opener (one token use at most): every read
    // of this fd serves these bytes, and a failed render fails the open,
    // so no byte of a partial render is ever read.
    engine::UseBudget budget;
    engine::Caller caller = who.caller;
    caller.uses = &budget;
    Rendered r;
    if (int err = render("open", caller, *t, r)) {
      note_denied(who, err);
      return err;
    }
    out = std::make_unique<Handle>(std::move(path), engine::WriteMode::Replace, who);
    out->set_snapshot(std::move(r.bytes));
    out->set_template(r.modified);
    poll_track_template(out.get(), &inodes_, std::move(r.dependencies));
    // Caller-dependent bytes: no page cache on a shared mount (read(2) only;
    // the page-cache fills are refused in op_read). A caching bound mount
    // keeps them, dropped by the Invalidator when a dependency changes.
    fi.direct_io = settings_.cache ? 0 : 1;
    fi.keep_cache = settings_.cache ? 1 : 0;
    fi.noflush = 1;
    return 0;
  }
  out = std::make_unique<Handle>(std::move(path), mode, who);
  if (SessionFile::is(out->path())) {
    session_.open(fi);
    if ((fi.flags & O_ACCMODE) == O_RDONLY) fi.noflush = 1;  // nothing to apply at close
    return 0;
  }
  if (engine::is_monitor_path(out->path()) || engine::is_events_path(engine_path(out->path()))) {
    // sys/monitor and sys/events/subscribe/TYPE streams (fs/monitor.hpp).
    bool stream = false;
    // An event stream also tells of this mount's templates (read from FUSE
    // requests only, while the filesystem lives).
    engine::TemplateMatcher templates;
    if (!templates_.empty()) templates = [this](const engine::ChangeEvent& c) { return templates_touched(c); };
    auto st = open_stream(view_.core(), who.caller, engine_path(out->path()), settings_.chroot,
                          (fi.flags & O_NONBLOCK) != 0, out.get(), stream, std::move(templates));
    if (!st.ok()) return log_failure("open", out->path(), st.error());
    if (stream) {
      fi.direct_io = 1;
      fi.nonseekable = 1;
      fi.noflush = 1;
      return 0;
    }
  }
  // poll(2) says when the content changed after the last read (fs/poll.hpp).
  poll_track(out.get(), &inodes_, out->path());
  fi.direct_io = 1;  // no page cache: contents depend on the caller
  fi.keep_cache = 0;
  if ((fi.flags & O_ACCMODE) != O_RDONLY && !callers_.mount_bound() && view_.is_login(engine_path(out->path()))) {
    out->set_login(true);
  }
  if (settings_.cache && (fi.flags & O_ACCMODE) == O_RDONLY && view_.cacheable(engine_path(out->path()))) {
    // A bound, caching mount: the kernel may serve the data it already has
    // (dropped by the Invalidator on every change, revocation included, and
    // by the token watch at the token's expiry). So the open asks the
    // engine only when that is not known to hold for this token: a new
    // token in the file (its answers may differ from what the kernel
    // keeps), a use-limited one (each open checked), or a dead one.
    if (!token_known_good(who.caller.token)) {
      auto info = view_.stat(who.caller, engine_path(out->path()));
      if (!info.ok()) return log_failure("open", out->path(), info.error());
      (void)token_expiry(who.caller.token);  // now known for this token
    }
    fi.direct_io = 0;
    fi.keep_cache = 1;
  }
  // A read-only handle never has anything to apply at close.
  if ((fi.flags & O_ACCMODE) == O_RDONLY) fi.noflush = 1;
  return 0;
}

int Filesystem::do_create(const Who& who, Ino parent, const char* name, fuse_file_info& fi,
                          std::unique_ptr<Handle>& out, fuse_entry_param& e) {
  const engine::Caller& caller = who.caller;
  std::string path;
  if (int err = child_path("create", parent, name, path)) return err;
  if (fi.flags & kFmodeExec) return log_rejection("create", path, EACCES, "exec from the mount is refused");
  if (template_at(path) != nullptr) return log_rejection("create", path, EACCES, "a template file is read-only");
  // Nothing is stored until a write applies: the name exists only for this
  // handle until then (a lone `touch` leaves nothing behind).
  const auto mode = (fi.flags & O_APPEND) ? engine::WriteMode::Append : engine::WriteMode::Replace;
  if (SessionFile::is(path)) {
    fill_entry(e, inodes_.lookup(path), SessionFile::info(), caller.token);
    out = std::make_unique<Handle>(std::move(path), mode, who);
    session_.open(fi);
    return 0;
  }
  auto info = view_.stat(caller, engine_path(path));
  const engine::NodeInfo attrs = info.ok() ? *info : synthetic_file();
  const Ino ino = inodes_.lookup(path);
  fill_entry(e, ino, attrs, caller.token);
  out = std::make_unique<Handle>(std::move(path), mode, who);
  out->set_created_ino(ino);
  {
    std::lock_guard lock(created_mu_);
    ++created_open_[ino];
  }
  fi.direct_io = 1;
  fi.keep_cache = 0;
  return 0;
}

int Filesystem::do_read(Handle& h, std::size_t size, off_t off, std::string_view& out) {
  if (SessionFile::is(h.path())) return session_.read(h, size, out);
  // The token the file was opened with, spending at most one use here.
  engine::UseBudget budget;
  engine::Caller caller = h.caller();
  caller.uses = &budget;
  if (h.has_written() && !h.is_template()) {
    // The write moved the fd offset past the request; the reply has its own
    // cursor (SPEC §2).
    out = h.read_reply(size);
    return 0;
  }
  // A read from the start after poll(2) said the content changed serves
  // the new content (as sysfs: poll, lseek 0, read). A template's fd keeps
  // the bytes rendered at open, never again: the read only clears the mark
  // (the reader was told; reopen for the new bytes).
  if (off == 0 && poll_take_changed(&h) && h.has_snapshot() && !h.is_template()) h.clear_snapshot();
  if (!h.has_snapshot()) {
    auto content = view_.read(caller, engine_path(h.path()));
    if (!content.ok()) {
      note_denied(h.who(), to_errno(content.error().code));
      return log_failure("read", h.path(), content.error());
    }
    h.set_snapshot(std::move(content).value());
  } else if (!caller.token.empty() && !h.snapshot_slice(off, size).empty()) {
    // Every read of content asks the engine again whether the token is still
    // live, so revoking it (or its parent) stops an already open file at
    // once. The read at the end returns nothing and is not checked: the
    // request that spent a token's last use still completes, as in Vault.
    auto allowed = view_.check_token(caller);
    if (!allowed.ok()) {
      note_denied(h.who(), to_errno(allowed.error().code));
      return log_failure("read", h.path(), allowed.error());
    }
  }
  out = h.snapshot_slice(off, size);
  return 0;
}

int Filesystem::apply_pending(Handle& h) {
  if (SessionFile::is(h.path())) return session_.apply(h);
  const std::string target = engine_path(h.path());
  engine::UseBudget budget;  // one use for this request
  engine::Caller caller = h.caller();
  caller.uses = &budget;
  engine::SecureString issued;
  auto outcome = view_.write(caller, target, h.pending(), h.mode(), &issued);
  const bool ok = outcome.ok();
  const int err = h.finish_request(std::move(outcome));
  if (err != 0) {
    const engine::Error& error = *h.last_error();
    note_denied(h.who(), err);
    return log_failure("write", h.path(), error);
  }
  log_debug("write /", h.path(), ": applied");
  // Vault's warnings reach the reply (read from the same fd) and the log.
  if (log_enabled(LogLevel::Info)) {
    for (const auto& w : reply_warnings(h.reply_text())) log_info("write /", h.path(), ": warning: ", w);
  }
  // Caching mounts drop what this changed before the writer hears back, so
  // it never reads the old data afterwards (this mount's too: a write holds
  // no kernel lock its invalidations need).
  Invalidator::wait_for_all(nullptr, kInvalidationWait);
  if (ok && !issued.empty()) {
    // A login through the mount: the token is the uid's session from now on.
    callers_.bind_session(h.who().uid, std::move(issued));
    log_info("session: uid ", h.who().uid, " logged in through /", h.path());
  } else if (ok && is_revoke_self(h.path()) && h.who().source == TokenSource::Session) {
    callers_.end_session(h.who().uid, &h.caller().token);
    log_info("session: uid ", h.who().uid, " ended by revoke-self");
  }
  return 0;
}

void Filesystem::note_denied(const Who& who, int err) {
  if (err != EACCES || who.source != TokenSource::Session) return;
  auto st = view_.check_token(who.caller);
  if (st.ok() || st.error().code != engine::ErrorCode::PermissionDenied) return;
  callers_.end_session(who.uid, &who.caller.token);
  log_info("session: uid ", who.uid, " ended: its token is no longer valid");
}

int Filesystem::do_write(Handle& h, std::string_view data) {
  if (SessionFile::is(h.path())) return session_.write(h, data);
  if (h.is_template()) return log_rejection("write", h.path(), EACCES, "a template file is read-only");
  if (h.append(data) != 0) return log_failure("write", h.path(), *h.last_error());
  if (!h.has_pending()) return 0;  // whitespace after a whole request: part of it
  bool complete = view_.is_complete(engine_path(h.path()), h.pending());
  if (complete && is_blank(data) && starts_json(h.pending())) {
    // A newline in a write(2) of its own (dd bs=1, a program's line by line
    // output) does not end a JSON object still open: its "}" will.
    complete = view_.is_complete(engine_path(h.path()), h.pending().substr(0, h.pending().size() - data.size()));
  }
  if (should_apply_now(complete, data.size())) return apply_pending(h);
  // Applied at FLUSH, whose error shells ignore: an error already certain
  // (no further bytes can mend the text, or the caller may not write there)
  // fails this write(2) instead, and nothing is applied.
  if (auto st = view_.check_partial(h.caller(), engine_path(h.path()), h.pending()); !st.ok()) {
    note_denied(h.who(), to_errno(st.error().code));
    h.refuse(st.error());
    return log_failure("write", h.path(), *h.last_error());
  }
  return 0;  // applied at FLUSH
}

int Filesystem::do_flush(Handle& h) {
  if (!h.has_pending()) return 0;
  return apply_pending(h);
}

Filesystem::~Filesystem() { release_open_files(); }

Handle* Filesystem::keep_file(std::unique_ptr<Handle> h) { return open_files_.keep(std::move(h)); }

std::unique_ptr<Handle> Filesystem::take_file(Handle* h) { return open_files_.take(h); }

std::size_t Filesystem::release_open_files() {
  auto left = open_files_.take_all();
  for (auto& h : left) do_release(std::move(h));
  return left.size();
}

void Filesystem::do_release(std::unique_ptr<Handle> h) {
  if (!h) return;
  close_stream(h.get());
  poll_forget(h.get());
  if (h->has_pending()) {
    // Only possible if bytes were written after the last close's FLUSH (a
    // dup'd fd). Applying now would fail silently; say so instead.
    log_warn("release /", h->path(), ": discarding a request written after the last close");
  }
  if (const Ino ino = h->created_ino(); ino != 0) {
    std::lock_guard lock(created_mu_);
    if (auto it = created_open_.find(ino); it != created_open_.end() && --it->second <= 0) {
      created_open_.erase(it);
    }
  }
}

int Filesystem::do_mkdir(const engine::Caller& caller, Ino parent, const char* name, fuse_entry_param& e) {
  std::string path;
  if (int err = child_path("mkdir", parent, name, path)) return err;
  if (auto st = view_.make_dir(caller, engine_path(path)); !st.ok()) {
    return log_failure("mkdir", path, st.error());
  }
  // Not this mount's invalidations: the kernel holds the directory lock
  // they need until we reply.
  Invalidator::wait_for_all(&inodes_, kInvalidationWait);
  auto info = view_.stat(caller, engine_path(path));
  fill_entry(e, inodes_.lookup(path), info.ok() ? *info : synthetic_dir(), caller.token);
  return 0;
}

int Filesystem::do_unlink(const Who& who, Ino parent, const char* name) {
  const engine::Caller& caller = who.caller;
  std::string path;
  if (int err = child_path("unlink", parent, name, path)) return err;
  if (SessionFile::is(path)) return session_.unlink(who);
  if (template_at(path) != nullptr) return log_rejection("unlink", path, EACCES, "a template file is read-only");
  if (auto st = view_.remove(caller, engine_path(path)); !st.ok()) {
    return log_failure("unlink", path, st.error());
  }
  // Not this mount's invalidations: the kernel holds the directory lock
  // they need until we reply.
  Invalidator::wait_for_all(&inodes_, kInvalidationWait);
  return 0;
}

int Filesystem::do_rmdir(const engine::Caller& caller, Ino parent, const char* name) {
  std::string path;
  if (int err = child_path("rmdir", parent, name, path)) return err;
  if (template_at(path) != nullptr) return log_rejection("rmdir", path, ENOTDIR, "a template is a file");
  if (auto st = view_.remove_dir(caller, engine_path(path)); !st.ok()) {
    return log_failure("rmdir", path, st.error());
  }
  // Not this mount's invalidations: the kernel holds the directory lock
  // they need until we reply.
  Invalidator::wait_for_all(&inodes_, kInvalidationWait);
  return 0;
}

int Filesystem::do_rename(const engine::Caller& caller, Ino parent, const char* name, Ino newparent,
                          const char* newname, unsigned int flags) {
  constexpr unsigned int kNoReplace = 1;  // RENAME_NOREPLACE
  constexpr unsigned int kExchange = 2;   // RENAME_EXCHANGE
  std::string from;
  std::string to;
  if (int err = child_path("rename", parent, name, from)) return err;
  if (int err = child_path("rename", newparent, newname, to)) return err;
  if ((flags & ~kNoReplace) != 0) {
    return log_rejection("rename", from, EINVAL,
                         (flags & kExchange) ? "RENAME_EXCHANGE is not supported" : "unknown flags");
  }
  if (template_at(from) != nullptr || template_at(to) != nullptr) {
    return log_rejection("rename", from, EACCES, "a template file is read-only (it cannot be moved or replaced)");
  }
  if (parent != newparent || SessionFile::is(from) || SessionFile::is(to)) {
    log_info("rename /", from, " -> /", to, ": not within one directory (EXDEV: mv copies instead)");
    return EXDEV;
  }
  if ((flags & kNoReplace) != 0 && view_.stat(caller, engine_path(to)).ok()) {
    return log_rejection("rename", to, EEXIST, "RENAME_NOREPLACE and the target exists");
  }
  auto done = view_.rename(caller, engine_path(from), engine_path(to));
  if (!done.ok()) return log_failure("rename", from, done.error());
  if (!*done) {
    log_info("rename /", from, " -> /", to, ": not one step here (EXDEV: mv copies instead)");
    return EXDEV;
  }
  log_debug("rename /", from, " -> /", to, ": applied");
  // The kernel's entry `to` now names the source's inode.
  inodes_.rename(from, to);
  // Not this mount's invalidations: the kernel holds the directory lock
  // they need until we reply.
  Invalidator::wait_for_all(&inodes_, kInvalidationWait);
  return 0;
}

// ------------------------------------------------------------ inotify replays

bool Filesystem::replay_job(pid_t pid, Replayer::Job& job) const {
  return replayer_ != nullptr && replayer_->current_job(pid, job);
}

int Filesystem::replay_lookup(const Replayer::Job& job, Ino parent, const char* name, fuse_entry_param& e) {
  std::string path;
  if (int err = child_path("replay lookup", parent, name, path)) return err;
  const bool target = path == job.path;
  const bool folder = job.path.size() > path.size() && job.path.starts_with(path) && job.path[path.size()] == '/';
  if (!target && !folder) return ENOENT;
  if (target && job.action == Replayer::Action::Create) return ENOENT;  // the kernel sends CREATE
  const Ino ino = inodes_.lookup(path);
  e.ino = ino;
  e.attr_timeout = kNoCache;
  e.entry_timeout = kNoCache;
  if (folder) {
    e.attr = make_attr(ino, synthetic_dir());
    return 0;
  }
  std::size_t size = 0;
  {
    std::lock_guard lock(sizes_mu_);
    if (auto it = sizes_.find(ino); it != sizes_.end()) size = static_cast<std::size_t>(it->second);
  }
  engine::NodeInfo info = synthetic_file();
  info.size = size;
  e.attr = make_attr(ino, info);
  return 0;
}

int Filesystem::replay_getattr(Ino ino, struct stat& st) {
  // A file the kernel was told about has its size here; anything else on a
  // replay's path is one of its folders.
  std::optional<off_t> size;
  {
    std::lock_guard lock(sizes_mu_);
    if (auto it = sizes_.find(ino); it != sizes_.end()) size = it->second;
  }
  if (!size || ino == kRootIno) {
    st = make_attr(ino, synthetic_dir());
    return 0;
  }
  engine::NodeInfo info = synthetic_file();
  info.size = static_cast<std::size_t>(*size);
  st = make_attr(ino, info);
  return 0;
}

int Filesystem::replay_open(Ino ino, fuse_file_info& fi, std::unique_ptr<Handle>& out) {
  std::string path;
  if (int err = path_of("replay open", ino, path)) return err;
  out = std::make_unique<Handle>(std::move(path), engine::WriteMode::Replace, Who{});
  fi.direct_io = 1;
  fi.keep_cache = 0;
  fi.noflush = 1;
  return 0;
}

int Filesystem::replay_create(Ino parent, const char* name, fuse_file_info& fi, std::unique_ptr<Handle>& out,
                              fuse_entry_param& e) {
  std::string path;
  if (int err = child_path("replay create", parent, name, path)) return err;
  const Ino ino = inodes_.lookup(path);
  e.ino = ino;
  e.attr_timeout = kNoCache;
  e.entry_timeout = kNoCache;
  e.attr = make_attr(ino, synthetic_file());
  out = std::make_unique<Handle>(std::move(path), engine::WriteMode::Replace, Who{});
  fi.direct_io = 1;
  fi.keep_cache = 0;
  fi.noflush = 1;
  return 0;
}

}  // namespace fsd
