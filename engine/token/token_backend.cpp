// SPDX-License-Identifier: MPL-2.0
#include "engine/token/token_backend.hpp"

#include <algorithm>

#include "engine/auth/login.hpp"
#include "engine/common/fields.hpp"
#include "engine/common/json_values.hpp"
#include "engine/common/time.hpp"
#include "engine/policy/policy.hpp"

namespace engine {
namespace {

Error unsupported_path(std::string_view rel) {
  return Error::unsupported("unsupported path: auth/token/" + std::string(rel));
}

std::int64_t remaining_ttl(const TokenEntry& e, TimePoint now) {
  if (e.expire_unix_ns == 0) return 0;
  const std::int64_t left = (e.expire_unix_ns - now.time_since_epoch().count()) / 1'000'000'000;
  return std::max<std::int64_t>(left, 0);
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// Vault's auth block, as create and renew return it.
Json auth_block(const TokenEntry& e, const SecureString* id, TimePoint now) {
  Json auth{{"client_token", id != nullptr ? *id : SecureString{}},
            {"accessor", e.accessor},
            {"policies", string_list(sorted(e.policies))},
            {"token_policies", string_list(sorted(e.policies))},
            {"metadata", string_map_or_null(e.meta)},
            {"lease_duration", remaining_ttl(e, now)},
            {"renewable", e.renewable},
            {"entity_id", e.entity_id},
            {"token_type", e.type},
            {"orphan", e.orphan},
            {"num_uses", std::max<std::int64_t>(e.num_uses, 0)}};
  return Json{{"auth", std::move(auth)}};
}

// Trimmed, lower-cased, deduplicated, without empties (policyutil.SanitizePolicies).
std::vector<std::string> sanitize_policies(const std::vector<std::string>& in, bool add_default) {
  std::vector<std::string> out;
  for (const auto& p : in) {
    std::string n = policy::normalize_policy_name(p);
    if (!n.empty()) out.push_back(std::move(n));
  }
  if (std::find(out.begin(), out.end(), "root") != out.end()) return {"root"};
  if (add_default) out.emplace_back(policy::kDefaultPolicyName);
  return sorted(std::move(out));
}

bool subset(const std::vector<std::string>& child, const std::vector<std::string>& parent) {
  return std::all_of(child.begin(), child.end(), [&](const std::string& p) {
    return std::find(parent.begin(), parent.end(), p) != parent.end();
  });
}

std::int64_t unix_ns(TimePoint t) { return t.time_since_epoch().count(); }

// The token a request names in its body ("token") or by accessor. As in
// Vault (token_store.go lookupInternal / lookupByAccessor), a token is looked
// up in its own namespace, which its id and accessor carry (".<ns id>";
// none: root), whichever namespace's token store is asked: the ACL on that
// store's path (ns/auth/token/lookup...) is the gate, and knowing a token's
// id already grants its use. So a token of another namespace is found, not
// reported as unknown; nullptr only for unknown, revoked or expired tokens.
Result<TokenPtr> token_in_namespace(TokenContext& ctx, const TokenPtr& found) {
  (void)ctx;
  return found;
}

Result<TokenPtr> body_token(TokenContext& ctx, const Json& body, SecureString& id_out) {
  auto it = body.find(std::string_view("token"));
  if (it == body.end() || !it->is_string() || it->get_ref<const SecureString&>().empty()) {
    return Error::invalid("missing required input \"token\"");
  }
  id_out = it->get_ref<const SecureString&>();
  COFFER_TRY(auto found, ctx.core.tokens.lookup(as_view(id_out), ctx.now));
  return token_in_namespace(ctx, found);
}

Result<TokenPtr> body_accessor(TokenContext& ctx, const Json& body) {
  COFFER_TRY(auto accessor, fields::get_string(body, "accessor"));
  if (!accessor || accessor->empty()) return Error::invalid("missing required input \"accessor\"");
  COFFER_TRY(auto found, ctx.core.tokens.lookup_accessor(*accessor, ctx.now));
  return token_in_namespace(ctx, found);
}

Result<Response> create(TokenContext& ctx, const Json& body, bool orphan_endpoint) {
  COFFER_TRY_STATUS(fields::only(body, {"id", "policies", "meta", "no_parent", "no_default_policy", "renewable",
                                        "ttl", "explicit_max_ttl", "display_name", "num_uses", "period", "type",
                                        "lease", "entity_alias", "role_name"}));
  const TokenEntry& parent = *ctx.auth.token;
  const bool parent_root = parent.is_root();
  const bool sudo = parent_root || ctx.auth.sudo;

  if (body.contains(std::string_view("role_name"))) return Error::unsupported("token roles are not supported yet");
  if (body.contains(std::string_view("entity_alias"))) return Error::unsupported("entity aliases on tokens are not supported yet");
  COFFER_TRY(auto type, fields::get_string(body, "type"));
  if (type && *type != "service" && *type != "default") {
    if (*type == "batch") return Error::unsupported("batch tokens are not supported");
    return Error::invalid("invalid 'token_type' value \"" + *type + "\"");
  }
  if (parent.num_uses != 0) return Error::invalid("use limited tokens cannot create child tokens");

  COFFER_TRY(auto no_parent, fields::get_bool(body, "no_parent"));
  if (no_parent.value_or(false) && !orphan_endpoint && !sudo) {
    return Error::invalid("root or sudo privileges required to create orphan token");
  }
  COFFER_TRY(auto custom_id, fields::get_string(body, "id"));
  if (custom_id && !custom_id->empty()) {
    if (!sudo) return Error::invalid("root or sudo privileges required to specify token id");
    if (ctx.ns.parent != nullptr) return Error::invalid("custom token IDs can only be set in the root namespace");
    if (custom_id->find('.') != std::string::npos) return Error::invalid("token IDs can not contain a period");
  }
  COFFER_TRY(auto period, fields::get_duration(body, "period"));
  if (period.value_or(0) > 0 && !sudo) return Error::invalid("root or sudo privileges required to create periodic token");
  COFFER_TRY(auto num_uses, fields::get_int(body, "num_uses"));
  if (num_uses.value_or(0) < 0) return Error::invalid("number of uses cannot be negative");

  const bool other_namespace = parent.namespace_id != ctx.ns.record.id;
  if (other_namespace && !sudo) {
    return Error::denied("root or sudo privileges required to create a token in a child namespace");
  }

  COFFER_TRY(auto requested, fields::get_string_list(body, "policies"));
  COFFER_TRY(auto no_default, fields::get_bool(body, "no_default_policy"));
  std::vector<std::string> policies =
      requested ? *requested : (other_namespace ? std::vector<std::string>{} : parent.policies);
  policies = sanitize_policies(policies, !no_default.value_or(false));
  const bool wants_root = std::find(policies.begin(), policies.end(), "root") != policies.end();
  if (wants_root && (!parent_root || other_namespace)) {
    return Error::invalid("root tokens may only be created by a root token in the same namespace");
  }
  for (const auto& p : policies) {
    if (p == policy::kResponseWrappingPolicyName || p == "control-group") {
      return Error::invalid("cannot assign policy \"" + p + "\"");
    }
  }
  if (!sudo) {
    std::vector<std::string> allowed = sanitize_policies(parent.policies, true);
    if (!subset(policies, allowed)) return Error::invalid("child policies must be subset of parent");
  }

  TokenEntry entry;
  entry.policies = policies;
  entry.namespace_id = ctx.ns.record.id;
  entry.path = orphan_endpoint ? "auth/token/create-orphan" : "auth/token/create";
  COFFER_TRY(auto display, fields::get_string(body, "display_name"));
  std::string name = display ? policy::normalize_policy_name(*display) : std::string{};
  entry.display_name = name.empty() ? "token" : "token-" + name;
  COFFER_TRY(auto meta, fields::get_string_map(body, "meta"));
  if (meta) entry.meta = *meta;
  entry.num_uses = num_uses.value_or(0);
  COFFER_TRY(auto renewable, fields::get_bool(body, "renewable"));
  entry.renewable = renewable.value_or(true);
  COFFER_TRY(auto ttl, fields::get_duration(body, "ttl"));
  if (!ttl) {
    COFFER_TRY(ttl, fields::get_duration(body, "lease"));
  }
  COFFER_TRY(auto explicit_max, fields::get_duration(body, "explicit_max_ttl"));
  if (ttl.value_or(0) < 0 || explicit_max.value_or(0) < 0 || period.value_or(0) < 0) {
    return Error::invalid("TTLs must not be negative");
  }
  entry.explicit_max_ttl = explicit_max.value_or(0);
  entry.period = period.value_or(0);
  std::int64_t effective = entry.period > 0 ? entry.period : ttl.value_or(0);
  if (effective == 0 && !wants_root) effective = kDefaultTokenTtlSeconds;
  if (effective == 0 && wants_root && entry.explicit_max_ttl > 0) effective = entry.explicit_max_ttl;
  if (entry.explicit_max_ttl > 0 && effective > entry.explicit_max_ttl) effective = entry.explicit_max_ttl;
  if (entry.period == 0 && effective > kMaxTokenTtlSeconds) effective = kMaxTokenTtlSeconds;
  if (entry.period > 0) entry.renewable = true;
  entry.ttl_seconds = effective;
  entry.creation_unix = unix_seconds(ctx.now);
  entry.expire_unix_ns = effective > 0 ? unix_ns(ctx.now) + effective * 1'000'000'000 : 0;
  const bool orphan = orphan_endpoint || no_parent.value_or(false);
  if (!orphan) {
    entry.parent = parent.hash;
    entry.entity_id = parent.entity_id;
  }
  COFFER_TRY(auto created, ctx.core.tokens.create(std::move(entry), custom_id.value_or("")));
  Response resp;
  resp.data = auth_block(*created.second, &created.first, ctx.now);
  return resp;
}

Result<Response> renew(TokenContext& ctx, const TokenPtr& target, const SecureString* id, const Json& body) {
  if (!target) return Error::invalid("invalid token");
  COFFER_TRY(auto increment, fields::get_duration(body, "increment"));
  TokenEntry next = *target;
  if (next.expire_unix_ns != 0) {
    if (!next.renewable) return Error::invalid("lease is not renewable");
    // A login token: its auth method checks the login again first.
    COFFER_TRY_STATUS(auth::renew_login_token(ctx.core, *target, ctx.now, ctx.renewal));
    std::int64_t ttl = next.period > 0 ? next.period : increment.value_or(0) > 0 ? *increment : next.ttl_seconds;
    std::int64_t new_expire = unix_ns(ctx.now) + ttl * 1'000'000'000;
    if (next.period == 0) {
      const std::int64_t created_ns = next.creation_unix * 1'000'000'000;
      std::int64_t max = kMaxTokenTtlSeconds;
      if (next.explicit_max_ttl > 0) max = std::min(max, next.explicit_max_ttl);
      new_expire = std::min(new_expire, created_ns + max * 1'000'000'000);
    } else if (next.explicit_max_ttl > 0) {
      new_expire = std::min(new_expire, next.creation_unix * 1'000'000'000 + next.explicit_max_ttl * 1'000'000'000);
    }
    next.expire_unix_ns = new_expire;
    next.last_renewal_unix = unix_seconds(ctx.now);
    COFFER_TRY_STATUS(ctx.core.tokens.update(next));
  }
  Response resp;
  resp.data = auth_block(next, id, ctx.now);
  return resp;
}

Status revoke(TokenContext& ctx, const TokenPtr& target) {
  if (!target) return {};  // revoking an unknown token succeeds, as in Vault
  COFFER_TRY_STATUS(ctx.core.tokens.revoke_tree(target->hash));
  ctx.core.acls.forget_token(target->hash);
  return {};
}

}  // namespace

Json token_lookup_data(Core::Impl& core, const TokenEntry& e, std::string_view id) {
  const TimePoint now = Clock::now();
  Json data{{"accessor", e.accessor},
            {"creation_time", e.creation_unix},
            {"creation_ttl", e.ttl_seconds},
            {"display_name", e.display_name},
            {"entity_id", e.entity_id},
            {"expire_time", e.expire_unix_ns == 0 ? Json(nullptr) : Json(format_time(TimePoint(std::chrono::nanoseconds(e.expire_unix_ns))))},
            {"explicit_max_ttl", e.explicit_max_ttl},
            {"id", to_secure(id)},
            {"issue_time", format_time(TimePoint(std::chrono::seconds(e.creation_unix)))},
            {"meta", string_map_or_null(e.meta)},
            {"num_uses", std::max<std::int64_t>(e.num_uses, 0)},
            {"orphan", e.orphan},
            {"path", e.path},
            {"policies", string_list(sorted(e.policies))},
            {"renewable", e.renewable},
            {"ttl", remaining_ttl(e, now)},
            {"type", e.type}};
  if (e.period > 0) data["period"] = e.period;
  if (e.last_renewal_unix > 0) {
    data["last_renewal"] = format_time(TimePoint(std::chrono::seconds(e.last_renewal_unix)));
    data["last_renewal_time"] = e.last_renewal_unix;
  }
  if (e.namespace_id != "root") {
    if (NamespaceNode* ns = core.router.find_namespace_by_id(e.namespace_id)) data["namespace_path"] = ns->record.path;
  }
  // Identity policies (vault-semantics §9.3): the token's own namespace's
  // under identity_policies, the others by namespace id.
  EntityPolicies from_entity = core.identity_policies_of(e);
  if (auto own = from_entity.by_namespace.find(e.namespace_id); own != from_entity.by_namespace.end()) {
    if (!own->second.empty()) data["identity_policies"] = string_list(own->second);
    from_entity.by_namespace.erase(own);
  }
  if (!from_entity.by_namespace.empty()) {
    Json external = Json::object();
    for (const auto& [ns_id, names] : from_entity.by_namespace) external[to_secure(ns_id)] = string_list(names);
    data["external_namespace_policies"] = std::move(external);
  }
  return data;
}

Result<Response> handle_token(TokenContext& ctx, Operation op, std::string_view rel, const Json& body) {
  const bool write = op == Operation::Create || op == Operation::Update;
  auto lookup_reply = [&](const TokenEntry& e, std::string_view id) {
    Response resp;
    resp.data = token_lookup_data(ctx.core, e, id);
    return resp;
  };
  if (rel == "create" || rel == "create-orphan") {
    if (!write) return unsupported_path(rel);
    return create(ctx, body, rel == "create-orphan");
  }
  if (rel == "lookup-self") {
    if (op != Operation::Read && !write) return unsupported_path(rel);
    return lookup_reply(*ctx.auth.token, as_view(ctx.auth.token_id));
  }
  if (rel == "lookup") {
    if (op != Operation::Read && !write) return unsupported_path(rel);
    SecureString id;
    COFFER_TRY(auto target, body_token(ctx, body, id));
    if (!target) return Error::invalid("bad token");
    return lookup_reply(*target, as_view(id));
  }
  if (rel == "lookup-accessor") {
    if (!write) return unsupported_path(rel);
    COFFER_TRY(auto target, body_accessor(ctx, body));
    if (!target) return Error::invalid("invalid accessor");
    return lookup_reply(*target, "");
  }
  if (rel == "renew-self") {
    if (!write) return unsupported_path(rel);
    return renew(ctx, ctx.auth.token, &ctx.auth.token_id, body);
  }
  if (rel == "renew") {
    if (!write) return unsupported_path(rel);
    SecureString id;
    COFFER_TRY(auto target, body_token(ctx, body, id));
    return renew(ctx, target, &id, body);
  }
  if (rel == "renew-accessor") {
    if (!write) return unsupported_path(rel);
    COFFER_TRY(auto target, body_accessor(ctx, body));
    if (!target) return Error::invalid("invalid accessor");
    return renew(ctx, target, nullptr, body);
  }
  if (rel == "revoke-self") {
    if (!write) return unsupported_path(rel);
    COFFER_TRY_STATUS(revoke(ctx, ctx.auth.token));
    return Response{};
  }
  if (rel == "revoke") {
    if (!write) return unsupported_path(rel);
    SecureString id;
    COFFER_TRY(auto target, body_token(ctx, body, id));
    COFFER_TRY_STATUS(revoke(ctx, target));
    return Response{};
  }
  if (rel == "revoke-accessor") {
    if (!write) return unsupported_path(rel);
    COFFER_TRY(auto target, body_accessor(ctx, body));
    COFFER_TRY_STATUS(revoke(ctx, target));
    return Response{};
  }
  if (rel == "revoke-orphan") {
    if (!write) return unsupported_path(rel);
    if (!ctx.auth.sudo && !ctx.auth.token->is_root()) {
      return Error::denied("root or sudo privileges required to revoke and orphan");
    }
    SecureString id;
    COFFER_TRY(auto target, body_token(ctx, body, id));
    if (target) {
      COFFER_TRY_STATUS(ctx.core.tokens.revoke_orphan(target->hash));
      ctx.core.acls.forget_token(target->hash);
    }
    return Response{};
  }
  if (rel == "accessors" || rel == "accessors/") {
    if (op != Operation::List) return unsupported_path(rel);
    COFFER_TRY(auto keys, ctx.core.tokens.accessors(ctx.ns.record.id));
    Response resp;
    resp.data["keys"] = string_list(keys);
    return resp;
  }
  if (rel.empty() || rel == "/") {
    if (op != Operation::List && op != Operation::Read) return unsupported_path(rel);
    Response resp;
    resp.data["keys"] = Json::array({"accessors/", "create", "create-orphan", "lookup", "lookup-accessor",
                                     "lookup-self", "renew", "renew-accessor", "renew-self", "revoke",
                                     "revoke-accessor", "revoke-orphan", "revoke-self"});
    return resp;
  }
  return unsupported_path(rel);
}

}  // namespace engine
