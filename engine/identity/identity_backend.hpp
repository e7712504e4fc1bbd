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
// Served by the core after the ACL check. Errors carry Vault's messages:
// InvalidArgument (400), PermissionDenied (403, a mount of another
// namespace), NotFound. An entity, group or alias of another namespace,
// named by id anywhere (item paths, lookups, canonical_id, updates by id), is
// answered exactly as an unknown id: nothing tells that it exists.
#pragma once

#include <string_view>

#include "engine/core_impl.hpp"

namespace engine {

struct IdentityApiContext {
  Core::Impl& core;
  NamespaceNode& ns;  // the namespace whose identity/ this is
  TimePoint now;
};

// Serves `identity/<rel>` in ctx.ns. The caller holds the core lock shared.
Result<Response> handle_identity(IdentityApiContext& ctx, Operation op, std::string_view rel, const Json& body);

// The auth mount with this accessor anywhere in the tree (a mount whose path
// starts with "auth/"), and its namespace; {nullptr, nullptr} if none.
// Caller holds the core lock.
std::pair<NamespaceNode*, const Mount*> find_auth_mount(Core::Impl& core, std::string_view accessor);

}  // namespace engine
