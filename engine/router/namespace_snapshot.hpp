// SPDX-License-Identifier: MPL-2.0
// An immutable copy of the namespace tree and each namespace's mount table
// (what Core::namespaces() hands out): the file view, mountd and the monitor
// resolve a path to its namespace and mount kind with it, holding no core
// lock. A new snapshot is made when the topology changes (a namespace or
// mount comes, goes or is tuned, seal, unseal); one in hand never changes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace engine {

class Router;

// One mount, as the tree shows it.
struct MountView {
  std::string path;      // below its namespace: "secret/", "auth/userpass/"
  std::string type;      // "kv", "system", "token", "identity", "userpass"...
  std::string accessor;  // "kv_1a2b3c4d"
  int kv_version = 0;    // kv mounts: 1 or 2; 0 otherwise
  bool builtin = false;  // MountEntry::builtin(): sys/, identity/
};

struct NamespaceView {
  std::string path;                                                             // "" (root) or "a/b/"
  std::string id;                                                               // "root" or the namespace's id
  std::map<std::string, std::unique_ptr<NamespaceView>, std::less<>> children;  // by name
  std::map<std::string, MountView, std::less<>> mounts;                         // by path

  // True if some mount path of this namespace starts with prefix.
  bool has_mount_below(std::string_view prefix) const;
};

// Where a path lands (Router::resolve's answer, over the snapshot).
struct SnapshotRoute {
  const NamespaceView* ns = nullptr;
  std::string rest;                  // below the namespace: "secret/data/foo"
  const MountView* mount = nullptr;  // the mount holding rest, if any
  std::string rel;                   // below the mount: "data/foo"
};

struct NamespaceSnapshot {
  // Sealed (or not yet loaded): no tree at all, root is null.
  bool sealed = true;
  std::unique_ptr<NamespaceView> root;
  std::uint64_t version = 0;  // Router::version() it was made at

  // Resolves path (no leading '/') as Router::resolve does: the longest
  // namespace prefix, then the longest mount prefix inside it. Requires
  // !sealed.
  SnapshotRoute resolve(std::string_view path) const;
  // The namespace at canonical path ns_path ("" = root, "a/b/"), or null
  // (also while sealed).
  const NamespaceView* find(std::string_view ns_path) const;

  // A copy of router's tree (null root while sealed or not loaded). Caller
  // keeps the router still (the core lock, shared) while it runs.
  static std::shared_ptr<const NamespaceSnapshot> of(const Router& router, bool sealed);
};

}  // namespace engine
