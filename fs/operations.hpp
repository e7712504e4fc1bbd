// SPDX-License-Identifier: MPL-2.0
// The FUSE low-level callbacks of one mount, over an engine::FileView.
//
// Each operation is split as in libfuse's passthrough_hp: a do_X member that
// does the work and returns 0 or a positive errno (logging the reason of any
// error, once), and a static callback in operations.cpp that gets the caller,
// calls do_X and sends the one reply. The callbacks run inside a guard, so
// no exception ever crosses into libfuse (it becomes EIO and a log line).
//
// Caching (SPEC §4): every entry and attribute is replied with timeout 0 and
// every file is opened direct_io, so the kernel reuses nothing one caller was
// told for another. Attributes never depend on the caller: owner and modes
// come from FsSettings, size and mtime from the engine.
#pragma once

#include <fuse_lowlevel.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "engine/fileview/file_view.hpp"
#include "fs/caller.hpp"
#include "fs/handle.hpp"
#include "fs/inode_table.hpp"
#include "fs/log.hpp"

namespace fsd {

struct FsSettings {
  uid_t uid = 0;              // owner of every node
  gid_t gid = 0;
  mode_t file_mode = 0640;    // x bits are always cleared: nothing is executable
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
  // Token-file mounts: asked for the mount's token at each request (so a
  // rotated file is used at once); empty = the fixed mount token.
  std::function<engine::SecureString()> mount_token_source;
  // Who is asking (fs/caller.hpp): read callers' VAULT_TOKEN (off with
  // --no-env-token), and the token of callers that have none of their own
  // ("" = none; the dev root token in --dev).
  bool env_token = true;
  engine::SecureString fallback_token;
  uid_t fallback_uid = 0;  // the only uid the fallback token serves (the daemon's owner)
};

class Filesystem {
 public:
  // view must outlive this object. Thread-safe: all members may be called
  // from any number of FUSE worker threads at once.
  Filesystem(engine::FileView& view, FsSettings settings, engine::SecureString mount_token);

  Filesystem(const Filesystem&) = delete;
  Filesystem& operator=(const Filesystem&) = delete;

  // The callback table for fuse_session_new(); userdata must be a Filesystem*.
  static const fuse_lowlevel_ops& lowlevel_ops();

  const FsSettings& settings() const { return settings_; }
  InodeTable& inodes() { return inodes_; }
  CallerResolver& callers() { return callers_; }
  // After a request of who failed with err: a session whose token the engine
  // no longer knows (revoked, expired, spent) is ended.
  void note_denied(const Who& who, int err);

  // --- compute halves: 0 or a positive errno; reasons are logged here ---

  int do_lookup(const engine::Caller& caller, Ino parent, const char* name, fuse_entry_param& e);
  int do_getattr(const engine::Caller& caller, Ino ino, struct stat& st);
  // Accepts what `>` and `touch` need (size 0, times, modes) as no-ops:
  // truncation never deletes anything. EINVAL for other sizes, EPERM for a
  // new owner. st: the attributes after the call.
  int do_setattr(const engine::Caller& caller, Ino ino, const struct stat& attr, int to_set,
                 struct stat& st);
  int do_access(const engine::Caller& caller, Ino ino, int mask);

  int do_opendir(const engine::Caller& caller, Ino ino, std::unique_ptr<DirHandle>& out);
  // Fills buf with entries from offset off; out_size is the bytes used.
  // plus: READDIRPLUS (attributes, and a lookup reference per entry).
  int do_readdir(fuse_req_t req, const engine::Caller& caller, Ino ino, const DirHandle& dir,
                 off_t off, bool plus, char* buf, std::size_t size, std::size_t& out_size);

  // The handle keeps who: reads and writes on it use the token it was opened
  // with, and each read asks the engine again (revocation stops it at once).
  int do_open(const Who& who, Ino ino, fuse_file_info& fi,
              std::unique_ptr<Handle>& out);
  int do_create(const Who& who, Ino parent, const char* name, fuse_file_info& fi,
                std::unique_ptr<Handle>& out, fuse_entry_param& e);
  // Requires h.lock() held; out points into h and stays valid while it is.
  int do_read(Handle& h, std::size_t size, off_t off, std::string_view& out);
  // Requires h.lock() held.
  int do_write(Handle& h, std::string_view data);
  // A write to a login handle (Handle::login), replied to here or later:
  // the logins of one uid run one at a time, in order, on the thread of the
  // request that found its line idle, and the other requests' workers go
  // back to serve at once (their reply comes when their turn has run). So
  // a flood of failed logins from one uid, each held by the engine for its
  // failed-login delay and Argon2, takes one FUSE worker and one CPU, and
  // other uids' logins go on meanwhile. EAGAIN past kMaxQueuedLogins.
  void write_login(fuse_req_t req, Handle& h, std::string_view data);
  static constexpr std::size_t kMaxQueuedLogins = 64;
  // Requires h.lock() held. Applies a request left pending by write().
  int do_flush(Handle& h);
  // Drops h (pending bytes are never applied at release: nobody would see
  // the error).
  void do_release(std::unique_ptr<Handle> h);

  int do_mkdir(const engine::Caller& caller, Ino parent, const char* name, fuse_entry_param& e);
  int do_unlink(const Who& who, Ino parent, const char* name);
  int do_rmdir(const engine::Caller& caller, Ino parent, const char* name);

  // --- helpers, public for tests ---

  // Mount-relative path of name inside parent, or an errno (ENOENT for an
  // unknown parent, EINVAL for ".", ".." or a name with '/', ENAMETOOLONG
  // over 255 bytes).
  int child_path(const char* op, Ino parent, std::string_view name, std::string& out) const;
  // The path handed to the engine for a mount-relative path (chroot applied).
  std::string engine_path(std::string_view path) const;
  // Entry and attribute timeout for a node: 0 unless the mount caches and
  // the node is cacheable.
  double cache_timeout(Ino ino) const;
  // Attributes for a node, per mount settings.
  struct stat make_attr(Ino ino, const engine::NodeInfo& info) const;

 private:
  // Logs why an engine call failed and returns its errno.
  int fail(const char* op, std::string_view path, const engine::Error& error) const;
  // Logs an error the fs layer itself decided and returns err.
  int reject(const char* op, std::string_view path, int err, std::string_view reason,
             LogLevel level = LogLevel::Info) const;
  int path_of(const char* op, Ino ino, std::string& out) const;
  int apply_pending(Handle& h);
  int apply_session(Handle& h);
  engine::NodeInfo synthetic_dir() const;
  engine::NodeInfo synthetic_file() const;
  void fill_entry(fuse_entry_param& e, Ino ino, const engine::NodeInfo& info) const;
  bool is_created_and_open(Ino ino) const;

  engine::FileView& view_;
  const FsSettings settings_;
  CallerResolver callers_;
  InodeTable inodes_;
  const engine::TimePoint started_;

  // Inodes made by create() whose handle is still open, with their open
  // count: nothing is stored for them until a write applies, so getattr and
  // setattr (touch, cp's fstat) answer from here instead of ENOENT.
  mutable std::mutex created_mu_;
  std::unordered_map<Ino, int> created_open_;

  // write_login's lines, by writer uid: a line exists while one of its
  // logins runs; waiting holds the ones queued behind it.
  struct LoginTask {
    fuse_req_t req;
    Handle* handle;  // alive: the kernel holds the file until the reply
    engine::SecureString data;
  };
  struct LoginLine {
    std::deque<LoginTask> waiting;
  };
  std::mutex logins_mu_;
  std::unordered_map<uid_t, LoginLine> logins_;
};

}  // namespace fsd
