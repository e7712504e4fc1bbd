// SPDX-License-Identifier: MPL-2.0
#include "engine/token/token_backend.hpp"

#include <algorithm>

#include "engine/token/login.hpp"
#include "engine/backend/path_table.hpp"
#include "engine/common/fields.hpp"
#include "engine/common/json_values.hpp"
#include "engine/common/time.hpp"
#include "engine/policy/policy.hpp"
#include "engine/token/auth.hpp"
#include "engine/token/token_acl.hpp"

namespace engine {
namespace {

// One request's view: the stores, the namespace, the caller.
struct TokenContext {
  TokenStores& stores;
  NamespaceNode& ns;  // the namespace whose auth/token/ this is
  const Auth& auth;   // the caller
  TimePoint now;
  const auth::PreparedRenewal* renewal = nullptr;
};

Error unsupported_path(std::string_view rel) { return Error::unsupported_path("auth/token/" + std::string(rel)); }

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
  return std::all_of(child.begin(), child.end(),
                     [&](const std::string& p) { return std::find(parent.begin(), parent.end(), p) != parent.end(); });
}

std::int64_t unix_ns(TimePoint t) { return t.time_since_epoch().count(); }

// A token is reachable from namespace N's token store only when it belongs
// to N or to a namespace below N (token_within_namespace): outside that it
// is as unknown. Vault looks a token up in its own namespace (its id and
// accessor carry it) and requires the request namespace to be that one or a
// parent of it.
TokenPtr within(TokenContext& ctx, TokenPtr found) {
  if (found && !token_within_namespace(ctx.stores.router, *found, ctx.ns)) return TokenPtr{};
  return found;
}

// The token a request names in its body ("token"); nullopt when the body
// names none. nullptr for unknown, revoked or expired tokens and for tokens
// outside the store's namespace.
Result<std::optional<TokenPtr>> body_token(TokenContext& ctx, const Json& body, SecureString& id_out) {
  auto it = body.find(std::string_view("token"));
  if (it == body.end() || it->is_null()) return std::optional<TokenPtr>{};
  if (!it->is_string()) return Error::invalid("field \"token\" must be a string");
  if (it->get_ref<const SecureString&>().empty()) return std::optional<TokenPtr>{};
  id_out = it->get_ref<const SecureString&>();
  COFFER_TRY(auto found, ctx.stores.tokens.lookup(as_view(id_out), ctx.now));
  return std::optional<TokenPtr>{within(ctx, std::move(found))};
}

// body_token, with Vault's "missing token ID" when the body names none.
Result<TokenPtr> required_body_token(TokenContext& ctx, const Json& body, SecureString& id_out) {
  COFFER_TRY(auto target, body_token(ctx, body, id_out));
  if (!target) return Error::invalid("missing token ID");
  return *target;
}

// The token named by "accessor" (Vault's "missing accessor" when absent).
Result<TokenPtr> body_accessor(TokenContext& ctx, const Json& body) {
  COFFER_TRY(auto accessor, fields::get_string(body, "accessor"));
  if (!accessor || accessor->empty()) return Error::invalid("missing accessor");
  COFFER_TRY(auto found, ctx.stores.tokens.lookup_accessor(*accessor, ctx.now));
  return within(ctx, std::move(found));
}

bool contains(const std::vector<std::string>& v, std::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// "token-" + the display name, trimmed and lower-cased ("token" without one).
std::string token_display_name(const std::optional<std::string>& display) {
  std::string name = display ? policy::normalize_policy_name(*display) : std::string{};
  return name.empty() ? "token" : "token-" + name;
}

// handleCreateCommon (vault/token_store.go), in Vault's order and with its
// texts; 400s are InvalidArgument (EINVAL).
Result<Response> create(TokenContext& ctx, const Json& body, bool orphan_endpoint) {
  COFFER_TRY_STATUS(fields::only(
      body, {"id", "policies", "meta", "no_parent", "no_default_policy", "renewable", "ttl", "explicit_max_ttl",
             "display_name", "num_uses", "period", "type", "lease", "entity_alias", "role_name"}));
  const TokenEntry& parent = *ctx.auth.token;
  const bool parent_root = parent.is_root();
  const bool sudo = parent_root || ctx.auth.sudo;

  // A token with a restricted number of uses cannot create a new token,
  // otherwise it could escape the restriction count.
  if (parent.num_uses != 0) return Error::invalid("restricted use token cannot generate child tokens");
  if (body.contains(std::string_view("role_name"))) return Error::unsupported("token roles are not supported yet");

  COFFER_TRY(auto requested, fields::get_string_list(body, "policies"));
  std::vector<std::string> requested_policies = requested.value_or(std::vector<std::string>{});
  // A parent namespace's token making a token in this (child) namespace: an
  // admin token for the namespace, sudo only, never root.
  const bool other_namespace = parent.namespace_id != ctx.ns.record.id;
  if (other_namespace) {
    if (!sudo)
      return Error::invalid("root or sudo privileges required to directly generate a token in a child namespace");
    for (const auto& p : requested_policies) {
      if (policy::normalize_policy_name(p) == "root") {
        return Error::invalid("root tokens may not be created from a parent namespace");
      }
    }
  }

  COFFER_TRY(auto type, fields::get_string(body, "type"));
  if (type && !type->empty() && *type != "service") {
    if (*type == "batch") return Error::unsupported("batch tokens are not supported");
    return Error::invalid("invalid 'token_type' value");
  }
  COFFER_TRY(auto num_uses, fields::get_int(body, "num_uses"));
  if (num_uses.value_or(0) < 0) return Error::invalid("number of uses cannot be negative");
  if (body.contains(std::string_view("entity_alias"))) {
    return Error::invalid("'entity_alias' is only allowed in combination with token role");
  }

  TokenEntry entry;
  entry.namespace_id = ctx.ns.record.id;
  entry.path = orphan_endpoint ? "auth/token/create-orphan" : "auth/token/create";
  COFFER_TRY(auto display, fields::get_string(body, "display_name"));
  entry.display_name = token_display_name(display);
  COFFER_TRY(auto meta, fields::get_string_map(body, "meta"));
  if (meta) entry.meta = *meta;
  entry.num_uses = num_uses.value_or(0);
  COFFER_TRY(auto renewable, fields::get_bool(body, "renewable"));
  entry.renewable = renewable.value_or(true);

  COFFER_TRY(auto custom_id, fields::get_string(body, "id"));
  if (custom_id && !custom_id->empty()) {
    if (!sudo) return Error::invalid("root or sudo privileges required to specify token id");
    if (ctx.ns.parent != nullptr)
      return Error::invalid("token IDs can only be manually specified in the root namespace");
  }

  // Policies: requested ones must be a subset of the parent's unless sudo;
  // none requested inherits the parent's; `default` is added unless
  // no_default_policy (when inheriting, only if the parent has it).
  COFFER_TRY(auto no_default_in, fields::get_bool(body, "no_default_policy"));
  const bool no_default = no_default_in.value_or(false);
  bool add_default = false;
  std::vector<std::string> policies = requested_policies;
  if (other_namespace) {
    add_default = !no_default;
  } else if (requested_policies.empty()) {
    policies = sanitize_policies(parent.policies, false);
  } else if (!sudo) {
    if (!subset(sanitize_policies(requested_policies, false), sanitize_policies(parent.policies, false))) {
      return Error::invalid("child policies must be subset of parent");
    }
    add_default = !no_default && contains(parent.policies, policy::kDefaultPolicyName);
  } else {
    add_default = !no_default;
  }
  policies = sanitize_policies(policies, add_default);
  if (no_default)
    policies.erase(std::remove(policies.begin(), policies.end(), policy::kDefaultPolicyName), policies.end());
  for (const auto& p : policies) {
    if (p == policy::kResponseWrappingPolicyName || p == "control-group") {
      return Error::invalid("cannot assign policy \"" + p + "\"");
    }
  }
  const bool wants_root = contains(policies, "root");
  if (wants_root && !parent_root)
    return Error::invalid("root tokens may not be created without parent token being root");
  entry.policies = policies;

  COFFER_TRY(auto no_parent, fields::get_bool(body, "no_parent"));
  if (no_parent.value_or(false) && !orphan_endpoint && !sudo) {
    return Error::invalid("root or sudo privileges required to create orphan token");
  }
  const bool orphan = orphan_endpoint || no_parent.value_or(false);
  if (!orphan) {
    entry.parent = parent.hash;
    entry.entity_id = parent.entity_id;
  }

  COFFER_TRY(auto explicit_max, fields::get_duration(body, "explicit_max_ttl"));
  if (explicit_max.value_or(0) < 0) return Error::invalid("explicit_max_ttl must be positive");
  entry.explicit_max_ttl = explicit_max.value_or(0);
  COFFER_TRY(auto period, fields::get_duration(body, "period"));
  if (period.value_or(0) < 0) return Error::invalid("period must be positive");
  if (period.value_or(0) > 0 && !sudo)
    return Error::invalid("root or sudo privileges required to create periodic token");
  // Stored as asked (lookup shows it, as Vault's does); every TTL computed
  // from it is capped at the max TTL.
  entry.period = period.value_or(0);
  COFFER_TRY(auto ttl, fields::get_duration(body, "ttl"));
  if (ttl.value_or(0) < 0) return Error::invalid("ttl must be positive");
  if (!ttl) {
    COFFER_TRY(ttl, fields::get_duration(body, "lease"));
    if (ttl.value_or(0) < 0) return Error::invalid("lease must be positive");
  }

  Response resp;
  const std::int64_t now_s = unix_seconds(ctx.now);
  std::int64_t effective = ttl.value_or(0);
  if (entry.period > 0 || effective > 0 || !wants_root) {
    TtlInputs in;
    in.backend_ttl = effective;
    in.period = entry.period;
    in.explicit_max_ttl = entry.explicit_max_ttl;
    in.start_unix = now_s;
    in.now_unix = now_s;
    COFFER_TRY(CalculatedTtl calc, calculate_ttl(in));
    effective = calc.ttl;
    for (auto& w : calc.warnings) resp.warnings.push_back(std::move(w));
  }
  // Root tokens are still bound by explicit max TTL.
  if (effective == 0 && entry.explicit_max_ttl > 0) effective = entry.explicit_max_ttl;
  if (effective == 0) {
    if (parent.ttl_seconds != 0) return Error::invalid("expiring root tokens cannot create non-expiring root tokens");
    entry.renewable = false;
  }
  if (entry.period > 0) entry.renewable = true;
  entry.ttl_seconds = effective;
  entry.creation_unix = now_s;
  entry.expire_unix_ns = effective > 0 ? ns_after(unix_ns(ctx.now), effective) : 0;

  if (custom_id && !custom_id->empty()) {
    // ts.create's checks on a caller-chosen id.
    if (custom_id->starts_with("hvs.")) return Error::invalid("custom token ID cannot have the 'hvs.' prefix");
    if (custom_id->starts_with("s.")) return Error::invalid("custom token ID cannot have the 's.' prefix");
    if (custom_id->find('.') != std::string::npos)
      return Error::invalid("custom token ID cannot have a '.' in the value");
    resp.warnings.push_back(
        "Supplying a custom ID for the token uses the weaker SHA1 hashing instead of the more secure SHA2-256 HMAC "
        "for token obfuscation. SHA1 hashed tokens on the wire leads to less secure lookups.");
  }
  COFFER_TRY(auto created, ctx.stores.tokens.create(std::move(entry), custom_id.value_or("")));
  resp.data = auth_block(*created.second, &created.first, ctx.now);
  // Policies that do not exist (yet) are accepted, with Vault's warning.
  for (const auto& p : created.second->policies) {
    if (p == "root") continue;
    auto text = ctx.stores.policies.text(ctx.ns.record.id, p);
    if (!text.ok() && text.error().code == ErrorCode::NotFound)
      resp.warnings.push_back("Policy \"" + p + "\" does not exist");
  }
  return resp;
}

// expiration.RenewToken: Vault's CalculateTTL from the token's creation.
Result<Response> renew(TokenContext& ctx, const TokenPtr& target, const SecureString* id, const Json& body) {
  COFFER_TRY(auto increment, fields::get_duration(body, "increment"));
  TokenEntry next = *target;
  Response resp;
  if (next.expire_unix_ns != 0) {
    if (!next.renewable) return Error::invalid("lease is not renewable");
    // A login token: its auth method checks the login again first.
    auth::LoginStores login{ctx.stores.router, ctx.stores.tokens, ctx.stores.identity, ctx.stores.acls};
    COFFER_TRY_STATUS(auth::renew_login_token(login, *target, ctx.now, ctx.renewal));
    TtlInputs in;
    in.increment = increment.value_or(0);
    in.backend_ttl = next.ttl_seconds;
    in.period = next.period;
    in.explicit_max_ttl = next.explicit_max_ttl;
    in.start_unix = next.creation_unix;
    in.now_unix = unix_seconds(ctx.now);
    COFFER_TRY(CalculatedTtl calc, calculate_ttl(in));
    resp.warnings = std::move(calc.warnings);
    next.expire_unix_ns = ns_after(unix_ns(ctx.now), calc.ttl);
    next.last_renewal_unix = unix_seconds(ctx.now);
    COFFER_TRY_STATUS(ctx.stores.tokens.update(next));
  }
  resp.data = auth_block(next, id, ctx.now);
  return resp;
}

Status revoke(TokenContext& ctx, const TokenPtr& target) {
  if (!target) return {};  // revoking an unknown token succeeds, as in Vault
  COFFER_TRY_STATUS(ctx.stores.tokens.revoke_tree(target->hash));
  ctx.stores.acls.forget_token(target->hash);
  return {};
}

}  // namespace

bool token_within_namespace(const Router& router, const TokenEntry& token, const NamespaceNode& ns) {
  if (token.namespace_id == ns.record.id) return true;
  for (const NamespaceNode* n = router.find_namespace_by_id(token.namespace_id); n != nullptr; n = n->parent) {
    if (n == &ns) return true;
  }
  return false;
}

Json token_lookup_data(const IdentityStore& identity, const Router& router, const TokenEntry& e, std::string_view id) {
  const TimePoint now = Clock::now();
  Json data{
      {"accessor", e.accessor},
      {"creation_time", e.creation_unix},
      {"creation_ttl", e.ttl_seconds},
      {"display_name", e.display_name},
      {"entity_id", e.entity_id},
      {"expire_time", e.expire_unix_ns == 0 ? Json(nullptr)
                                            : Json(format_time(TimePoint(std::chrono::nanoseconds(e.expire_unix_ns))))},
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
    if (NamespaceNode* ns = router.find_namespace_by_id(e.namespace_id)) data["namespace_path"] = ns->record.path;
  }
  // Identity policies (vault-semantics §9.3): the token's own namespace's
  // under identity_policies, the others by namespace id.
  EntityPolicies from_entity = identity_policies_of(identity, router, e);
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

namespace {

// The token store's path table: its root-protected paths.
constexpr PathRule kTokenPaths[] = {
    {"revoke-orphan/", PathMatch::Prefix, PathOps::Any, {.sudo = true}},
    {"accessors", PathMatch::Prefix, PathOps::List, {.sudo = true}},
};

Result<Response> handle_token(TokenContext& ctx, Operation op, std::string_view rel, const Json& body) {
  const bool write = op == Operation::Create || op == Operation::Update;
  auto lookup_reply = [&](const TokenEntry& e, std::string_view id) {
    Response resp;
    resp.data = token_lookup_data(ctx.stores.identity, ctx.stores.router, e, id);
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
    // No token in a written body: the caller's own (Vault's handleLookup).
    // A read names none and stays an error: a readable file showing the
    // reader's own token id is lookup-self alone.
    SecureString id;
    COFFER_TRY(auto target, body_token(ctx, body, id));
    if (!target && !write) return Error::invalid("missing token ID");
    if (!target) return lookup_reply(*ctx.auth.token, as_view(ctx.auth.token_id));
    if (!*target) return Error::denied("bad token");
    return lookup_reply(**target, as_view(id));
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
    COFFER_TRY(auto target, required_body_token(ctx, body, id));
    if (!target) return Error::invalid("token not found");
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
    COFFER_TRY(auto target, required_body_token(ctx, body, id));
    COFFER_TRY_STATUS(revoke(ctx, target));
    return Response{};
  }
  if (rel == "revoke-accessor") {
    if (!write) return unsupported_path(rel);
    COFFER_TRY(auto target, body_accessor(ctx, body));
    Response resp;
    if (!target) {
      resp.warnings.push_back("No token found with this accessor");
      return resp;
    }
    COFFER_TRY_STATUS(revoke(ctx, target));
    return resp;
  }
  if (rel == "revoke-orphan") {
    if (!write) return unsupported_path(rel);
    SecureString id;
    COFFER_TRY(auto named, body_token(ctx, body, id));
    if (!named) return Error::invalid("missing token ID");
    if (!ctx.auth.sudo && !ctx.auth.token->is_root()) {
      return Error::invalid("root or sudo privileges required to revoke and orphan");
    }
    const TokenPtr& target = *named;
    if (!target) return Error::invalid("token to revoke not found");
    COFFER_TRY_STATUS(ctx.stores.tokens.revoke_orphan(target->hash));
    ctx.stores.acls.forget_token(target->hash);
    return Response{};
  }
  if (rel == "accessors" || rel == "accessors/") {
    if (op != Operation::List) return unsupported_path(rel);
    COFFER_TRY(auto keys, ctx.stores.tokens.accessors(ctx.ns.record.id));
    Response resp;
    resp.data["keys"] = string_list(keys);
    return resp;
  }
  if (rel.empty() || rel == "/") {
    if (op != Operation::List && op != Operation::Read) return unsupported_path(rel);
    Response resp;
    resp.data["keys"] =
        Json::array({"accessors/", "create", "create-orphan", "lookup", "lookup-accessor", "lookup-self", "renew",
                     "renew-accessor", "renew-self", "revoke", "revoke-accessor", "revoke-orphan", "revoke-self"});
    return resp;
  }
  return unsupported_path(rel);
}

}  // namespace

Result<Response> TokenBackend::handle(const BackendRequest& req) {
  if (req.ctx == nullptr || req.ctx->auth == nullptr) return Error::internal("auth/token/ request without its caller");
  TokenContext ctx{stores_, req.ctx->ns, *req.ctx->auth, req.now, req.ctx->renewal};
  return handle_token(ctx, req.op, req.path, req.data);
}

PathProperties TokenBackend::path_properties(std::string_view rel, Operation op) const {
  return table_properties(kTokenPaths, rel, op);
}

std::string_view TokenBackend::renewal_endpoint(std::string_view rel, Operation op) {
  if (op != Operation::Update && op != Operation::Create) return {};
  for (std::string_view e : {"renew-self", "renew", "renew-accessor"}) {
    if (rel == e) return e;
  }
  return {};
}

}  // namespace engine
