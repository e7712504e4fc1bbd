// SPDX-License-Identifier: MPL-2.0
#include "engine/identity/identity_backend.hpp"

#include <algorithm>

#include "engine/common/fields.hpp"
#include "engine/common/json_values.hpp"
#include "engine/common/path.hpp"
#include "engine/common/time.hpp"

namespace engine {
namespace {

// One request's view: the stores, the namespace.
struct IdentityApiContext {
  IdentityStores& stores;
  NamespaceNode& ns;  // the namespace whose identity/ this is
  TimePoint now;
};

Error unsupported_path(std::string_view rel) { return Error::unsupported_path("identity/" + std::string(rel)); }

std::string time_of(std::int64_t unix_ns) { return format_time(TimePoint(std::chrono::nanoseconds(unix_ns))); }

bool is_write(Operation op) { return op == Operation::Create || op == Operation::Update || op == Operation::Patch; }

// Vault's TypeKVPairs: an object of strings, a list of "k=v", or "k=v,k2=v2".
Result<std::optional<std::map<std::string, std::string>>> get_kv_pairs(const Json& body, std::string_view key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::optional<std::map<std::string, std::string>>{};
  if (it->is_object()) return fields::get_string_map(body, key);
  std::vector<std::string> pairs;
  if (it->is_string() || it->is_array()) {
    COFFER_TRY(auto list, fields::get_string_list(body, key));
    if (list) pairs = std::move(*list);
  } else {
    return Error::invalid("failed to parse metadata: field \"" + std::string(key) + "\" must be key=value pairs");
  }
  std::map<std::string, std::string> out;
  for (const auto& p : pairs) {
    auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Error::invalid("failed to parse metadata: expected key=value, got a pair without '='");
    }
    out[p.substr(0, eq)] = p.substr(eq + 1);
  }
  return std::optional<std::map<std::string, std::string>>{std::move(out)};
}

// Vault's metadata limits (identity_store_util.go validateMetadata).
Status validate_metadata(const std::map<std::string, std::string>& meta, std::string_view what) {
  if (meta.size() > 64) {
    return Error::invalid("invalid " + std::string(what) +
                          " metadata: metadata cannot contain more than 64 key/value pairs");
  }
  for (const auto& [k, v] : meta) {
    bool ok = !k.empty() && k.size() <= 128;
    for (char c : k) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
    if (!ok || k.starts_with("vault-") || v.size() > 512) {
      return Error::invalid("invalid " + std::string(what) +
                            " metadata: failed to load metadata pair: key must be 1-128 "
                            "characters of [A-Za-z0-9_-] not starting with \"vault-\", value at most 512 bytes");
    }
  }
  return {};
}

// ---- Mounts ---------------------------------------------------------------------

const Mount* auth_mount_in(const NamespaceNode& ns, std::string_view accessor) {
  for (const auto& [path, mount] : ns.mounts) {
    if (std::string_view(path).starts_with("auth/") && mount->entry.accessor == accessor) return mount.get();
  }
  return nullptr;
}

std::pair<NamespaceNode*, const Mount*> find_auth_mount_below(NamespaceNode& ns, std::string_view accessor) {
  if (const Mount* m = auth_mount_in(ns, accessor)) return {&ns, m};
  for (auto& [name, child] : ns.children) {
    auto found = find_auth_mount_below(*child, accessor);
    if (found.second != nullptr) return found;
  }
  return {nullptr, nullptr};
}

// mount_type / mount_path of an alias, when its mount still exists.
void add_mount_info(IdentityStores& stores, Json& out, std::string_view accessor) {
  auto [ns, mount] = find_auth_mount(stores, accessor);
  if (mount == nullptr) return;
  out["mount_type"] = mount->entry.type;
  out["mount_path"] = mount->entry.path;
}

// ---- Views -------------------------------------------------------------------------

Json alias_view(IdentityStores& stores, const AliasRecord& a, bool with_namespace) {
  Json out{{"id", a.id},
           {"canonical_id", a.canonical_id},
           {"mount_accessor", a.mount_accessor},
           {"metadata", string_map_or_null(a.metadata)},
           {"custom_metadata", string_map_or_null(a.custom_metadata)},
           {"name", a.name},
           {"merged_from_canonical_ids", nullptr},
           {"local", false},
           {"creation_time", time_of(a.creation_unix_ns)},
           {"last_update_time", time_of(a.last_update_unix_ns)}};
  if (with_namespace) out["namespace_id"] = a.namespace_id;
  add_mount_info(stores, out, a.mount_accessor);
  return out;
}

Json entity_view(IdentityStores& stores, const EntityRecord& e) {
  Json aliases = Json::array();
  for (const auto& a : e.aliases) aliases.push_back(alias_view(stores, a, false));
  std::vector<std::string> direct = stores.identity.direct_group_ids(e.id);
  std::vector<std::string> inherited = stores.identity.inherited_group_ids(e.id);
  std::vector<std::string> all = direct;
  all.insert(all.end(), inherited.begin(), inherited.end());
  return Json{{"id", e.id},
              {"name", e.name},
              {"metadata", string_map_or_null(e.metadata)},
              {"merged_entity_ids", nullptr},
              {"policies", string_list(e.policies)},
              {"disabled", e.disabled},
              {"namespace_id", e.namespace_id},
              {"creation_time", time_of(e.creation_unix_ns)},
              {"last_update_time", time_of(e.last_update_unix_ns)},
              {"aliases", std::move(aliases)},
              {"direct_group_ids", string_list(direct)},
              {"inherited_group_ids", string_list(inherited)},
              {"group_ids", string_list(all)},
              {"mfa_secrets", Json::object()}};
}

Json group_view(IdentityStores& stores, const GroupRecord& g) {
  Json alias = Json::object();
  if (g.alias) {
    alias = Json{{"id", g.alias->id},
                 {"canonical_id", g.alias->canonical_id},
                 {"mount_accessor", g.alias->mount_accessor},
                 {"metadata", string_map_or_null(g.alias->metadata)},
                 {"name", g.alias->name},
                 {"merged_from_canonical_ids", nullptr},
                 {"creation_time", time_of(g.alias->creation_unix_ns)},
                 {"last_update_time", time_of(g.alias->last_update_unix_ns)}};
    add_mount_info(stores, alias, g.alias->mount_accessor);
  }
  return Json{{"id", g.id},
              {"name", g.name},
              {"policies", string_list_or_null(g.policies)},
              {"member_entity_ids", string_list_or_null(g.member_entity_ids)},
              {"member_group_ids", string_list_or_null(g.member_group_ids)},
              {"parent_group_ids", string_list_or_null(stores.identity.parent_group_ids(g.id))},
              {"metadata", string_map_or_null(g.metadata)},
              {"creation_time", time_of(g.creation_unix_ns)},
              {"last_update_time", time_of(g.last_update_unix_ns)},
              {"modify_index", g.modify_index},
              {"type", g.type},
              {"namespace_id", g.namespace_id},
              {"alias", std::move(alias)}};
}

Response data_response(Json data) {
  Response resp;
  resp.data = std::move(data);
  return resp;
}

Response keys_response(const std::vector<std::string>& keys, Json key_info = nullptr) {
  Response resp;
  resp.data["keys"] = string_list(keys);
  if (!key_info.is_null()) resp.data["key_info"] = std::move(key_info);
  return resp;
}

// ---- Entities ----------------------------------------------------------------------

const std::initializer_list<std::string_view> kEntityFields = {"id", "name", "metadata", "policies", "disabled"};

// handleEntityUpdateCommon: `id` / `name` come from the path or the body.
Result<Response> write_entity(IdentityApiContext& ctx, const Json& body, std::optional<std::string> path_id,
                              std::optional<std::string> path_name) {
  COFFER_TRY_STATUS(fields::only(body, kEntityFields));
  COFFER_TRY(auto body_id, fields::get_string(body, "id"));
  COFFER_TRY(auto body_name, fields::get_string(body, "name"));
  COFFER_TRY(auto policies, fields::get_string_list(body, "policies"));
  COFFER_TRY(auto disabled, fields::get_bool(body, "disabled"));
  COFFER_TRY(auto metadata, get_kv_pairs(body, "metadata"));
  const std::string id = path_id ? *path_id : body_id.value_or("");
  const std::string name = path_name ? *path_name : body_name.value_or("");
  const std::string& ns_id = ctx.ns.record.id;

  EntityPtr entity;
  if (!id.empty()) {
    entity = ctx.stores.identity.entity_by_id(id);
    // Another namespace's entity is answered as unknown.
    if (!entity || entity->namespace_id != ns_id) return Error::invalid("entity not found from id");
  }
  if (!name.empty()) {
    EntityPtr by_name = ctx.stores.identity.entity_by_name(ns_id, name);
    if (by_name) {
      if (!entity) {
        entity = by_name;
      } else if (entity->id != by_name->id) {
        return Error::invalid("entity name is already in use");
      }
    }
  }
  EntityRecord rec = entity ? *entity : EntityRecord{};
  rec.namespace_id = ns_id;
  if (!name.empty()) rec.name = name;
  if (policies) rec.policies = *policies;
  if (disabled) rec.disabled = *disabled;
  if (metadata) {
    COFFER_TRY_STATUS(validate_metadata(*metadata, "entity"));
    rec.metadata = *metadata;
  }
  const bool created = !entity;
  COFFER_TRY(EntityPtr stored, ctx.stores.identity.put_entity(std::move(rec), ctx.now));
  if (!created) return Response{};
  Json aliases = nullptr;
  return data_response(Json{{"id", stored->id}, {"name", stored->name}, {"aliases", aliases}});
}

Result<Response> entity_item(IdentityApiContext& ctx, Operation op, bool by_id, const std::string& key,
                             const Json& body) {
  const std::string& ns_id = ctx.ns.record.id;
  EntityPtr e = by_id ? ctx.stores.identity.entity_by_id(key) : ctx.stores.identity.entity_by_name(ns_id, key);
  switch (op) {
    case Operation::Read:
      if (!e || e->namespace_id != ns_id)
        return Error::not_found("no entity " + std::string(by_id ? "with id " : "named ") + key);
      return data_response(entity_view(ctx.stores, *e));
    case Operation::Create:
    case Operation::Update:
    case Operation::Patch:
      if (by_id) return write_entity(ctx, body, key, std::nullopt);
      return write_entity(ctx, body, std::nullopt, key);
    case Operation::Delete:
      if (!e || e->namespace_id != ns_id) return Response{};
      COFFER_TRY_STATUS(ctx.stores.identity.delete_entity(e->id));
      return Response{};
    default: return unsupported_path(std::string("entity/") + (by_id ? "id/" : "name/") + key);
  }
}

Response list_entities(IdentityApiContext& ctx, bool by_id) {
  std::vector<EntityPtr> entities = ctx.stores.identity.entities_of(ctx.ns.record.id);
  if (by_id) {
    std::sort(entities.begin(), entities.end(), [](const EntityPtr& a, const EntityPtr& b) { return a->id < b->id; });
  }
  std::vector<std::string> keys;
  Json info = Json::object();
  for (const auto& e : entities) {
    keys.push_back(by_id ? e->id : e->name);
    Json entry{{"name", e->name}};
    if (!e->aliases.empty()) {
      Json aliases = Json::array();
      for (const auto& a : e->aliases) {
        Json alias{{"id", a.id}, {"name", a.name}, {"mount_accessor", a.mount_accessor}};
        add_mount_info(ctx.stores, alias, a.mount_accessor);
        aliases.push_back(std::move(alias));
      }
      entry["aliases"] = std::move(aliases);
    }
    info[to_secure(e->id)] = std::move(entry);
  }
  return keys_response(keys, std::move(info));
}

// ---- Entity aliases ---------------------------------------------------------------------

Result<Response> update_entity_alias(IdentityApiContext& ctx, const std::string& canonical_id, const std::string& name,
                                     const std::string& accessor, const AliasRecord& alias,
                                     const std::map<std::string, std::string>& custom_metadata) {
  if (name == alias.name && accessor == alias.mount_accessor &&
      (canonical_id.empty() || canonical_id == alias.canonical_id) && custom_metadata == alias.custom_metadata) {
    return Response{};  // nothing to do: idempotent
  }
  AliasRecord updated = alias;
  if (name != alias.name || accessor != alias.mount_accessor) {
    auto [mount_ns, mount] = find_auth_mount(ctx.stores, accessor);
    if (mount == nullptr) return Error::invalid("invalid mount accessor \"" + accessor + "\"");
    if (mount_ns->record.id != alias.namespace_id) {
      return Error::denied("given mount accessor is not in the same namespace as the existing alias");
    }
    if (auto clash = ctx.stores.identity.entity_alias_by_factors(accessor, name);
        clash && clash->second.id != alias.id) {
      return Error::invalid("alias with combination of mount accessor and name already exists");
    }
    updated.mount_type = mount->entry.type;
  }
  updated.name = name;
  updated.mount_accessor = accessor;
  updated.custom_metadata = custom_metadata;
  if (!canonical_id.empty() && canonical_id != alias.canonical_id) {
    EntityPtr target = ctx.stores.identity.entity_by_id(canonical_id);
    if (!target || target->namespace_id != alias.namespace_id) {
      return Error::invalid("given 'canonical_id' is not associated with an entity");
    }
    updated.canonical_id = canonical_id;
  }
  COFFER_TRY(AliasRecord stored, ctx.stores.identity.put_entity_alias(std::move(updated), ctx.now));
  return data_response(Json{{"id", stored.id}, {"canonical_id", stored.canonical_id}});
}

Result<Response> write_entity_alias(IdentityApiContext& ctx, const Json& body, std::optional<std::string> path_id) {
  COFFER_TRY_STATUS(
      fields::only(body, {"id", "entity_id", "canonical_id", "mount_accessor", "name", "custom_metadata"}));
  COFFER_TRY(auto body_id, fields::get_string(body, "id"));
  COFFER_TRY(auto name_in, fields::get_string(body, "name"));
  COFFER_TRY(auto accessor_in, fields::get_string(body, "mount_accessor"));
  COFFER_TRY(auto canonical_in, fields::get_string(body, "canonical_id"));
  COFFER_TRY(auto entity_id_in, fields::get_string(body, "entity_id"));
  COFFER_TRY(auto custom_in, get_kv_pairs(body, "custom_metadata"));
  std::string name = name_in.value_or("");
  std::string accessor = accessor_in.value_or("");
  std::string canonical_id = canonical_in.value_or("");
  if (canonical_id.empty()) canonical_id = entity_id_in.value_or("");  // deprecated spelling
  const std::string id = path_id ? *path_id : body_id.value_or("");
  std::map<std::string, std::string> custom_metadata = custom_in.value_or(std::map<std::string, std::string>{});
  if (custom_in) COFFER_TRY_STATUS(validate_metadata(*custom_in, "custom"));
  const std::string& ns_id = ctx.ns.record.id;

  if (!id.empty()) {
    auto found = ctx.stores.identity.entity_alias_by_id(id);
    if (!found || found->second.namespace_id != ns_id) return Error::invalid("invalid alias ID provided");
    const AliasRecord& alias = found->second;
    if (!custom_in) custom_metadata = alias.custom_metadata;
    if (accessor.empty() && name.empty()) {
      if (canonical_id.empty() && !custom_in) return Response{};
      name = alias.name;
      accessor = alias.mount_accessor;
    } else if (accessor.empty()) {
      accessor = alias.mount_accessor;
    } else if (name.empty()) {
      name = alias.name;
    }
    return update_entity_alias(ctx, canonical_id, name, accessor, alias, custom_metadata);
  }

  if (accessor.empty() || name.empty()) return Error::invalid("'id' or 'mount_accessor' and 'name' must be provided");
  auto [mount_ns, mount] = find_auth_mount(ctx.stores, accessor);
  if (mount == nullptr) return Error::invalid("invalid mount accessor \"" + accessor + "\"");
  if (mount_ns->record.id != ns_id) return Error::denied("matching mount is in a different namespace than request");

  if (auto existing = ctx.stores.identity.entity_alias_by_factors(accessor, name)) {
    if (existing->second.namespace_id != ns_id) return Error::denied("cannot modify aliases across namespaces");
    return update_entity_alias(ctx, canonical_id, name, accessor, existing->second, custom_metadata);
  }

  // A new alias, on the given entity or on a new one.
  EntityPtr entity;
  if (!canonical_id.empty()) {
    entity = ctx.stores.identity.entity_by_id(canonical_id);
    if (!entity || entity->namespace_id != ns_id) return Error::invalid("invalid canonical ID");
    for (const auto& a : entity->aliases) {
      if (a.mount_accessor == accessor)
        return Error::invalid("Alias already exists for requested entity and mount accessor");
    }
  } else {
    EntityRecord fresh;
    fresh.namespace_id = ns_id;
    COFFER_TRY(entity, ctx.stores.identity.put_entity(std::move(fresh), ctx.now));
  }
  AliasRecord alias;
  alias.canonical_id = entity->id;
  alias.mount_accessor = accessor;
  alias.mount_type = mount->entry.type;
  alias.name = name;
  alias.namespace_id = ns_id;
  alias.custom_metadata = std::move(custom_metadata);
  auto stored = ctx.stores.identity.put_entity_alias(std::move(alias), ctx.now);
  if (!stored) {
    if (canonical_id.empty()) (void)ctx.stores.identity.delete_entity(entity->id);  // undo the new entity
    return std::move(stored).error();
  }
  return data_response(Json{{"id", stored->id}, {"canonical_id", stored->canonical_id}});
}

Result<Response> entity_alias_item(IdentityApiContext& ctx, Operation op, const std::string& id, const Json& body) {
  const std::string& ns_id = ctx.ns.record.id;
  switch (op) {
    case Operation::Read: {
      auto found = ctx.stores.identity.entity_alias_by_id(id);
      if (!found || found->second.namespace_id != ns_id) return Error::not_found("no entity alias with id " + id);
      return data_response(alias_view(ctx.stores, found->second, true));
    }
    case Operation::Create:
    case Operation::Update:
    case Operation::Patch: return write_entity_alias(ctx, body, id);
    case Operation::Delete: {
      auto found = ctx.stores.identity.entity_alias_by_id(id);
      if (!found || found->second.namespace_id != ns_id) return Response{};
      COFFER_TRY_STATUS(ctx.stores.identity.delete_entity_alias(id));
      return Response{};
    }
    default: return unsupported_path("entity-alias/id/" + id);
  }
}

Json alias_list_info(IdentityStores& stores, const AliasRecord& a) {
  Json entry{{"canonical_id", a.canonical_id},
             {"custom_metadata", string_map_or_null(a.custom_metadata)},
             {"local", false},
             {"mount_accessor", a.mount_accessor},
             {"name", a.name}};
  add_mount_info(stores, entry, a.mount_accessor);
  return entry;
}

// LIST entity-alias/id or group-alias/id: the ids, with each alias's info.
// owned_aliases: (owner, alias) pairs.
template <class Pairs>
Result<Response> list_alias_ids(IdentityStores& stores, const Pairs& owned_aliases) {
  std::vector<std::string> keys;
  Json info = Json::object();
  for (const auto& owned : owned_aliases) {
    const AliasRecord& a = owned.second;
    keys.push_back(a.id);
    info[to_secure(a.id)] = alias_list_info(stores, a);
  }
  return keys_response(keys, std::move(info));
}

// ---- Groups --------------------------------------------------------------------------------

const std::initializer_list<std::string_view> kGroupFields = {
    "id", "type", "name", "metadata", "policies", "member_group_ids", "member_entity_ids"};

// handleGroupUpdateCommon. `group` is the existing group (nullptr: create).
Result<Response> update_group(IdentityApiContext& ctx, const Json& body, GroupPtr group, const std::string& name) {
  COFFER_TRY(auto policies, fields::get_string_list(body, "policies"));
  COFFER_TRY(auto type, fields::get_string(body, "type"));
  COFFER_TRY(auto metadata, get_kv_pairs(body, "metadata"));
  COFFER_TRY(auto member_entities, fields::get_string_list(body, "member_entity_ids"));
  COFFER_TRY(auto member_groups, fields::get_string_list(body, "member_group_ids"));
  const std::string& ns_id = ctx.ns.record.id;
  if (group && group->namespace_id != ns_id) return Error::invalid("group does not belong to this namespace");

  GroupRecord rec = group ? *group : GroupRecord{};
  rec.namespace_id = ns_id;
  if (!group) rec.type.clear();
  if (policies) rec.policies = *policies;
  for (const auto& p : rec.policies) {
    std::string lower = p;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower == "root") return Error::invalid("policies cannot contain root");
  }
  if (type) {
    if (!rec.type.empty() && *type != rec.type) return Error::invalid("group type cannot be changed");
    rec.type = *type;
  }
  if (rec.type.empty()) rec.type = "internal";
  if (rec.type != "internal" && rec.type != "external")
    return Error::invalid("invalid group type \"" + rec.type + "\"");
  if (!name.empty()) {
    GroupPtr by_name = ctx.stores.identity.group_by_name(ns_id, name);
    if (by_name && (!group || by_name->id != group->id)) return Error::invalid("group name is already in use");
    rec.name = name;
  }
  if (metadata) {
    COFFER_TRY_STATUS(validate_metadata(*metadata, "group"));
    rec.metadata = *metadata;
  }
  if (member_entities) {
    if (rec.type == "external") return Error::invalid("member entities can't be set manually for external groups");
    rec.member_entity_ids = *member_entities;
  }
  if (member_groups) {
    if (rec.type == "external") return Error::invalid("member groups can't be set for external groups");
    rec.member_group_ids = *member_groups;
  }
  COFFER_TRY(GroupPtr stored, ctx.stores.identity.put_group(std::move(rec), ctx.now));
  if (group) return Response{};
  return data_response(Json{{"id", stored->id}, {"name", stored->name}});
}

