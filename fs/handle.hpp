// SPDX-License-Identifier: MPL-2.0
// Open-file state (fi->fh): the request being written, the reply to it, and
// the content snapshot a reader sees (SPEC §2).
//
// - Writes append to pending(); the operations layer decides (write_policy)
//   whether to apply now or at FLUSH, applies through the FileView, and hands
//   the outcome to finish_request(). A write after a finished request starts
//   a new one.
// - Once this handle has written, reads return the reply of the last request
//   (or its error message) from their own cursor, ignoring the file offset,
//   which the write moved. Otherwise reads serve a snapshot of the contents
//   rendered at the first read, by offset, so a reader sees one version.
//
// Not thread-safe by itself: the kernel may send requests on one handle from
// several threads, so every use holds lock() for the whole request, and lets
// go of it before replying: after the last reply the kernel may RELEASE (and
// the fs free) the handle at once. lock() comes first in fs/'s lock order
// (fs/operations.hpp): other locks may be taken under it, never it under them.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/common/error.hpp"
#include "engine/common/secure.hpp"
#include "engine/fileview/file_view.hpp"
#include "fs/caller.hpp"
#include "fs/inode_table.hpp"

namespace fsd {

class Handle {
 public:
  // who: the caller that opened the file; its token is used for every read
  // and write on this handle (SPEC §3: an open file keeps its token).
  Handle(std::string path, engine::WriteMode mode, Who who);
  Handle(std::string path, engine::WriteMode mode, engine::Caller caller)
      : Handle(std::move(path), mode, Who{std::move(caller), 0, TokenSource::Mount}) {}

  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  std::unique_lock<std::mutex> lock() { return std::unique_lock(mu_); }

  const std::string& path() const { return path_; }
  engine::WriteMode mode() const { return mode_; }
  const engine::Caller& caller() const { return who_.caller; }
  const Who& who() const { return who_; }

  // Set when create() made this handle for a name nothing is stored at yet.
  void set_created_ino(Ino ino) { created_ino_ = ino; }
  Ino created_ino() const { return created_ino_; }

  // A login file opened for writing on a shared mount: its writes go
  // through the writer uid's login line (fs/login_lines.hpp).
  void set_login(bool on) { login_ = on; }
  bool login() const { return login_; }

  // A template file's handle (fs/template_files.hpp): its snapshot is the
  // render made at open, kept for the handle's life (never rendered again),
  // and modified is the newest dependency's time (fstat's mtime).
  void set_template(engine::TimePoint modified) {
    template_ = true;
    template_modified_ = modified;
  }
  bool is_template() const { return template_; }
  engine::TimePoint template_modified() const { return template_modified_; }

  // True the first time only: one log line per handle for the page-cache
  // fills refused on a shared mount (op_read).
  bool first_refused_fill() { return !std::exchange(refused_fill_, true); }

  // --- writing ---------------------------------------------------------

  // Appends data to the request being written; the first write after a
  // finished request starts a new one (and forgets the old reply), except
  // whitespace alone, which belongs to the request before it (print's "\n"
  // in a write(2) of its own): it is dropped, and pending() stays empty.
  // EFBIG if the request would exceed kMaxRequestBytes: see refuse().
  int append(std::string_view data);

  // Ends the request being written, before it was whole, with an error no
  // further bytes could undo: the buffer is wiped, reads return the error,
  // and every later write on this handle fails with the same errno (the rest
  // of that stream belongs to the refused request, and applying it on its
  // own would apply half a request). Returns the errno.
  int refuse(engine::Error error);

  std::string_view pending() const { return engine::as_view(pending_); }
  bool has_pending() const { return !pending_.empty(); }
  // True once any write reached this handle: reads then serve the reply.
  bool has_written() const { return has_written_; }

  // Records the outcome of applying pending(): the reply, or the error's
  // message, becomes what reads return; the buffer is wiped. Returns 0 or the
  // errno for the error.
  int finish_request(engine::Result<engine::SecureString> outcome);

  // The error of the last finished request, if it failed.
  const std::optional<engine::Error>& last_error() const { return last_error_; }

  // --- reading ---------------------------------------------------------

  // The whole reply of the last finished request (cursor untouched).
  std::string_view reply_text() const { return engine::as_view(reply_); }

  // Up to size bytes of the reply from its own cursor, advancing it.
  std::string_view read_reply(std::size_t size);

  bool has_snapshot() const { return snapshot_.has_value(); }
  void set_snapshot(engine::SecureString content) { snapshot_ = std::move(content); }
  // Forgets the snapshot: the next read renders the content again.
  void clear_snapshot() { snapshot_.reset(); }
  // Up to size bytes of the snapshot at off (empty past the end). Requires
  // has_snapshot().
  std::string_view snapshot_slice(off_t off, std::size_t size) const;

 private:
  std::mutex mu_;
  const std::string path_;
  const engine::WriteMode mode_;
  const Who who_;
  Ino created_ino_ = 0;
  bool refused_fill_ = false;
  bool login_ = false;
  bool template_ = false;
  engine::TimePoint template_modified_{};

  engine::SecureString pending_;
  bool has_written_ = false;
  bool request_finished_ = false;  // the next append starts a new request
  int refused_errno_ = 0;          // refuse() was called: further writes fail with it
  engine::SecureString reply_;
  std::size_t reply_cursor_ = 0;
  std::optional<engine::Error> last_error_;
  std::optional<engine::SecureString> snapshot_;
};

// Open-directory state: the listing taken at opendir, so readdir offsets
// stay valid however the directory changes meanwhile. Immutable once made.
struct DirHandle {
  std::string path;
  std::vector<engine::DirEntry> entries;
  // entries[i]'s inode number for a plain READDIR, found at the first one
  // (InodeTable::peek_children); empty until then.
  std::vector<Ino> inos;
  // A caching bound mount lets the kernel keep this listing (cache_readdir).
  bool kept = false;
  // The listing is read at the first READDIR, which comes only when the
  // kernel keeps none (kept, and the mount token known good at opendir).
  bool deferred = false;
};

// The text a reader gets after a failed write: "<category>: <message>\n".
engine::SecureString error_reply_text(const engine::Error& error);

// The "warnings" a reply carries (Vault's, e.g. `Policy "nope" does not
// exist`), for the log; empty when it has none or is not a JSON object.
std::vector<std::string> reply_warnings(std::string_view reply);

// The handles the kernel holds (their address in fuse_file_info::fh),
// owned here from before the reply until their release takes them back, so
// a session that ends with some still held (RELEASE never comes for them)
// frees them with it. Thread-safe; the lock is a leaf.
template <class T>
class Held {
 public:
  T* keep(std::unique_ptr<T> h) {
    T* raw = h.get();
    std::lock_guard lock(mu_);
    held_.emplace(raw, std::move(h));
    return raw;
  }
  // The handle at h, now the caller's (null if none is held there).
  std::unique_ptr<T> take(const T* h) {
    std::lock_guard lock(mu_);
    auto node = held_.extract(h);
    return node ? std::move(node.mapped()) : nullptr;
  }
  std::vector<std::unique_ptr<T>> take_all() {
    std::unordered_map<const T*, std::unique_ptr<T>> all;
    {
      std::lock_guard lock(mu_);
      all.swap(held_);
    }
    std::vector<std::unique_ptr<T>> out;
    out.reserve(all.size());
    for (auto& [raw, h] : all) out.push_back(std::move(h));
    return out;
  }

 private:
  std::mutex mu_;
  std::unordered_map<const T*, std::unique_ptr<T>> held_;
};

}  // namespace fsd
