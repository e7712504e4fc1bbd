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
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/error.hpp"
#include "engine/common/request.hpp"
#include "engine/common/secure.hpp"

namespace engine {

class Core;

enum class NodeKind { Directory, File };

struct NodeInfo {
  NodeKind kind = NodeKind::File;
  std::uint64_t size = 0;        // files: the exact length of what read() returns
  TimePoint modified{};          // moves only when the thing itself changes
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
};

class FileView {
 public:
  // core must outlive the view. Thread-safe.
  explicit FileView(Core& core);

  // Kind, size and mtime of path. Checked like a read: a caller that may not
  // read it gets PermissionDenied whether or not it exists. NotFound if absent.
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
  Result<SecureString> write(const Caller& caller, std::string_view path, std::string_view body,
                             WriteMode mode, SecureString* issued = nullptr);

  // True if body already forms a whole request for path (so a write(2) can be
  // applied at once rather than at close). Pure: no state is read or changed.
  bool is_complete(std::string_view path, std::string_view body) const;

  // rm path. NotFound if absent; IsDirectory for a directory.
  Status remove(const Caller& caller, std::string_view path);

  // mkdir: a child namespace when the parent is a namespace directory, or a
  // folder inside a KV mount (kept in memory until a secret is written below).
  Status make_dir(const Caller& caller, std::string_view path);

  // rmdir: a namespace with no child namespace and no mount of its own, or an
  // empty KV folder made by mkdir. NotEmpty otherwise.
  Status remove_dir(const Caller& caller, std::string_view path);

  struct Located;  // where a path lands (file_view.cpp)

 private:
  Located locate(std::string_view path) const;
  Result<Response> call(const Caller& caller, Operation op, std::string path, Json data = Json::object()) const;
  // PermissionDenied unless the caller holds some capability on abs_path
  // (control files: seen only by those who may use them).
  Status may_touch(const Caller& caller, const std::string& abs_path) const;

  Result<NodeInfo> stat_kv(const Caller& caller, const Located& at);
  Result<std::vector<DirEntry>> list_kv(const Caller& caller, const Located& at);
  Result<SecureString> read_kv(const Caller& caller, const Located& at);
  Result<SecureString> write_kv(const Caller& caller, const Located& at, Json body, WriteMode mode);
  Status remove_kv(const Caller& caller, const Located& at);
  bool has_folder(const std::string& absolute) const;
  void forget_folders_above(std::string_view secret_path);

  Core& core_;
  TimePoint epoch_;  // mtime of things that have no time of their own
  // Folders made by mkdir inside KV mounts, by absolute path ("ns/secret/a/");
  // not stored: they exist until something is written below them.
  mutable std::mutex folders_mu_;
  std::set<std::string, std::less<>> folders_;
};

}  // namespace engine
