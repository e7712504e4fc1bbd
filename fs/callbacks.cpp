// SPDX-License-Identifier: MPL-2.0
#include "fs/callbacks.hpp"

#include <fcntl.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <exception>
#include <typeinfo>
#include <vector>

#include "fs/log.hpp"
#include "fs/monitor.hpp"
#include "fs/op_log.hpp"
#include "fs/operations.hpp"
#include "fs/poll.hpp"
#include "fs/replay.hpp"
#include "fs/write_policy.hpp"

namespace fsd {

namespace {

Filesystem& fs_of(fuse_req_t req) { return *static_cast<Filesystem*>(fuse_req_userdata(req)); }

// Open files carry their handle's address in fi->fh (a uint64_t): it must
// hold a pointer whole, or the handle found at READ/RELEASE would not be the
// one made at OPEN.
using FileHandleField = decltype(fuse_file_info::fh);
static_assert(sizeof(Handle*) <= sizeof(FileHandleField), "a Handle* must fit fuse_file_info::fh");
static_assert(sizeof(DirHandle*) <= sizeof(FileHandleField), "a DirHandle* must fit fuse_file_info::fh");

void set_handle(fuse_file_info* fi, Handle* h) { fi->fh = reinterpret_cast<FileHandleField>(h); }
void set_dir_handle(fuse_file_info* fi, DirHandle* d) { fi->fh = reinterpret_cast<FileHandleField>(d); }

Handle* handle_of(const fuse_file_info* fi) { return reinterpret_cast<Handle*>(fi->fh); }

DirHandle* dir_handle_of(const fuse_file_info* fi) { return reinterpret_cast<DirHandle*>(fi->fh); }

// One request's caller and its token-use allowance (see engine::Request::
// uses): requests the kernel makes on its own to walk and stat (lookup,
// getattr, setattr, access, readdir) spend no use of a use-limited token;
// the others (opendir's listing, mkdir, unlink, rmdir, and each read or
// write reaching the engine through an open file) spend one at most.
struct Asking {
  Who who;
  engine::UseBudget budget;
  // may_log_in: see CallerResolver::who (false for requests that only look).
  Asking(Filesystem& fs, fuse_req_t req, ReadsEnv env, bool free, bool may_log_in = true)
      : who(fs.callers().who(req, env, may_log_in)) {
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
  // What this request changes is not replayed on its own mount (fs/replay.hpp).
  struct RequestMark {
    explicit RequestMark(const void* fs) { set_request_fs(fs); }
    ~RequestMark() { set_request_fs(nullptr); }
  } mark(fuse_req_userdata(req));
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
    log_info("kernel limits writes to ", conn->max_write, " bytes: larger requests are applied at close");
  }
  // O_TRUNC arrives as an open flag rather than a truncate (truncation must
  // never delete anything, and it need not be a separate request).
  if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
  // Writes must reach us with their caller and in order: no writeback cache.
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_WRITEBACK_CACHE);
  if (!fs.settings().readdirplus) {
    conn->want &= ~static_cast<unsigned>(FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
  }
  if (fs.kernel_reads()) {
    // Reads served by the kernel alone (Filesystem::kernel_reads): it must
    // check a file's attributes before each cached read once they expire.
    fs.set_no_open_capable((conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) != 0);
    if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA) conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
  }
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  guarded(req, "lookup", [&] {
    auto& fs = fs_of(req);
    fuse_entry_param e{};
    if (Replayer::Job job; fs.replay_job(fuse_req_ctx(req)->pid, job)) {  // an inotify replay: a no-op
      const int rerr = fs.replay_lookup(job, parent, name, e);
      if (rerr != 0) {
        fuse_reply_err(req, rerr);
      } else if (fuse_reply_entry(req, &e) != 0) {
        fs.forget(e.ino, 1);
      }
      return;
    }
    Asking asking(fs, req, ReadsEnv::Yes, /*free=*/true, /*may_log_in=*/false);
    const int err = fs.do_lookup(asking.caller(), parent, name, e);
    fs.note_denied(asking.who, err);
    if (err != 0) {
      fuse_reply_err(req, err);
      return;
    }
    if (fuse_reply_entry(req, &e) != 0) fs.forget(e.ino, 1);
  });
}

void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  try {
    fs_of(req).forget(ino, nlookup);
  } catch (...) {
    log_error("forget: unexpected exception");
  }
  fuse_reply_none(req);
}

