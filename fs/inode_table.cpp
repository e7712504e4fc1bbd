// SPDX-License-Identifier: MPL-2.0
#include "fs/inode_table.hpp"

#include <mutex>
#include <string>

namespace fsd {

InodeTable::InodeTable() { by_ino_.emplace(kRootIno, Node{Path(""), 1, 0}); }

namespace {

// FNV-1a 64: stable across runs and builds (std::hash is not promised to
// be), cheap, good enough spread for path strings, and resumable: a
// directory's children hash on from the directory's own state.
constexpr std::uint64_t kFnvBasis = 0xcbf29ce484222325ULL;

std::uint64_t fnv_on(std::uint64_t h, std::string_view bytes) noexcept {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// 0 is invalid and 1 is the root: both are kept out of the range.
Ino ino_of_hash(std::uint64_t h) noexcept { return h < 2 ? h + 2 : h; }

// Whether path is dir joined with name (join() in fs/operations.cpp).
bool is_child_path(std::string_view path, std::string_view dir, std::string_view name) noexcept {
  if (dir.empty()) return path == name;
  return path.size() == dir.size() + 1 + name.size() && path.starts_with(dir) && path[dir.size()] == '/' &&
         path.ends_with(name);
}

}  // namespace

Ino InodeTable::hash_ino(std::string_view path) noexcept { return ino_of_hash(fnv_on(kFnvBasis, path)); }

Ino InodeTable::free_ino_from(Ino home) const {
  Ino ino = home;
  while (by_ino_.count(ino) != 0) {
    ++ino;
    if (ino < 2) ino = 2;
  }
  return ino;
}

InodeTable::Nodes::iterator InodeTable::find_path(std::string_view path, Ino home) {
  if (path.empty()) return by_ino_.find(kRootIno);
  auto matches = [&](Nodes::iterator it) {
    return it != by_ino_.end() && !it->second.unique && it->second.path.view() == path;
  };
  if (auto it = by_ino_.find(home); matches(it)) return it;
  if (displaced_.empty()) return by_ino_.end();  // the usual case: no two paths' hashes met
  auto [first, last] = displaced_.equal_range(home);
  for (; first != last; ++first) {
    if (auto it = by_ino_.find(first->second); matches(it)) return it;
  }
  return by_ino_.end();
}

InodeTable::Nodes::const_iterator InodeTable::find_path(std::string_view path) const {
  return const_cast<InodeTable*>(this)->find_path(path);  // only finds
}

void InodeTable::index(Ino ino, std::string_view path) {
  if (const Ino home = hash_ino(path); home != ino && ino != kRootIno) displaced_.emplace(home, ino);
}

void InodeTable::unindex(Ino ino, std::string_view path) {
  const Ino home = hash_ino(path);
  if (home == ino) return;
  auto [first, last] = displaced_.equal_range(home);
  for (; first != last; ++first) {
    if (first->second == ino) {
      displaced_.erase(first);
      return;
    }
  }
}

Ino InodeTable::lookup(std::string_view path) {
  std::unique_lock lock(mu_);
  const Ino home = path.empty() ? kRootIno : hash_ino(path);
  if (auto it = find_path(path, home); it != by_ino_.end()) {
    ++it->second.nlookup;
    return it->first;
  }
  const Ino ino = free_ino_from(home);
  by_ino_.emplace(ino, Node{Path(path), 1, 0});
  index(ino, path);
  return ino;
}

Ino InodeTable::lookup_unique(std::string_view path) {
  std::unique_lock lock(mu_);
  std::string key(path);
  key += '\0';
  key += std::to_string(++uniques_);
  const Ino ino = free_ino_for(key);
  by_ino_.emplace(ino, Node{Path(path), 1, /*unique=*/1});
  return ino;
}

Ino InodeTable::peek(std::string_view path) const {
  std::shared_lock lock(mu_);
  return peek_locked(path, path.empty() ? kRootIno : hash_ino(path));
}

Ino InodeTable::peek_locked(std::string_view path, Ino home) const {
  if (auto it = const_cast<InodeTable*>(this)->find_path(path, home); it != by_ino_.end()) return it->first;
  return free_ino_from(home);
}

void InodeTable::peek_children(std::string_view dir, std::span<const std::string_view> names,
                               std::span<Ino> out) const {
  std::shared_lock lock(mu_);
  const std::uint64_t seed = dir.empty() ? kFnvBasis : fnv_on(fnv_on(kFnvBasis, dir), "/");
  std::string child;  // the joined path, built only off the usual case
  for (std::size_t i = 0; i < names.size() && i < out.size(); ++i) {
    const std::string_view name = names[i];
    const Ino home = ino_of_hash(fnv_on(seed, name));
    // The usual case, as peek() decides it: nobody at the home number and
    // nobody displaced, or the child itself at home.
    auto it = by_ino_.find(home);
    if (it == by_ino_.end() ? displaced_.empty()
                            : !it->second.unique && is_child_path(it->second.path.view(), dir, name)) {
      out[i] = home;
      continue;
    }
    child.assign(dir);
    if (!dir.empty()) child += '/';
    child.append(name);
    out[i] = peek_locked(child, home);
  }
}

std::optional<std::string> InodeTable::path_of(Ino ino) const {
  std::shared_lock lock(mu_);
  auto it = by_ino_.find(ino);
  if (it == by_ino_.end()) return std::nullopt;
  return std::string(it->second.path.view());
}

bool InodeTable::forget(Ino ino, std::uint64_t n) {
  if (ino == kRootIno) return false;
  std::unique_lock lock(mu_);
  auto it = by_ino_.find(ino);
  if (it == by_ino_.end()) return false;
  Node& node = it->second;
  node.nlookup = n >= node.nlookup ? 0 : node.nlookup - n;
  if (node.nlookup != 0) return false;
  if (!node.unique) unindex(ino, node.path.view());
  by_ino_.erase(it);
  return true;
}

void InodeTable::rename(std::string_view from, std::string_view to) {
  std::unique_lock lock(mu_);
  auto source = find_path(from);
  if (source == by_ino_.end() || source->first == kRootIno) return;
  if (auto target = find_path(to); target != by_ino_.end() && target != source) {
    unindex(target->first, target->second.path.view());
    target->second.unique = 1;  // replaced: live for its holders only
  }
  unindex(source->first, source->second.path.view());
  source->second.path = Path(to);
  index(source->first, to);
}

std::uint64_t InodeTable::lookup_count(Ino ino) const {
  std::shared_lock lock(mu_);
  auto it = by_ino_.find(ino);
  return it == by_ino_.end() ? 0 : it->second.nlookup;
}

std::size_t InodeTable::size() const {
  std::shared_lock lock(mu_);
  return by_ino_.size();
}

std::size_t InodeTable::displaced() const {
  std::shared_lock lock(mu_);
  return displaced_.size();
}

std::vector<std::pair<Ino, std::string>> InodeTable::entries() const {
  std::shared_lock lock(mu_);
  std::vector<std::pair<Ino, std::string>> out;
  out.reserve(by_ino_.size());
  for (const auto& [ino, node] : by_ino_) out.emplace_back(ino, std::string(node.path.view()));
  return out;
}

std::vector<std::pair<Ino, std::string>> InodeTable::entries_if(
    const std::function<bool(std::string_view)>& keep) const {
  std::shared_lock lock(mu_);
  std::vector<std::pair<Ino, std::string>> out;
  for (const auto& [ino, node] : by_ino_) {
    if (keep(node.path.view())) out.emplace_back(ino, std::string(node.path.view()));
  }
  return out;
}

}  // namespace fsd
