// SPDX-License-Identifier: MPL-2.0
#include "engine/router/namespace_snapshot.hpp"

#include "engine/router/resolve.hpp"
#include "engine/router/router.hpp"

namespace engine {
namespace {

std::unique_ptr<NamespaceView> copy_of(const NamespaceNode& node) {
  auto out = std::make_unique<NamespaceView>();
  out->path = node.record.path;
  out->id = node.record.id;
  for (const auto& [mpath, mount] : node.mounts) {
    const MountEntry& e = mount->entry;
    out->mounts.emplace(mpath, MountView{e.path, e.type, e.accessor, e.type == "kv" ? e.kv_version() : 0, e.builtin()});
  }
  for (const auto& [name, child] : node.children) out->children.emplace(name, copy_of(*child));
  return out;
}

}  // namespace

bool NamespaceView::has_mount_below(std::string_view prefix) const {
  auto it = mounts.lower_bound(prefix);
  return it != mounts.end() && std::string_view(it->first).starts_with(prefix);
}

SnapshotRoute NamespaceSnapshot::resolve(std::string_view path) const {
  SnapshotRoute route;
  std::size_t rest_at = 0;
  route.ns = routing::deepest_namespace(root.get(), path, &rest_at);
  route.rest = std::string(path.substr(rest_at));
  auto [mount, length] = routing::longest_mount(route.ns->mounts, route.rest);
  if (mount != route.ns->mounts.end()) {
    route.mount = &mount->second;
    route.rel = length <= route.rest.size() ? route.rest.substr(length) : std::string{};
  }
  return route;
}

const NamespaceView* NamespaceSnapshot::find(std::string_view ns_path) const {
  return routing::namespace_at(root.get(), ns_path);
}

std::shared_ptr<const NamespaceSnapshot> NamespaceSnapshot::of(const Router& router, bool sealed) {
  auto out = std::make_shared<NamespaceSnapshot>();
  out->version = router.version();
  out->sealed = sealed || !router.loaded();
  if (!out->sealed) out->root = copy_of(router.root());
  return out;
}

}  // namespace engine