void op_forget_multi(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  try {
    Filesystem& fs = fs_of(req);
    for (size_t i = 0; i < count; ++i) fs.forget(forgets[i].ino, forgets[i].nlookup);
  } catch (...) {
    log_error("forget_multi: unexpected exception");
  }
  fuse_reply_none(req);
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  guarded(req, "getattr", [&] {
    auto& fs = fs_of(req);
    struct stat st {};
    if (Replayer::Job job; fs.replay_job(fuse_req_ctx(req)->pid, job)) {  // an inotify replay: a no-op
      fs.replay_getattr(ino, st);
      fuse_reply_attr(req, &st, 0.0);
      return;
    }
    // fstat of an open regular file (the kernel sends its handle only for
    // those) is asked with the token the file was opened with, whichever
    // process holds the fd now.
    // (fh 0: a file opened with no OPEN, see Filesystem::kernel_reads.)
    const Handle* h = fi != nullptr ? handle_of(fi) : nullptr;
    Asking asking = h != nullptr ? Asking(h->who(), /*free=*/true)
                                 : Asking(fs, req, ReadsEnv::Yes, /*free=*/true, /*may_log_in=*/false);
    const int err = fs.do_getattr(asking.caller(), ino, st, h);
    fs.note_denied(asking.who, err);
    if (err != 0) {
      fuse_reply_err(req, err);
      return;
    }
    fuse_reply_attr(req, &st, fs.cache_timeout(ino, asking.caller().token));
  });
}

void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* /*fi*/) {
  guarded(req, "setattr", [&] {
    auto& fs = fs_of(req);
    struct stat st {};
    if (Replayer::Job job; fs.replay_job(fuse_req_ctx(req)->pid, job)) {  // ftruncate(same size): a no-op
      fs.replay_getattr(ino, st);
      fuse_reply_attr(req, &st, 0.0);
      return;
    }
    Asking asking(fs, req, ReadsEnv::No, /*free=*/true);
    const int err = fs.do_setattr(asking.caller(), ino, *attr, to_set, st);
    if (err != 0) {
      fuse_reply_err(req, err);
      return;
    }
    fuse_reply_attr(req, &st, fs.cache_timeout(ino, asking.caller().token));
  });
}

void op_access(fuse_req_t req, fuse_ino_t ino, int mask) {
  guarded(req, "access", [&] {
    auto& fs = fs_of(req);
    Asking asking(fs, req, ReadsEnv::Yes, /*free=*/true, /*may_log_in=*/false);
    const int err = fs.do_access(asking.caller(), ino, mask);
    fs.note_denied(asking.who, err);
    fuse_reply_err(req, err);
  });
}

void op_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  guarded(req, "opendir", [&] {
    auto& fs = fs_of(req);
    std::unique_ptr<DirHandle> dir;
    Asking asking(fs, req, ReadsEnv::Yes, /*free=*/false, /*may_log_in=*/false);
    const int err = fs.do_opendir(asking.caller(), ino, dir);
    fs.note_denied(asking.who, err);
    if (err != 0) {
      fuse_reply_err(req, err);
      return;
    }
    set_dir_handle(fi, dir.get());
    // Listings depend on the caller (SPEC §4): the kernel keeps one only on
    // a caching bound mount (one token), for a node it may cache, and the
    // Invalidator drops it whenever an entry below comes or goes.
    fi->cache_readdir = dir->kept ? 1 : 0;
    fi->keep_cache = dir->kept ? 1 : 0;
    DirHandle* kept = fs.keep_dir(std::move(dir));
    if (fuse_reply_open(req, fi) != 0) fs.drop_dir(kept);
  });
}

