// SPDX-License-Identifier: MPL-2.0
#include "engine/identity/identity_store.hpp"

#include <algorithm>
#include <deque>
#include <mutex>
#include <unordered_set>

#include "engine/router/fleet_claim.hpp"
#include "engine/storage/serial.hpp"
#include "engine/crypto/sodium.hpp"
#include "engine/policy/policy.hpp"
#include "engine/storage/group_commit.hpp"

namespace engine {
namespace {

constexpr std::string_view kConfigKey = "core/identity/config";

std::string ns_prefix(std::string_view ns_id) { return "ns/" + std::string(ns_id) + "/identity/"; }
std::string entity_key(std::string_view ns_id, std::string_view id) {
  return ns_prefix(ns_id) + "entity/" + std::string(id);
}
std::string group_key(std::string_view ns_id, std::string_view id) {
  return ns_prefix(ns_id) + "group/" + std::string(id);
}

std::string pair_key(std::string_view a, std::string_view b) {
  std::string k(a);
  k.push_back('\0');
  k.append(b);
  return k;
}

std::int64_t unix_ns(TimePoint t) { return t.time_since_epoch().count(); }

WriteOp put_op(std::string key, SecureBytes value) { return {WriteOp::Kind::Put, std::move(key), std::move(value)}; }

std::vector<std::string> sorted_unique(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// Removes duplicates keeping the first occurrence (strutil.RemoveDuplicates
// sorts; Vault shows members sorted, so sorting is what users see).
std::vector<std::string> dedupe(const std::vector<std::string>& v) {
  std::vector<std::string> out;
  for (const auto& s : v) {
    if (s.empty()) continue;
    out.push_back(s);
  }
  return sorted_unique(std::move(out));
}

}  // namespace

struct IdentityStore::State {
  // The identity claims this state is built from (fleet_claim.hpp).
  fleet::Claims claims;
  IdentityConfig config;
  std::unordered_map<std::string, EntityPtr> entities;
  std::map<std::string, std::string> entity_by_name;  // ns \0 name -> entity id
  // accessor \0 name -> entity id; alias id -> entity id
  std::map<std::string, std::string> alias_by_factors;
  std::unordered_map<std::string, std::string> alias_owner;
  std::unordered_map<std::string, GroupPtr> groups;
  std::map<std::string, std::string> group_by_name;                // ns \0 name -> group id
  std::map<std::string, std::string> group_alias_by_factors;       // accessor \0 name -> group id
  std::unordered_map<std::string, std::string> group_alias_owner;  // alias id -> group id
  // Reverse membership: entity -> groups listing it; group -> groups listing it.
  std::unordered_map<std::string, std::set<std::string>> groups_of_entity;
  std::unordered_map<std::string, std::set<std::string>> parents_of_group;

  void index_entity(const EntityPtr& e) {
    entities[e->id] = e;
    entity_by_name[pair_key(e->namespace_id, e->name)] = e->id;
    for (const auto& a : e->aliases) {
      alias_by_factors[pair_key(a.mount_accessor, a.name)] = e->id;
      alias_owner[a.id] = e->id;
    }
  }
  void unindex_entity(const EntityRecord& e) {
    entities.erase(e.id);
    if (auto it = entity_by_name.find(pair_key(e.namespace_id, e.name));
        it != entity_by_name.end() && it->second == e.id) {
      entity_by_name.erase(it);
    }
    for (const auto& a : e.aliases) {
      alias_by_factors.erase(pair_key(a.mount_accessor, a.name));
      alias_owner.erase(a.id);
    }
  }
  void index_group(const GroupPtr& g) {
    groups[g->id] = g;
    group_by_name[pair_key(g->namespace_id, g->name)] = g->id;
    if (g->alias) {
      group_alias_by_factors[pair_key(g->alias->mount_accessor, g->alias->name)] = g->id;
      group_alias_owner[g->alias->id] = g->id;
    }
    for (const auto& m : g->member_entity_ids) groups_of_entity[m].insert(g->id);
    for (const auto& m : g->member_group_ids) parents_of_group[m].insert(g->id);
  }
  void unindex_group(const GroupRecord& g) {
    groups.erase(g.id);
    if (auto it = group_by_name.find(pair_key(g.namespace_id, g.name));
        it != group_by_name.end() && it->second == g.id) {
      group_by_name.erase(it);
    }
    if (g.alias) {
      group_alias_by_factors.erase(pair_key(g.alias->mount_accessor, g.alias->name));
      group_alias_owner.erase(g.alias->id);
    }
    for (const auto& m : g.member_entity_ids) {
      if (auto it = groups_of_entity.find(m); it != groups_of_entity.end()) {
        it->second.erase(g.id);
        if (it->second.empty()) groups_of_entity.erase(it);
      }
    }
    for (const auto& m : g.member_group_ids) {
      if (auto it = parents_of_group.find(m); it != parents_of_group.end()) {
        it->second.erase(g.id);
        if (it->second.empty()) parents_of_group.erase(it);
      }
    }
  }

