// SPDX-License-Identifier: MPL-2.0
#include "engine/token/token_acl.hpp"

namespace engine {

NamespacePathOf namespace_paths(const Router& router) {
  return [&router](std::string_view id) -> std::optional<std::string> {
    NamespaceNode* ns = router.find_namespace_by_id(id);
    if (ns == nullptr) return std::nullopt;
    return ns->record.path;
  };
}

EntityPolicies identity_policies_of(const IdentityStore& identity, const Router& router, const TokenEntry& token) {
  if (token.entity_id.empty()) return {};
  return identity.policies_for(token.namespace_id, token.entity_id, namespace_paths(router));
}

AclSource acl_source(const IdentityStore& identity, const Router& router, const TokenEntry& token) {
  AclSource source{token.namespace_id, token.policies, {}, nullptr, {}};
  if (token.entity_id.empty()) return source;
  EntityPolicies from_entity = identity_policies_of(identity, router, token);
  if (!from_entity.found) return source;  // a deleted entity: the token keeps its own policies
  source.identity_policies = std::move(from_entity.by_namespace);
  source.identity = std::move(from_entity.identity);
  source.entity_id = token.entity_id;
  return source;
}

Result<std::shared_ptr<const policy::Acl>> acl_of(AclCache& acls, const IdentityStore& identity, const Router& router,
                                                  const TokenEntry& token) {
  return acls.for_source(acl_source(identity, router, token), namespace_paths(router));
}

}  // namespace engine