void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi, bool plus) {
  guarded(req, plus ? "readdirplus" : "readdir", [&] {
    auto& fs = fs_of(req);
    // Each worker reuses its buffer (names and attributes only, nothing
    // secret): a fresh one per READDIR cost about as much as packing it.
    thread_local std::vector<char> buf;
    if (buf.size() < size) buf.resize(size);
    std::size_t used = 0;
    // Packs each entry into buf while it fits.
    const Filesystem::DirSink add = [&](const char* name, const fuse_entry_param& e, off_t next) {
      const std::size_t room = size - used;
      const std::size_t need = plus ? fuse_add_direntry_plus(req, buf.data() + used, room, name, &e, next)
                                    : fuse_add_direntry(req, buf.data() + used, room, name, &e.attr, next);
      if (need > room) return false;
      used += need;
      return true;
    };
    int err = 0;
    DirHandle& dir = *dir_handle_of(fi);
    if (plus || dir.deferred) {
      // READDIRPLUS stats each entry, as its caller; a deferred listing
      // (a caching bound mount's) is read as the mount token.
      Asking asking(fs, req, ReadsEnv::No, /*free=*/true, /*may_log_in=*/false);
      err = fs.do_readdir(asking.caller(), ino, dir, off, plus, add);
    } else {
      // The entries were read and authorised at OPENDIR, as the opener: a
      // plain READDIR only pages through them, so it asks nobody anything.
      err = fs.do_readdir(engine::Caller{}, ino, dir, off, plus, add);
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
    fs_of(req).drop_dir(dir_handle_of(fi));
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
  constexpr std::uint32_t kDirectIo = 1u << 0, kKeepCache = 1u << 1, kNonseekable = 1u << 2, kCacheDir = 1u << 3,
                          kNoflush = 1u << 5, kParallelDirectWrites = 1u << 6;
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
    if (Replayer::Job job; fs.replay_job(fuse_req_ctx(req)->pid, job)) {  // an inotify replay: a no-op
      const int rerr = fs.replay_open(ino, *fi, h);
      if (rerr != 0) {
        fuse_reply_err(req, rerr);
        return;
      }
      set_handle(fi, fs.keep_file(std::move(h)));
      if (fuse_reply_open(req, fi) != 0) fs.do_release(fs.take_file(handle_of(fi)));
      return;
    }
    Asking asking(fs, req, ReadsEnv::Yes, /*free=*/true, /*may_log_in=*/(fi->flags & O_ACCMODE) != O_RDONLY);
    const int err = fs.do_open(asking.who, ino, *fi, h);
    fs.note_denied(asking.who, err);
    if (err != 0) {
      fuse_reply_err(req, err);
      return;
    }
    set_handle(fi, fs.keep_file(std::move(h)));  // the kernel's file's until RELEASE
    // Writes to a direct-I/O file in parallel (an O_APPEND write always
    // takes the inode's lock).
    const bool parallel = fi->direct_io && (fi->flags & O_ACCMODE) != O_RDONLY && !(fi->flags & O_APPEND);
    if (reply_open(req, *fi, parallel) != 0) {
      fs.do_release(fs.take_file(handle_of(fi)));  // interrupted: no RELEASE will come
    }
  });
}

void op_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t /*mode*/, fuse_file_info* fi) {
  guarded(req, "create", [&] {
    auto& fs = fs_of(req);
    std::unique_ptr<Handle> h;
    fuse_entry_param e{};
    Replayer::Job job;
    const bool replay = fs.replay_job(fuse_req_ctx(req)->pid, job);  // an inotify replay: a no-op
    Asking asking = replay ? Asking(Who{}, /*free=*/true) : Asking(fs, req, ReadsEnv::Yes, /*free=*/true);
    const int err =
        replay ? fs.replay_create(parent, name, *fi, h, e) : fs.do_create(asking.who, parent, name, *fi, h, e);
    if (err != 0) {
      fuse_reply_err(req, err);
      return;
    }
    set_handle(fi, fs.keep_file(std::move(h)));
    if (fuse_reply_create(req, &e, fi) != 0) {
      fs.forget(e.ino, 1);
      fs.do_release(fs.take_file(handle_of(fi)));
    }
  });
}

