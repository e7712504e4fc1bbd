// SPDX-License-Identifier: MPL-2.0
// Internal to the file view: where a path lands (Located), the state the
// file kinds share (mkdir folders, the stat memo, the way to the engine),
// and small helpers every kind uses.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/common/error.hpp"
#include "engine/common/request.hpp"
#include "engine/fileview/file_view.hpp"

namespace engine {

struct FileView::Located {
  // Api: any other mount (identity/, auth methods other than auth/token/),
  // shown generically: files are what Read answers, directories what List
  // answers, NAME@VIEW the sub-endpoint NAME/VIEW.
  enum class Kind { Missing, Sealed, Namespace, MountPrefix, Sys, Auth, Api, Kv };
  Kind kind = Kind::Missing;
  std::string ns_path;     // "" or "a/b/"
  std::string mount_path;  // Kv and Api: "secret/", "auth/userpass/", "identity/"
  std::string mount_type;  // Api: "identity", "userpass", "approle"...
  int kv_version = 0;
  std::string rel;                // below the mount, sys/, auth/ or identity/ (no trailing '/')
  std::vector<DirEntry> entries;  // Namespace, MountPrefix and the auth/ directory: the listing
};

namespace fileview {

using Located = FileView::Located;
using Kind = FileView::Located::Kind;

// What the kinds share, owned by the FileView. Thread-safe.
class ViewState {
 public:
  explicit ViewState(Core& core);

  Core& core() const { return core_; }
  // mtime of things that have no time of their own.
  TimePoint epoch() const { return epoch_; }
  NodeInfo dir() const { return NodeInfo{NodeKind::Directory, 0, epoch_}; }
  NodeInfo empty_file() const { return NodeInfo{NodeKind::File, 0, epoch_}; }

  // One engine call (Core::handle) made with the caller's token and budget.
  // parts: Request::parts, for the KV engines' shortcuts.
  Result<Response> call(const Caller& caller, Operation op, std::string path, Json data = Json::object(),
                        ReplyParts parts = {}) const;
  // PermissionDenied unless the caller holds some capability on abs_path
  // (control files: seen only by those who may use them). No engine call.
  Status may_touch(const Caller& caller, const std::string& abs_path) const;

  // Folders made by mkdir inside KV mounts, by absolute path ("ns/secret/a/");
  // not stored: they exist until something is written below them.
  bool has_folder(const std::string& absolute) const;
  void add_folder(std::string absolute);
  // Removes the folder; false when there was none. Moves the generation
  // either way (rmdir tried).
  bool erase_folder(const std::string& absolute);
  // The names of the folders directly below prefix ("ns/secret/a/"), and
  // whether prefix itself or anything below it is a folder.
  bool folders_below(const std::string& prefix, std::vector<DirEntry>& out) const;
  // The secret now makes its folders; mkdir's placeholders have done their job.
  void forget_folders_above(std::string_view secret_path);
  std::uint64_t folders_generation() const { return folders_gen_.load(std::memory_order_acquire); }

  // What a memo entry was made for: one token, at one Core::generation()
  // and folders generation; it serves that token for 500 ms at most.
  struct MemoStamp {
    SecureString token;
    std::uint64_t generation = 0;
    std::uint64_t folders_generation = 0;
    std::chrono::steady_clock::time_point at;
    bool serves(const SecureString& asking, std::uint64_t gen, std::uint64_t folders_gen,
                std::chrono::steady_clock::time_point now) const;
  };

  // The stat memo (KvFiles::stat): kind, size and mtime by mount-relative
  // path.
  struct StatMemo {
    MemoStamp stamp;
    NodeInfo info;
  };
  static constexpr std::size_t kStatMemoMax = 4096;  // entries; the memo starts over when full
  std::optional<NodeInfo> remembered(const std::string& key, const SecureString& token, std::uint64_t gen,
                                     std::uint64_t folders_gen, std::chrono::steady_clock::time_point now);
  void remember(std::string key, StatMemo memo);

  // The listing memo, beside the stat memo and under the same stamp: the
  // names a KV folder's List gave a token ("app/" for a folder, "db" for a
  // secret), sorted, when the List was complete (at most kListingMax
  // names). Names only, never contents. A LOOKUP of a secret the parent's
  // listing names, with no folder of the same name, needs no folder probe.
  static constexpr std::size_t kListingMax = 1000;
  static constexpr std::size_t kListingMemoMax = 256;  // folders; the memo starts over when full
  using Names = std::shared_ptr<const std::vector<std::string>>;
  Names listed(const std::string& abs_dir, const SecureString& token, std::uint64_t gen, std::uint64_t folders_gen,
               std::chrono::steady_clock::time_point now);
  void remember_listing(std::string abs_dir, const SecureString& token, const std::vector<std::string>& keys,
                        std::uint64_t gen, std::uint64_t folders_gen, std::chrono::steady_clock::time_point now);

  // Entries in the stat memo and in the listing memo, for tests.
  std::pair<std::size_t, std::size_t> memo_sizes();

 private:
  Core& core_;
  TimePoint epoch_;
  mutable std::mutex folders_mu_;
  std::set<std::string, std::less<>> folders_;
  std::atomic<std::uint64_t> folders_gen_{0};  // moves when folders_ does
  std::mutex memo_mu_;
  std::unordered_map<std::string, StatMemo> stat_memo_;
  struct ListingMemo {
    MemoStamp stamp;
    Names names;
  };
  std::unordered_map<std::string, ListingMemo> listing_memo_;  // by absolute folder path
};

// ------------------------------------------------------------------ helpers

std::string_view strip_slashes(std::string_view p);
// The last segment of a path and what precedes it ("a/b/" and "c").
std::pair<std::string_view, std::string_view> split_last(std::string_view rel);
bool all_digits(std::string_view s);
// NAME@-3: a version number out of range (versions start at 1).
bool negative_number(std::string_view s);
bool grants_something(std::uint32_t bits);
Status to_status(const Result<Response>& r);
// One top-level key of an object, raw: a string without quotes or newline,
// anything else as compact JSON. NotFound when there is no such key.
Result<SecureString> field_of(const Json& object, std::string_view field);
// What a write shows on its handle: the reply's data (and Vault's warnings).
SecureString reply_of(const Response& resp);
// Sorted, without duplicates (a namespace's mounts "a/x/" and "a/y/" both give "a").
std::vector<DirEntry> tidy(std::vector<DirEntry> entries);
inline Error is_directory() { return Error{ErrorCode::IsDirectory, "is a directory"}; }
inline Error not_directory() { return Error{ErrorCode::NotDirectory, "not a directory"}; }

}  // namespace fileview
}  // namespace engine
