// SPDX-License-Identifier: MPL-2.0
// The compute halves of one mount's filesystem operations, over an
// engine::FileView, the mount's inode table and its open handles.
//
// Each FUSE operation is split as in libfuse's passthrough_hp: a do_X member
// here that does the work and returns 0 or a positive errno (logging the
// reason of any error, once), and a callback in fs/callbacks.cpp that gets
// the caller, calls do_X inside a guard (no exception ever crosses into
// libfuse: it becomes EIO and a log line) and sends the one reply. Nothing
// here replies or needs a mount, so unit tests drive these members with a
// dev core and a FileView (tests/unit/fs/test_operations.cpp). The session
// file (auth/token/session) is answered by fs/session_file.hpp.
//
// Caching (SPEC §4): every entry and attribute is replied with timeout 0 and
// every file is opened direct_io, so the kernel reuses nothing one caller was
// told for another. Attributes never depend on the caller: owner and modes
// come from FsSettings, size and mtime from the engine.
//
// Template files (fs/template_files.hpp) are the mount's own: MOUNT/NAME
// for each FsSettings::templates entry, unless the tree has something of
// that name (a namespace or mount made later wins; logged once). Each is
// rendered as the caller at lookup, getattr and access (its size and mtime:
// the newest dependency's time), and at open, where the handle keeps the
// bytes for good. Read-only: any write, truncation, setattr, unlink or
// rename of one is EACCES (its mode has no w bit; the kernel's own answer
// for a file one may not write). Renders on a caching mount are kept per
// token until a change touches them (templates_changed).
//
// Lock order in fs/ (docs/architecture.md has the daemon's whole order).
// Outermost first; a lock may be held while taking one further down, never
// the reverse:
//   Handle::lock()  per open file (fs/handle.hpp), held for a whole request
//                   on it (do_read, do_write, do_flush): engine calls,
//                   session binds and Invalidator::wait_for_all run under it
//   monitor Stream::mu (fs/monitor.cpp), held while it waits on its engine
//                   log subscription (engine locks only under it)
//   the engine's locks (FileView, Core); FileView::listeners_mu_ is held
//                   while listeners run, which take Invalidator::mu_
//   g_registry_mu -> Invalidator::mu_ (fs/invalidator.cpp)
//   leaves, held over no other lock: InodeTable::mu_, CallerResolver's
//                   env_mu_ / session_mu_ / EnvRead::mu, Filesystem's
//                   created_mu_, life_mu_ and TemplateNode::mu, LoginLines::mu_
//                   (never held while a login runs), TokenFile::mu_,
//                   fs/monitor.cpp's g_mu
// No two handles' locks are held at once, and a reply is sent only once the
// handle's lock is let go (after its last reply the kernel may RELEASE it).
#pragma once

#include <fuse_lowlevel.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/common/change_bus.hpp"
#include "engine/fileview/file_view.hpp"
#include "fs/caller.hpp"
#include "fs/handle.hpp"
#include "fs/inode_table.hpp"
#include "fs/log.hpp"
#include "fs/login_lines.hpp"
#include "fs/replay.hpp"
#include "fs/session_file.hpp"
#include "fs/template_files.hpp"

