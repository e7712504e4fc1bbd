// SPDX-License-Identifier: MPL-2.0
#include "fs/inode_table.hpp"

#include <mutex>

namespace fsd {

InodeTable::InodeTable() {
  by_ino_.emplace(kRootIno, Node{"", 1});
  by_path_.emplace("", kRootIno);
}

Ino InodeTable::hash_ino(std::string_view path) noexcept {
  // FNV-1a 64: stable across runs and builds (std::hash is not promised to
  // be), cheap, and good enough spread for path strings.
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : path) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  // 0 is invalid and 1 is the root: keep both out of the range.
  return h < 2 ? h + 2 : h;
}

Ino InodeTable::free_ino_for(std::string_view path) const {
  Ino ino = hash_ino(path);
  while (by_ino_.count(ino) != 0) {
    ++ino;
    if (ino < 2) ino = 2;
  }
  return ino;
}

Ino InodeTable::lookup(std::string_view path) {
  std::unique_lock lock(mu_);
  if (auto it = by_path_.find(path); it != by_path_.end()) {
    ++by_ino_.at(it->second).nlookup;
    return it->second;
  }
  const Ino ino = free_ino_for(path);
  by_ino_.emplace(ino, Node{std::string(path), 1});
  by_path_.emplace(std::string(path), ino);
  return ino;
}

Ino InodeTable::lookup_unique(std::string_view path) {
  std::unique_lock lock(mu_);
  std::string key(path);
  key += '\0';
  key += std::to_string(++uniques_);
  const Ino ino = free_ino_for(key);
  by_ino_.emplace(ino, Node{std::string(path), 1, /*unique=*/true});
  return ino;
}

Ino InodeTable::peek(std::string_view path) const {
  std::shared_lock lock(mu_);
  if (auto it = by_path_.find(path); it != by_path_.end()) return it->second;
  return free_ino_for(path);
}

std::optional<std::string> InodeTable::path_of(Ino ino) const {
  std::shared_lock lock(mu_);
  auto it = by_ino_.find(ino);
  if (it == by_ino_.end()) return std::nullopt;
  return it->second.path;
}

void InodeTable::forget(Ino ino, std::uint64_t n) {
  if (ino == kRootIno) return;
  std::unique_lock lock(mu_);
  auto it = by_ino_.find(ino);
  if (it == by_ino_.end()) return;
  Node& node = it->second;
  node.nlookup = n >= node.nlookup ? 0 : node.nlookup - n;
  if (node.nlookup == 0) {
    if (!node.unique) by_path_.erase(node.path);
    by_ino_.erase(it);
  }
}

void InodeTable::rename(std::string_view from, std::string_view to) {
  std::unique_lock lock(mu_);
  auto source = by_path_.find(from);
  if (source == by_path_.end()) return;
  const Ino ino = source->second;
  by_path_.erase(source);
  if (auto target = by_path_.find(to); target != by_path_.end()) {
    by_ino_[target->second].unique = true;  // replaced: live for its holders only
    target->second = ino;
  } else {
    by_path_.emplace(std::string(to), ino);
  }
  by_ino_[ino].path = std::string(to);
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

std::vector<std::pair<Ino, std::string>> InodeTable::entries() const {
  std::shared_lock lock(mu_);
  std::vector<std::pair<Ino, std::string>> out;
  out.reserve(by_ino_.size());
  for (const auto& [ino, node] : by_ino_) out.emplace_back(ino, node.path);
  return out;
}

}  // namespace fsd
