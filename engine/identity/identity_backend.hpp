// SPDX-License-Identifier: MPL-2.0
// The identity API, `identity/` of every namespace (vault-semantics §9.4):
//
//   identity/entity                      write: create (or update by id/name)
//   identity/entity/id/<id>              read, write, patch, delete; LIST entity/id/
//   identity/entity/name/<name>          read, write (upsert), patch, delete; LIST entity/name/
//   identity/entity-alias                write: create or update (by id, or by mount_accessor+name)
//   identity/entity-alias/id/<id>        read, write, delete; LIST entity-alias/id/
//   identity/group                       write: create (or update by id/name)
//   identity/group/id/<id>               read, write, patch, delete; LIST group/id/
//   identity/group/name/<name>           read, write (upsert), patch, delete; LIST group/name/
//   identity/group-alias                 write; identity/group-alias/id/<id> read, write, delete; LIST
//   identity/lookup/entity, lookup/group write {id | name | alias_id | alias_name+alias_mount_accessor}
//
// LIST on the directory nodes (identity/, identity/entity/, ...) answers
// their children with a trailing '/', so a file view can walk the tree.
// Served after the ACL check. Errors carry Vault's messages:
// InvalidArgument (400), PermissionDenied (403, a mount of another
// namespace), NotFound. An entity, group or alias of another namespace,
// named by id anywhere (item paths, lookups, canonical_id, updates by id), is
// answered exactly as an unknown id: nothing tells that it exists.
#pragma once

#include <string_view>
#include <utility>

#include "engine/backend/backend.hpp"
#include "engine/identity/identity_store.hpp"
#include "engine/router/router.hpp"

namespace engine {

// The stores the identity API reads and changes.
struct IdentityStores {
  IdentityStore& identity;
  Router& router;  // auth mounts by accessor (mount_path, mount_type of aliases)
};

// The backend of every namespace's identity/ mount.
class IdentityBackend final : public Backend {
 public:
  explicit IdentityBackend(IdentityStores stores) : stores_(stores) {}

  // Serves `identity/<req.path>` in req.ctx->ns (req.ctx required). The
  // caller holds the core lock shared.
  Result<Response> handle(const BackendRequest& req) override;

  // No special paths, and no existence checks: OpenBao's identity paths
  // (entity/name/<name>, group/name/<name>...) have none, so a write to
  // them is an Update whether or not the entity exists (exists() keeps
  // Backend's answer, true).

 private:
  IdentityStores stores_;
};

// The auth mount with this accessor anywhere in the tree (a mount whose path
// starts with "auth/"), and its namespace; {nullptr, nullptr} if none.
// Caller holds the core lock.
std::pair<NamespaceNode*, const Mount*> find_auth_mount(IdentityStores& stores, std::string_view accessor);

}  // namespace engine