  EntityPtr entity(std::string_view id) const {
    auto it = entities.find(std::string(id));
    return it == entities.end() ? nullptr : it->second;
  }
  GroupPtr group(std::string_view id) const {
    auto it = groups.find(std::string(id));
    return it == groups.end() ? nullptr : it->second;
  }

  // Every group reached upwards from `start` (inclusive), breadth first.
  std::vector<std::string> ancestors_of(const std::set<std::string>& start) const {
    std::vector<std::string> out;
    std::unordered_set<std::string> seen;
    std::deque<std::string> todo(start.begin(), start.end());
    while (!todo.empty()) {
      std::string id = std::move(todo.front());
      todo.pop_front();
      if (!seen.insert(id).second) continue;
      if (!groups.contains(id)) continue;  // dangling (namespace deleted)
      out.push_back(id);
      if (auto it = parents_of_group.find(id); it != parents_of_group.end()) {
        for (const auto& p : it->second) todo.push_back(p);
      }
    }
    return out;
  }

  // Does `from` reach `target` through member_group_ids (downwards)?
  bool reaches_down(const std::string& from, const std::string& target) const {
    std::unordered_set<std::string> seen;
    std::vector<std::string> stack{from};
    while (!stack.empty()) {
      std::string id = std::move(stack.back());
      stack.pop_back();
      if (id == target) return true;
      if (!seen.insert(id).second) continue;
      if (auto g = group(id)) {
        for (const auto& m : g->member_group_ids) stack.push_back(m);
      }
    }
    return false;
  }

