// SPDX-License-Identifier: MPL-2.0
#include "engine/router/namespace_snapshot.hpp"

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
  const NamespaceView* ns = root.get();
  std::size_t pos = 0;
  while (pos < path.size()) {
    std::size_t slash = path.find('/', pos);
    std::string_view seg = path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    auto it = ns->children.find(seg);
    if (it == ns->children.end()) break;
    ns = it->second.get();
    pos = slash == std::string_view::npos ? path.size() : slash + 1;
  }
  route.ns = ns;
  route.rest = std::string(path.substr(pos));
  // Longest mount path that is a prefix of rest ("secret" reaches "secret/").
  std::size_t best = 0;
  for (const auto& [mpath, mount] : ns->mounts) {
    std::string_view bare = std::string_view(mpath).substr(0, mpath.size() - 1);
    bool hit = route.rest.starts_with(mpath) || route.rest == bare;
    if (hit && mpath.size() > best) {
      best = mpath.size();
      route.mount = &mount;
    }
  }
  if (route.mount != nullptr) route.rel = best <= route.rest.size() ? route.rest.substr(best) : std::string{};
  return route;
}

const NamespaceView* NamespaceSnapshot::find(std::string_view ns_path) const {
  const NamespaceView* ns = root.get();
  while (ns != nullptr && !ns_path.empty()) {
    std::size_t slash = ns_path.find('/');
    auto it = ns->children.find(ns_path.substr(0, slash));
    if (it == ns->children.end()) return nullptr;
    ns = it->second.get();
    ns_path = slash == std::string_view::npos ? std::string_view{} : ns_path.substr(slash + 1);
  }
  return ns;
}

std::shared_ptr<const NamespaceSnapshot> NamespaceSnapshot::of(const Router& router, bool sealed) {
  auto out = std::make_shared<NamespaceSnapshot>();
  out->version = router.version();
  out->sealed = sealed || !router.loaded();
  if (!out->sealed) out->root = copy_of(router.root());
  return out;
}

}  // namespace engine
