// SPDX-License-Identifier: MPL-2.0
// Identity templating of policy path keys (vault-semantics §6):
// `path "secret/{{identity.entity.name}}/*"`.
//
// Only ACL mode is implemented: whole-object selectors (`identity.entity.metadata`,
// `identity.entity.groups.names`) never resolve here. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/error.hpp"
#include "engine/common/request.hpp"

namespace engine::policy {

using StringMap = std::map<std::string, std::string, std::less<>>;

struct AliasInfo {
  std::string mount_accessor;  // "auth_userpass_c7fa2f53"
  std::string id;
  std::string name;
  StringMap metadata;         // set by the auth method at login
  StringMap custom_metadata;  // set by the operator
};

struct EntityInfo {
  std::string id;
  std::string name;
  StringMap metadata;
  std::vector<AliasInfo> aliases;  // at most one per mount accessor
};

struct GroupInfo {
  std::string id;
  std::string name;
  std::string namespace_id;  // the group's own namespace
  StringMap metadata;
};

// Who the request is for, as templating sees it.
struct IdentityContext {
  std::optional<EntityInfo> entity;  // unset: token without an entity
  std::vector<GroupInfo> groups;     // direct and inherited, any namespace
  // Namespace id of the policy being evaluated: `identity.groups.names.<n>`
  // only considers groups in this namespace ("" = no restriction, as Vault).
  // Acl::compile's convenience overload fills it from Policy::namespace_id.
  std::string namespace_id;
  std::optional<TimePoint> now;  // unset: the system clock (`time.now`)
};

// Which characters a substituted value may contain. Default (OpenBao's
// default, chosen for Coffer): none of '/', '*', '+', so an entity whose
// name or metadata an attacker controls cannot widen a rule (`*`, `+`) or
// step into another path level (`/`). Vault 2026 rejects only '*' and '+'
// and rejects '/' when DenySlashInTemplatedPaths is set; set
// allow_slashes = true to get that Vault default.
struct TemplateOptions {
  bool allow_slashes = false;
  bool allow_wildcards = false;
};

// True when `text` contains a template directive ("{{").
bool has_template(std::string_view text) noexcept;

// Write-time check: only brace balance is validated (unknown selectors are
// accepted and simply never resolve). InvalidArgument "unbalanced templating
// characters".
Status validate_template(std::string_view text);

// Substitutes every `{{ selector }}` of `text`. Fails (InvalidArgument, with
// a reason for logs) when any directive does not resolve: no entity, no
// groups, unknown selector, missing key/alias/group, empty value, or a
// forbidden character in a substituted value. Callers drop the path block.
Result<std::string> populate_template(std::string_view text, const IdentityContext& identity,
                                      const TemplateOptions& options = {});

}  // namespace engine::policy
