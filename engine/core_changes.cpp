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
// fleet::claim keys (engine/router/fleet_claim.hpp): each is written beside
// the change it stands for, which says what changed.
constexpr std::string_view kClaims = "core/claims/";

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
    if (described_ && !outer_->described_) outer_->describe(op_, abs_path_, version_);
    return;
  }
  if (described_) {
    for (auto& batch : pending_) {
      for (ChangeEvent& c : batch) {
        std::optional<std::string> type = event_type_of(c, op_, abs_path_);
        if (!type) continue;  // not this request's own target
        c.event_type = std::move(*type);
        c.api_path = abs_path_.substr(c.namespace_path.size());
        c.version = version_;
      }
    }
  }
  for (auto& batch : pending_) recorder_.bus_.publish(std::move(batch));
}

void ChangeRecorder::Scope::describe(Operation op, std::string_view abs_path, std::int64_t version) {
  while (!abs_path.empty() && abs_path.front() == '/') abs_path.remove_prefix(1);
  described_ = true;
  op_ = op;
  abs_path_ = std::string(abs_path);
  version_ = version;
}

std::optional<std::string> ChangeRecorder::event_type_of(const ChangeEvent& change, Operation op,
                                                         std::string_view abs_path) {
  const std::string& guess = change.event_type;
  if (!abs_path.starts_with(change.namespace_path)) return std::nullopt;
  const std::string_view rel = abs_path.substr(change.namespace_path.size());
  const bool del = op == Operation::Delete;
  const bool patch = op == Operation::Patch;
  auto coffer = [del](std::string_view what) { return "coffer/" + std::string(what) + (del ? "-delete" : "-write"); };
  switch (change.kind) {
    case ChangeKind::Secret: {
      if (change.mount_path.empty() || !rel.starts_with(change.mount_path)) return std::nullopt;
      const std::string_view r = rel.substr(change.mount_path.size());
      if (guess.starts_with("kv-v1/")) return del ? "kv-v1/delete" : "kv-v1/write";
      if (!guess.starts_with("kv-v2/")) return std::nullopt;
      const std::string_view first = first_segment(r).first;
      if (first == "data") return del ? "kv-v2/data-delete" : patch ? "kv-v2/data-patch" : "kv-v2/data-write";
      if (first == "delete") return "kv-v2/delete";
      if (first == "undelete") return "kv-v2/undelete";
      if (first == "destroy") return "kv-v2/destroy";
      if (first == "metadata") {
        return del ? "kv-v2/metadata-delete" : patch ? "kv-v2/metadata-patch" : "kv-v2/metadata-write";
      }
      if (first == "config") return "kv-v2/config-write";
      return std::nullopt;
    }
    case ChangeKind::Policy:
      if (rel.starts_with("sys/policies/") || rel.starts_with("sys/policy/")) return coffer("policy");
      return std::nullopt;
    case ChangeKind::Mount:
      if (rel.starts_with("sys/mounts/") || rel.starts_with("sys/auth/")) return coffer("mount");
      return std::nullopt;
    case ChangeKind::Namespace:
      if (rel.starts_with("sys/namespaces/")) return coffer("namespace");
      return std::nullopt;
    case ChangeKind::Identity:
      if (rel.starts_with("identity/")) return coffer("identity");
      return std::nullopt;
    case ChangeKind::Token:
      if (!rel.starts_with("auth/token/")) return std::nullopt;
      if (rel.find("revoke") != std::string_view::npos) return "coffer/token-revoke";
      if (rel.find("create") != std::string_view::npos) return "coffer/token-create";
      return std::nullopt;
    default: return std::nullopt;
  }
}

void ChangeRecorder::committed(std::span<const WriteOp> batch) { record(classify(batch)); }

void ChangeRecorder::note(ChangeEvent change) {
  if (change.kind == ChangeKind::Seal) forget_mounts();
  if (change.event_type.empty()) change.event_type = "coffer/" + std::string(to_string(change.kind));
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
    if (key.starts_with(kClaims)) continue;
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
      c.mount_path = m->path;
      if (m->path.starts_with("auth/")) {
        c.kind = ChangeKind::AuthData;
        c.event_type = "coffer/auth-write";
      } else {
        c.kind = ChangeKind::Secret;
        // Refined by the request that made it (Scope::describe).
        c.event_type = m->kv_version == 2   ? "kv-v2/data-write"
                       : m->kv_version == 1 ? "kv-v1/write"
                                            : "coffer/secret-write";
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
        c.event_type = "coffer/policy-write";
        if (op.kind != WriteOp::Kind::DeletePrefix) c.path = "sys/policies/acl/" + std::string(rest.substr(7));
      } else if (rest.starts_with("identity/")) {
        c.kind = ChangeKind::Identity;
        c.event_type = "coffer/identity-write";
      } else {
        c.kind = ChangeKind::Namespace;  // the namespace's whole subtree (deleted)
        c.event_type = "coffer/namespace-delete";
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
      c.event_type = "coffer/mount-write";
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
    if (c.event_type.empty()) c.event_type = "coffer/" + std::string(to_string(c.kind)) + "-write";
    add(std::move(c));
  }
  // Mount uuids may now name other mounts (or none): index again on next use.
  if (topology) forget_mounts();
  return out;
}

}  // namespace engine