  std::string unique_name(std::string_view ns_id, std::string_view kind) const {
    while (true) {
      std::string name = std::string(kind) + "_" + crypto::random_hex(4);
      const auto& index = kind == "entity" ? entity_by_name : group_by_name;
      if (!index.contains(pair_key(ns_id, name))) return name;
    }
  }
};

IdentityStore::IdentityStore(Storage& storage) : storage_(storage), state_(std::make_unique<State>()) {}
IdentityStore::~IdentityStore() = default;

Status IdentityStore::load(const std::vector<std::string>& namespace_ids) {
  auto fresh = std::make_unique<State>();
  COFFER_TRY(auto config_bytes, storage_.get(kConfigKey));
  if (config_bytes) {
    COFFER_TRY(fresh->config, decode_record<IdentityConfig>(*config_bytes, "identity config"));
  }
  for (const auto& ns_id : namespace_ids) {
    // The claim before what it stands for: a change made by another host
    // in between shows as a claim newer than this state, never older.
    COFFER_TRY_STATUS(fresh->claims.remember(storage_, fleet::identity_key(ns_id)));
    const std::string entities_prefix = ns_prefix(ns_id) + "entity/";
    COFFER_TRY(auto entity_keys, storage_.list(entities_prefix));
    for (const auto& k : entity_keys) {
      COFFER_TRY(auto bytes, storage_.get(entities_prefix + k));
      if (!bytes) continue;
      COFFER_TRY(auto rec, decode_record<EntityRecord>(*bytes, "entity"));
      fresh->index_entity(std::make_shared<const EntityRecord>(std::move(rec)));
    }
    const std::string groups_prefix = ns_prefix(ns_id) + "group/";
    COFFER_TRY(auto group_keys, storage_.list(groups_prefix));
    for (const auto& k : group_keys) {
      COFFER_TRY(auto bytes, storage_.get(groups_prefix + k));
      if (!bytes) continue;
      COFFER_TRY(auto rec, decode_record<GroupRecord>(*bytes, "group"));
      fresh->index_group(std::make_shared<const GroupRecord>(std::move(rec)));
    }
  }
  auto lock = CommitDelay::locked(mu_);
  state_ = std::move(fresh);
  bump();
  return {};
}

void IdentityStore::clear() {
  auto lock = CommitDelay::locked(mu_);
  state_ = std::make_unique<State>();
  bump();
}

void IdentityStore::forget_namespace(std::string_view namespace_id) {
  auto lock = CommitDelay::locked(mu_);
  std::vector<EntityPtr> entities;
  for (const auto& [id, e] : state_->entities) {
    if (e->namespace_id == namespace_id) entities.push_back(e);
  }
  for (const auto& e : entities) state_->unindex_entity(*e);
  std::vector<GroupPtr> groups;
  for (const auto& [id, g] : state_->groups) {
    if (g->namespace_id == namespace_id) groups.push_back(g);
  }
  for (const auto& g : groups) state_->unindex_group(*g);
  bump();
}

Status IdentityStore::persist_entity(const EntityRecord& e, bool names) {
  return persist(entity_key(e.namespace_id, e.id), e.namespace_id, encode_record(e), names);
}

Status IdentityStore::persist_group(const GroupRecord& g, bool names) {
  return persist(group_key(g.namespace_id, g.id), g.namespace_id, encode_record(g), names);
}

Status IdentityStore::persist(std::string key, const std::string& namespace_id, SecureBytes record, bool names) {
  std::vector<WriteOp> batch;
  if (names) COFFER_TRY_STATUS(state_->claims.claim(storage_, fleet::identity_key(namespace_id), batch));
  batch.push_back(put_op(std::move(key), std::move(record)));
  COFFER_TRY_STATUS(storage_.apply(batch));
  state_->claims.took(batch);
  return {};
}

// ---- Login -------------------------------------------------------------------

Result<LoginEntity> IdentityStore::entity_for_login(std::string_view namespace_id, std::string_view mount_accessor,
                                                    std::string_view mount_type, std::string_view alias_name,
                                                    const std::map<std::string, std::string>& alias_metadata,
                                                    TimePoint now) {
  auto lock = CommitDelay::locked(mu_);
  State& s = *state_;
  if (auto it = s.alias_by_factors.find(pair_key(mount_accessor, alias_name)); it != s.alias_by_factors.end()) {
    EntityPtr e = s.entity(it->second);
    if (e) {
      auto alias = std::find_if(e->aliases.begin(), e->aliases.end(), [&](const AliasRecord& a) {
        return a.mount_accessor == mount_accessor && a.name == alias_name;
      });
      if (alias != e->aliases.end() && alias->metadata != alias_metadata) {
        EntityRecord updated = *e;
        for (auto& a : updated.aliases) {
          if (a.id == alias->id) {
            a.metadata = alias_metadata;
            a.last_update_unix_ns = unix_ns(now);
          }
        }
        COFFER_TRY_STATUS(persist_entity(updated));
        s.unindex_entity(*e);
        e = std::make_shared<const EntityRecord>(std::move(updated));
        s.index_entity(e);
        bump();
      }
      return LoginEntity{e->id, e->name, e->disabled, false};
    }
  }
  EntityRecord rec;
  rec.id = crypto::random_uuid();
  rec.name = s.unique_name(namespace_id, "entity");
  rec.namespace_id = std::string(namespace_id);
  rec.creation_unix_ns = rec.last_update_unix_ns = unix_ns(now);
  AliasRecord alias;
  alias.id = crypto::random_uuid();
  alias.canonical_id = rec.id;
  alias.mount_accessor = std::string(mount_accessor);
  alias.mount_type = std::string(mount_type);
  alias.name = std::string(alias_name);
  alias.namespace_id = rec.namespace_id;
  alias.metadata = alias_metadata;
  alias.creation_unix_ns = alias.last_update_unix_ns = rec.creation_unix_ns;
  rec.aliases.push_back(std::move(alias));
  COFFER_TRY_STATUS(persist_entity(rec, /*names=*/true));
  auto e = std::make_shared<const EntityRecord>(std::move(rec));
  s.index_entity(e);
  bump();
  return LoginEntity{e->id, e->name, false, true};
}

Status IdentityStore::set_external_groups(std::string_view entity_id, std::string_view mount_accessor,
                                          const std::vector<std::string>& group_alias_names, TimePoint now) {
  auto lock = CommitDelay::locked(mu_);
  State& s = *state_;
  EntityPtr e = s.entity(entity_id);
  if (!e) return Error::not_found("entity not found");
  const std::set<std::string> wanted(group_alias_names.begin(), group_alias_names.end());
  std::vector<GroupRecord> changed;
  for (const auto& [id, g] : s.groups) {
    if (g->type != "external" || g->namespace_id != e->namespace_id || !g->alias) continue;
    if (g->alias->mount_accessor != mount_accessor) continue;
    const bool member =
        std::find(g->member_entity_ids.begin(), g->member_entity_ids.end(), e->id) != g->member_entity_ids.end();
    const bool should = wanted.contains(g->alias->name);
    if (member == should) continue;
    GroupRecord updated = *g;
    if (should) {
      updated.member_entity_ids.push_back(e->id);
      std::sort(updated.member_entity_ids.begin(), updated.member_entity_ids.end());
    } else {
      std::erase(updated.member_entity_ids, e->id);
    }
    updated.last_update_unix_ns = unix_ns(now);
    ++updated.modify_index;
    changed.push_back(std::move(updated));
  }
  if (changed.empty()) return {};
  std::vector<WriteOp> batch;
  for (const auto& g : changed) batch.push_back(put_op(group_key(g.namespace_id, g.id), encode_record(g)));
  COFFER_TRY_STATUS(storage_.apply(batch));
  for (auto& g : changed) {
    GroupPtr old = s.group(g.id);
    s.unindex_group(*old);
    s.index_group(std::make_shared<const GroupRecord>(std::move(g)));
  }
  bump();
  return {};
}

// ---- Policy application ----------------------------------------------------------

EntityPolicies IdentityStore::policies_for(std::string_view token_ns_id, std::string_view entity_id,
                                           const NamespacePathOf& ns_path_of) const {
  EntityPolicies out;
  auto lock = CommitDelay::locked_shared(mu_);
  const State& s = *state_;
  EntityPtr e = s.entity(entity_id);
  if (!e) return out;
  out.found = true;
  out.disabled = e->disabled;

  auto identity = std::make_shared<policy::IdentityContext>();
  policy::EntityInfo info;
  info.id = e->id;
  info.name = e->name;
  info.metadata = policy::StringMap(e->metadata.begin(), e->metadata.end());
  for (const auto& a : e->aliases) {
    info.aliases.push_back({a.mount_accessor, a.id, a.name, policy::StringMap(a.metadata.begin(), a.metadata.end()),
                            policy::StringMap(a.custom_metadata.begin(), a.custom_metadata.end())});
  }
  identity->entity = std::move(info);

  // Entity policies are never filtered (the entity lives in the token's namespace).
  if (!e->policies.empty()) {
    auto& list = out.by_namespace[e->namespace_id];
    list.insert(list.end(), e->policies.begin(), e->policies.end());
  }

  std::set<std::string> direct;
  if (auto it = s.groups_of_entity.find(e->id); it != s.groups_of_entity.end()) direct = it->second;
  const std::vector<std::string> all_groups = s.ancestors_of(direct);
  const auto token_path = ns_path_of(token_ns_id);
  const bool any = s.config.group_policy_application_mode == kModeAny;
  for (const auto& gid : all_groups) {
    GroupPtr g = s.group(gid);
    identity->groups.push_back(
        {g->id, g->name, g->namespace_id, policy::StringMap(g->metadata.begin(), g->metadata.end())});
    if (g->policies.empty()) continue;
    const auto group_path = ns_path_of(g->namespace_id);
    if (!group_path) continue;
    // Vault: ns.HasParent(tokenNS): the group's namespace is the token's or below it.
    const bool within = token_path && group_path->starts_with(*token_path);
    if (!any && !within) continue;
    auto& list = out.by_namespace[g->namespace_id];
    list.insert(list.end(), g->policies.begin(), g->policies.end());
  }
  for (auto& [ns, list] : out.by_namespace) list = sorted_unique(std::move(list));
  out.identity = std::move(identity);
  return out;
}

// ---- Config ------------------------------------------------------------------------

std::string IdentityStore::group_policy_application_mode() const {
  auto lock = CommitDelay::locked_shared(mu_);
  return state_->config.group_policy_application_mode;
}

Status IdentityStore::set_group_policy_application_mode(std::string_view mode) {
  if (mode != kModeWithinHierarchy && mode != kModeAny) {
    return Error::invalid("group_policy_application_mode must be either \"within_namespace_hierarchy\" or \"any\"");
  }
  auto lock = CommitDelay::locked(mu_);
  IdentityConfig config = state_->config;
  config.group_policy_application_mode = std::string(mode);
  COFFER_TRY_STATUS(storage_.put(kConfigKey, encode_record(config)));
  state_->config = std::move(config);
  bump();
  return {};
}

// ---- Entities ------------------------------------------------------------------------

EntityPtr IdentityStore::entity_by_id(std::string_view id) const {
  auto lock = CommitDelay::locked_shared(mu_);
  return state_->entity(id);
}

EntityPtr IdentityStore::entity_by_name(std::string_view namespace_id, std::string_view name) const {
  auto lock = CommitDelay::locked_shared(mu_);
  auto it = state_->entity_by_name.find(pair_key(namespace_id, name));
  return it == state_->entity_by_name.end() ? nullptr : state_->entity(it->second);
}

std::vector<EntityPtr> IdentityStore::entities_of(std::string_view namespace_id) const {
  auto lock = CommitDelay::locked_shared(mu_);
  std::vector<EntityPtr> out;
  const std::string prefix = pair_key(namespace_id, "");
  for (auto it = state_->entity_by_name.lower_bound(prefix);
       it != state_->entity_by_name.end() && it->first.starts_with(prefix); ++it) {
    if (auto e = state_->entity(it->second)) out.push_back(std::move(e));
  }
  return out;
}

Result<EntityPtr> IdentityStore::put_entity(EntityRecord record, TimePoint now) {
  auto lock = CommitDelay::locked(mu_);
  State& s = *state_;
  EntityPtr old = record.id.empty() ? nullptr : s.entity(record.id);
  if (!record.id.empty() && !old) return Error::invalid("entity not found from id");
  if (record.name.empty()) record.name = old ? old->name : s.unique_name(record.namespace_id, "entity");
  if (auto it = s.entity_by_name.find(pair_key(record.namespace_id, record.name));
      it != s.entity_by_name.end() && it->second != record.id) {
    return Error::invalid("entity name is already in use");
  }
  record.policies = dedupe(record.policies);
  // Names are case-insensitive where the ACL looks them up: " Root" is root.
  for (const auto& p : record.policies) {
    if (policy::normalize_policy_name(p) == "root") return Error::invalid("policies cannot contain root");
  }
  if (old) {
    record.namespace_id = old->namespace_id;
    record.aliases = old->aliases;
    record.creation_unix_ns = old->creation_unix_ns;
  } else {
    record.id = crypto::random_uuid();
    record.creation_unix_ns = unix_ns(now);
    record.aliases.clear();
  }
  record.last_update_unix_ns = unix_ns(now);
  COFFER_TRY_STATUS(persist_entity(record, /*names=*/!old || old->name != record.name));
  if (old) s.unindex_entity(*old);
  auto e = std::make_shared<const EntityRecord>(std::move(record));
  s.index_entity(e);
  bump();
  return e;
}

Status IdentityStore::delete_entity(std::string_view id) {
  auto lock = CommitDelay::locked(mu_);
  State& s = *state_;
  EntityPtr e = s.entity(id);
  if (!e) return {};
  std::vector<WriteOp> batch;
  std::vector<GroupRecord> changed;
  if (auto it = s.groups_of_entity.find(e->id); it != s.groups_of_entity.end()) {
    for (const auto& gid : it->second) {
      GroupPtr g = s.group(gid);
      if (!g) continue;
      GroupRecord updated = *g;
      std::erase(updated.member_entity_ids, e->id);
      ++updated.modify_index;
      batch.push_back(put_op(group_key(updated.namespace_id, updated.id), encode_record(updated)));
      changed.push_back(std::move(updated));
    }
  }
  batch.push_back({WriteOp::Kind::Delete, entity_key(e->namespace_id, e->id), {}});
  COFFER_TRY_STATUS(storage_.apply(batch));
  for (auto& g : changed) {
    GroupPtr old = s.group(g.id);
    s.unindex_group(*old);
    s.index_group(std::make_shared<const GroupRecord>(std::move(g)));
  }
  s.unindex_entity(*e);
  s.groups_of_entity.erase(e->id);
  bump();
  return {};
}

// ---- Entity aliases ------------------------------------------------------------------

namespace {
std::optional<std::pair<EntityPtr, AliasRecord>> find_alias(const EntityPtr& e, std::string_view alias_id) {
  if (!e) return std::nullopt;
  for (const auto& a : e->aliases) {
    if (a.id == alias_id) return std::make_pair(e, a);
  }
  return std::nullopt;
}
}  // namespace

std::optional<std::pair<EntityPtr, AliasRecord>> IdentityStore::entity_alias_by_id(std::string_view alias_id) const {
  auto lock = CommitDelay::locked_shared(mu_);
  auto it = state_->alias_owner.find(std::string(alias_id));
  if (it == state_->alias_owner.end()) return std::nullopt;
  return find_alias(state_->entity(it->second), alias_id);
}

std::optional<std::pair<EntityPtr, AliasRecord>> IdentityStore::entity_alias_by_factors(std::string_view mount_accessor,
                                                                                        std::string_view name) const {
  auto lock = CommitDelay::locked_shared(mu_);
  auto it = state_->alias_by_factors.find(pair_key(mount_accessor, name));
  if (it == state_->alias_by_factors.end()) return std::nullopt;
  EntityPtr e = state_->entity(it->second);
  if (!e) return std::nullopt;
  for (const auto& a : e->aliases) {
    if (a.mount_accessor == mount_accessor && a.name == name) return std::make_pair(e, a);
  }
  return std::nullopt;
}

std::vector<std::pair<EntityPtr, AliasRecord>> IdentityStore::entity_aliases_of(std::string_view namespace_id) const {
  auto lock = CommitDelay::locked_shared(mu_);
  std::vector<std::pair<EntityPtr, AliasRecord>> out;
  for (const auto& [id, e] : state_->entities) {
    if (e->namespace_id != namespace_id) continue;
    for (const auto& a : e->aliases) out.emplace_back(e, a);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second.id < b.second.id; });
  return out;
}

Result<AliasRecord> IdentityStore::put_entity_alias(AliasRecord alias, TimePoint now) {
  auto lock = CommitDelay::locked(mu_);
  State& s = *state_;
  EntityPtr target = s.entity(alias.canonical_id);
  if (!target) return Error::invalid("invalid canonical ID");
  if (target->namespace_id != alias.namespace_id) {
    return Error::denied("entity found with 'canonical_id' not in request namespace");
  }
  // A clash on (mount accessor, name) with another alias.
  if (auto it = s.alias_by_factors.find(pair_key(alias.mount_accessor, alias.name)); it != s.alias_by_factors.end()) {
    EntityPtr owner = s.entity(it->second);
    if (owner) {
      for (const auto& a : owner->aliases) {
        if (a.mount_accessor == alias.mount_accessor && a.name == alias.name && a.id != alias.id) {
          return Error::invalid("alias with combination of mount accessor and name already exists");
        }
      }
    }
  }
  EntityPtr previous;  // the entity the alias leaves (moving), or the one it stays on
  std::optional<AliasRecord> old_alias;
  if (!alias.id.empty()) {
    auto it = s.alias_owner.find(alias.id);
    if (it == s.alias_owner.end()) return Error::invalid("invalid alias ID provided");
    previous = s.entity(it->second);
    if (auto found = find_alias(previous, alias.id)) old_alias = found->second;
    if (!old_alias) return Error::invalid("given alias is not associated with an entity");
  }
  // One alias per mount per entity.
  for (const auto& a : target->aliases) {
    if (a.mount_accessor == alias.mount_accessor && a.id != alias.id) {
      if (!old_alias) return Error::invalid("Alias already exists for requested entity and mount accessor");
      if (previous && previous->id == target->id) {
        return Error::invalid(
            "Alias cannot be updated as the entity already has an alias for the given 'mount_accessor' ");
      }
      return Error::invalid("Alias cannot be updated as the given entity already has an alias for this mount ");
    }
  }
  if (old_alias) {
    alias.metadata = old_alias->metadata;
    alias.creation_unix_ns = old_alias->creation_unix_ns;
    if (alias.mount_type.empty()) alias.mount_type = old_alias->mount_type;
  } else {
    alias.id = crypto::random_uuid();
    alias.creation_unix_ns = unix_ns(now);
  }
  alias.last_update_unix_ns = unix_ns(now);

  std::vector<WriteOp> batch;
  EntityRecord target_rec = *target;
  std::optional<EntityRecord> previous_rec;
  if (previous && previous->id != target->id) {
    previous_rec = *previous;
    std::erase_if(previous_rec->aliases, [&](const AliasRecord& a) { return a.id == alias.id; });
    previous_rec->last_update_unix_ns = unix_ns(now);
    batch.push_back(put_op(entity_key(previous_rec->namespace_id, previous_rec->id), encode_record(*previous_rec)));
  }
  std::erase_if(target_rec.aliases, [&](const AliasRecord& a) { return a.id == alias.id; });
  target_rec.aliases.push_back(alias);
  target_rec.last_update_unix_ns = unix_ns(now);
  batch.push_back(put_op(entity_key(target_rec.namespace_id, target_rec.id), encode_record(target_rec)));
  COFFER_TRY_STATUS(s.claims.claim(storage_, fleet::identity_key(target_rec.namespace_id), batch));
  COFFER_TRY_STATUS(storage_.apply(batch));
  s.claims.took(batch);
  if (previous_rec) {
    s.unindex_entity(*previous);
    s.index_entity(std::make_shared<const EntityRecord>(std::move(*previous_rec)));
  }
  s.unindex_entity(*target);
  s.index_entity(std::make_shared<const EntityRecord>(std::move(target_rec)));
  bump();
  return alias;
}

Status IdentityStore::delete_entity_alias(std::string_view alias_id) {
  auto lock = CommitDelay::locked(mu_);
  State& s = *state_;
  auto it = s.alias_owner.find(std::string(alias_id));
  if (it == s.alias_owner.end()) return {};
  EntityPtr e = s.entity(it->second);
  if (!e) return {};
  EntityRecord updated = *e;
  std::erase_if(updated.aliases, [&](const AliasRecord& a) { return a.id == alias_id; });
  COFFER_TRY_STATUS(persist_entity(updated));
  s.unindex_entity(*e);
  s.index_entity(std::make_shared<const EntityRecord>(std::move(updated)));
  bump();
  return {};
}

// ---- Groups ------------------------------------------------------------------------------

GroupPtr IdentityStore::group_by_id(std::string_view id) const {
  auto lock = CommitDelay::locked_shared(mu_);
  return state_->group(id);
}

GroupPtr IdentityStore::group_by_name(std::string_view namespace_id, std::string_view name) const {
  auto lock = CommitDelay::locked_shared(mu_);
  auto it = state_->group_by_name.find(pair_key(namespace_id, name));
  return it == state_->group_by_name.end() ? nullptr : state_->group(it->second);
}

std::vector<GroupPtr> IdentityStore::groups_of(std::string_view namespace_id) const {
  auto lock = CommitDelay::locked_shared(mu_);
  std::vector<GroupPtr> out;
  const std::string prefix = pair_key(namespace_id, "");
  for (auto it = state_->group_by_name.lower_bound(prefix);
       it != state_->group_by_name.end() && it->first.starts_with(prefix); ++it) {
    if (auto g = state_->group(it->second)) out.push_back(std::move(g));
  }
  return out;
}

Result<GroupPtr> IdentityStore::put_group(GroupRecord record, TimePoint now) {
  auto lock = CommitDelay::locked(mu_);
  State& s = *state_;
  GroupPtr old = record.id.empty() ? nullptr : s.group(record.id);
  if (!record.id.empty() && !old) return Error::invalid("invalid group ID");
  if (old && old->namespace_id != record.namespace_id) return Error::invalid("group does not belong to this namespace");
  if (record.type.empty()) record.type = old ? old->type : "internal";
  if (record.type != "internal" && record.type != "external") {
    return Error::invalid("invalid group type \"" + record.type + "\"");
  }
  if (old && old->type != record.type) return Error::invalid("group type cannot be changed");
  record.policies = dedupe(record.policies);
  for (const auto& p : record.policies) {
    std::string lower = p;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower == "root") return Error::invalid("policies cannot contain root");
  }
  if (record.name.empty()) record.name = old ? old->name : s.unique_name(record.namespace_id, "group");
  if (auto it = s.group_by_name.find(pair_key(record.namespace_id, record.name));
      it != s.group_by_name.end() && it->second != record.id) {
    return Error::invalid("group name is already in use");
  }
  if (record.type == "external") {
    // Members of external groups come from logins only; keep what is there.
    if (old) record.member_entity_ids = old->member_entity_ids;
    record.member_group_ids = old ? old->member_group_ids : std::vector<std::string>{};
  }
  record.member_entity_ids = dedupe(record.member_entity_ids);
  for (const auto& id : record.member_entity_ids) {
    if (!s.entities.contains(id)) return Error::invalid("invalid entity ID \"" + id + "\"");
  }
  record.member_group_ids = dedupe(record.member_group_ids);
  for (const auto& id : record.member_group_ids) {
    if (!s.groups.contains(id)) return Error::invalid("invalid member group ID \"" + id + "\"");
    if (old &&
        std::find(old->member_group_ids.begin(), old->member_group_ids.end(), id) != old->member_group_ids.end()) {
      continue;  // already a member
    }
    if (id == record.id) return Error::invalid("member group ID \"" + id + "\" is same as the ID of the group");
    if (old && s.reaches_down(id, record.id)) {
      return Error::invalid("cyclic relationship detected for member group ID \"" + id + "\"");
    }
  }
  if (old) {
    record.alias = old->alias;
    record.creation_unix_ns = old->creation_unix_ns;
    record.modify_index = old->modify_index + 1;
  } else {
    record.id = crypto::random_uuid();
    record.creation_unix_ns = unix_ns(now);
    record.modify_index = 1;
    record.alias.reset();
  }
  record.last_update_unix_ns = unix_ns(now);
  COFFER_TRY_STATUS(persist_group(record, /*names=*/!old || old->name != record.name));
  if (old) s.unindex_group(*old);
  auto g = std::make_shared<const GroupRecord>(std::move(record));
  s.index_group(g);
  bump();
  return g;
}

