// SPDX-License-Identifier: MPL-2.0
// The session file (SPEC §3): auth/token/session at the mount root, a node
// the engine knows nothing of. Writing a live token to it binds the token to
// the writer's uid on this mount; an empty write or rm ends the uid's
// session; reading it returns nothing before a write (the session shows in
// auth/token/lookup-self) and the outcome of the write after one. At the
// mount root only, where auth/ is always the root (or chroot) namespace's
// auth directory.
//
// Every operation the compute halves (fs/operations.hpp) receive for this
// path is answered here and never reaches the engine's view of the path:
// Filesystem asks is() once per operation and hands the work over.
#pragma once

#include <fuse_lowlevel.h>

#include <cstddef>
#include <string_view>

#include "engine/fileview/file_view.hpp"
#include "fs/caller.hpp"
#include "fs/handle.hpp"

namespace fsd {

class SessionFile {
 public:
  // The file's mount-relative path.
  static constexpr std::string_view kPath = "auth/token/session";

  // view checks the tokens written; callers holds the sessions. Both must
  // outlive this object. Thread-safe (no state of its own).
  SessionFile(engine::FileView& view, CallerResolver& callers) : view_(view), callers_(callers) {}

  // True for the session file's mount-relative path (a handle's path()).
  static bool is(std::string_view path) { return path == kPath; }

  // What lookup, getattr and create answer: a file of size 0 with no time
  // of its own (Filesystem::make_attr shows the mount's start time). Its
  // inode is the inode table's for kPath, like any other path's.
  static engine::NodeInfo info() { return engine::NodeInfo{engine::NodeKind::File, 0, {}}; }

  // access(2): EACCES (logged) for X_OK, nothing on the mount is executable;
  // 0 otherwise.
  int access(int mask) const;

  // The open flags of a handle made by open or create: direct I/O and no
  // page cache (what a read returns depends on the handle's writes).
  void open(fuse_file_info& fi) const;

  // A read on h (h.lock() held): nothing before h wrote, the reply of its
  // last write after (from the handle's own cursor). out points into h.
  int read(Handle& h, std::size_t size, std::string_view& out) const;

  // Whether h's pending bytes are a whole request: one line (the token and
  // its newline).
  static bool complete(const Handle& h);

  // A write on h (h.lock() held): appends data to h's request and applies
  // it (apply) once complete() or a full chunk (fs/write_policy.hpp); else
  // it waits for more bytes or FLUSH, with nothing checked before. EFBIG
  // past kMaxRequestBytes; otherwise apply's errors.
  int write(Handle& h, std::string_view data);

  // Applies h's pending bytes (h.lock() held) for h's writer uid, at a whole
  // write or at FLUSH (Filesystem::do_flush): blank ends
  // the session; one live token binds it (replacing any other). EINVAL for
  // more than one word, EACCES for a token the engine does not know (the
  // session is then unchanged); the handle's reply says why.
  int apply(Handle& h);

  // rm of the file: ends who's session. Always 0.
  int unlink(const Who& who);

  // Release needs nothing: the file keeps no state per handle, and a handle
  // made by create() for it is not tracked as a created, unstored name.

 private:
  engine::FileView& view_;
  CallerResolver& callers_;
};

}  // namespace fsd
