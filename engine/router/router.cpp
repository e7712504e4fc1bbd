// SPDX-License-Identifier: MPL-2.0
#include "engine/router/router.hpp"

#include <algorithm>

#include "engine/crypto/sodium.hpp"
#include "engine/router/resolve.hpp"
#include "engine/router/fleet_claim.hpp"
#include "engine/storage/serial.hpp"

namespace engine {
namespace {

constexpr std::string_view kNamespacePrefix = "core/namespaces/";
constexpr std::string_view kMountPrefix = "core/mounts/";

std::string namespace_key(std::string_view id) { return std::string(kNamespacePrefix) + std::string(id); }
std::string mounts_prefix(std::string_view ns_id) { return std::string(kMountPrefix) + std::string(ns_id) + "/"; }
std::string mount_key(const MountEntry& e) { return mounts_prefix(e.namespace_id) + e.uuid; }

std::int64_t unix_ns(TimePoint t) { return t.time_since_epoch().count(); }

WriteOp put_op(std::string key, SecureBytes value) {
  return WriteOp{WriteOp::Kind::Put, std::move(key), std::move(value)};
}

// The first path segment of a mount path ("team" for "team/kv/").
std::string_view first_segment(std::string_view path) { return path.substr(0, path.find('/')); }

}  // namespace

Router::Router(Storage& storage) : storage_(storage) {}

void Router::clear() {
  touch();
  by_id_.clear();
  root_.reset();
  claims_.clear();
}

Status Router::bootstrap_root(TimePoint now) {
  touch();
  COFFER_TRY(auto existing, storage_.get(namespace_key("root")));
  if (existing) return load();
  auto root = std::make_unique<NamespaceNode>();
  root->record = NamespaceRecord{"root", "", {}, unix_ns(now)};
  std::vector<WriteOp> batch;
  batch.push_back(put_op(namespace_key("root"), encode_record(root->record)));
  COFFER_TRY_STATUS(add_builtin_mounts(*root, batch, now));
  COFFER_TRY_STATUS(storage_.apply(batch));
  return load();
}

Status Router::load() {
  touch();
  by_id_.clear();
  root_.reset();
  claims_.clear();
  // The claims before what they stand for (fleet_claim.hpp): a change made
  // by another host in between then shows as a claim newer than memory,
  // never the other way round.
  COFFER_TRY(auto claimed, storage_.list(kNamespacePrefix));
  for (const std::string& id : claimed) COFFER_TRY_STATUS(claims_.remember(storage_, fleet::topology_key(id)));
  COFFER_TRY(auto ids, storage_.list(kNamespacePrefix));
  std::vector<NamespaceRecord> records;
  for (const std::string& id : ids) {
    COFFER_TRY(auto bytes, storage_.get(namespace_key(id)));
    if (!bytes) continue;
    COFFER_TRY(auto rec, decode_record<NamespaceRecord>(*bytes, "namespace record"));
    records.push_back(std::move(rec));
  }
  // Parents before children: a parent's path is a strict prefix, so shorter.
  std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) { return a.path.size() < b.path.size(); });
  std::map<std::string, NamespaceNode*, std::less<>> by_path;
  for (NamespaceRecord& rec : records) {
    auto node = std::make_unique<NamespaceNode>();
    node->record = std::move(rec);
    NamespaceNode* raw = node.get();
    if (raw->record.path.empty()) {
      root_ = std::move(node);
    } else {
      auto parent = by_path.find(parent_namespace_path(raw->record.path));
      if (parent == by_path.end()) {
        return Error::corrupt("namespace " + raw->record.path + " has no parent namespace");
      }
      raw->parent = parent->second;
      parent->second->children.emplace(std::string(namespace_name(raw->record.path)), std::move(node));
    }
    by_path.emplace(raw->record.path, raw);
    by_id_.emplace(raw->record.id, raw);
  }
  if (!root_) return {};  // not initialised yet
  for (auto& [path, node] : by_path) {
    const std::string prefix = mounts_prefix(node->record.id);
    COFFER_TRY(auto uuids, storage_.list(prefix));
    for (const std::string& uuid : uuids) {
      COFFER_TRY(auto bytes, storage_.get(prefix + uuid));
      if (!bytes) continue;
      COFFER_TRY(auto entry, decode_record<MountEntry>(*bytes, "mount entry"));
      COFFER_TRY(auto mount, instantiate(std::move(entry)));
      node->mounts.emplace(mount->entry.path, std::move(mount));
    }
  }
  return {};
}

Result<std::shared_ptr<Mount>> Router::instantiate(MountEntry entry) {
  auto mount = std::make_shared<Mount>();
  COFFER_TRY(mount->backend, make_backend(entry));
  if (!mount->backend && backend_factory_) {
    COFFER_TRY(mount->backend, backend_factory_(entry));
  }
  mount->storage = std::make_unique<View>(storage_, mount_data_prefix(entry.uuid));
  mount->entry = std::move(entry);
  return mount;
}