Result<Response> write_group(IdentityApiContext& ctx, const Json& body, std::optional<std::string> path_id,
                             std::optional<std::string> path_name) {
  COFFER_TRY_STATUS(fields::only(body, kGroupFields));
  COFFER_TRY(auto body_id, fields::get_string(body, "id"));
  COFFER_TRY(auto body_name, fields::get_string(body, "name"));
  const std::string& ns_id = ctx.ns.record.id;
  // pathGroupRegister: an id in the body updates by id, else a name upserts by name.
  std::optional<std::string> id = path_id ? path_id : (path_name ? std::nullopt : body_id);
  if (id) {
    if (id->empty()) return Error::invalid("empty group ID");
    GroupPtr group = ctx.stores.identity.group_by_id(*id);
    if (!group || group->namespace_id != ns_id) return Error::invalid("invalid group ID");
    return update_group(ctx, body, group, body_name.value_or(""));
  }
  std::string name = path_name ? *path_name : body_name.value_or("");
  if (path_name || body_name) {
    if (name.empty()) return Error::invalid("empty group name");
    return update_group(ctx, body, ctx.stores.identity.group_by_name(ns_id, name), name);
  }
  return update_group(ctx, body, nullptr, "");
}

Result<Response> group_item(IdentityApiContext& ctx, Operation op, bool by_id, const std::string& key,
                            const Json& body) {
  const std::string& ns_id = ctx.ns.record.id;
  GroupPtr g = by_id ? ctx.stores.identity.group_by_id(key) : ctx.stores.identity.group_by_name(ns_id, key);
  switch (op) {
    case Operation::Read:
      if (!g || g->namespace_id != ns_id)
        return Error::not_found("no group " + std::string(by_id ? "with id " : "named ") + key);
      return data_response(group_view(ctx.stores, *g));
    case Operation::Create:
    case Operation::Update:
    case Operation::Patch:
      if (by_id) return write_group(ctx, body, key, std::nullopt);
      return write_group(ctx, body, std::nullopt, key);
    case Operation::Delete:
      if (!g || g->namespace_id != ns_id) return Response{};
      COFFER_TRY_STATUS(ctx.stores.identity.delete_group(g->id));
      return Response{};
    default: return unsupported_path(std::string("group/") + (by_id ? "id/" : "name/") + key);
  }
}

