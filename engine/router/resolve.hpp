// SPDX-License-Identifier: MPL-2.0
// How a path lands (vault-semantics §8.2), written once for the router's
// live tree (NamespaceNode) and its immutable snapshot (NamespaceView): the
// longest namespace prefix, then the longest mount prefix of the rest.
// Nodes have `children` (name → owning pointer) and `mounts` (mount path
// "a/b/" → mount), both maps with heterogeneous lookup.
#pragma once

#include <cstddef>
#include <string_view>
#include <utility>

namespace engine::routing {

// The deepest namespace below ns that the path's leading segments name;
// *rest_at is where the rest of the path begins.
template <class Node>
Node* deepest_namespace(Node* ns, std::string_view path, std::size_t* rest_at) {
  std::size_t pos = 0;
  while (pos < path.size()) {
    std::size_t slash = path.find('/', pos);
    std::string_view seg = path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    auto it = ns->children.find(seg);
    if (it == ns->children.end()) break;
    ns = it->second.get();
    pos = slash == std::string_view::npos ? path.size() : slash + 1;
  }
  *rest_at = pos;
  return ns;
}

// The namespace at ns_path ("a/b/" or "a/b") below ns, or null.
template <class Node>
Node* namespace_at(Node* ns, std::string_view ns_path) {
  while (ns != nullptr && !ns_path.empty()) {
    std::size_t slash = ns_path.find('/');
    auto it = ns->children.find(ns_path.substr(0, slash));
    if (it == ns->children.end()) return nullptr;
    ns = it->second.get();
    ns_path = slash == std::string_view::npos ? std::string_view{} : ns_path.substr(slash + 1);
  }
  return ns;
}

// The mount whose path is the longest prefix of rest ("secret" reaches
// "secret/"), and that path's length; mounts.end() when none.
template <class Mounts>
std::pair<typename Mounts::const_iterator, std::size_t> longest_mount(const Mounts& mounts, std::string_view rest) {
  auto found = mounts.end();
  std::size_t best = 0;
  for (auto it = mounts.begin(); it != mounts.end(); ++it) {
    std::string_view mpath = it->first;
    bool hit = rest.starts_with(mpath) || rest == mpath.substr(0, mpath.size() - 1);
    if (hit && mpath.size() > best) {
      best = mpath.size();
      found = it;
    }
  }
  return {found, best};
}

}  // namespace engine::routing
