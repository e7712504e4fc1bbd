// SPDX-License-Identifier: MPL-2.0
// The filesystem face of the engine (SPEC §1): turns file paths, views
// (`NAME@VIEW`) and fields (`NAME#KEY`) into Vault API requests, and replies
// into file contents. The fs layer (FUSE) calls only this and knows nothing
// of Vault paths; everything here is testable without a mount.
//
// Paths are relative to the mount root, without leading '/': "" is the root,
// "education/edu-secret/app/db#password" a field of a KV secret.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/change_bus.hpp"
#include "engine/common/error.hpp"
#include "engine/common/request.hpp"
#include "engine/common/secure.hpp"

namespace engine {

class Core;

namespace fileview {
class ViewState;
class FileKind;
struct Kinds;
}  // namespace fileview

enum class NodeKind { Directory, File };

struct NodeInfo {
  NodeKind kind = NodeKind::File;
  std::uint64_t size = 0;  // files: the exact length of what read() returns
  TimePoint modified{};    // moves only when the thing itself changes
  bool login = false;      // a login endpoint (anyone writes it; it reads as empty)
};

struct DirEntry {
  std::string name;
  NodeKind kind;
};

// How a write reached the file: `>` or a plain open (Replace), `>>` (Append,
// which patches where Vault has patch).
enum class WriteMode { Replace, Append };

// Who is asking: the token every request of this call is made with.
struct Caller {
  SecureString token;  // "" = no token
  // The use allowance of the file operation this call belongs to (see
  // Request::uses): one file operation spends at most one use of a
  // use-limited token. nullptr: every API request made spends one.
  UseBudget* uses = nullptr;
  // The kernel's word on the caller (FUSE uid, gid, pid and its start
  // time), for the peer auth method's logins; unset outside FUSE.
  std::optional<PeerCredentials> peer{};
};

// A change, for listeners that cache what the view shows (the fs layer's
// kernel cache invalidation). path: the KV secret whose files changed
// ("ns/secret/app/db": its views and fields changed with it), when nothing
// else did; everything: anything may look different now (a policy, token,
// identity, mount, namespace, seal or mkdir-folder change), path empty.
// event_type: what the request did to the secret, as events name it
// ("kv-v2/data-write", "kv-v2/data-delete"; engine/fileview/events.hpp), ""
// when not known; inotify replay picks the syscall from it.
struct Change {
  std::string path;
  bool everything = false;
  std::string event_type = {};
};
using ChangeListener = std::function<void(const Change&)>;

class FileView {
 public:
  // core must outlive the view. Thread-safe.
  explicit FileView(Core& core);
  ~FileView();

  // The core this view serves (for the fs's sys/monitor streams).
  Core& core() const { return core_; }

  // Kind, size and mtime of path. Checked like a read: a caller that may not
  // read it gets PermissionDenied whether or not it exists, and so does a
  // caller with no capability at or below a namespace, mount or mkdir
  // folder (SPEC §4; the way to a login endpoint is open to everyone).
  // NotFound if absent. A name the caller may write but not read (Vault's
  // write-only "drop box") is an empty file, so it can be written.
  Result<NodeInfo> stat(const Caller& caller, std::string_view path);

  // Entries of a directory, sorted by name, without "." and "..".
  // NotDirectory if path is a file.
  Result<std::vector<DirEntry>> list(const Caller& caller, std::string_view path);

  // The file's contents: a JSON object pretty-printed with a final newline, or
  // a raw field for NAME#KEY, or "" for write-only control files.
  Result<SecureString> read(const Caller& caller, std::string_view path);

  // Applies body (a whole request: JSON object, `key=value` lines, or for
  // policies the policy text) to path and returns the reply to show on the
  // same file handle ("" when the endpoint replies nothing). When the request
  // issued a token for the caller (a login), it is also stored in *issued.
  Result<SecureString> write(const Caller& caller, std::string_view path, std::string_view body, WriteMode mode,
                             SecureString* issued = nullptr);

  // True if body already forms a whole request for path (so a write(2) can be
  // applied at once rather than at close). Pure: no state is read or changed.
  bool is_complete(std::string_view path, std::string_view body) const;

  // A request still being written to path (not yet whole: applied at close,
  // whose error shells ignore). Ok unless it is sure to fail whatever bytes
  // follow: InvalidArgument for text no continuation makes valid (invalid
  // UTF-8 or a NUL byte, JSON broken before its end, a key=value word with
  // no '=' or an empty or repeated key, a policy that parses and is wrong),
  // PermissionDenied when the caller may not write the policy or KV secret.
  // Changes nothing and spends no token use. Thread-safe.
  Status check_partial(const Caller& caller, std::string_view path, std::string_view body);

  // rm path. NotFound if absent; IsDirectory for a directory.
  Status remove(const Caller& caller, std::string_view path);