Response list_groups(IdentityApiContext& ctx, bool by_id) {
  std::vector<GroupPtr> groups = ctx.stores.identity.groups_of(ctx.ns.record.id);
  if (by_id) {
    std::sort(groups.begin(), groups.end(), [](const GroupPtr& a, const GroupPtr& b) { return a->id < b->id; });
  }
  std::vector<std::string> keys;
  Json info = Json::object();
  for (const auto& g : groups) {
    keys.push_back(by_id ? g->id : g->name);
    info[to_secure(g->id)] =
        Json{{"name", g->name},
             {"num_member_entities", static_cast<std::int64_t>(g->member_entity_ids.size())},
             {"num_parent_groups", static_cast<std::int64_t>(ctx.stores.identity.parent_group_ids(g->id).size())}};
  }
  return keys_response(keys, std::move(info));
}

// ---- Group aliases -------------------------------------------------------------------------

Result<Response> write_group_alias(IdentityApiContext& ctx, const Json& body, std::optional<std::string> path_id) {
  COFFER_TRY_STATUS(fields::only(body, {"id", "name", "mount_accessor", "canonical_id"}));
  COFFER_TRY(auto body_id, fields::get_string(body, "id"));
  COFFER_TRY(auto name_in, fields::get_string(body, "name"));
  COFFER_TRY(auto accessor_in, fields::get_string(body, "mount_accessor"));
  COFFER_TRY(auto canonical_in, fields::get_string(body, "canonical_id"));
  const std::string& ns_id = ctx.ns.record.id;
  AliasRecord alias;
  alias.namespace_id = ns_id;
  std::optional<std::string> id = path_id ? path_id : body_id;
  if (id) {
    if (id->empty()) return Error::invalid("empty group alias ID");
    auto found = ctx.stores.identity.group_alias_by_id(*id);
    if (!found || found->second.namespace_id != ns_id) return Error::invalid("invalid group alias ID");
    alias = found->second;
  }
  const std::string name = name_in.value_or("");
  const std::string accessor = accessor_in.value_or("");
  const std::string canonical_id = canonical_in.value_or("");
  if (name.empty()) return Error::invalid("missing alias name");
  if (accessor.empty()) return Error::invalid("missing mount_accessor");
  if (!alias.id.empty() && alias.name == name && alias.mount_accessor == accessor &&
      (canonical_id.empty() || canonical_id == alias.canonical_id)) {
    return Response{};  // nothing to do
  }
  if (!canonical_id.empty()) {
    GroupPtr target = ctx.stores.identity.group_by_id(canonical_id);
    if (!target || target->namespace_id != ns_id) return Error::invalid("invalid group ID given in 'canonical_id'");
    if (target->type != "external") return Error::invalid("alias can't be set on an internal group");
  }
  auto [mount_ns, mount] = find_auth_mount(ctx.stores, accessor);
  if (mount == nullptr) return Error::invalid("invalid mount accessor \"" + accessor + "\"");
  if (mount_ns->record.id != ns_id) {
    return Error::denied("mount referenced via 'mount_accessor' not in the same namespace as alias");
  }
  alias.name = name;
  alias.mount_accessor = accessor;
  alias.mount_type = mount->entry.type;
  alias.canonical_id = canonical_id;
  COFFER_TRY(AliasRecord stored, ctx.stores.identity.put_group_alias(std::move(alias), ctx.now));
  return data_response(Json{{"id", stored.id}, {"canonical_id", stored.canonical_id}});
}

