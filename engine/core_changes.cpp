// SPDX-License-Identifier: MPL-2.0
#include "engine/core_changes.hpp"

#include "engine/router/router.hpp"

namespace engine {
namespace {

// The scope of the operation running on this thread, if any.
thread_local ChangeRecorder::Scope* t_scope = nullptr;

// The key layout of the stores (each prefix is defined beside its store:
// router.cpp, token_store.cpp, policy_store.cpp, identity_store.cpp,
// audit_broker.cpp, lockout.hpp, mount.hpp). test_changes pins it by
// writing through the real stores.
constexpr std::string_view kNamespaces = "core/namespaces/";
constexpr std::string_view kMounts = "core/mounts/";
constexpr std::string_view kTokens = "core/token/";
constexpr std::string_view kAudit = "core/audit";
constexpr std::string_view kLockedUsers = "core/login/lockedusers/";
constexpr std::string_view kIdentityConfig = "core/identity/config";
constexpr std::string_view kPerNamespace = "ns/";
constexpr std::string_view kLogical = "logical/";

// "a/b/c" → ("a", "b/c"); no '/' → (key, "").
std::pair<std::string_view, std::string_view> first_segment(std::string_view key) {
  const std::size_t slash = key.find('/');
  if (slash == std::string_view::npos) return {key, {}};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

}  // namespace

ChangeRecorder::ChangeRecorder(ChangeBus& bus, Router& router) : bus_(bus), router_(router) {}

ChangeRecorder::Scope::Scope(ChangeRecorder& recorder) : recorder_(recorder), outer_(t_scope) { t_scope = this; }

ChangeRecorder::Scope::~Scope() {
  t_scope = outer_;
  if (outer_ != nullptr && &outer_->recorder_ == &recorder_) {
    for (auto& batch : pending_) outer_->pending_.push_back(std::move(batch));
    return;
  }
  for (auto& batch : pending_) recorder_.bus_.publish(std::move(batch));
}

void ChangeRecorder::committed(std::span<const WriteOp> batch) { record(classify(batch)); }

void ChangeRecorder::note(ChangeEvent change) {
  if (change.kind == ChangeKind::Seal) forget_mounts();
  record({std::move(change)});
}

void ChangeRecorder::record(std::vector<ChangeEvent> changes) {
  if (changes.empty()) return;
  if (t_scope != nullptr && &t_scope->recorder_ == this) {
    t_scope->pending_.push_back(std::move(changes));
    return;
  }
  bus_.publish(std::move(changes));
}

std::string ChangeRecorder::namespace_path_of(std::string_view id) const {
  const NamespaceNode* ns = router_.loaded() ? router_.find_namespace_by_id(id) : nullptr;
  return ns != nullptr ? ns->record.path : std::string();
}

void ChangeRecorder::forget_mounts() {
  std::lock_guard lock(mounts_mu_);
  mounts_.clear();
}

std::optional<ChangeRecorder::MountInfo> ChangeRecorder::mount_of(const std::string& uuid) {
  std::lock_guard lock(mounts_mu_);
  if (auto it = mounts_.find(uuid); it != mounts_.end()) return it->second;
  if (!router_.loaded()) return std::nullopt;
  // A miss: index every mount once (a mount table changed since, or first use).
  mounts_.clear();
  std::vector<const NamespaceNode*> todo{&router_.root()};
  while (!todo.empty()) {
    const NamespaceNode* ns = todo.back();
    todo.pop_back();
    for (const auto& [path, mount] : ns->mounts) {
      const MountEntry& e = mount->entry;
      int version = 0;
      if (e.type == "kv") {
        auto v = e.options.find("version");
        version = v != e.options.end() && v->second == "2" ? 2 : 1;
      }
      mounts_[e.uuid] = MountInfo{ns->record.id, ns->record.path, e.path, e.type, version};
    }
    for (const auto& [name, child] : ns->children) todo.push_back(child.get());
  }
  auto it = mounts_.find(uuid);
  if (it == mounts_.end()) return std::nullopt;
  return it->second;
}

std::vector<ChangeEvent> ChangeRecorder::classify(std::span<const WriteOp> batch) {
  std::vector<ChangeEvent> out;
  auto add = [&out](ChangeEvent c) {
    for (const ChangeEvent& seen : out) {
      if (seen == c) return;
    }
    out.push_back(std::move(c));
  };
  bool topology = false;
  for (const WriteOp& op : batch) {
    std::string_view key = op.key;
    ChangeEvent c;
    if (key.starts_with(kLogical)) {
      auto [uuid, rest] = first_segment(key.substr(kLogical.size()));
      const std::optional<MountInfo> m = mount_of(std::string(uuid));
      if (!m) {  // a mount the tree does not hold (any more): anything
        c.kind = ChangeKind::Other;
        add(std::move(c));
        continue;
      }
      c.namespace_id = m->namespace_id;
      c.namespace_path = m->namespace_path;
      c.path = m->path;
      if (m->path.starts_with("auth/")) {
        c.kind = ChangeKind::AuthData;
      } else {
        c.kind = ChangeKind::Secret;
        // The secret's name where the key says it: KV v1 keeps data/<name>,
        // KV v2 meta/<name> (rewritten by every change to the secret; its
        // versions live under ver/<key id>/, which names no secret).
        // live/<name> (the listing index) changes only beside its meta/ key.
        if (m->kv_version == 2 && (rest.starts_with("ver/") || rest.starts_with("live/") || rest == "live-index")) {
          continue;  // its meta/ key names it
        }
        if (op.kind != WriteOp::Kind::DeletePrefix) {
          if (m->kv_version == 1 && rest.starts_with("data/")) c.path += rest.substr(5);
          if (m->kv_version == 2 && rest.starts_with("meta/")) c.path += rest.substr(5);
        }
      }
      add(std::move(c));
      continue;
    }
    if (key.starts_with(kPerNamespace)) {
      auto [id, rest] = first_segment(key.substr(kPerNamespace.size()));
      c.namespace_id = std::string(id);
      c.namespace_path = namespace_path_of(id);
      if (rest.starts_with("policy/")) {
        c.kind = ChangeKind::Policy;
        if (op.kind != WriteOp::Kind::DeletePrefix) c.path = "sys/policies/acl/" + std::string(rest.substr(7));
      } else if (rest.starts_with("identity/")) {
        c.kind = ChangeKind::Identity;
      } else {
        c.kind = ChangeKind::Namespace;  // the namespace's whole subtree (deleted)
        topology = true;
      }
      add(std::move(c));
      continue;
    }
    if (key.starts_with(kMounts)) {
      auto [id, rest] = first_segment(key.substr(kMounts.size()));
      c.kind = ChangeKind::Mount;
      c.namespace_id = std::string(id);
      c.namespace_path = namespace_path_of(id);
      topology = true;
    } else if (key.starts_with(kNamespaces)) {
      c.kind = ChangeKind::Namespace;
      topology = true;
    } else if (key.starts_with(kTokens)) {
      c.kind = ChangeKind::Token;
    } else if (key.starts_with(kLockedUsers)) {
      c.kind = ChangeKind::Lockout;
    } else if (key.starts_with(kIdentityConfig)) {
      c.kind = ChangeKind::Identity;
    } else if (key == kAudit) {
      c.kind = ChangeKind::Audit;
    } else {
      c.kind = ChangeKind::Other;
    }
    add(std::move(c));
  }
  // Mount uuids may now name other mounts (or none): index again on next use.
  if (topology) forget_mounts();
  return out;
}

}  // namespace engine