  // rename(2) within one directory of one mount, as editors and atomic
  // writers replace a file (sed -i, install, os.replace): the target gets
  // the source's content (a KV write: a new version; a replaced policy),
  // then the source is removed entirely (a KV v2 secret's metadata and
  // every version; a KV v1 secret; a policy). Each request is checked and
  // audited as what it is: delete on the source is asked first (so a
  // refusal changes nothing), then the read of the source, the write of the
  // target and the delete. Returns false, changing nothing, for what is
  // not one such step (another folder, mount or namespace, another kind of
  // file, NAME@VIEW or NAME#KEY): the fs answers EXDEV, and mv copies.
  // Errors: those of the requests; a delete that fails after the write
  // leaves both names (the error says so).
  Result<bool> rename(const Caller& caller, std::string_view from, std::string_view to);

  // mkdir: a child namespace when the parent is a namespace directory, or a
  // folder inside a KV mount (kept in memory until a secret is written below).
  Status make_dir(const Caller& caller, std::string_view path);

  // rmdir: a namespace with no child namespace and no mount of its own, or an
  // empty KV folder made by mkdir. NotEmpty otherwise.
  Status remove_dir(const Caller& caller, std::string_view path);

  // access(2) per caller (SPEC §4): ok when the ACL lets the caller read
  // (files: read the content; directories: list or, for namespace and mount
  // directories, see something below) and/or write (create or update what
  // the file writes to; in a directory, something below it) path, whose
  // kind the caller already knows. PermissionDenied otherwise, and for a
  // dead token. Login endpoints are writable by anyone. Spends no token use.
  Status check_access(const Caller& caller, std::string_view path, NodeKind kind, bool read, bool write);

  // Ok while caller.token is a live token (known, not revoked, expired or
  // spent); PermissionDenied otherwise. Spends no use.
  Status check_token(const Caller& caller);

  // True when what path shows changes only through this view's mutators
  // (KV secrets and folders, namespace and mount directories), so a cache
  // dropped on change notifications stays exact. False for sys/, auth/,
  // identity/ and other API files (token TTLs, health... change by
  // themselves), and while sealed. Thread-safe.
  bool cacheable(std::string_view path) const;

  // True for a login endpoint (what stat shows with NodeInfo::login).
  bool is_login(std::string_view path) const;

  // True when path lands on something of the tree (a namespace, a mount or
  // what lies in one, a mount prefix, sys/ or auth/), whoever asks: what a
  // mount's own file of that name (a template, fs/template_files.hpp) must
  // give way to. False for nothing there, and while sealed. No engine call.
  bool names_node(std::string_view path) const;

  // Change listeners: what the core's change bus announces (every change
  // committed, by any caller, through any view or none), in file terms, and
  // the view's own mkdir folders. Called on the thread that made the
  // change, with no engine lock held; a listener must be quick (queue work;
  // never block on FUSE), must not call into the core or the view, and must
  // not call add/remove_change_listener. Returns an id for
  // remove_change_listener. Thread-safe.
  std::uint64_t add_change_listener(ChangeListener listener);
  void remove_change_listener(std::uint64_t id);

  struct Located;  // where a path lands (view_state.hpp)

 private:
  // Where a path lands, from the core's namespace snapshot: no engine call,
  // no core lock.
  Located locate(std::string_view path) const;
  // The kind of file that answers the five verbs there (file_kind.hpp).
  fileview::FileKind& kind_of(const Located& at) const;

  // SPEC §4: PermissionDenied when the caller has no capability at or below
  // what path's answer would show to exist (a namespace or mount directory,
  // an absent path, a namespace's fixed sys/ and auth/ files), unless a
  // login endpoint lies below it. Ok for everything the backends' own ACL
  // check answers.
  Status reveal(const Caller& caller, std::string_view path, const Located& at) const;
  Result<bool> visible(const Caller& caller, const std::string& abs_dir) const;
  bool leads_to_login(const std::string& abs_dir) const;

  // The public mutators (make_dir/remove_dir also tell the listeners about
  // mkdir folders, which live in the view, not the store).
  Result<SecureString> write_unnotified(const Caller& caller, std::string_view path, std::string_view body,
                                        WriteMode mode, SecureString* issued);
  Status remove_unnotified(const Caller& caller, std::string_view path);
  Status make_dir_unnotified(const Caller& caller, std::string_view path);
  Status remove_dir_unnotified(const Caller& caller, std::string_view path);
  void notify(const Change& change) const;

  mutable std::mutex listeners_mu_;
  std::vector<std::pair<std::uint64_t, ChangeListener>> listeners_;
  std::uint64_t next_listener_ = 1;

  Core& core_;
  // What the kinds share: mkdir folders, the stat memo, the way to the core.
  std::unique_ptr<fileview::ViewState> state_;
  std::unique_ptr<fileview::Kinds> kinds_;
  // The core's change bus, mapped to Changes for the listeners; dropped
  // first, so no delivery runs into a view being destroyed.
  ChangeBus::Subscription changes_;
  std::uint64_t everything_at_ = 0;  // revision last told `everything` (bus deliveries are serial)
};

}  // namespace engine