Result<Response> group_alias_item(IdentityApiContext& ctx, Operation op, const std::string& id, const Json& body) {
  const std::string& ns_id = ctx.ns.record.id;
  switch (op) {
    case Operation::Read: {
      auto found = ctx.stores.identity.group_alias_by_id(id);
      if (!found || found->second.namespace_id != ns_id) return Error::not_found("no group alias with id " + id);
      return data_response(alias_view(ctx.stores, found->second, true));
    }
    case Operation::Create:
    case Operation::Update:
    case Operation::Patch: return write_group_alias(ctx, body, id);
    case Operation::Delete: {
      auto found = ctx.stores.identity.group_alias_by_id(id);
      if (!found || found->second.namespace_id != ns_id) return Response{};
      COFFER_TRY_STATUS(ctx.stores.identity.delete_group_alias(id));
      return Response{};
    }
    default: return unsupported_path("group-alias/id/" + id);
  }
}

// ---- Lookups ------------------------------------------------------------------------------

Result<Response> lookup(IdentityApiContext& ctx, const Json& body, bool entity) {
  COFFER_TRY_STATUS(fields::only(body, {"id", "name", "alias_id", "alias_name", "alias_mount_accessor"}));
  int count = 0;
  auto take = [&](std::string_view key) -> Result<std::string> {
    COFFER_TRY(auto v, fields::get_string(body, key));
    if (v) ++count;
    return v.value_or("");
  };
  COFFER_TRY(std::string id, take("id"));
  COFFER_TRY(std::string name, take("name"));
  COFFER_TRY(std::string alias_id, take("alias_id"));
  COFFER_TRY(std::string alias_name, take("alias_name"));
  COFFER_TRY(std::string alias_accessor, take("alias_mount_accessor"));
  if (count == 0) return Error::invalid("query parameter not supplied");
  if (count != 1 && !(count == 2 && !alias_name.empty() && !alias_accessor.empty())) {
    return Error::invalid("query parameter conflict; please supply distinct set of query parameters");
  }
  if (count == 1 && (!alias_name.empty() || !alias_accessor.empty())) {
    return Error::invalid("both 'alias_name' and 'alias_mount_accessor' needs to be set");
  }
  const std::string& ns_id = ctx.ns.record.id;
  IdentityStore& store = ctx.stores.identity;
  if (entity) {
    EntityPtr e;
    if (!id.empty()) {
      e = store.entity_by_id(id);
    } else if (!name.empty()) {
      e = store.entity_by_name(ns_id, name);
    } else if (!alias_id.empty()) {
      if (auto a = store.entity_alias_by_id(alias_id)) e = a->first;
    } else if (!alias_name.empty()) {
      if (auto a = store.entity_alias_by_factors(alias_accessor, alias_name)) e = a->first;
    }
    if (!e || e->namespace_id != ns_id) return Response{};  // Vault: 204, no entity
    return data_response(entity_view(ctx.stores, *e));
  }
  GroupPtr g;
  if (!id.empty()) {
    g = store.group_by_id(id);
  } else if (!name.empty()) {
    g = store.group_by_name(ns_id, name);
  } else if (!alias_id.empty()) {
    if (auto a = store.group_alias_by_id(alias_id)) g = a->first;
  } else if (!alias_name.empty()) {
    if (auto a = store.group_alias_by_factors(alias_accessor, alias_name)) g = a->first;
  }
  if (!g || g->namespace_id != ns_id) return Response{};  // Vault: 204, no group
  return data_response(group_view(ctx.stores, *g));
}

}  // namespace