namespace fsd {

// The longest name a directory entry may have (statfs's f_namemax).
inline constexpr std::size_t kNameMax = 255;

struct FsSettings {
  uid_t uid = 0;  // owner of every node
  gid_t gid = 0;
  mode_t file_mode = 0640;  // x bits are always cleared: nothing is executable
  mode_t dir_mode = 0750;
  // Namespace shown as the mount root ("" = the root namespace): prefixed to
  // every path handed to the engine, so nothing outside it is reachable.
  std::string chroot;
  // Answer READDIRPLUS. Off by default: with zero timeouts the attributes it
  // carries are never reused, so it only costs a stat per entry.
  bool readdirplus = false;
  // Bound mounts only (SPEC §4): the kernel may keep entries, attributes and
  // the data of read-only opens of nodes that change only through the view
  // (FileView::cacheable) for cache_seconds; the mount's Invalidator drops
  // them on every change. Off: timeouts 0 and direct I/O everywhere.
  bool cache = false;
  double cache_seconds = 60.0;
  // The mount is read-only (mounted `ro`: the kernel refuses every write
  // with EROFS before asking). A read-only caching bound mount lets the
  // kernel serve reads alone (see kernel_reads()).
  bool read_only = false;
  // Token-file mounts: asked for the mount's token at each request (so a
  // rotated file is used at once); empty = the fixed mount token.
  std::function<engine::SecureString()> mount_token_source;
  // Who is asking (fs/caller.hpp): read callers' VAULT_TOKEN (off with
  // --no-env-token), and the token of callers that have none of their own
  // ("" = none; the dev root token in --dev).
  bool env_token = true;
  engine::SecureString fallback_token;
  uid_t fallback_uid = 0;  // the only uid the fallback token serves (the daemon's owner)
  // A peer auth method ("ns/auth/peer", below the mount root) that logs in
  // callers with no token on their first request (--peer-login); "" = none.
  std::string peer_login;
  // inotify by replay (fs/replay.hpp): this mount replays changes made
  // elsewhere so watchers see them.
  bool inotify = false;
  // The mount's template files (fs/template_files.hpp), at its root.
  std::vector<TemplateFile> templates;
};

class Filesystem {
 public:
  // view must outlive this object. Thread-safe: all members may be called
  // from any number of FUSE worker threads at once.
  Filesystem(engine::FileView& view, FsSettings settings, engine::SecureString mount_token);
  ~Filesystem();  // releases the files still open (release_open_files)

  Filesystem(const Filesystem&) = delete;
  Filesystem& operator=(const Filesystem&) = delete;

  const FsSettings& settings() const { return settings_; }
  InodeTable& inodes() { return inodes_; }
  // FORGET: gives back n of ino's references, and what this mount keeps
  // about the inode goes with its last (on inotify mounts, the size last
  // told the kernel). Thread-safe.
  void forget(Ino ino, std::uint64_t n);
  // inotify mounts: how many files' sizes are kept (tests).
  std::size_t told_sizes() const;
  CallerResolver& callers() { return callers_; }
  // The mount's login lines (see do_write and Handle::login).
  LoginLines& logins() { return logins_; }
  // After a request of who failed with err: a session whose token the engine
  // no longer knows (revoked, expired, spent) is ended.
  void note_denied(const Who& who, int err);

  // --- reads served by the kernel alone (read-only caching bound mounts) ---
  //
  // On such a mount the first read-only OPEN is answered ENOSYS (FUSE's
  // no-open support): from then on the kernel sends no OPEN, FLUSH or
  // RELEASE for files, and every open file has fh 0, so a `cat` of a file
  // it has cached is served with no request to the daemon at all. That is
  // exact only because the kernel is told at every event that can change
  // the answer: a change made through any mount and a revocation, policy or
  // identity change reach it through the Invalidator (the request that made
  // it returns once they were sent); entries and attributes never outlive
  // the mount token (cache_timeout), and the mount's token watch
  // (fs/token_watch.hpp) drops everything when it expires or the token file
  // changes; files that change by themselves (sys/, auth/token/lookup-self)
  // show a new mtime at every stat, so the kernel (auto_inval_data) fetches
  // them again at each read. A use-limited token (num_uses) keeps a checked
  // OPEN, so each open spends its use (logged once). Streams (sys/monitor,
  // events), the session file and poll(2) need an open file of their own:
  // on such a mount they are refused (EOPNOTSUPP) or, for poll, always ready.
  bool kernel_reads() const { return settings_.cache && settings_.read_only && callers_.mount_bound(); }
  // From INIT: whether the kernel supports no-open (FUSE_CAP_NO_OPEN_SUPPORT).
  void set_no_open_capable(bool capable) { no_open_capable_.store(capable); }
  // True once OPEN has been answered ENOSYS (every file now has fh 0).
  bool serving_from_kernel() const { return open_mode_.load() == OpenMode::Kernel; }
  // READ of a file with no handle (fh 0, after no-open): the bytes at
  // [off, off + size) of what the file reads as now, asked as who.
  int do_read_unopened(const Who& who, Ino ino, std::size_t size, off_t off, engine::SecureString& out);
  // When the mount's token expires ({} = never or not bound; a dead token:
  // kDeadToken, fs/token_watch.hpp). Memoised per token and change
  // generation. Thread-safe.
  engine::TimePoint mount_token_expiry() const;
  // The same for a token already in hand (the one a request is made with):
  // no read of the token file.
  engine::TimePoint token_expiry(const engine::SecureString& token) const;
  // Caching bound mounts, from the token watch's thread (never a request's):
  // when the mount token is not the confirmed one, waits in settle() until
  // the kernel dropped what it kept (the change posted `everything`), then
  // confirms it, so opens stop asking the engine (do_open).
  void confirm_mount_token(const std::function<void()>& settle);

