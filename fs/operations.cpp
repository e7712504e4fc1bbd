// SPDX-License-Identifier: MPL-2.0
#include "fs/operations.hpp"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <exception>
#include <typeinfo>

#include "fs/errno_map.hpp"
#include "engine/audit/monitor.hpp"
#include "fs/invalidator.hpp"
#include "fs/monitor.hpp"
#include "fs/write_policy.hpp"

namespace fsd {

namespace {

constexpr std::size_t kNameMax = 255;

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

std::string parent_of(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(path.substr(0, slash));
}

std::string join(std::string_view dir, std::string_view name) {
  std::string out;
  out.reserve(dir.size() + 1 + name.size());
  out.append(dir);
  if (!dir.empty()) out += '/';
  out.append(name);
  return out;
}

LogLevel level_for(engine::ErrorCode code) {
  if (is_server_fault(code)) return LogLevel::Error;
  // Lookups of absent names are routine (shells probe for files): keep them
  // out of the default log.
  if (code == engine::ErrorCode::NotFound) return LogLevel::Debug;
  if (code == engine::ErrorCode::Sealed) return LogLevel::Warn;
  return LogLevel::Info;
}

Filesystem& fs_of(fuse_req_t req) { return *static_cast<Filesystem*>(fuse_req_userdata(req)); }

Handle* handle_of(const fuse_file_info* fi) { return reinterpret_cast<Handle*>(fi->fh); }

DirHandle* dir_handle_of(const fuse_file_info* fi) {
  return reinterpret_cast<DirHandle*>(fi->fh);
}

// One request's caller and its token-use allowance (see engine::Request::
// uses): requests the kernel makes on its own to walk and stat (lookup,
// getattr, setattr, access, readdir) spend no use of a use-limited token;
// the others (opendir's listing, mkdir, unlink, rmdir, and each read or
// write reaching the engine through an open file) spend one at most.
struct Asking {
  Who who;
  engine::UseBudget budget;
  Asking(Filesystem& fs, fuse_req_t req, ReadsEnv env, bool free) : who(fs.callers().who(req, env)) {
    budget.spent = free;
    who.caller.uses = &budget;
  }
  Asking(Who from, bool free) : who(std::move(from)) {
    budget.spent = free;
    who.caller.uses = &budget;
  }
  Asking(const Asking&) = delete;
  Asking& operator=(const Asking&) = delete;
  const engine::Caller& caller() const { return who.caller; }
};

// Runs body; any exception becomes EIO and one log line, since unwinding into
// libfuse's C frames is undefined. Only the exception's type is logged: a
// what() from a parser may quote the bytes it choked on, which may be a
// secret. Bodies reply last, so nothing has been replied when they throw.
template <class Body>
void guarded(fuse_req_t req, const char* op, Body&& body) noexcept {
  try {
    body();
    return;
  } catch (const std::exception& e) {
    log_error(op, ": unexpected exception (", typeid(e).name(), ")");
  } catch (...) {
    log_error(op, ": unexpected exception");
  }
  fuse_reply_err(req, EIO);
}

// --- reply halves (libfuse callbacks) ------------------------------------

void op_init(void* userdata, fuse_conn_info* conn) {
  auto& fs = *static_cast<Filesystem*>(userdata);
  // One write(2) of up to a whole request should arrive as one WRITE, so it
  // can be applied (and its error returned) at once. libfuse has already
  // clamped max_write to its buffer (256 pages = 1 MiB on 4 KiB pages).
  conn->max_write = std::min<unsigned>(conn->max_write, kMaxRequestBytes);
  if (conn->max_write < kMaxRequestBytes) {
    log_info("kernel limits writes to ", conn->max_write,
             " bytes: larger requests are applied at close");
  }
  // O_TRUNC arrives as an open flag rather than a truncate (truncation must
  // never delete anything, and it need not be a separate request).
  if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
  // Writes must reach us with their caller and in order: no writeback cache.
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_WRITEBACK_CACHE);
  if (!fs.settings().readdirplus) {
    conn->want &= ~static_cast<unsigned>(FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
  }
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  guarded(req, "lookup", [&] {
    auto& fs = fs_of(req);
    fuse_entry_param e{};
    Asking asking(fs, req, ReadsEnv::Yes, /*free=*/true);
    const int err = fs.do_lookup(asking.caller(), parent, name, e);
    fs.note_denied(asking.who, err);
    if (err != 0) {
      fuse_reply_err(req, err);
      return;
    }
    if (fuse_reply_entry(req, &e) != 0) fs.inodes().forget(e.ino, 1);
  });
}

void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  try {
    fs_of(req).inodes().forget(ino, nlookup);
  } catch (...) {
    log_error("forget: unexpected exception");
  }
  fuse_reply_none(req);
}

void op_forget_multi(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  try {
    auto& inodes = fs_of(req).inodes();
    for (size_t i = 0; i < count; ++i) inodes.forget(forgets[i].ino, forgets[i].nlookup);
  } catch (...) {
    log_error("forget_multi: unexpected exception");
  }
  fuse_reply_none(req);
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  guarded(req, "getattr", [&] {
    auto& fs = fs_of(req);
    struct stat st {};
    // fstat of an open regular file (the kernel sends its handle only for
    // those) is asked with the token the file was opened with, whichever
    // process holds the fd now.
    Asking asking = fi != nullptr ? Asking(handle_of(fi)->who(), /*free=*/true)
                                  : Asking(fs, req, ReadsEnv::Yes, /*free=*/true);
    const int err = fs.do_getattr(asking.caller(), ino, st);
    fs.note_denied(asking.who, err);
    if (err != 0) {
      fuse_reply_err(req, err);
      return;
    }
    fuse_reply_attr(req, &st, fs.cache_timeout(ino));
  });
}

void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
                fuse_file_info* /*fi*/) {
  guarded(req, "setattr", [&] {
    auto& fs = fs_of(req);
    struct stat st {};
    Asking asking(fs, req, ReadsEnv::No, /*free=*/true);
    const int err = fs.do_setattr(asking.caller(), ino, *attr, to_set, st);
    if (err != 0) {
      fuse_reply_err(req, err);
      return;
    }
    fuse_reply_attr(req, &st, fs.cache_timeout(ino));
  });
}