Status IdentityStore::delete_group(std::string_view id) {
  auto lock = CommitDelay::locked(mu_);
  State& s = *state_;
  GroupPtr g = s.group(id);
  if (!g) return {};
  std::vector<WriteOp> batch;
  std::vector<GroupRecord> changed;
  if (auto it = s.parents_of_group.find(g->id); it != s.parents_of_group.end()) {
    for (const auto& pid : it->second) {
      GroupPtr p = s.group(pid);
      if (!p) continue;
      GroupRecord updated = *p;
      std::erase(updated.member_group_ids, g->id);
      ++updated.modify_index;
      batch.push_back(put_op(group_key(updated.namespace_id, updated.id), encode_record(updated)));
      changed.push_back(std::move(updated));
    }
  }
  batch.push_back({WriteOp::Kind::Delete, group_key(g->namespace_id, g->id), {}});
  COFFER_TRY_STATUS(storage_.apply(batch));
  for (auto& c : changed) {
    GroupPtr old = s.group(c.id);
    s.unindex_group(*old);
    s.index_group(std::make_shared<const GroupRecord>(std::move(c)));
  }
  s.unindex_group(*g);
  s.parents_of_group.erase(g->id);
  bump();
  return {};
}

// ---- Group aliases ------------------------------------------------------------------------