Status Router::add_builtin_mounts(NamespaceNode& ns, std::vector<WriteOp>& batch, TimePoint now) {
  for (const auto& [path, type, description] :
       {std::tuple{"sys/", "system", "system endpoints used for control, policy and debugging"},
        std::tuple{"identity/", "identity", "identity store"}}) {
    MountEntry entry;
    entry.uuid = crypto::random_uuid();
    entry.accessor = std::string(type) + "_" + crypto::random_hex(4);
    entry.path = path;
    entry.type = type;
    entry.description = description;
    entry.namespace_id = ns.record.id;
    entry.created_unix_ns = unix_ns(now);
    batch.push_back(put_op(mount_key(entry), encode_record(entry)));
  }
  return {};
}

Route Router::resolve(NamespaceNode& base, std::string_view path) const {
  Route route;
  std::size_t rest_at = 0;
  route.ns = routing::deepest_namespace(&base, path, &rest_at);
  route.rest = std::string(path.substr(rest_at));
  auto [mount, length] = routing::longest_mount(route.ns->mounts, route.rest);
  if (mount != route.ns->mounts.end()) {
    route.mount = mount->second;
    route.rel = length <= route.rest.size() ? route.rest.substr(length) : std::string{};
  }
  return route;
}

NamespaceNode* Router::find_namespace(NamespaceNode& base, std::string_view ns_path) const {
  return routing::namespace_at(&base, ns_path);
}