  // --- compute halves: 0 or a positive errno; reasons are logged here ---

  int do_lookup(const engine::Caller& caller, Ino parent, const char* name, fuse_entry_param& e);
  // h: the open file of an fstat (null for stat): a template's handle
  // answers with the bytes it keeps.
  int do_getattr(const engine::Caller& caller, Ino ino, struct stat& st, const Handle* h = nullptr);
  // Accepts what `>` and `touch` need (size 0, times, modes) as no-ops:
  // truncation never deletes anything. EINVAL for other sizes, EPERM for a
  // new owner. st: the attributes after the call.
  int do_setattr(const engine::Caller& caller, Ino ino, const struct stat& attr, int to_set, struct stat& st);
  int do_access(const engine::Caller& caller, Ino ino, int mask);

  int do_opendir(const engine::Caller& caller, Ino ino, std::unique_ptr<DirHandle>& out);
  // The directory handles the kernel holds (OPENDIR answered, RELEASEDIR
  // not yet come). The kernel sends releases asynchronously, so one still
  // queued when the session ends never arrives: what is left is freed with
  // the filesystem.
  DirHandle* keep_dir(std::unique_ptr<DirHandle> dir);
  void drop_dir(DirHandle* dir);
  // Takes one directory entry for the reply: false when it does not fit
  // (the listing stops there, and that entry is not sent).
  using DirSink = std::function<bool(const char* name, const fuse_entry_param& e, off_t next)>;
  // Hands add() the entries of dir (".", "..", then the listing taken at
  // opendir) from offset off on, in order, each with the offset that resumes
  // after it, until add() returns false or the listing ends. Entries with
  // an invalid name are skipped (logged). plus: READDIRPLUS: each entry is
  // stat'ed as caller, and e.ino carries a lookup reference when the stat
  // succeeded (given back here if add() refuses the entry); otherwise, and
  // for plain READDIR (caller unused), e.ino is 0 and only e.attr is set.
  // A deferred listing (DirHandle::deferred) is read here, as caller.
  int do_readdir(const engine::Caller& caller, Ino ino, DirHandle& dir, off_t off, bool plus, const DirSink& add);

  // The handle keeps who: reads and writes on it use the token it was opened
  // with, and each read asks the engine again (revocation stops it at once).
  int do_open(const Who& who, Ino ino, fuse_file_info& fi, std::unique_ptr<Handle>& out);
  int do_create(const Who& who, Ino parent, const char* name, fuse_file_info& fi, std::unique_ptr<Handle>& out,
                fuse_entry_param& e);
  // Requires h.lock() held; out points into h and stays valid while it is.
  int do_read(Handle& h, std::size_t size, off_t off, std::string_view& out);
  // Requires h.lock() held. Appends data to h's request and applies it when
  // whole (fs/write_policy.hpp), or checks what can already be checked of a
  // partial one; the rest is applied at FLUSH. A write to a login handle
  // (Handle::login) runs in the writer uid's line of logins() (the callback
  // queues it there): EAGAIN when that line is full.
  int do_write(Handle& h, std::string_view data);
  // Requires h.lock() held. Applies a request left pending by write().
  int do_flush(Handle& h);
  // Drops h (pending bytes are never applied at release: nobody would see
  // the error). Takes the created-file lock (a leaf), never h.lock().
  void do_release(std::unique_ptr<Handle> h);
  // The files the kernel holds open (OPEN or CREATE answered, RELEASE not
  // yet come), kept before the reply so a RELEASE that follows at once
  // finds its handle. A session that ends with files open (stopped, or its
  // connection aborted) never gets their RELEASE: release_open_files()
  // releases what is left (contents zeroed as they are freed) once no
  // request runs any more, and says how many there were.
  Handle* keep_file(std::unique_ptr<Handle> h);
  std::unique_ptr<Handle> take_file(Handle* h);
  std::size_t release_open_files();

