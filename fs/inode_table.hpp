// SPDX-License-Identifier: MPL-2.0
// Inode numbers ↔ mount-relative paths, with the kernel's lookup counts.
//
// Every entry reply (lookup, create, mkdir, readdirplus) takes one reference
// with lookup(); the kernel gives references back with FORGET. An entry lives
// while its count is above zero; the root (ino 1, path "") lives forever.
// Numbers are derived from a hash of the path, so the same path gets the same
// st_ino again after it was forgotten (tools that compare inode numbers, and
// watchers, see a stable file); a collision with a live entry probes onward.
//
// The kernel holds an entry for every name it has looked up until memory
// pressure (or an unmount) makes it FORGET them, so a `find` over a million
// secrets leaves a million live entries here: each is kept once, by number,
// with its path, and nothing else. An entry at its path's own number (the
// hash) is found from the path by that number; the few that are not (a
// hash collision, a rename, a replaced rename target) are indexed in a side
// map.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace fsd {

using Ino = std::uint64_t;

inline constexpr Ino kRootIno = 1;

class InodeTable {
 public:
  InodeTable();

  // The inode for path, taking one lookup reference (creating the entry if
  // it is not live). Thread-safe.
  Ino lookup(std::string_view path);

  // A new inode for path, its own however many are live for the path, with
  // one lookup reference; lookup() and peek() never return it. For files
  // whose every open should be its own kernel inode (login files: no
  // inode lock shared between two callers' writes). Thread-safe.
  Ino lookup_unique(std::string_view path);

  // The inode path would get (or has, if live), taking no reference. For
  // attributes of entries the kernel will not keep (readdir). Thread-safe.
  Ino peek(std::string_view path) const;
  // What peek() gives each child dir/names[i], into out[i]: under one lock,
  // hashing dir once (a listing asks for all of its entries). Thread-safe.
  void peek_children(std::string_view dir, std::span<const std::string_view> names, std::span<Ino> out) const;

  // The path of a live inode, or nullopt. Thread-safe (shared lock).
  std::optional<std::string> path_of(Ino ino) const;

  // Gives back n references; the entry is dropped when none are left (true
  // then). Unknown inodes and the root are ignored (a FORGET may race a
  // re-lookup; the root is never dropped). Thread-safe.
  bool forget(Ino ino, std::uint64_t n);

  // After a rename(2) the kernel's entry `to` names the inode that was
  // `from`: that inode's path becomes `to`. An inode still live for `to`
  // keeps its number and path (open files of the replaced target), but
  // lookup() no longer returns it. No-op when `from` is not live.
  // Thread-safe.
  void rename(std::string_view from, std::string_view to);
  // Current reference count (0 if not live) and number of live entries, for
  // tests and debug logs; displaced(): the entries not at their path's own
  // number (tests). Thread-safe.
  std::uint64_t lookup_count(Ino ino) const;
  std::size_t size() const;
  std::size_t displaced() const;
  // A copy of every live (inode, path), for cache invalidation; entries_if:
  // of those whose path keep() accepts (keep runs under the shared lock and
  // must not call back into the table). Thread-safe.
  std::vector<std::pair<Ino, std::string>> entries() const;
  std::vector<std::pair<Ino, std::string>> entries_if(const std::function<bool(std::string_view)>& keep) const;

  // The preferred number for path (before collision probing). Pure.
  static Ino hash_ino(std::string_view path) noexcept;

 private:
  // A path in one allocation of its own length (a std::string would add
  // 32 bytes to every node). Paths never hold a NUL.
  class Path {
   public:
    explicit Path(std::string_view s) : chars_(std::make_unique<char[]>(s.size() + 1)) {
      s.copy(chars_.get(), s.size());
    }
    std::string_view view() const noexcept { return chars_.get(); }

   private:
    std::unique_ptr<char[]> chars_;
  };
  // 16 bytes beside the path's own: a million live entries are about 90 MB
  // with the map's node and bucket.
  struct Node {
    Path path;
    std::uint64_t nlookup : 63 = 0;
    std::uint64_t unique : 1 = 0;  // made by lookup_unique, or replaced by a rename: never found by path
  };
  using Nodes = std::unordered_map<Ino, Node>;

  // Next free number at or after home (the hash of a path); requires mu_ held.
  Ino free_ino_from(Ino home) const;
  Ino free_ino_for(std::string_view path) const { return free_ino_from(hash_ino(path)); }
  // The entry lookup(path) returns, or end(); home is hash_ino(path).
  // Requires mu_ held.
  Nodes::iterator find_path(std::string_view path, Ino home);
  Nodes::iterator find_path(std::string_view path) { return find_path(path, hash_ino(path)); }
  Nodes::const_iterator find_path(std::string_view path) const;
  // peek() with mu_ held, home being hash_ino(path) (kRootIno for "").
  Ino peek_locked(std::string_view path, Ino home) const;
  // Makes a non-unique entry findable by its path (or no longer); requires
  // mu_ held exclusively.
  void index(Ino ino, std::string_view path);
  void unindex(Ino ino, std::string_view path);

  mutable std::shared_mutex mu_;
  Nodes by_ino_;
  // Entries not at their path's own number: hash_ino(path) -> ino.
  std::unordered_multimap<Ino, Ino> displaced_;
  std::uint64_t uniques_ = 0;  // lookup_unique calls so far (spreads their numbers)
};

}  // namespace fsd