void op_access(fuse_req_t req, fuse_ino_t ino, int mask) {
  guarded(req, "access", [&] {
    auto& fs = fs_of(req);
    Asking asking(fs, req, ReadsEnv::Yes, /*free=*/true);
    const int err = fs.do_access(asking.caller(), ino, mask);
    fs.note_denied(asking.who, err);
    fuse_reply_err(req, err);
  });
}

void op_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  guarded(req, "opendir", [&] {
    auto& fs = fs_of(req);
    std::unique_ptr<DirHandle> dir;
    Asking asking(fs, req, ReadsEnv::Yes, /*free=*/false);
    const int err = fs.do_opendir(asking.caller(), ino, dir);
    fs.note_denied(asking.who, err);
    if (err != 0) {
      fuse_reply_err(req, err);
      return;
    }
    fi->fh = reinterpret_cast<uint64_t>(dir.get());
    fi->cache_readdir = 0;  // listings depend on the caller (SPEC §4)
    fi->keep_cache = 0;
    if (fuse_reply_open(req, fi) == 0) dir.release();
  });
}

void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi,
                    bool plus) {
  guarded(req, plus ? "readdirplus" : "readdir", [&] {
    auto& fs = fs_of(req);
    std::vector<char> buf(size);
    std::size_t used = 0;
    int err = 0;
    if (plus) {
      // READDIRPLUS stats each entry, as its caller.
      Asking asking(fs, req, ReadsEnv::No, /*free=*/true);
      err = fs.do_readdir(req, asking.caller(), ino, *dir_handle_of(fi), off, plus, buf.data(), buf.size(), used);
    } else {
      // The entries were read and authorised at OPENDIR, as the opener: a
      // plain READDIR only pages through them, so it asks nobody anything.
      err = fs.do_readdir(req, engine::Caller{}, ino, *dir_handle_of(fi), off, plus, buf.data(), buf.size(), used);
    }
    if (err != 0) {
      fuse_reply_err(req, err);
      return;
    }
    fuse_reply_buf(req, buf.data(), used);
  });
}

void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  readdir_common(req, ino, size, off, fi, false);
}

void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  readdir_common(req, ino, size, off, fi, true);
}

void op_releasedir(fuse_req_t req, fuse_ino_t /*ino*/, fuse_file_info* fi) {
  guarded(req, "releasedir", [&] {
    delete dir_handle_of(fi);
    fuse_reply_err(req, 0);
  });
}

// Replies to OPEN, letting the kernel run direct-I/O writes to the file in
// parallel (FOPEN_PARALLEL_DIRECT_WRITES, Linux >= 6.2) when parallel is
// set: without it every write(2) to one inode holds the inode's lock for
// its whole round trip, so one slow request holds up every other writer of
// the file. Each handle here is its own request, so nothing needs that
// lock. The kernel still takes it alone for a write past the file's size
// and for an O_TRUNC open, so login files (size 0, written with `>`) get an
// inode per lookup instead (do_lookup). libfuse before 3.15 cannot say it:
// the reply is then made as fuse_reply_open makes it (struct
// fuse_open_out), with the flag added.
int reply_open(fuse_req_t req, const fuse_file_info& fi, bool parallel) {
#if FUSE_VERSION >= FUSE_MAKE_VERSION(3, 15)
  fuse_file_info copy = fi;
  copy.parallel_direct_writes = parallel ? 1 : 0;
  return fuse_reply_open(req, &copy);
#else
  if (!parallel) return fuse_reply_open(req, &fi);
  struct {  // struct fuse_open_out (linux/fuse.h)
    std::uint64_t fh;
    std::uint32_t open_flags;
    std::uint32_t padding;
  } out{};
  static_assert(sizeof(out) == 16);
  constexpr std::uint32_t kDirectIo = 1u << 0, kKeepCache = 1u << 1, kNonseekable = 1u << 2,
                          kCacheDir = 1u << 3, kNoflush = 1u << 5, kParallelDirectWrites = 1u << 6;
  out.fh = fi.fh;
  if (fi.direct_io) out.open_flags |= kDirectIo;
  if (fi.keep_cache) out.open_flags |= kKeepCache;
  if (fi.cache_readdir) out.open_flags |= kCacheDir;
  if (fi.nonseekable) out.open_flags |= kNonseekable;
  if (fi.noflush) out.open_flags |= kNoflush;
  out.open_flags |= kParallelDirectWrites;
  return fuse_reply_buf(req, reinterpret_cast<const char*>(&out), sizeof(out));
#endif
}

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  guarded(req, "open", [&] {
    auto& fs = fs_of(req);
    std::unique_ptr<Handle> h;
    Asking asking(fs, req, ReadsEnv::Yes, /*free=*/true);
    const int err = fs.do_open(asking.who, ino, *fi, h);
    fs.note_denied(asking.who, err);
    if (err != 0) {
      fuse_reply_err(req, err);
      return;
    }
    fi->fh = reinterpret_cast<uint64_t>(h.get());
    // Writes to a direct-I/O file in parallel (an O_APPEND write always
    // takes the inode's lock).
    const bool parallel = fi->direct_io && (fi->flags & O_ACCMODE) != O_RDONLY && !(fi->flags & O_APPEND);
    if (reply_open(req, *fi, parallel) == 0) {
      h.release();  // owned by the kernel's file until RELEASE
    } else {
      fs.do_release(std::move(h));  // interrupted: no RELEASE will come
    }
  });
}