std::optional<std::pair<GroupPtr, AliasRecord>> IdentityStore::group_alias_by_id(std::string_view alias_id) const {
  auto lock = CommitDelay::locked_shared(mu_);
  auto it = state_->group_alias_owner.find(std::string(alias_id));
  if (it == state_->group_alias_owner.end()) return std::nullopt;
  GroupPtr g = state_->group(it->second);
  if (!g || !g->alias) return std::nullopt;
  return std::make_pair(g, *g->alias);
}

std::optional<std::pair<GroupPtr, AliasRecord>> IdentityStore::group_alias_by_factors(std::string_view mount_accessor,
                                                                                      std::string_view name) const {
  auto lock = CommitDelay::locked_shared(mu_);
  auto it = state_->group_alias_by_factors.find(pair_key(mount_accessor, name));
  if (it == state_->group_alias_by_factors.end()) return std::nullopt;
  GroupPtr g = state_->group(it->second);
  if (!g || !g->alias) return std::nullopt;
  return std::make_pair(g, *g->alias);
}

std::vector<std::pair<GroupPtr, AliasRecord>> IdentityStore::group_aliases_of(std::string_view namespace_id) const {
  auto lock = CommitDelay::locked_shared(mu_);
  std::vector<std::pair<GroupPtr, AliasRecord>> out;
  for (const auto& [id, g] : state_->groups) {
    if (g->namespace_id == namespace_id && g->alias) out.emplace_back(g, *g->alias);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second.id < b.second.id; });
  return out;
}

