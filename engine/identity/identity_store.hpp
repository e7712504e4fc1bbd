// SPDX-License-Identifier: MPL-2.0
// The identity store (vault-semantics §9.3, §9.4): entities with their
// aliases, groups with their aliases, per namespace, and the policies a
// token's entity brings.
//
// Storage (through the barrier; deleted with the namespace):
//   ns/<namespace id>/identity/entity/<entity id>   EntityRecord (aliases inside)
//   ns/<namespace id>/identity/group/<group id>     GroupRecord (alias inside)
//   core/identity/config                            IdentityConfig (root only)
// Everything is loaded into memory at unseal (load()) and every change goes
// to storage first, then to memory. Records in memory are immutable
// (shared_ptr<const>), replaced whole on change.
//
// Thread-safe: one reader/writer lock; generation() moves on every change so
// callers caching compiled ACLs know when to drop them.
//
// ---- For auth methods (login) ---------------------------------------------
//   auto who = core.identity.entity_for_login(ns_id, mount.entry.accessor, "userpass",
//                                             username, {{"username", username}}, now);
//   if (!who) return who.error();                  // storage errors only
//   if (who->disabled) return Error::denied(...);  // Vault refuses the login
//   token.entity_id = who->id;
// Accessor checks for the HTTP API (alias creation) are done by the identity
// backend against the router: an auth mount is a mount of the namespace
// whose path starts with "auth/" and whose entry.accessor matches.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include "engine/common/error.hpp"
#include "engine/common/request.hpp"
#include "engine/policy/template.hpp"
#include "engine/storage/storage.hpp"

namespace engine {

// An entity alias (or a group alias: canonical_id is then the group's id).
struct AliasRecord {
  std::string id;              // UUID
  std::string canonical_id;    // the entity (or group) it belongs to
  std::string mount_accessor;  // "auth_userpass_1a2b3c4d"
  std::string mount_type;      // "userpass" (as given at creation)
  std::string name;            // username, role_id, LDAP group cn...
  std::string namespace_id;
  std::map<std::string, std::string> metadata;         // set by the auth method at login
  std::map<std::string, std::string> custom_metadata;  // set by the operator
  std::int64_t creation_unix_ns = 0;
  std::int64_t last_update_unix_ns = 0;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(id, canonical_id, mount_accessor, mount_type, name, namespace_id, metadata, custom_metadata, creation_unix_ns,
       last_update_unix_ns);
  }
};

struct EntityRecord {
  std::string id;  // UUID
  std::string name;
  std::string namespace_id;
  std::vector<std::string> policies;
  std::map<std::string, std::string> metadata;
  bool disabled = false;
  std::vector<AliasRecord> aliases;  // at most one per mount accessor
  std::int64_t creation_unix_ns = 0;
  std::int64_t last_update_unix_ns = 0;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(id, name, namespace_id, policies, metadata, disabled, aliases, creation_unix_ns, last_update_unix_ns);
  }
};

struct GroupRecord {
  std::string id;  // UUID
  std::string name;
  std::string namespace_id;
  std::string type = "internal";  // "internal" | "external"
  std::vector<std::string> policies;
  std::map<std::string, std::string> metadata;
  std::vector<std::string> member_entity_ids;  // any namespace (Vault)
  std::vector<std::string> member_group_ids;   // any namespace (Vault)
  std::optional<AliasRecord> alias;            // external groups only
  std::int64_t creation_unix_ns = 0;
  std::int64_t last_update_unix_ns = 0;
  std::int64_t modify_index = 0;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(id, name, namespace_id, type, policies, metadata, member_entity_ids, member_group_ids, alias, creation_unix_ns,
       last_update_unix_ns, modify_index);
  }
};

// sys/config/group-policy-application (root namespace).
struct IdentityConfig {
  std::string group_policy_application_mode = "within_namespace_hierarchy";  // or "any"

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(group_policy_application_mode);
  }
};

using EntityPtr = std::shared_ptr<const EntityRecord>;
using GroupPtr = std::shared_ptr<const GroupRecord>;

// What a login learns about the entity behind an alias.
struct LoginEntity {
  std::string id;
  std::string name;
  bool disabled = false;  // a disabled entity's login must be refused
  bool created = false;   // entity (and alias) created by this call (audit's entity_created)
};

// The policies and template inputs a token's entity brings (§9.3).
struct EntityPolicies {
  bool found = false;     // the entity exists (a token whose entity was deleted keeps its own policies)
  bool disabled = false;  // tokens of a disabled entity are refused
  // Namespace id → sorted, unique policy names, already filtered by the
  // group policy application mode. The entity's own policies are under the
  // entity's namespace; groups' under each group's namespace.
  std::map<std::string, std::vector<std::string>> by_namespace;
  // The entity and all its groups (direct and inherited, any namespace), for
  // templated policies. Null when the entity does not exist.
  std::shared_ptr<const policy::IdentityContext> identity;
};

// Namespace id → canonical namespace path ("" root, "a/b/"), nullopt if gone.
using NamespacePathOf = std::function<std::optional<std::string>(std::string_view)>;

inline constexpr std::string_view kModeWithinHierarchy = "within_namespace_hierarchy";
inline constexpr std::string_view kModeAny = "any";

class IdentityStore {
 public:
  // storage (the barrier) must outlive the store.
  explicit IdentityStore(Storage& storage);
  ~IdentityStore();

  // Loads the records of the given namespaces and the config (at unseal),
  // replacing what is in memory. Storage/Corrupt errors.
  Status load(const std::vector<std::string>& namespace_ids);
  // Forgets everything (at seal).
  void clear();
  // Forgets one namespace's records (its storage is already gone: namespace
  // deletion). Memberships naming them elsewhere are then ignored.
  void forget_namespace(std::string_view namespace_id);