void op_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t /*mode*/,
               fuse_file_info* fi) {
  guarded(req, "create", [&] {
    auto& fs = fs_of(req);
    std::unique_ptr<Handle> h;
    fuse_entry_param e{};
    Asking asking(fs, req, ReadsEnv::Yes, /*free=*/true);
    const int err = fs.do_create(asking.who, parent, name, *fi, h, e);
    if (err != 0) {
      fuse_reply_err(req, err);
      return;
    }
    fi->fh = reinterpret_cast<uint64_t>(h.get());
    if (fuse_reply_create(req, &e, fi) == 0) {
      h.release();
    } else {
      fs.inodes().forget(e.ino, 1);
      fs.do_release(std::move(h));
    }
  });
}

void op_read(fuse_req_t req, fuse_ino_t /*ino*/, size_t size, off_t off, fuse_file_info* fi) {
  guarded(req, "read", [&] {
    auto& fs = fs_of(req);
    Handle& h = *handle_of(fi);
    if (fi->lock_owner == 0 && !fs.callers().mount_bound()) {
      // The kernel names the reading process's files (lock_owner) on every
      // read(2) of a direct-I/O file, and nothing on the READs that fill the
      // page cache: faults of a MAP_PRIVATE mmap, fadvise(WILLNEED),
      // readahead(2), splice. Those pages belong to the inode, which every
      // caller shares, so one caller's content would be served to the next
      // one who maps the file (SPEC §4). Refused on a shared mount: the pages
      // stay empty (a mapping gets SIGBUS, readahead does nothing), read(2)
      // is unaffected. A bound mount has one token for every caller.
      if (h.first_refused_fill()) {
        log_info("read /", h.path(), ": page-cache fill (mmap, fadvise, readahead or splice) refused on a "
                 "mount shared by several callers; read(2) the file instead (EIO)");
      }
      fuse_reply_err(req, EIO);
      return;
    }
    if (is_monitor(&h)) {  // sys/monitor: blocks until log lines come (fs/monitor.hpp)
      std::string lines;
      const int merr = read_monitor(req, &h, size, lines);
      if (merr != 0) fuse_reply_err(req, merr);
      else fuse_reply_buf(req, lines.data(), lines.size());
      return;
    }
    // Reply only after the handle's lock is released: once the reply is out
    // the kernel may send RELEASE, and another thread frees the handle.
    engine::SecureString copy;
    int err = 0;
    {
      auto lock = h.lock();
      std::string_view out;
      err = fs.do_read(h, size, off, out);
      if (err == 0) copy.assign(out.data(), out.size());
    }
    if (err != 0) {
      fuse_reply_err(req, err);
      return;
    }
    fuse_reply_buf(req, copy.data(), copy.size());
  });
}

// One write on h, replied to. Never throws (write_login runs it for
// requests other than the one its thread was given).
void write_and_reply(Filesystem& fs, fuse_req_t req, Handle& h, std::string_view data) noexcept {
  try {
    int err = 0;
    {
      auto lock = h.lock();  // released before replying (see op_read)
      err = fs.do_write(h, data);
    }
    if (err != 0) {
      fuse_reply_err(req, err);
    } else {
      fuse_reply_write(req, data.size());
    }
    return;
  } catch (const std::exception& e) {
    log_error("write: unexpected exception (", typeid(e).name(), ")");
  } catch (...) {
    log_error("write: unexpected exception");
  }
  fuse_reply_err(req, EIO);
}

void op_write(fuse_req_t req, fuse_ino_t /*ino*/, const char* buf, size_t size, off_t /*off*/,
              fuse_file_info* fi) {
  guarded(req, "write", [&] {
    auto& fs = fs_of(req);
    Handle& h = *handle_of(fi);
    if (h.login()) {
      fs.write_login(req, h, std::string_view(buf, size));
      return;
    }
    int err = 0;
    {
      auto lock = h.lock();  // released before replying (see op_read)
      err = fs.do_write(h, std::string_view(buf, size));
    }
    if (err != 0) {
      fuse_reply_err(req, err);
      return;
    }
    fuse_reply_write(req, size);
  });
}

void op_flush(fuse_req_t req, fuse_ino_t /*ino*/, fuse_file_info* fi) {
  guarded(req, "flush", [&] {
    auto& fs = fs_of(req);
    Handle& h = *handle_of(fi);
    int err = 0;
    {
      auto lock = h.lock();  // released before replying (see op_read)
      err = fs.do_flush(h);
    }
    fuse_reply_err(req, err);
  });
}

