// SPDX-License-Identifier: MPL-2.0
#include "engine/token/login.hpp"

#include <algorithm>

#include "engine/auth/auth_method.hpp"
#include "engine/common/json_values.hpp"
#include "engine/common/time.hpp"
#include "engine/policy/policy.hpp"
#include "engine/token/token_acl.hpp"

namespace engine::auth {
namespace {

std::int64_t unix_ns(TimePoint t) { return t.time_since_epoch().count(); }

// Vault: source = mount path below auth/ with '/' → '-', then the method's
// display name, trailing '-' trimmed.
std::string display_name_of(const MountEntry& mount, std::string_view name) {
  std::string source = mount.path.substr(5);  // "userpass/"
  std::replace(source.begin(), source.end(), '/', '-');
  source += name;
  while (!source.empty() && source.back() == '-') source.pop_back();
  return source;
}

}  // namespace

// Token policies: sanitized, "default" added unless refused, sorted.
std::vector<std::string> login_token_policies(const LoginAuth& login) {
  std::vector<std::string> out;
  for (const auto& p : login.policies) {
    std::string n = policy::normalize_policy_name(p);
    if (!n.empty()) out.push_back(std::move(n));
  }
  if (!login.no_default_policy) out.emplace_back(policy::kDefaultPolicyName);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

namespace {

// The token's TTL in seconds (Vault's CalculateTTL): the period for
// periodic tokens; else the login's TTL or the mount's default or the
// system's, capped by the login's max TTL (or the mount's, or the system's)
// and by an explicit max TTL.
std::int64_t token_ttl(const LoginAuth& login, const MountEntry& mount) {
  const std::int64_t system_max = mount.max_lease_ttl > 0 ? mount.max_lease_ttl : kMaxTokenTtlSeconds;
  const std::int64_t system_default = mount.default_lease_ttl > 0 ? mount.default_lease_ttl : kDefaultTokenTtlSeconds;
  std::int64_t ttl = 0;
  const std::int64_t max = login.max_ttl > 0 ? std::min(login.max_ttl, system_max) : system_max;
  if (login.period > 0) {
    ttl = std::min(login.period, max);  // a period is capped at the max TTL too
  } else {
    ttl = login.ttl > 0 ? login.ttl : system_default;
    ttl = std::min(ttl, max);
  }
  if (login.explicit_max_ttl > 0) ttl = std::min(ttl, login.explicit_max_ttl);
  return ttl;
}

// Finds or creates the entity for the login's alias and sets the token's
// entity_id; identity_policies gets the entity's policies of this namespace.
Status attach_entity(LoginStores& core, NamespaceNode& ns, const Mount& mount, const LoginAuth& login, TimePoint now,
                     TokenEntry& entry, std::vector<std::string>& identity_policies) {
  COFFER_TRY(LoginEntity who, core.identity.entity_for_login(ns.record.id, mount.entry.accessor, mount.entry.type,
                                                             login.alias_name, login.alias_metadata, now));
  // Vault refuses logins of a disabled entity.
  if (who.disabled) return Error::denied("permission denied");
  entry.entity_id = who.id;
  if (login.group_aliases) {
    COFFER_TRY_STATUS(core.identity.set_external_groups(who.id, mount.entry.accessor, *login.group_aliases, now));
  }
  EntityPolicies from_identity = identity_policies_of(core.identity, core.router, entry);
  if (auto it = from_identity.by_namespace.find(ns.record.id); it != from_identity.by_namespace.end()) {
    identity_policies = it->second;
  }
  return {};
}

}  // namespace

Result<Response> finish_login(LoginStores& core, NamespaceNode& ns, const Mount& mount, std::string_view login_path,
                              LoginAuth login, TimePoint now) {
  std::vector<std::string> policies = login_token_policies(login);
  if (std::find(policies.begin(), policies.end(), "root") != policies.end()) {
    return Error::invalid("auth methods cannot create root tokens");
  }

  TokenEntry entry;
  entry.policies = policies;
  entry.namespace_id = ns.record.id;
  entry.display_name = display_name_of(mount.entry, login.display_name);
  entry.path = std::string(login_path);
  entry.meta = login.metadata;
  entry.num_uses = login.num_uses;
  entry.explicit_max_ttl = login.explicit_max_ttl;
  entry.period = login.period;
  entry.renewable = login.renewable || login.period > 0;
  entry.ttl_seconds = token_ttl(login, mount.entry);
  entry.creation_unix = unix_seconds(now);
  entry.expire_unix_ns = entry.ttl_seconds > 0 ? ns_after(unix_ns(now), entry.ttl_seconds) : 0;
  entry.orphan = true;  // login tokens have no parent
  entry.login_secret = std::move(login.renew_secret);

  // The entity behind the alias (created on first login).
  std::vector<std::string> identity_policies;
  COFFER_TRY_STATUS(attach_entity(core, ns, mount, login, now, entry, identity_policies));

  COFFER_TRY(auto created, core.tokens.create(std::move(entry), ""));
  const TokenEntry& token = *created.second;

  std::vector<std::string> all = token.policies;
  all.insert(all.end(), identity_policies.begin(), identity_policies.end());
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());

  Json auth{{"client_token", created.first},
            {"accessor", token.accessor},
            {"policies", string_list(all)},
            {"token_policies", string_list(token.policies)},
            {"metadata", string_map_or_null(token.meta)},
            {"lease_duration", token.ttl_seconds},
            {"renewable", token.renewable},
            {"entity_id", token.entity_id},
            {"token_type", token.type},
            {"orphan", token.orphan},
            {"mfa_requirement", nullptr},
            {"num_uses", token.num_uses}};
  if (!identity_policies.empty()) auth["identity_policies"] = string_list(identity_policies);
  Response resp;
  resp.data = Json{{"auth", std::move(auth)}};
  resp.issued_token = created.first;
  return resp;
}

Route login_route_of(const Router& router, const TokenEntry& token) {
  NamespaceNode* ns = router.find_namespace_by_id(token.namespace_id);
  if (ns == nullptr) return {};
  Route route = router.resolve(*ns, token.path);
  if (!route.mount || !route.mount->backend || !route.mount->entry.is_auth() ||
      !is_login_path(route.mount->entry, route.rel)) {
    route.mount.reset();  // not a login token, or its auth method is gone
  }
  return route;
}

Status renew_login_token(LoginStores& core, const TokenEntry& token, TimePoint now, const PreparedRenewal* prepared) {
  Route route = login_route_of(core.router, token);
  if (!route.mount) return {};
  std::optional<LoginAuth> login;
  if (prepared != nullptr && prepared->token_hash == token.hash && prepared->mount_uuid == route.mount->entry.uuid) {
    if (!prepared->status.ok()) return prepared->status;
    login = prepared->login;
  } else {
    const Json body = Json::object();
    BackendRequest req{Operation::Update, route.rel, body, *route.mount->storage, now};
    COFFER_TRY(auto pending, route.mount->backend->begin_renewal(req, token.meta, as_view(token.login_secret)));
    if (!pending) return {};
    COFFER_TRY_STATUS(pending->run());
    COFFER_TRY(Response resp, pending->finish(req));
    login = std::move(resp.login);
  }
  if (!login) return {};
  // Vault's policyutil.EquivalentPolicies: the same set, "default" aside.
  auto without_default = [](std::vector<std::string> v) {
    std::erase(v, std::string(policy::kDefaultPolicyName));
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
  };
  if (without_default(login_token_policies(*login)) != without_default(token.policies)) {
    return Error::invalid("policies have changed, not renewing");
  }
  if (login->group_aliases && !token.entity_id.empty()) {
    COFFER_TRY_STATUS(
        core.identity.set_external_groups(token.entity_id, route.mount->entry.accessor, *login->group_aliases, now));
  }
  return {};
}

Status revoke_mount_tokens(LoginStores& core, const NamespaceNode& ns, const MountEntry& mount, TimePoint now,
                           const std::pair<std::string, std::string>* meta) {
  COFFER_TRY(auto accessors, core.tokens.accessors(ns.record.id));
  for (const auto& accessor : accessors) {
    COFFER_TRY(auto token, core.tokens.lookup_accessor(accessor, now));
    if (!token || !token->path.starts_with(mount.path)) continue;
    if (meta != nullptr) {
      auto it = token->meta.find(meta->first);
      if (it == token->meta.end() || it->second != meta->second) continue;
    }
    COFFER_TRY_STATUS(core.tokens.revoke_tree(token->hash));
    core.acls.forget_token(token->hash);
  }
  return {};
}

}  // namespace engine::auth