std::pair<NamespaceNode*, const Mount*> find_auth_mount(IdentityStores& stores, std::string_view accessor) {
  if (accessor.empty() || !stores.router.loaded()) return {nullptr, nullptr};
  return find_auth_mount_below(stores.router.root(), accessor);
}

namespace {

Result<Response> handle_identity(IdentityApiContext& ctx, Operation op, std::string_view rel, const Json& body) {
  std::string_view path = rel;
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  const std::vector<std::string> seg = split_segments<std::string>(path, EmptySegments::Skip);
  const bool list = op == Operation::List;
  const bool write = is_write(op);
  auto dir = [&](std::vector<std::string> keys) -> Result<Response> {
    if (!list) return unsupported_path(rel);
    return keys_response(keys);
  };

  if (seg.empty()) return dir({"entity/", "entity-alias/", "group/", "group-alias/", "lookup/"});
  const std::string& top = seg[0];
  if (top == "entity") {
    if (seg.size() == 1) {
      if (write) return write_entity(ctx, body, std::nullopt, std::nullopt);
      return dir({"id/", "name/"});
    }
    if (seg[1] != "id" && seg[1] != "name") return unsupported_path(rel);
    const bool by_id = seg[1] == "id";
    if (seg.size() == 2) {
      if (!list) return unsupported_path(rel);
      return list_entities(ctx, by_id);
    }
    // entity/name/<name> takes the rest of the path (names may hold '/').
    if (!by_id && seg.size() > 3)
      return entity_item(ctx, op, false, std::string(path.substr(path.find("name/") + 5)), body);
    if (seg.size() != 3 || list) return unsupported_path(rel);
    return entity_item(ctx, op, by_id, seg[2], body);
  }
  if (top == "entity-alias") {
    if (seg.size() == 1) {
      if (write) return write_entity_alias(ctx, body, std::nullopt);
      return dir({"id/"});
    }
    if (seg[1] != "id") return unsupported_path(rel);
    if (seg.size() == 2) {
      if (!list) return unsupported_path(rel);
      return list_alias_ids(ctx.stores, ctx.stores.identity.entity_aliases_of(ctx.ns.record.id));
    }
    if (seg.size() != 3 || list) return unsupported_path(rel);
    return entity_alias_item(ctx, op, seg[2], body);
  }
  if (top == "group") {
    if (seg.size() == 1) {
      if (write) return write_group(ctx, body, std::nullopt, std::nullopt);
      return dir({"id/", "name/"});
    }
    if (seg[1] != "id" && seg[1] != "name") return unsupported_path(rel);
    const bool by_id = seg[1] == "id";
    if (seg.size() == 2) {
      if (!list) return unsupported_path(rel);
      return list_groups(ctx, by_id);
    }
    if (!by_id && seg.size() > 3)
      return group_item(ctx, op, false, std::string(path.substr(path.find("name/") + 5)), body);
    if (seg.size() != 3 || list) return unsupported_path(rel);
    return group_item(ctx, op, by_id, seg[2], body);
  }
  if (top == "group-alias") {
    if (seg.size() == 1) {
      if (write) return write_group_alias(ctx, body, std::nullopt);
      return dir({"id/"});
    }
    if (seg[1] != "id") return unsupported_path(rel);
    if (seg.size() == 2) {
      if (!list) return unsupported_path(rel);
      return list_alias_ids(ctx.stores, ctx.stores.identity.group_aliases_of(ctx.ns.record.id));
    }
    if (seg.size() != 3 || list) return unsupported_path(rel);
    return group_alias_item(ctx, op, seg[2], body);
  }
  if (top == "lookup") {
    if (seg.size() == 1) return dir({"entity", "group"});
    if (seg.size() == 2 && (seg[1] == "entity" || seg[1] == "group") && write) {
      return lookup(ctx, body, seg[1] == "entity");
    }
    return unsupported_path(rel);
  }
  return unsupported_path(rel);
}

}  // namespace

Result<Response> IdentityBackend::handle(const BackendRequest& req) {
  if (req.ctx == nullptr) return Error::internal("identity/ request without its namespace");
  IdentityApiContext ctx{stores_, req.ctx->ns, req.now};
  return handle_identity(ctx, req.op, req.path, req.data);
}

}  // namespace engine