// READ of a file the kernel opened without asking (fh 0; only after OPEN
// was answered ENOSYS: Filesystem::kernel_reads), as the mount's token.
void read_unopened(Filesystem& fs, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off) {
  if (!fs.serving_from_kernel()) {
    log_error("read: no open file (EBADF)");
    fuse_reply_err(req, EBADF);
    return;
  }
  Asking asking(fs, req, ReadsEnv::No, /*free=*/false);
  engine::SecureString bytes;
  const int err = fs.do_read_unopened(asking.who, ino, size, off, bytes);
  if (err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  fuse_reply_buf(req, bytes.data(), bytes.size());
}

void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  guarded(req, "read", [&] {
    auto& fs = fs_of(req);
    if (fi->fh == 0) {
      read_unopened(fs, req, ino, size, off);
      return;
    }
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
        log_info("read /", h.path(),
                 ": page-cache fill (mmap, fadvise, readahead or splice) refused on a "
                 "mount shared by several callers; read(2) the file instead (EIO)");
      }
      fuse_reply_err(req, EIO);
      return;
    }
    if (is_stream(&h)) {  // sys/monitor, events: blocks until lines come (fs/monitor.hpp)
      std::string lines;
      const int merr = read_stream(req, &h, size, lines);
      if (merr != 0)
        fuse_reply_err(req, merr);
      else
        fuse_reply_buf(req, lines.data(), lines.size());
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

// One write on h, replied to. Never throws (a login line runs it for
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

// A write to a login handle, replied to here or, when queued behind another
// login of the writer's uid, by the thread running that uid's line
// (fs/login_lines.hpp). The handle stays alive until then: the kernel holds
// the file until the reply. A queued login whose writer has gone meanwhile
// is not tried (EINTR); EAGAIN when the uid's line is full.
void write_login(Filesystem& fs, fuse_req_t req, Handle& h, std::string_view data) {
  const uid_t uid = fuse_req_ctx(req)->uid;
  auto task = [&fs, req, &h, body = engine::to_secure(data)](bool queued) noexcept {
    if (queued && fuse_req_interrupted(req)) {
      fuse_reply_err(req, EINTR);
      return;
    }
    write_and_reply(fs, req, h, engine::as_view(body));
  };
  if (fs.logins().run(uid, std::move(task)) == LoginLines::Admit::Full) {
    fuse_reply_err(req, log_rejection("write", h.path(), EAGAIN, "too many logins of this uid in flight"));
  }
}

void op_write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t /*off*/, fuse_file_info* fi) {
  guarded(req, "write", [&] {
    auto& fs = fs_of(req);
    if (fi->fh == 0) {  // never: a mount with unopened files is read-only
      fuse_reply_err(req, log_rejection("write", std::to_string(ino), EBADF, "no open file"));
      return;
    }
    Handle& h = *handle_of(fi);
    if (h.login()) {
      write_login(fs, req, h, std::string_view(buf, size));
      return;
    }
    if (is_stream(&h)) {  // an event stream's options (fs/monitor.hpp)
      const int serr = write_stream(&h, std::string_view(buf, size));
      if (serr != 0) {
        fuse_reply_err(req, serr);
      } else {
        fuse_reply_write(req, size);
      }
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
    if (fi->fh == 0) {
      // A file opened without OPEN (read-only: nothing to apply). ENOSYS
      // makes the kernel send no FLUSH on this mount again.
      fuse_reply_err(req, ENOSYS);
      return;
    }
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
    if (fi->fh == 0) {  // not sent after no-open; nothing to free
      fuse_reply_err(req, 0);
      return;
    }
    auto& fs = fs_of(req);
    fs.do_release(fs.take_file(handle_of(fi)));
    fuse_reply_err(req, 0);
  });
}

// poll(2): streams are readable when a line is queued, other files always
// ready, plus POLLPRI|POLLERR once changed since their last read
// (fs/poll.hpp). The kept handle is woken from the poll thread, never here.
void op_poll(fuse_req_t req, fuse_ino_t /*ino*/, fuse_file_info* fi, fuse_pollhandle* ph) {
  guarded(req, "poll", [&] {
    if (fi->fh == 0) {
      // No handle to keep (no-open): ENOSYS, and the kernel answers poll
      // on this mount as for a regular file (always ready).
      fuse_reply_err(req, ENOSYS);
      return;
    }
    const Handle* h = handle_of(fi);
    const unsigned revents = is_stream(h) ? poll_stream(h, ph) : poll_file(h, ph);
    fuse_reply_poll(req, revents);
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
    if (fuse_reply_entry(req, &e) != 0) fs.forget(e.ino, 1);
  });
}

void op_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  guarded(req, "unlink", [&] {
    auto& fs = fs_of(req);
    if (Replayer::Job job; fs.replay_job(fuse_req_ctx(req)->pid, job)) {  // an inotify replay: nothing removed
      fuse_reply_err(req, 0);
      return;
    }
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

void op_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent, const char* newname,
               unsigned int flags) {
  guarded(req, "rename", [&] {
    auto& fs = fs_of(req);
    Asking asking(fs, req, ReadsEnv::Yes, /*free=*/false);
    const int err = fs.do_rename(asking.caller(), parent, name, newparent, newname, flags);
    fs.note_denied(asking.who, err);
    fuse_reply_err(req, err);
  });
}

void op_link(fuse_req_t req, fuse_ino_t /*ino*/, fuse_ino_t /*newparent*/, const char* newname) {
  log_info("link ", newname, ": not supported (EPERM)");
  fuse_reply_err(req, EPERM);
}

void op_symlink(fuse_req_t req, const char* /*link*/, fuse_ino_t /*parent*/, const char* name) {
  log_info("symlink ", name, ": not supported (EPERM)");
  fuse_reply_err(req, EPERM);
}

void op_mknod(fuse_req_t req, fuse_ino_t /*parent*/, const char* name, mode_t /*mode*/, dev_t /*rdev*/) {
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

void op_setxattr(fuse_req_t req, fuse_ino_t /*ino*/, const char* name, const char* /*value*/, size_t /*size*/,
                 int /*flags*/) {
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
  ops.poll = op_poll;
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

const fuse_lowlevel_ops& lowlevel_ops() {
  static const fuse_lowlevel_ops ops = make_ops();
  return ops;
}

}  // namespace fsd
