// SPDX-License-Identifier: MPL-2.0
// Internal to the file view: the five file verbs, answered once per kind of
// file. FileView locates a path (view_state.hpp), checks that its answer
// may be told (reveal), and hands it to the kind that lands there:
//
//   TreeFiles   the root, namespace and mount-prefix directories, and what
//               is missing or sealed (tree_files.cpp)
//   SysFiles    a namespace's sys/ (sys_files.cpp)
//   TokenFiles  auth/ and the token store's auth/token/ (token_files.cpp)
//   ApiFiles    any other mount: identity/, auth methods and their login
//               files (api_files.cpp)
//   KvFiles     KV v1 and v2 secrets and folders (kv_files.cpp)
//
// Each verb gets the caller, the view path and where it landed, and makes
// as few engine calls as its question allows. Thread-safe.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "engine/fileview/suffix.hpp"
#include "engine/fileview/view_state.hpp"

namespace engine::fileview {

class FileKind {
 public:
  virtual ~FileKind() = default;
  virtual Result<NodeInfo> stat(const Caller& caller, std::string_view path, const Located& at) = 0;
  virtual Result<SecureString> read(const Caller& caller, std::string_view path, const Located& at) = 0;
  // body is the raw text written (at most kMaxBodyBytes).
  virtual Result<SecureString> write(const Caller& caller, const Located& at, std::string_view body, WriteMode mode,
                                     SecureString* issued) = 0;
  virtual Result<std::vector<DirEntry>> list(const Caller& caller, std::string_view path, const Located& at) = 0;
  virtual Status remove(const Caller& caller, const Located& at) = 0;
};

class TreeFiles final : public FileKind {
 public:
  explicit TreeFiles(ViewState& state) : state_(state) {}
  Result<NodeInfo> stat(const Caller& caller, std::string_view path, const Located& at) override;
  Result<SecureString> read(const Caller& caller, std::string_view path, const Located& at) override;
  Result<SecureString> write(const Caller& caller, const Located& at, std::string_view body, WriteMode mode,
                             SecureString* issued) override;
  Result<std::vector<DirEntry>> list(const Caller& caller, std::string_view path, const Located& at) override;
  Status remove(const Caller& caller, const Located& at) override;

 private:
  ViewState& state_;
};

class SysFiles final : public FileKind {
 public:
  explicit SysFiles(ViewState& state) : state_(state) {}
  Result<NodeInfo> stat(const Caller& caller, std::string_view path, const Located& at) override;
  Result<SecureString> read(const Caller& caller, std::string_view path, const Located& at) override;
  Result<SecureString> write(const Caller& caller, const Located& at, std::string_view body, WriteMode mode,
                             SecureString* issued) override;
  Result<std::vector<DirEntry>> list(const Caller& caller, std::string_view path, const Located& at) override;
  Status remove(const Caller& caller, const Located& at) override;

  // sys/policies/acl/NAME: the file is the policy text itself (SPEC §1).
  static bool is_policy_file(std::string_view rel);
  // sys files that accept writes but have nothing to show.
  static bool is_write_only(std::string_view rel);
  // sys file path → sys API path: "mounts/m@tune" → "mounts/m/tune".
  static std::string api_rel(std::string_view rel);

 private:
  ViewState& state_;
};

class TokenFiles final : public FileKind {
 public:
  explicit TokenFiles(ViewState& state) : state_(state) {}
  Result<NodeInfo> stat(const Caller& caller, std::string_view path, const Located& at) override;
  Result<SecureString> read(const Caller& caller, std::string_view path, const Located& at) override;
  Result<SecureString> write(const Caller& caller, const Located& at, std::string_view body, WriteMode mode,
                             SecureString* issued) override;
  Result<std::vector<DirEntry>> list(const Caller& caller, std::string_view path, const Located& at) override;
  Status remove(const Caller& caller, const Located& at) override;

 private:
  ViewState& state_;
};

class ApiFiles final : public FileKind {
 public:
  explicit ApiFiles(ViewState& state) : state_(state) {}
  Result<NodeInfo> stat(const Caller& caller, std::string_view path, const Located& at) override;
  Result<SecureString> read(const Caller& caller, std::string_view path, const Located& at) override;
  Result<SecureString> write(const Caller& caller, const Located& at, std::string_view body, WriteMode mode,
                             SecureString* issued) override;
  Result<std::vector<DirEntry>> list(const Caller& caller, std::string_view path, const Located& at) override;
  Status remove(const Caller& caller, const Located& at) override;

  // A login endpoint of an auth method (anyone writes it; it reads as empty).
  static bool is_login_file(const Located& at);
  // The API path of NAME@VIEW below an API mount: NAME/VIEW, except
  // NAME@data, which is the endpoint NAME itself.
  static std::string view_path(std::string prefix, const Suffixed& s);

 private:
  // What a file stands for: the API path (NAME@VIEW → NAME/VIEW), the
  // field of NAME#KEY, and the literal name's Read when one was made to
  // decide (a suffixed name), so no one asks it again.
  struct Target {
    std::string path;
    std::string field;
    std::optional<Result<Response>> literal;
    bool literal_won = true;
  };
  // fields: false refuses NAME#KEY (Unsupported: a field is read-only).
  Result<Target> target_of(const Caller& caller, const Located& at, bool fields) const;
  // Reads a target: the JSON, the field, "" for write-only endpoints,
  // IsDirectory for what List answers.
  Result<SecureString> read_target(const Caller& caller, const Located& at, Target& target) const;
  ViewState& state_;
};

class KvFiles final : public FileKind {
 public:
  // view: for check_access (a write-only name is a file).
  KvFiles(ViewState& state, FileView& view) : state_(state), view_(view) {}
  // Remembered for the same token and path while nothing has changed.
  Result<NodeInfo> stat(const Caller& caller, std::string_view path, const Located& at) override;
  Result<SecureString> read(const Caller& caller, std::string_view path, const Located& at) override;
  Result<SecureString> write(const Caller& caller, const Located& at, std::string_view body, WriteMode mode,
                             SecureString* issued) override;
  Result<std::vector<DirEntry>> list(const Caller& caller, std::string_view path, const Located& at) override;
  Status remove(const Caller& caller, const Located& at) override;

  // stat without the memo.
  Result<NodeInfo> stat_fresh(const Caller& caller, const Located& at);
  // What a fresh listing of the parent folder (ViewState::listed) says of
  // at's name: a Folder of that name (whatever else), only a Secret, or
  // Nothing; Unknown without such a listing.
  enum class Listed { Unknown, Folder, Secret, Nothing };
  Listed listed_as(const Caller& caller, const Located& at);
  // The size of read_at's answer; without the bytes when the engine recorded
  // it (a KV v2 secret's whole rendering, or one of its fields).
  Result<std::size_t> size_at(const Caller& caller, const Located& at, TimePoint* modified);

 private:
  // read, and when modified is set, the mtime of what was read (see note_time).
  Result<SecureString> read_at(const Caller& caller, const Located& at, TimePoint* modified);
  Result<SecureString> read_suffixed(const Caller& caller, const Located& at, const Suffixed& suffix,
                                     TimePoint* modified);
  // The size of KV v2 secret rel's rendering, or with field set of that
  // field's text, of its latest version: the size the write recorded, or
  // else the rendering of the reply's data.
  Result<std::size_t> latest_size(const Caller& caller, const Located& at, const std::string& rel,
                                  const Suffixed* field, TimePoint* modified);
  ViewState& state_;
  FileView& view_;
};

}  // namespace engine::fileview