void op_release(fuse_req_t req, fuse_ino_t /*ino*/, fuse_file_info* fi) {
  guarded(req, "release", [&] {
    fs_of(req).do_release(std::unique_ptr<Handle>(handle_of(fi)));
    fuse_reply_err(req, 0);
  });
}

void op_fsync(fuse_req_t req, fuse_ino_t /*ino*/, int /*datasync*/, fuse_file_info* /*fi*/) {
  // Nothing to sync: applied requests are durable when write/flush returns,
  // and a pending request is applied at close, not here.
  fuse_reply_err(req, 0);
}

void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t /*mode*/) {
  guarded(req, "mkdir", [&] {
    auto& fs = fs_of(req);
    fuse_entry_param e{};
    Asking asking(fs, req, ReadsEnv::Yes, /*free=*/false);
    const int err = fs.do_mkdir(asking.caller(), parent, name, e);
    fs.note_denied(asking.who, err);
    if (err != 0) {
      fuse_reply_err(req, err);
      return;
    }
    if (fuse_reply_entry(req, &e) != 0) fs.inodes().forget(e.ino, 1);
  });
}

void op_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  guarded(req, "unlink", [&] {
    auto& fs = fs_of(req);
    Asking asking(fs, req, ReadsEnv::Yes, /*free=*/false);
    const int err = fs.do_unlink(asking.who, parent, name);
    fs.note_denied(asking.who, err);
    fuse_reply_err(req, err);
  });
}

void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  guarded(req, "rmdir", [&] {
    auto& fs = fs_of(req);
    Asking asking(fs, req, ReadsEnv::Yes, /*free=*/false);
    const int err = fs.do_rmdir(asking.caller(), parent, name);
    fs.note_denied(asking.who, err);
    fuse_reply_err(req, err);
  });
}

void op_rename(fuse_req_t req, fuse_ino_t /*parent*/, const char* name, fuse_ino_t /*newparent*/,
               const char* newname, unsigned int /*flags*/) {
  // Vault has no rename. EXDEV lets mv fall back to copy + remove, which
  // are real requests checked by the ACL one by one.
  log_info("rename ", name, " -> ", newname, ": not supported (EXDEV)");
  fuse_reply_err(req, EXDEV);
}

void op_link(fuse_req_t req, fuse_ino_t /*ino*/, fuse_ino_t /*newparent*/, const char* newname) {
  log_info("link ", newname, ": not supported (EPERM)");
  fuse_reply_err(req, EPERM);
}

void op_symlink(fuse_req_t req, const char* /*link*/, fuse_ino_t /*parent*/, const char* name) {
  log_info("symlink ", name, ": not supported (EPERM)");
  fuse_reply_err(req, EPERM);
}

void op_mknod(fuse_req_t req, fuse_ino_t /*parent*/, const char* name, mode_t /*mode*/,
              dev_t /*rdev*/) {
  log_info("mknod ", name, ": not supported (EPERM)");
  fuse_reply_err(req, EPERM);
}

void op_statfs(fuse_req_t req, fuse_ino_t /*ino*/) {
  guarded(req, "statfs", [&] {
    struct statvfs st {};
    st.f_bsize = 4096;
    st.f_frsize = 4096;
    st.f_files = fs_of(req).inodes().size();
    st.f_namemax = kNameMax;
    fuse_reply_statfs(req, &st);
  });
}

void op_getxattr(fuse_req_t req, fuse_ino_t /*ino*/, const char* name, size_t /*size*/) {
  // ENOSYS makes the kernel stop sending GETXATTR for the whole mount (it
  // asks for security.capability before every write otherwise).
  log_debug("getxattr ", name, ": no xattrs (ENOSYS)");
  fuse_reply_err(req, ENOSYS);
}

void op_setxattr(fuse_req_t req, fuse_ino_t /*ino*/, const char* name, const char* /*value*/,
                 size_t /*size*/, int /*flags*/) {
  log_debug("setxattr ", name, ": no xattrs (ENOTSUP)");
  fuse_reply_err(req, ENOTSUP);
}

void op_listxattr(fuse_req_t req, fuse_ino_t /*ino*/, size_t /*size*/) {
  log_debug("listxattr: no xattrs (ENOTSUP)");
  fuse_reply_err(req, ENOTSUP);
}

void op_removexattr(fuse_req_t req, fuse_ino_t /*ino*/, const char* name) {
  log_debug("removexattr ", name, ": no xattrs (ENOTSUP)");
  fuse_reply_err(req, ENOTSUP);
}

fuse_lowlevel_ops make_ops() {
  fuse_lowlevel_ops ops{};
  ops.init = op_init;
  ops.lookup = op_lookup;
  ops.forget = op_forget;
  ops.forget_multi = op_forget_multi;
  ops.getattr = op_getattr;
  ops.setattr = op_setattr;
  ops.access = op_access;
  ops.opendir = op_opendir;
  ops.readdir = op_readdir;
  ops.readdirplus = op_readdirplus;
  ops.releasedir = op_releasedir;
  ops.open = op_open;
  ops.create = op_create;
  ops.read = op_read;
  ops.write = op_write;
  ops.flush = op_flush;
  ops.release = op_release;
  ops.fsync = op_fsync;
  ops.mkdir = op_mkdir;
  ops.unlink = op_unlink;
  ops.rmdir = op_rmdir;
  ops.rename = op_rename;
  ops.link = op_link;
  ops.symlink = op_symlink;
  ops.mknod = op_mknod;
  ops.statfs = op_statfs;
  ops.getxattr = op_getxattr;
  ops.setxattr = op_setxattr;
  ops.listxattr = op_listxattr;
  ops.removexattr = op_removexattr;
  return ops;
}

}  // namespace