  int do_mkdir(const engine::Caller& caller, Ino parent, const char* name, fuse_entry_param& e);
  int do_unlink(const Who& who, Ino parent, const char* name);
  int do_rmdir(const engine::Caller& caller, Ino parent, const char* name);
  // rename(2): within one directory of one mount, FileView::rename (the
  // target replaced, the source removed); EXDEV otherwise, so mv copies.
  // RENAME_NOREPLACE is EEXIST over an existing target; RENAME_EXCHANGE
  // and the session file are refused.
  int do_rename(const engine::Caller& caller, Ino parent, const char* name, Ino newparent, const char* newname,
                unsigned int flags);

  // --- inotify replays (fs/replay.hpp): requests of this mount's replay
  // thread, answered as no-ops from the inode table: no token, engine call,
  // audit entry or token use ---

  // The mount's replayer (inotify mounts; set before the session runs).
  void set_replayer(const Replayer* replayer) { replayer_ = replayer; }
  // True when pid (a FUSE request's, i.e. the caller's tid) is this mount's
  // replay thread; job: what it replays.
  bool replay_job(pid_t pid, Replayer::Job& job) const;
  // LOOKUP: the job's path and its folders, by the inodes the kernel knows
  // (ENOENT for the target of a create, so the kernel sends CREATE).
  int replay_lookup(const Replayer::Job& job, Ino parent, const char* name, fuse_entry_param& e);
  // GETATTR/SETATTR: the attributes last told the kernel.
  int replay_getattr(Ino ino, struct stat& st);
  // OPEN/CREATE: a handle that reads and writes nothing.
  int replay_open(Ino ino, fuse_file_info& fi, std::unique_ptr<Handle>& out);
  int replay_create(Ino parent, const char* name, fuse_file_info& fi, std::unique_ptr<Handle>& out,
                    fuse_entry_param& e);

  // --- template files on caching mounts (fs/template_files.hpp) ---

  // A change: the renders it may alter are no longer kept. From the bus's
  // thread (a change listener); quick, leaf locks only.
  void templates_changed(const engine::Change& change);
  // The template inodes a change touches (by what their last render read),
  // for the Invalidator (Invalidator::set_extra_targets).
  std::vector<std::pair<Ino, std::string>> template_targets(const engine::Change& change) const;
  // The template files a secret's change touches (by what their last render
  // read): the mount's coffer/template-change events
  // (engine::TemplateMatcher). Leaf locks only.
  std::vector<std::string> templates_touched(const engine::ChangeEvent& change) const;

  // --- helpers, public for tests ---

  // Mount-relative path of name inside parent, or an errno (ENOENT for an
  // unknown parent, EINVAL for ".", ".." or a name with '/', ENAMETOOLONG
  // over 255 bytes).
  int child_path(const char* op, Ino parent, std::string_view name, std::string& out) const;
  // The path handed to the engine for a mount-relative path (chroot applied).
  std::string engine_path(std::string_view path) const;
  // Entry and attribute timeout for a node answered with token: 0 unless
  // the mount caches and the node is cacheable.
  double cache_timeout(Ino ino, const engine::SecureString& token) const;
  // Attributes for a node, per mount settings.
  struct stat make_attr(Ino ino, const engine::NodeInfo& info) const;