Result<AliasRecord> IdentityStore::put_group_alias(AliasRecord alias, TimePoint now) {
  auto lock = CommitDelay::locked(mu_);
  State& s = *state_;
  GroupPtr previous;
  if (!alias.id.empty()) {
    auto it = s.group_alias_owner.find(alias.id);
    if (it == s.group_alias_owner.end()) return Error::invalid("invalid group alias ID");
    previous = s.group(it->second);
    if (!previous || !previous->alias) return Error::internal("group alias is not associated with a group");
    if (previous->namespace_id != alias.namespace_id) {
      return Error::denied("existing alias not in the same namespace as request");
    }
  }
  GroupPtr target;
  if (!alias.canonical_id.empty()) {
    target = s.group(alias.canonical_id);
    if (!target) return Error::invalid("invalid group ID given in 'canonical_id'");
    if (target->type != "external") return Error::invalid("alias can't be set on an internal group");
    if (target->namespace_id != alias.namespace_id) {
      return Error::denied("group referenced with 'canonical_id' not in the same namespace as alias");
    }
  } else {
    target = previous;
  }
  if (auto it = s.group_alias_by_factors.find(pair_key(alias.mount_accessor, alias.name));
      it != s.group_alias_by_factors.end()) {
    GroupPtr owner = s.group(it->second);
    if (owner && owner->alias && owner->alias->id != alias.id) {
      return Error::invalid("combination of mount and group alias name is already in use");
    }
  }
  // One alias per group: a new alias replaces the target's old one (Vault).
  if (previous) {
    alias.creation_unix_ns = previous->alias->creation_unix_ns;
    alias.metadata = previous->alias->metadata;
  } else {
    alias.id = crypto::random_uuid();
    alias.creation_unix_ns = unix_ns(now);
  }
  alias.last_update_unix_ns = unix_ns(now);

  std::vector<WriteOp> batch;
  std::optional<GroupRecord> previous_rec;
  if (previous && target && previous->id != target->id) {
    previous_rec = *previous;
    previous_rec->alias.reset();
    ++previous_rec->modify_index;
    batch.push_back(put_op(group_key(previous_rec->namespace_id, previous_rec->id), encode_record(*previous_rec)));
  }
  GroupRecord target_rec;
  if (target) {
    target_rec = *target;
    ++target_rec.modify_index;
  } else {
    // A new alias for no group: Vault creates an external group for it.
    target_rec.id = crypto::random_uuid();
    target_rec.name = s.unique_name(alias.namespace_id, "group");
    target_rec.namespace_id = alias.namespace_id;
    target_rec.type = "external";
    target_rec.creation_unix_ns = unix_ns(now);
    target_rec.modify_index = 1;
  }
  alias.canonical_id = target_rec.id;
  target_rec.alias = alias;
  target_rec.last_update_unix_ns = unix_ns(now);
  batch.push_back(put_op(group_key(target_rec.namespace_id, target_rec.id), encode_record(target_rec)));
  COFFER_TRY_STATUS(s.claims.claim(storage_, fleet::identity_key(target_rec.namespace_id), batch));
  COFFER_TRY_STATUS(storage_.apply(batch));
  s.claims.took(batch);
  if (previous_rec) {
    s.unindex_group(*previous);
    s.index_group(std::make_shared<const GroupRecord>(std::move(*previous_rec)));
  }
  if (target) s.unindex_group(*s.group(target->id));
  s.index_group(std::make_shared<const GroupRecord>(std::move(target_rec)));
  bump();
  return alias;
}

