// SPDX-License-Identifier: MPL-2.0
// A compressed byte trie mapping strings to a uint32 each, for prefix-rule
// lookups in O(key length): longest stored prefix of a string, or every
// stored prefix of it. Internal to the policy module. Not thread-safe for
// writes; concurrent const lookups are fine.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace engine::policy {

class RadixTree {
 public:
  static constexpr std::uint32_t kNone = UINT32_MAX;

  RadixTree() : nodes_(1) {}

  // The value slot of `key`, created (holding kNone) if absent.
  std::uint32_t& insert(std::string_view key) {
    std::uint32_t n = 0;
    std::size_t i = 0;
    while (i < key.size()) {
      const auto c = static_cast<unsigned char>(key[i]);
      auto& kids = nodes_[n].children;
      auto it =
          std::lower_bound(kids.begin(), kids.end(), c, [](const auto& e, unsigned char b) { return e.first < b; });
      if (it == kids.end() || it->first != c) {
        const auto fresh = static_cast<std::uint32_t>(nodes_.size());
        kids.insert(it, {c, fresh});
        nodes_.emplace_back();
        nodes_.back().label.assign(key.substr(i));
        ++size_;
        return nodes_.back().value;
      }
      const std::uint32_t child = it->second;
      const std::string_view label = nodes_[child].label;
      const std::string_view rest = key.substr(i);
      std::size_t common = 0;
      while (common < label.size() && common < rest.size() && label[common] == rest[common]) ++common;
      if (common == label.size()) {
        n = child;
        i += common;
        continue;
      }
      // Split the edge: parent -> mid (common part) -> child (remainder).
      const auto mid = static_cast<std::uint32_t>(nodes_.size());
      const std::size_t slot = static_cast<std::size_t>(it - kids.begin());
      nodes_.emplace_back();  // may reallocate: no references held past here
      nodes_[mid].label = nodes_[child].label.substr(0, common);
      nodes_[child].label.erase(0, common);
      nodes_[mid].children.push_back({static_cast<unsigned char>(nodes_[child].label[0]), child});
      nodes_[n].children[slot].second = mid;
      n = mid;
      i += common;
    }
    if (nodes_[n].value == kNone) ++size_;
    return nodes_[n].value;
  }

  // Value stored for exactly `key`, or kNone.
  std::uint32_t find(std::string_view key) const {
    std::uint32_t n = 0;
    std::size_t i = 0;
    while (i < key.size()) {
      const std::uint32_t c = child(n, static_cast<unsigned char>(key[i]));
      if (c == kNone) return kNone;
      const std::string_view label = nodes_[c].label;
      if (key.substr(i, label.size()) != label) return kNone;
      i += label.size();
      n = c;
    }
    return nodes_[n].value;
  }

  // Value of the longest stored key that is a prefix of `s`, or kNone.
  std::uint32_t longest_prefix(std::string_view s) const {
    std::uint32_t best = kNone;
    for_each_prefix(s, [&](std::size_t, std::uint32_t v) { best = v; });
    return best;
  }

  // Calls f(prefix_length, value) for every stored key that is a prefix of
  // `s`, shortest first.
  template <class F>
  void for_each_prefix(std::string_view s, F&& f) const {
    std::uint32_t n = 0;
    std::size_t i = 0;
    while (true) {
      if (nodes_[n].value != kNone) f(i, nodes_[n].value);
      if (i >= s.size()) return;
      const std::uint32_t c = child(n, static_cast<unsigned char>(s[i]));
      if (c == kNone) return;
      const std::string_view label = nodes_[c].label;
      if (s.substr(i, label.size()) != label) return;
      i += label.size();
      n = c;
    }
  }

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

 private:
  struct Node {
    std::string label;  // edge label from the parent; empty only at the root
    std::vector<std::pair<unsigned char, std::uint32_t>> children;  // sorted by byte
    std::uint32_t value = kNone;
  };

  std::uint32_t child(std::uint32_t n, unsigned char b) const {
    const auto& kids = nodes_[n].children;
    auto it = std::lower_bound(kids.begin(), kids.end(), b, [](const auto& e, unsigned char x) { return e.first < x; });
    return (it == kids.end() || it->first != b) ? kNone : it->second;
  }

  std::vector<Node> nodes_;
  std::size_t size_ = 0;
};

}  // namespace engine::policy