NamespaceNode* Router::find_namespace_by_id(std::string_view id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

bool Router::has_mount_below(const NamespaceNode& ns, std::string_view prefix) {
  auto it = ns.mounts.lower_bound(prefix);
  return it != ns.mounts.end() && std::string_view(it->first).starts_with(prefix);
}

std::string Router::unique_namespace_id() const {
  while (true) {
    std::string id = crypto::random_base62(5);
    if (!by_id_.contains(id)) return id;
  }
}

Result<const NamespaceRecord*> Router::create_namespace(NamespaceNode& parent, std::string_view name,
                                                        std::map<std::string, std::string> metadata, TimePoint now) {
  touch();
  COFFER_TRY_STATUS(validate_namespace_name(name));
  if (parent.children.contains(name)) {
    return Error::exists("namespace \"" + parent.record.path + std::string(name) + "/\" already exists");
  }
  for (const auto& [mpath, mount] : parent.mounts) {
    if (first_segment(mpath) == name) return Error::invalid("new namespace conflicts with existing mount");
  }
  auto node = std::make_unique<NamespaceNode>();
  node->parent = &parent;
  node->record = NamespaceRecord{unique_namespace_id(), parent.record.path + std::string(name) + "/",
                                 std::move(metadata), unix_ns(now)};
  std::vector<WriteOp> batch;
  COFFER_TRY_STATUS(claims_.claim(storage_, fleet::topology_key(parent.record.id), batch));
  batch.push_back(put_op(namespace_key(node->record.id), encode_record(node->record)));
  COFFER_TRY_STATUS(add_builtin_mounts(*node, batch, now));
  COFFER_TRY_STATUS(storage_.apply(batch));
  claims_.took(batch);
  // Instantiate the built-in mounts just written.
  for (const WriteOp& op : batch) {
    if (!op.key.starts_with(kMountPrefix)) continue;
    COFFER_TRY(auto entry, decode_record<MountEntry>(op.value, "mount entry"));
    COFFER_TRY(auto mount, instantiate(std::move(entry)));
    node->mounts.emplace(mount->entry.path, std::move(mount));
  }
  NamespaceNode* raw = node.get();
  parent.children.emplace(std::string(name), std::move(node));
  by_id_.emplace(raw->record.id, raw);
  return &raw->record;
}

Status Router::set_namespace_metadata(NamespaceNode& ns, std::map<std::string, std::string> metadata) {
  NamespaceRecord updated = ns.record;
  updated.custom_metadata = std::move(metadata);
  COFFER_TRY_STATUS(storage_.put(namespace_key(updated.id), encode_record(updated)));
  ns.record = std::move(updated);
  return {};
}

Status Router::delete_namespace(NamespaceNode& parent, std::string_view name, bool require_no_mounts) {
  touch();
  auto it = parent.children.find(name);
  if (it == parent.children.end()) {
    return Error::not_found("namespace \"" + parent.record.path + std::string(name) + "/\" not found");
  }
  NamespaceNode& ns = *it->second;
  if (!ns.children.empty()) {
    return Error::not_empty("unable to delete namespace containing child namespaces");
  }
  if (require_no_mounts) {
    for (const auto& [mpath, mount] : ns.mounts) {
      if (!mount->entry.builtin()) {
        return Error::not_empty("namespace \"" + ns.record.path + "\" still has mount " + mpath);
      }
    }
  }
  std::vector<WriteOp> batch;
  // Against another host changing the parent's children, or this
  // namespace's mounts or identity, at the same time.
  COFFER_TRY_STATUS(claims_.claim(storage_, fleet::topology_key(parent.record.id), batch));
  COFFER_TRY_STATUS(claims_.release(storage_, fleet::topology_key(ns.record.id), batch));
  for (const auto& [mpath, mount] : ns.mounts) {
    batch.push_back({WriteOp::Kind::DeletePrefix, mount_data_prefix(mount->entry.uuid), {}});
  }
  batch.push_back({WriteOp::Kind::DeletePrefix, mounts_prefix(ns.record.id), {}});
  batch.push_back({WriteOp::Kind::DeletePrefix, "ns/" + ns.record.id + "/", {}});
  batch.push_back({WriteOp::Kind::Delete, namespace_key(ns.record.id), {}});
  // The namespace's identity claim goes with it (its identity is deleted
  // with ns/<id>/); unconditionally, the identity store is not asked.
  batch.push_back({WriteOp::Kind::Delete, fleet::identity_key(ns.record.id), {}});
  COFFER_TRY_STATUS(storage_.apply(batch));
  claims_.took(batch);
  by_id_.erase(ns.record.id);
  parent.children.erase(it);
  return {};
}

Result<std::shared_ptr<Mount>> Router::enable_mount(NamespaceNode& ns, MountEntry entry, TimePoint now) {
  entry.path = canonical_mount_path(entry.path);
  COFFER_TRY_STATUS(validate_mount_path(entry.path));
  for (const auto& [mpath, mount] : ns.mounts) {
    if (entry.path.starts_with(mpath) || std::string_view(mpath).starts_with(entry.path)) {
      return Error::exists("path is already in use at " + mpath);
    }
  }
  if (ns.children.contains(first_segment(entry.path))) {
    return Error::invalid("mount path conflicts with existing namespace \"" + ns.record.path +
                          std::string(first_segment(entry.path)) + "/\"");
  }
  const std::string prefix = entry.type + "_";
  return install(ns, std::move(entry), prefix, now);
}

Result<std::shared_ptr<Mount>> Router::enable_auth(NamespaceNode& ns, MountEntry entry, TimePoint now) {
  std::string below = canonical_mount_path(entry.path);
  entry.path = "auth/" + below;
  for (const auto& [mpath, mount] : ns.mounts) {
    if (entry.path.starts_with(mpath) || std::string_view(mpath).starts_with(entry.path)) {
      return Error::exists("path is already in use at " + mpath.substr(5));
    }
  }
  const std::string prefix = "auth_" + entry.type + "_";
  return install(ns, std::move(entry), prefix, now);
}

Result<std::shared_ptr<Mount>> Router::install(NamespaceNode& ns, MountEntry entry, const std::string& accessor_prefix,
                                               TimePoint now) {
  touch();
  entry.uuid = crypto::random_uuid();
  entry.accessor = accessor_prefix + crypto::random_hex(4);
  entry.namespace_id = ns.record.id;
  entry.created_unix_ns = unix_ns(now);
  COFFER_TRY(auto mount, instantiate(std::move(entry)));
  std::vector<WriteOp> batch;
  COFFER_TRY_STATUS(claims_.claim(storage_, fleet::topology_key(ns.record.id), batch));
  batch.push_back(put_op(mount_key(mount->entry), encode_record(mount->entry)));
  COFFER_TRY_STATUS(storage_.apply(batch));
  claims_.took(batch);
  ns.mounts.emplace(mount->entry.path, mount);
  return mount;
}

Status Router::disable_mount(NamespaceNode& ns, std::string_view path) {
  touch();
  std::string canonical = canonical_mount_path(path);
  auto it = ns.mounts.find(canonical);
  if (it == ns.mounts.end()) return Error::not_found("no mount at " + ns.record.path + canonical);
  if (it->second->entry.builtin()) return Error::invalid("cannot unmount \"" + canonical + "\"");
  std::vector<WriteOp> batch;
  COFFER_TRY_STATUS(claims_.claim(storage_, fleet::topology_key(ns.record.id), batch));
  batch.push_back({WriteOp::Kind::DeletePrefix, mount_data_prefix(it->second->entry.uuid), {}});
  batch.push_back({WriteOp::Kind::Delete, mount_key(it->second->entry), {}});
  COFFER_TRY_STATUS(storage_.apply(batch));
  claims_.took(batch);
  ns.mounts.erase(it);
  return {};
}

Status Router::update_mount(NamespaceNode& ns, const MountEntry& entry) {
  touch();
  auto it = ns.mounts.find(entry.path);
  if (it == ns.mounts.end()) return Error::not_found("no mount at " + ns.record.path + entry.path);
  COFFER_TRY_STATUS(storage_.put(mount_key(entry), encode_record(entry)));
  it->second->entry = entry;
  return {};
}

}  // namespace engine
