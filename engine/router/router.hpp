// SPDX-License-Identifier: MPL-2.0
// The namespace tree and each namespace's mount table, loaded from storage at
// unseal, and path resolution over them (vault-semantics §8.2): the longest
// existing namespace prefix, then the longest mount prefix inside it.
//
// Not synchronised: the core reads it under a shared lock and changes it
// under an exclusive one.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/request.hpp"
#include "engine/namespace/namespace.hpp"
#include "engine/router/mount.hpp"
#include "engine/router/fleet_claim.hpp"

namespace engine {

struct NamespaceNode {
  NamespaceRecord record;
  NamespaceNode* parent = nullptr;
  std::map<std::string, std::unique_ptr<NamespaceNode>, std::less<>> children;  // by name
  std::map<std::string, std::shared_ptr<Mount>, std::less<>> mounts;            // by path "a/b/"
};

// Where a path lands.
struct Route {
  NamespaceNode* ns = nullptr;
  std::string rest;              // the path below the namespace: "secret/data/foo"
  std::shared_ptr<Mount> mount;  // the mount holding `rest`, if any
  std::string rel;               // the path below the mount: "data/foo"
};

class Router {
 public:
  // storage (the barrier) must outlive the router.
  explicit Router(Storage& storage);

  // Makes the backends the router does not make itself (make_backend makes
  // the secrets engines): built-in mounts (sys/, identity/), which need the
  // core's stores, and auth methods, which the router knows nothing of. Its
  // error fails the mount. Without one, those mounts have no backend.
  using BackendFactory = std::function<Result<std::unique_ptr<Backend>>(const MountEntry& entry)>;
  // Set once, before load() or bootstrap_root(); the function must outlive
  // the router's mounts.
  void set_backend_factory(BackendFactory make) { backend_factory_ = std::move(make); }

  // Reads every namespace and mount from storage, replacing what is loaded.
  Status load();
  // Forgets everything (at seal).
  void clear();

  // Creates the root namespace's records (at init). Idempotent per store.
  Status bootstrap_root(TimePoint now);

  NamespaceNode& root() { return *root_; }
  const NamespaceNode& root() const { return *root_; }
  bool loaded() const { return root_ != nullptr; }

  // Moves whenever the tree may change shape: load, clear, a namespace or
  // mount created, deleted or updated (NamespaceSnapshot says when it is
  // stale). Readable without any lock.
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }

  // Resolves path (relative to `base`, no leading '/').
  Route resolve(NamespaceNode& base, std::string_view path) const;

  // The namespace at canonical path ns_path below base ("" = base), or null.
  NamespaceNode* find_namespace(NamespaceNode& base, std::string_view ns_path) const;

  // The namespace with id `id`, or null. O(log namespaces), from an index
  // kept with the tree.
  NamespaceNode* find_namespace_by_id(std::string_view id) const;

  // Namespaces. Errors: InvalidArgument (name rules), AlreadyExists,
  // InvalidArgument "new namespace conflicts with existing mount".
  Result<const NamespaceRecord*> create_namespace(NamespaceNode& parent, std::string_view name,
                                                  std::map<std::string, std::string> metadata, TimePoint now);
  Status set_namespace_metadata(NamespaceNode& ns, std::map<std::string, std::string> metadata);
  // Deletes a child namespace with all its mounts and data. NotEmpty while it
  // has child namespaces; with require_no_mounts (rmdir) also while it has
  // mounts of its own.
  Status delete_namespace(NamespaceNode& parent, std::string_view name, bool require_no_mounts);

  // Mounts. Errors: InvalidArgument (path, type), AlreadyExists ("path is
  // already in use at X"), InvalidArgument for clashes with namespaces.
  Result<std::shared_ptr<Mount>> enable_mount(NamespaceNode& ns, MountEntry entry, TimePoint now);
  // Auth methods (sys/auth): entry.path is below auth/ ("userpass/"); the
  // mount lands at "auth/userpass/" with accessor "auth_<type>_<8 hex>".
  // The caller has checked the path and type (auth::validate_auth_path,
  // auth::is_enableable_type). Errors as enable_mount.
  Result<std::shared_ptr<Mount>> enable_auth(NamespaceNode& ns, MountEntry entry, TimePoint now);
  // Removes the mount and all its data. NotFound if there is none at path.
  Status disable_mount(NamespaceNode& ns, std::string_view path);
  // Persists a changed entry (tune). The mount must exist.
  Status update_mount(NamespaceNode& ns, const MountEntry& entry);

  // True if some mount path of ns starts with prefix (for intermediate dirs).
  static bool has_mount_below(const NamespaceNode& ns, std::string_view prefix);

 private:
  Result<std::shared_ptr<Mount>> instantiate(MountEntry entry);
  // Gives a checked new entry its uuid, accessor (prefix + 8 hex), namespace
  // and time, makes its backend, stores it and adds it to ns.
  Result<std::shared_ptr<Mount>> install(NamespaceNode& ns, MountEntry entry, const std::string& accessor_prefix,
                                         TimePoint now);
  Status add_builtin_mounts(NamespaceNode& ns, std::vector<WriteOp>& batch, TimePoint now);
  std::string unique_namespace_id() const;

  void touch() { version_.fetch_add(1, std::memory_order_acq_rel); }

  Storage& storage_;
  // The topology claims memory is built from (engine/router/fleet_claim.hpp).
  fleet::Claims claims_;
  std::unique_ptr<NamespaceNode> root_;
  // Every node of the tree under root_ by its id: filled by load(), kept by
  // create_namespace and delete_namespace, emptied with the tree.
  std::map<std::string, NamespaceNode*, std::less<>> by_id_;
  BackendFactory backend_factory_;
  std::atomic<std::uint64_t> version_{0};
};

}  // namespace engine