  std::uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }

  // ---- Login (auth methods) ------------------------------------------------

  // The entity behind alias (mount_accessor, alias_name) in namespace_id,
  // creating entity `entity_<8 hex>` and the alias when there is none. The
  // alias's metadata is replaced by alias_metadata (Vault refreshes it on
  // every login). Errors: storage only.
  Result<LoginEntity> entity_for_login(std::string_view namespace_id, std::string_view mount_accessor,
                                       std::string_view mount_type, std::string_view alias_name,
                                       const std::map<std::string, std::string>& alias_metadata, TimePoint now);

  // External-group membership from a login (LDAP, OIDC): the entity becomes a
  // member of exactly the external groups of its namespace whose alias is
  // (mount_accessor, name) for a name in group_alias_names, and stops being a
  // member of the other external groups aliased on that mount. Names with no
  // group alias are ignored. NotFound for an unknown entity.
  Status set_external_groups(std::string_view entity_id, std::string_view mount_accessor,
                             const std::vector<std::string>& group_alias_names, TimePoint now);

  // ---- Policy application (core) ---------------------------------------------

  // Identity policies for a token of namespace token_ns_id with entity_id,
  // filtered by the group policy application mode (§9.3): a group's policies
  // apply when its namespace is the token's or a descendant of it
  // (within_namespace_hierarchy), or always (any). Groups whose namespace
  // ns_path_of does not know are skipped.
  EntityPolicies policies_for(std::string_view token_ns_id, std::string_view entity_id,
                              const NamespacePathOf& ns_path_of) const;

  // ---- Config ----------------------------------------------------------------

  std::string group_policy_application_mode() const;
  // InvalidArgument for anything but the two modes.
  Status set_group_policy_application_mode(std::string_view mode);

  // ---- Records (the identity backend) -----------------------------------------
  // Reads return nullptr when missing. Writes validate references and
  // uniqueness and return Vault's messages as InvalidArgument.

  EntityPtr entity_by_id(std::string_view id) const;
  EntityPtr entity_by_name(std::string_view namespace_id, std::string_view name) const;
  std::vector<EntityPtr> entities_of(std::string_view namespace_id) const;  // sorted by name
  // Stores a new or changed entity (record.id "" → new id; name "" →
  // generated). Errors: "entity name is already in use" etc.
  Result<EntityPtr> put_entity(EntityRecord record, TimePoint now);
  // Deletes an entity, its aliases and its group memberships. Missing: ok.
  Status delete_entity(std::string_view id);

  // Entity aliases. The caller has checked that the mount is an auth mount of
  // the entity's namespace.
  std::optional<std::pair<EntityPtr, AliasRecord>> entity_alias_by_id(std::string_view alias_id) const;
  std::optional<std::pair<EntityPtr, AliasRecord>> entity_alias_by_factors(std::string_view mount_accessor,
                                                                           std::string_view name) const;
  std::vector<std::pair<EntityPtr, AliasRecord>> entity_aliases_of(std::string_view namespace_id) const;
  // Creates or moves/updates an alias (alias.id "" → new). Errors (Vault's):
  // "alias already exists for requested entity"...
  Result<AliasRecord> put_entity_alias(AliasRecord alias, TimePoint now);
  Status delete_entity_alias(std::string_view alias_id);

  GroupPtr group_by_id(std::string_view id) const;
  GroupPtr group_by_name(std::string_view namespace_id, std::string_view name) const;
  std::vector<GroupPtr> groups_of(std::string_view namespace_id) const;  // sorted by name
  // Stores a new or changed group (id "" → new). Checks member ids exist,
  // self-membership and cycles, names unique in the namespace.
  Result<GroupPtr> put_group(GroupRecord record, TimePoint now);
  Status delete_group(std::string_view id);

  std::optional<std::pair<GroupPtr, AliasRecord>> group_alias_by_id(std::string_view alias_id) const;
  std::optional<std::pair<GroupPtr, AliasRecord>> group_alias_by_factors(std::string_view mount_accessor,
                                                                         std::string_view name) const;
  std::vector<std::pair<GroupPtr, AliasRecord>> group_aliases_of(std::string_view namespace_id) const;
  Result<AliasRecord> put_group_alias(AliasRecord alias, TimePoint now);
  Status delete_group_alias(std::string_view alias_id);

  // Groups with the entity as a direct member; groups reached from those
  // through member_group_ids parents (inherited, excluding direct). Sorted ids.
  std::vector<std::string> direct_group_ids(std::string_view entity_id) const;
  std::vector<std::string> inherited_group_ids(std::string_view entity_id) const;
  // Groups naming this group in member_group_ids. Sorted ids.
  std::vector<std::string> parent_group_ids(std::string_view group_id) const;

 private:
  struct State;
  // names: the record takes a name (a new one, or a rename), so the write
  // carries the namespace's identity claim (engine/router/fleet_claim.hpp).
  Status persist_entity(const EntityRecord& e, bool names = false);
  Status persist_group(const GroupRecord& g, bool names = false);
  Status persist(std::string key, const std::string& namespace_id, SecureBytes record, bool names);
  void bump() noexcept { generation_.fetch_add(1, std::memory_order_acq_rel); }

  Storage& storage_;
  mutable std::shared_mutex mu_;
  std::unique_ptr<State> state_;
  std::atomic<std::uint64_t> generation_{1};
};

}  // namespace engine

CEREAL_CLASS_VERSION(engine::AliasRecord, 1);
CEREAL_CLASS_VERSION(engine::EntityRecord, 1);
CEREAL_CLASS_VERSION(engine::GroupRecord, 1);
CEREAL_CLASS_VERSION(engine::IdentityConfig, 1);