 private:
  int path_of(const char* op, Ino ino, std::string& out) const;
  // The entries of a directory as caller sees them (the root's with the
  // mount's template files), sorted.
  int list_dir(const char* op, const engine::Caller& caller, Ino ino, const std::string& path,
               std::vector<engine::DirEntry>& listed);
  int apply_pending(Handle& h);
  engine::NodeInfo synthetic_dir() const;
  engine::NodeInfo synthetic_file() const;
  void fill_entry(fuse_entry_param& e, Ino ino, const engine::NodeInfo& info, const engine::SecureString& token) const;
  // kernel_reads(): a file whose attributes the kernel may not keep gets a
  // new mtime at each stat (see kernel_reads()).
  void mark_volatile(struct stat& st) const;
  bool is_created_and_open(Ino ino) const;
  // kernel_reads(): ENOSYS when this read-only open is to be the kernel's
  // own from now on, 0 to open as usual (see kernel_reads()).
  int decide_no_open(const Who& who);
  // Entries and attributes never outlive the mount token: seconds left of
  // token (the one the answer was made with).
  double token_seconds_left(const engine::SecureString& token) const;
  // Caching mounts: token is the confirmed mount token (nothing the kernel
  // keeps was answered with another), alive, unexpired and not use-limited.
  bool token_known_good(const engine::SecureString& token) const;

  // A template file: its settings, and what its renders leave behind.
  struct Rendered {
    engine::SecureString bytes;
    engine::TimePoint modified{};  // newest dependency's time ({} = none)
    std::vector<std::string> dependencies;
  };
  struct TemplateNode {
    TemplateFile file;
    mutable std::atomic<bool> hidden{false};  // shadowed when last looked at (logged on the change)
    mutable std::mutex mu;                    // a leaf
    std::vector<std::string> dependencies;    // of the last render (any caller)
    // Caching mounts: the last render, for the token it was made with,
    // while gen has not moved since it began.
    std::uint64_t gen = 0;
    std::optional<Rendered> kept;
    engine::SecureString kept_token;
  };
  // The template file at a mount-relative path, or null (none there, or
  // hidden by a node of the tree: logged once when that starts).
  TemplateNode* template_at(std::string_view path) const;
  // Renders t as caller (ns: the chroot), or hands back the render kept for
  // its token (caching mounts; the token is checked alive). 0 or the errno,
  // the reason logged once for op.
  int render(const char* op, const engine::Caller& caller, TemplateNode& t, Rendered& out);
  struct stat template_attr(Ino ino, const TemplateNode& t, std::size_t size, engine::TimePoint modified) const;

  engine::FileView& view_;
  const FsSettings settings_;
  CallerResolver callers_;
  InodeTable inodes_;
  const engine::TimePoint started_;
  std::vector<std::unique_ptr<TemplateNode>> templates_;

  // Inodes made by create() whose handle is still open, with their open
  // count: nothing is stored for them until a write applies, so getattr and
  // setattr (touch, cp's fstat) answer from here instead of ENOENT.
  mutable std::mutex created_mu_;
  std::unordered_map<Ino, int> created_open_;

  Held<DirHandle> open_dirs_;
  Held<Handle> open_files_;

  // The session file's behaviour (fs/session_file.hpp).
  SessionFile session_;
  // Logins run one at a time per uid (fs/login_lines.hpp).
  LoginLines logins_;

  // kernel_reads(): how OPEN is answered.
  enum class OpenMode { Undecided, Kernel, PerOpen };
  std::atomic<OpenMode> open_mode_{OpenMode::Undecided};
  std::atomic<bool> no_open_capable_{false};
  // mount_token_expiry()'s memo (a leaf lock).
  struct TokenLife {
    engine::SecureString token;
    std::uint64_t generation = 0;
    bool known = false;
    engine::TimePoint expires{};
    std::int64_t uses_left = 0;  // a use-limited token's (0 = unlimited)
  };
  mutable std::mutex life_mu_;
  mutable TokenLife life_;
  engine::SecureString confirmed_token_;  // under life_mu_

  // inotify mounts: the replayer, and the size last told the kernel for
  // each file the kernel holds (replays truncate to it). Under sizes_mu_
  // the inode table's lock may be taken, never the other way round.
  const Replayer* replayer_ = nullptr;
  mutable std::mutex sizes_mu_;
  mutable std::unordered_map<Ino, off_t> sizes_;
};

}  // namespace fsd