Status IdentityStore::delete_group_alias(std::string_view alias_id) {
  auto lock = CommitDelay::locked(mu_);
  State& s = *state_;
  auto it = s.group_alias_owner.find(std::string(alias_id));
  if (it == s.group_alias_owner.end()) return {};
  GroupPtr g = s.group(it->second);
  if (!g) return {};
  GroupRecord updated = *g;
  updated.alias.reset();
  ++updated.modify_index;
  COFFER_TRY_STATUS(persist_group(updated));
  s.unindex_group(*g);
  s.index_group(std::make_shared<const GroupRecord>(std::move(updated)));
  bump();
  return {};
}

// ---- Membership views ------------------------------------------------------------------------

std::vector<std::string> IdentityStore::direct_group_ids(std::string_view entity_id) const {
  auto lock = CommitDelay::locked_shared(mu_);
  std::vector<std::string> out;
  if (auto it = state_->groups_of_entity.find(std::string(entity_id)); it != state_->groups_of_entity.end()) {
    for (const auto& g : it->second) {
      if (state_->groups.contains(g)) out.push_back(g);
    }
  }
  return out;
}

std::vector<std::string> IdentityStore::inherited_group_ids(std::string_view entity_id) const {
  auto lock = CommitDelay::locked_shared(mu_);
  std::set<std::string> direct;
  if (auto it = state_->groups_of_entity.find(std::string(entity_id)); it != state_->groups_of_entity.end()) {
    direct = it->second;
  }
  std::vector<std::string> out;
  for (auto& g : state_->ancestors_of(direct)) {
    if (!direct.contains(g)) out.push_back(std::move(g));
  }
  return sorted_unique(std::move(out));
}

std::vector<std::string> IdentityStore::parent_group_ids(std::string_view group_id) const {
  auto lock = CommitDelay::locked_shared(mu_);
  std::vector<std::string> out;
  if (auto it = state_->parents_of_group.find(std::string(group_id)); it != state_->parents_of_group.end()) {
    for (const auto& g : it->second) {
      if (state_->groups.contains(g)) out.push_back(g);
    }
  }
  return out;
}

}  // namespace engine