// --- Filesystem -------------------------------------------------------------

namespace {

CallerSettings caller_settings(const FsSettings& fs, engine::SecureString mount_token) {
  CallerSettings c;
  c.mount_token = std::move(mount_token);
  c.mount_token_source = fs.mount_token_source;
  c.env_token = fs.env_token;
  c.fallback_token = fs.fallback_token;
  c.fallback_uid = fs.fallback_uid;
  return c;
}

// The session file (SPEC §3): writing a token binds it to the writer's uid on
// this mount; an empty write or rm ends the session. At the mount root only,
// where auth/ is always the root (or chroot) namespace's auth directory.
constexpr std::string_view kSessionFile = "auth/token/session";

bool is_blank(std::string_view data) {
  return data.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

bool starts_json(std::string_view body) {
  const auto first = body.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && body[first] == '{';
}

bool is_revoke_self(std::string_view path) {
  return path == "auth/token/revoke-self" || path.ends_with("/auth/token/revoke-self");
}

}  // namespace

Filesystem::Filesystem(engine::FileView& view, FsSettings settings,
                       engine::SecureString mount_token)
    : view_(view),
      settings_(std::move(settings)),
      callers_(caller_settings(settings_, std::move(mount_token))),
      started_(engine::Clock::now()) {}

const fuse_lowlevel_ops& Filesystem::lowlevel_ops() {
  static const fuse_lowlevel_ops ops = make_ops();
  return ops;
}

int Filesystem::fail(const char* op, std::string_view path, const engine::Error& error) const {
  const int err = to_errno(error.code);
  log(level_for(error.code), op, " /", path, ": ", engine::to_string(error.code),
      error.message.empty() ? "" : ": ", error.message, " (", std::strerror(err), ")");
  return err;
}

int Filesystem::reject(const char* op, std::string_view path, int err, std::string_view reason,
                       LogLevel level) const {
  log(level, op, " /", path, ": ", reason, " (", std::strerror(err), ")");
  return err;
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

int Filesystem::child_path(const char* op, Ino parent, std::string_view name,
                           std::string& out) const {
  auto dir = inodes_.path_of(parent);
  if (!dir) return reject(op, name, ESTALE, "unknown parent inode", LogLevel::Error);
  if (name.size() > kNameMax) {
    return reject(op, join(*dir, name.substr(0, 32)), ENAMETOOLONG,
                  "name over 255 bytes");
  }
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos) {
    return reject(op, join(*dir, name), EINVAL, "not a valid name");
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
    st.st_mode = S_IFDIR | (settings_.dir_mode & 07777);
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
  const engine::TimePoint when =
      info.modified == engine::TimePoint{} ? started_ : info.modified;
  st.st_mtim = to_timespec(when);
  st.st_ctim = st.st_mtim;
  st.st_atim = st.st_mtim;
  return st;
}

engine::NodeInfo Filesystem::synthetic_dir() const {
  return engine::NodeInfo{engine::NodeKind::Directory, 0, started_};
}

engine::NodeInfo Filesystem::synthetic_file() const {
  return engine::NodeInfo{engine::NodeKind::File, 0, started_};
}

void Filesystem::fill_entry(fuse_entry_param& e, Ino ino, const engine::NodeInfo& info) const {
  e.ino = ino;
  e.generation = 0;
  e.attr = make_attr(ino, info);
  e.attr_timeout = cache_timeout(ino);
  e.entry_timeout = e.attr_timeout;
}

double Filesystem::cache_timeout(Ino ino) const {
  if (!settings_.cache) return kNoCache;
  auto path = inodes_.path_of(ino);
  if (!path || !view_.cacheable(engine_path(*path))) return kNoCache;
  return settings_.cache_seconds;
}

bool Filesystem::is_created_and_open(Ino ino) const {
  std::lock_guard lock(created_mu_);
  return created_open_.count(ino) != 0;
}

int Filesystem::do_lookup(const engine::Caller& caller, Ino parent, const char* name,
                          fuse_entry_param& e) {
  std::string path;
  if (int err = child_path("lookup", parent, name, path)) return err;
  if (path == kSessionFile) {
    fill_entry(e, inodes_.lookup(path), synthetic_file());
    return 0;
  }
  auto info = view_.stat(caller, engine_path(path));
  if (!info.ok()) return fail("lookup", path, info.error());
  // On a shared mount each lookup of a login file is a new inode, so each
  // open of it is: the kernel serializes writes to one inode (its lock is
  // held for a write's whole round trip, and an O_TRUNC open takes it
  // alone), and one caller's failed login, answered no sooner than the
  // failed-login delay, must not hold up another caller's login.
  const bool own_inode = info->login && !callers_.mount_bound();
  fill_entry(e, own_inode ? inodes_.lookup_unique(path) : inodes_.lookup(path), *info);
  return 0;
}

int Filesystem::do_getattr(const engine::Caller& caller, Ino ino, struct stat& st) {
  std::string path;
  if (int err = path_of("getattr", ino, path)) return err;
  if (path == kSessionFile) {
    st = make_attr(ino, synthetic_file());
    return 0;
  }
  auto info = view_.stat(caller, engine_path(path));
  if (info.ok()) {
    st = make_attr(ino, *info);
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
  return fail("getattr", path, info.error());
}

int Filesystem::do_setattr(const engine::Caller& caller, Ino ino, const struct stat& attr,
                           int to_set, struct stat& st) {
  std::string path;
  if (int err = path_of("setattr", ino, path)) return err;
  if ((to_set & FUSE_SET_ATTR_SIZE) && attr.st_size != 0) {
    return reject("setattr", path, EINVAL,
                  "only truncation to size 0 is accepted (it deletes nothing)");
  }
  if (((to_set & FUSE_SET_ATTR_UID) && attr.st_uid != settings_.uid) ||
      ((to_set & FUSE_SET_ATTR_GID) && attr.st_gid != settings_.gid)) {
    return reject("setattr", path, EPERM, "owners are set per mount");
  }
  // Size 0, modes and times are accepted and ignored: `>` and `touch` must
  // work, truncation never deletes anything, and modes are per mount.
  return do_getattr(caller, ino, st);
}

int Filesystem::do_access(const engine::Caller& caller, Ino ino, int mask) {
  std::string path;
  if (int err = path_of("access", ino, path)) return err;
  if (path == kSessionFile) {
    return (mask & X_OK) ? reject("access", path, EACCES, "nothing on the mount is executable") : 0;
  }
  engine::NodeKind kind = engine::NodeKind::Directory;
  if (ino != kRootIno) {
    auto info = view_.stat(caller, engine_path(path));
    if (!info.ok()) {
      if (info.error().code == engine::ErrorCode::NotFound && is_created_and_open(ino)) return 0;
      return fail("access", path, info.error());
    }
    kind = info->kind;
  }
  if ((mask & X_OK) && kind == engine::NodeKind::File) {
    return reject("access", path, EACCES, "nothing on the mount is executable");
  }
  // The ACL answers per caller (SPEC §4): R_OK needs read (files) or list
  // (directories), W_OK create or update, on the path the file maps to.
  const bool want_read = (mask & R_OK) != 0;
  const bool want_write = (mask & W_OK) != 0;
  if (ino == kRootIno && !want_write) return 0;  // the way to unseal and log in
  if (!want_read && !want_write && ino != kRootIno) return 0;  // stat said it may be seen
  auto st = view_.check_access(caller, engine_path(path), kind, want_read, want_write);
  if (!st.ok()) return fail("access", path, st.error());
  return 0;
}

int Filesystem::do_opendir(const engine::Caller& caller, Ino ino, std::unique_ptr<DirHandle>& out) {
  std::string path;
  if (int err = path_of("opendir", ino, path)) return err;
  auto entries = view_.list(caller, engine_path(path));
  if (!entries.ok()) return fail("opendir", path, entries.error());
  out = std::make_unique<DirHandle>(DirHandle{std::move(path), std::move(entries).value()});
  return 0;
}

int Filesystem::do_readdir(fuse_req_t req, const engine::Caller& caller, Ino ino,
                           const DirHandle& dir, off_t off, bool plus, char* buf,
                           std::size_t size, std::size_t& out_size) {
  out_size = 0;
  // Offsets: entry i of [".", "..", entries...] carries offset i + 1, so a
  // readdir resumed at `off` starts at index `off`.
  const std::size_t total = dir.entries.size() + 2;
  for (std::size_t i = off < 0 ? 0 : static_cast<std::size_t>(off); i < total; ++i) {
    std::string name;
    fuse_entry_param e{};
    bool took_ref = false;
    if (i < 2) {
      name = i == 0 ? "." : "..";
      e.attr.st_ino = i == 0 ? ino : (dir.path.empty() ? kRootIno : inodes_.peek(parent_of(dir.path)));
      e.attr.st_mode = S_IFDIR;
      // e.ino stays 0: the kernel links no dentry for "." and "..".
    } else {
      const engine::DirEntry& entry = dir.entries[i - 2];
      if (entry.name.empty() || entry.name == "." || entry.name == ".." ||
          entry.name.find('/') != std::string::npos || entry.name.size() > kNameMax) {
        log_warn("readdir /", dir.path, ": skipping an entry with an invalid name");
        continue;
      }
      name = entry.name;
      const std::string child = join(dir.path, entry.name);
      const engine::NodeInfo fallback =
          entry.kind == engine::NodeKind::Directory ? synthetic_dir() : synthetic_file();
      if (plus) {
        auto info = view_.stat(caller, engine_path(child));
        if (info.ok()) {
          fill_entry(e, inodes_.lookup(child), *info);
          took_ref = true;
        } else {
          // e.ino 0: the kernel shows the name but caches nothing for it.
          e.attr = make_attr(inodes_.peek(child), fallback);
        }
      } else {
        e.attr = make_attr(inodes_.peek(child), fallback);
      }
    }
    const off_t next = static_cast<off_t>(i + 1);
    const std::size_t room = size - out_size;
    const std::size_t need =
        plus ? fuse_add_direntry_plus(req, buf + out_size, room, name.c_str(), &e, next)
             : fuse_add_direntry(req, buf + out_size, room, name.c_str(), &e.attr, next);
    if (need > room) {
      if (took_ref) inodes_.forget(e.ino, 1);  // not sent: the kernel holds no reference
      break;
    }
    out_size += need;
  }
  return 0;
}

int Filesystem::do_open(const Who& who, Ino ino, fuse_file_info& fi,
                        std::unique_ptr<Handle>& out) {
  std::string path;
  if (int err = path_of("open", ino, path)) return err;
  if (fi.flags & kFmodeExec) return reject("open", path, EACCES, "exec from the mount is refused");
  // O_TRUNC needs nothing here: a Replace-mode write replaces, and truncation
  // alone deletes nothing. O_APPEND makes writes patches.
  const auto mode = (fi.flags & O_APPEND) ? engine::WriteMode::Append : engine::WriteMode::Replace;
  out = std::make_unique<Handle>(std::move(path), mode, who);
  if (bool monitor = false; engine::is_monitor_path(out->path())) {  // sys/monitor streams (fs/monitor.hpp)
    auto st = open_monitor(view_.core(), who.caller, engine_path(out->path()), out.get(), monitor);
    if (!st.ok()) return fail("open", out->path(), st.error());
    if (monitor) {
      fi.direct_io = 1;
      fi.nonseekable = 1;
      fi.noflush = 1;
      return 0;
    }
  }
  fi.direct_io = 1;   // no page cache: contents depend on the caller
  fi.keep_cache = 0;
  if ((fi.flags & O_ACCMODE) != O_RDONLY && !callers_.mount_bound() &&
      view_.is_login(engine_path(out->path()))) {
    out->set_login(true);
  }
  if (settings_.cache && (fi.flags & O_ACCMODE) == O_RDONLY &&
      view_.cacheable(engine_path(out->path()))) {
    // A bound, caching mount: the kernel may serve the data it already has
    // (dropped by the Invalidator on change). The open itself still asks
    // the engine, so a revoked or expired token stops reads at once.
    auto info = view_.stat(who.caller, engine_path(out->path()));
    if (!info.ok()) return fail("open", out->path(), info.error());
    fi.direct_io = 0;
    fi.keep_cache = 1;
  }
  // A read-only handle never has anything to apply at close.
  if ((fi.flags & O_ACCMODE) == O_RDONLY) fi.noflush = 1;
  return 0;
}

int Filesystem::do_create(const Who& who, Ino parent, const char* name,
                          fuse_file_info& fi, std::unique_ptr<Handle>& out, fuse_entry_param& e) {
  const engine::Caller& caller = who.caller;
  std::string path;
  if (int err = child_path("create", parent, name, path)) return err;
  if (fi.flags & kFmodeExec) return reject("create", path, EACCES, "exec from the mount is refused");
  // Nothing is stored until a write applies: the name exists only for this
  // handle until then (a lone `touch` leaves nothing behind).
  auto info = path == kSessionFile ? engine::Result<engine::NodeInfo>(synthetic_file())
                                    : view_.stat(caller, engine_path(path));
  const engine::NodeInfo attrs = info.ok() ? *info : synthetic_file();
  const Ino ino = inodes_.lookup(path);
  fill_entry(e, ino, attrs);
  const auto mode = (fi.flags & O_APPEND) ? engine::WriteMode::Append : engine::WriteMode::Replace;
  const bool session_file = path == kSessionFile;
  out = std::make_unique<Handle>(std::move(path), mode, who);
  if (session_file) {
    fi.direct_io = 1;
    fi.keep_cache = 0;
    return 0;
  }
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
  // The token the file was opened with, spending at most one use here.
  engine::UseBudget budget;
  engine::Caller caller = h.caller();
  caller.uses = &budget;
  if (h.path() == kSessionFile && !h.has_written()) {
    out = {};  // write-only: the session shows in auth/token/lookup-self
    return 0;
  }
  if (h.has_written()) {
    // The write moved the fd offset past the request; the reply has its own
    // cursor (SPEC §2).
    out = h.read_reply(size);
    return 0;
  }
  if (!h.has_snapshot()) {
    auto content = view_.read(caller, engine_path(h.path()));
    if (!content.ok()) {
      note_denied(h.who(), to_errno(content.error().code));
      return fail("read", h.path(), content.error());
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
      return fail("read", h.path(), allowed.error());
    }
  }
  out = h.snapshot_slice(off, size);
  return 0;
}

int Filesystem::apply_pending(Handle& h) {
  if (h.path() == kSessionFile) return apply_session(h);
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
    return fail("write", h.path(), error);
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

int Filesystem::apply_session(Handle& h) {
  std::string_view text = h.pending();
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  const uid_t uid = h.who().uid;
  if (text.empty()) {
    callers_.end_session(uid);
    log_info("session: uid ", uid, " ended through the session file");
    return h.finish_request(engine::SecureString{});
  }
  if (text.find_first_of(" \t\r\n=") != std::string_view::npos) {
    const int err = h.finish_request(engine::Error::invalid("the session file takes one token"));
    return reject("write", h.path(), err, "the session file takes one token");
  }
  engine::Caller candidate{engine::to_secure(text)};
  if (auto st = view_.check_token(candidate); !st.ok()) {
    const int err = h.finish_request(engine::Error::denied("permission denied: not a live token"));
    return reject("write", h.path(), err, "not a live token; the session is unchanged");
  }
  callers_.bind_session(uid, std::move(candidate.token));
  log_info("session: uid ", uid, " bound through the session file");
  return h.finish_request(engine::SecureString{});
}

void Filesystem::note_denied(const Who& who, int err) {
  if (err != EACCES || who.source != TokenSource::Session) return;
  auto st = view_.check_token(who.caller);
  if (st.ok() || st.error().code != engine::ErrorCode::PermissionDenied) return;
  callers_.end_session(who.uid, &who.caller.token);
  log_info("session: uid ", who.uid, " ended: its token is no longer valid");
}

int Filesystem::do_write(Handle& h, std::string_view data) {
  if (h.append(data) != 0) return fail("write", h.path(), *h.last_error());
  if (!h.has_pending()) return 0;  // whitespace after a whole request: part of it
  const bool session = h.path() == kSessionFile;
  bool complete = session ? h.pending().find('\n') != std::string_view::npos
                          : view_.is_complete(engine_path(h.path()), h.pending());
  if (complete && !session && is_blank(data) && starts_json(h.pending())) {
    // A newline in a write(2) of its own (dd bs=1, a program's line by line
    // output) does not end a JSON object still open: its "}" will.
    complete = view_.is_complete(engine_path(h.path()), h.pending().substr(0, h.pending().size() - data.size()));
  }
  if (should_apply_now(complete, data.size())) return apply_pending(h);
  // Applied at FLUSH, whose error shells ignore: an error already certain
  // (no further bytes can mend the text, or the caller may not write there)
  // fails this write(2) instead, and nothing is applied.
  if (!session) {
    if (auto st = view_.check_partial(h.caller(), engine_path(h.path()), h.pending()); !st.ok()) {
      note_denied(h.who(), to_errno(st.error().code));
      h.refuse(st.error());
      return fail("write", h.path(), *h.last_error());
    }
  }
  return 0;  // applied at FLUSH
}

void Filesystem::write_login(fuse_req_t req, Handle& h, std::string_view data) {
  const uid_t uid = fuse_req_ctx(req)->uid;
  bool full = false;
  {
    std::lock_guard lock(logins_mu_);
    auto it = logins_.find(uid);
    if (it != logins_.end()) {
      full = it->second.waiting.size() >= kMaxQueuedLogins;
      if (!full) {
        it->second.waiting.push_back(LoginTask{req, &h, engine::to_secure(data)});
        return;  // replied when its turn has run
      }
    } else {
      logins_.emplace(uid, LoginLine{});
    }
  }
  if (full) {
    fuse_reply_err(req, reject("write", h.path(), EAGAIN, "too many logins of this uid in flight"));
    return;
  }
  write_and_reply(*this, req, h, data);
  while (true) {
    LoginTask next{};
    {
      std::lock_guard lock(logins_mu_);
      auto it = logins_.find(uid);
      if (it->second.waiting.empty()) {
        logins_.erase(it);
        return;
      }
      next = std::move(it->second.waiting.front());
      it->second.waiting.pop_front();
    }
    if (fuse_req_interrupted(next.req)) {  // the writer is gone: do not try its login
      fuse_reply_err(next.req, EINTR);
      continue;
    }
    write_and_reply(*this, next.req, *next.handle, engine::as_view(next.data));
  }
}

int Filesystem::do_flush(Handle& h) {
  if (!h.has_pending()) return 0;
  return apply_pending(h);
}

void Filesystem::do_release(std::unique_ptr<Handle> h) {
  if (!h) return;
  close_monitor(h.get());
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

int Filesystem::do_mkdir(const engine::Caller& caller, Ino parent, const char* name,
                         fuse_entry_param& e) {
  std::string path;
  if (int err = child_path("mkdir", parent, name, path)) return err;
  if (auto st = view_.make_dir(caller, engine_path(path)); !st.ok()) {
    return fail("mkdir", path, st.error());
  }
  // Not this mount's invalidations: the kernel holds the directory lock
  // they need until we reply.
  Invalidator::wait_for_all(&inodes_, kInvalidationWait);
  auto info = view_.stat(caller, engine_path(path));
  fill_entry(e, inodes_.lookup(path), info.ok() ? *info : synthetic_dir());
  return 0;
}

int Filesystem::do_unlink(const Who& who, Ino parent, const char* name) {
  const engine::Caller& caller = who.caller;
  std::string path;
  if (int err = child_path("unlink", parent, name, path)) return err;
  if (path == kSessionFile) {
    callers_.end_session(who.uid);
    log_info("session: uid ", who.uid, " ended by rm of the session file");
    return 0;
  }
  if (auto st = view_.remove(caller, engine_path(path)); !st.ok()) {
    return fail("unlink", path, st.error());
  }
  // Not this mount's invalidations: the kernel holds the directory lock
  // they need until we reply.
  Invalidator::wait_for_all(&inodes_, kInvalidationWait);
  return 0;
}

int Filesystem::do_rmdir(const engine::Caller& caller, Ino parent, const char* name) {
  std::string path;
  if (int err = child_path("rmdir", parent, name, path)) return err;
  if (auto st = view_.remove_dir(caller, engine_path(path)); !st.ok()) {
    return fail("rmdir", path, st.error());
  }
  // Not this mount's invalidations: the kernel holds the directory lock
  // they need until we reply.
  Invalidator::wait_for_all(&inodes_, kInvalidationWait);
  return 0;
}

}  // namespace fsd
