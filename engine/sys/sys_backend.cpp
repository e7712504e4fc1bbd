// SPDX-License-Identifier: MPL-2.0
#include "engine/sys/sys_backend.hpp"

#include <algorithm>

#include "engine/auth/auth_method.hpp"
#include "engine/token/login.hpp"
#include "engine/backend/path_table.hpp"
#include "engine/common/fields.hpp"
#include "engine/common/json_values.hpp"
#include "engine/common/time.hpp"
#include "engine/policy/policy.hpp"
#include "engine/token/auth.hpp"
#include "engine/token/token_acl.hpp"
#include "engine/token/token_backend.hpp"

namespace engine {
namespace {

// One request's view: the stores, the namespace, the caller.
struct SysContext {
  SysStores& stores;
  NamespaceNode& ns;  // the namespace whose sys/ this is
  const Auth& auth;
  TimePoint now;
  bool exclusive;  // the core lock is held exclusively (topology may change)
};

// The system backend's path table (below sys/); sys/audit, audit-hash and
// monitor are in the audit backend's. root_only: the endpoints of the root
// namespace only (vault-semantics §8.3), most of which Coffer does not
// serve at all (they answer "unsupported path" everywhere, but elsewhere
// before the ACL check). sudo: Vault's root-protected paths (§9.5).
// exclusive: writes that change the namespace tree or a mount table, or seal.
constexpr PathProperties kRootOnly{.root_only = true};
constexpr PathProperties kSudo{.sudo = true};
constexpr PathProperties kExclusive{.exclusive = true};
constexpr PathRule kSysPaths[] = {
    // Root namespace only.
    {"config/cors", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"config/auditing", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"config/reload", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"config/state", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"config/ui", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"config/group-policy-application", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"generate-root", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"generate-recovery-token", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"health", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"host-info", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"in-flight-req", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"init", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"key-status", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"loggers", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"metrics", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"mfa/method", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"pprof", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"raw", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"rekey", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"rekey-recovery-key", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"replication", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"rotate", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"seal", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"seal-status", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"sealwrap/rewrap", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"step-down", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"storage", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"unseal", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"decode-token", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"experiments", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"managed-keys", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"internal/counters", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"internal/inspect/router", PathMatch::Tree, PathOps::Any, kRootOnly},
    {"quotas", PathMatch::Tree, PathOps::Any, kRootOnly},
    // Root-protected: sudo on top of the operation's capability.
    {"auth/", PathMatch::Prefix, PathOps::Any, kSudo},
    {"raw", PathMatch::Prefix, PathOps::Any, kSudo},
    {"rotate", PathMatch::Prefix, PathOps::Any, kSudo},
    {"leases/revoke-prefix/", PathMatch::Prefix, PathOps::Any, kSudo},
    {"leases/revoke-force/", PathMatch::Prefix, PathOps::Any, kSudo},
    {"leases/lookup/", PathMatch::Prefix, PathOps::Any, kSudo},
    {"revoke-prefix/", PathMatch::Prefix, PathOps::Any, kSudo},
    {"revoke-force/", PathMatch::Prefix, PathOps::Any, kSudo},
    {"plugins/catalog/", PathMatch::Prefix, PathOps::Any, kSudo},
    {"config/auditing/", PathMatch::Prefix, PathOps::Any, kSudo},
    {"config/ui/headers/", PathMatch::Prefix, PathOps::Any, kSudo},
    {"remount", PathMatch::Exact, PathOps::Any, kSudo},
    {"seal", PathMatch::Exact, PathOps::Any, kSudo},
    {"step-down", PathMatch::Exact, PathOps::Any, kSudo},
    {"config/cors", PathMatch::Exact, PathOps::Any, kSudo},
    // Topology changes: the core lock exclusively.
    {"mounts", PathMatch::Prefix, PathOps::Writes, kExclusive},
    {"namespaces", PathMatch::Prefix, PathOps::Writes, kExclusive},
    {"seal", PathMatch::Exact, PathOps::Writes, kExclusive},
    {"auth", PathMatch::Tree, PathOps::Writes, kExclusive},
};

Error unsupported_path(std::string_view rel) { return Error::unsupported_path("sys/" + std::string(rel)); }

bool is_root_namespace(const SysContext& ctx) { return ctx.ns.parent == nullptr; }

// ---- sys/mounts ----------------------------------------------------------

Json mount_info(const MountEntry& e) {
  Json options = Json::object();
  for (const auto& [k, v] : e.options) options[to_secure(k)] = v;
  return Json{
      {"accessor", e.accessor},
      {"config",
       {{"default_lease_ttl", e.default_lease_ttl}, {"force_no_cache", false}, {"max_lease_ttl", e.max_lease_ttl}}},
      {"description", e.description},
      {"external_entropy_access", false},
      {"local", false},
      {"options", e.type == "kv" ? options : Json(nullptr)},
      {"plugin_version", ""},
      {"running_plugin_version", ""},
      {"running_sha256", ""},
      {"seal_wrap", false},
      {"type", e.type},
      {"uuid", e.uuid}};
}

Json tune_info(const MountEntry& e) {
  Json options = Json::object();
  for (const auto& [k, v] : e.options) options[to_secure(k)] = v;
  Json info{{"default_lease_ttl", e.default_lease_ttl},
            {"description", e.description},
            {"force_no_cache", false},
            {"max_lease_ttl", e.max_lease_ttl},
            {"options", options}};
  // Vault shows the tuned user lockout values (as tuned: 0 = not set).
  if (e.lockout_tuned) {
    info["user_lockout_counter_reset_duration"] = e.lockout_counter_reset;
    info["user_lockout_threshold"] = e.lockout_threshold;
    info["user_lockout_duration"] = e.lockout_duration;
    info["user_lockout_disable"] = e.lockout_disable;
  }
  return info;
}

// Vault's user_lockout_config of a tune (APIUserLockoutConfig): values as
// strings (numbers taken too), durations Go-style or seconds, "system" = 0
// (the default applies again).
Status tune_lockout(const Json& config, MountEntry& entry) {
  if (!config.is_object()) return Error::invalid("unable to convert given user lockout config information");
  if (config.empty()) return {};
  if (!entry.is_auth() || !auth::lockout_supported(entry.type)) {
    return Error::invalid("tuning of user lockout configuration for auth type \"" + entry.type + "\" not allowed");
  }
  COFFER_TRY_STATUS(fields::only(
      config, {"lockout_threshold", "lockout_duration", "lockout_counter_reset_duration", "lockout_disable"}));
  auto duration = [&](std::string_view key, std::int64_t& out) -> Status {
    auto it = config.find(key);
    if (it == config.end() || it->is_null()) return {};
    if (it->is_string() && as_view(it->get_ref<const SecureString&>()) == "system") {
      out = 0;
      return {};
    }
    COFFER_TRY(auto v, fields::get_duration(config, key));
    if (v && *v < 0) return Error::invalid(std::string(key) + " cannot be negative");
    if (v) out = *v;
    return {};
  };
  MountEntry next = entry;
  if (auto it = config.find(std::string_view("lockout_threshold")); it != config.end() && !it->is_null()) {
    COFFER_TRY(auto v, fields::get_int(config, "lockout_threshold"));
    if (!v || *v < 0) return Error::invalid("unable to parse user lockout threshold");
    next.lockout_threshold = *v;
  }
  COFFER_TRY_STATUS(duration("lockout_duration", next.lockout_duration));
  COFFER_TRY_STATUS(duration("lockout_counter_reset_duration", next.lockout_counter_reset));
  COFFER_TRY(auto disable, fields::get_bool(config, "lockout_disable"));
  if (disable) next.lockout_disable = *disable;
  next.lockout_tuned = true;
  entry = std::move(next);
  return {};
}

// Entries of sys/mounts/<dir>: mounts one segment below dir are files, deeper
// ones show their next segment as a folder.
// `auth` lists the auth mounts instead (dir then starts with "auth/").
Response list_mounts(const NamespaceNode& ns, std::string_view dir, bool auth = false) {
  Json keys = Json::array();
  std::string last;
  for (const auto& [path, mount] : ns.mounts) {
    // A mount at dir itself has no entry below it (and no rest to trim).
    if (mount->entry.is_auth() != auth || path.size() <= dir.size() || !std::string_view(path).starts_with(dir)) {
      continue;
    }
    std::string_view rest = std::string_view(path).substr(dir.size());
    rest.remove_suffix(1);  // the mount path's trailing '/'
    auto slash = rest.find('/');
    std::string key = slash == std::string_view::npos ? std::string(rest) : std::string(rest.substr(0, slash + 1));
    if (key != last) keys.push_back(key);
    last = key;
  }
  Response resp;
  resp.data["keys"] = std::move(keys);
  return resp;
}

Result<std::int64_t> checked_ttl(const Json& body, std::string_view key, std::int64_t current) {
  COFFER_TRY(auto v, fields::get_duration(body, key));
  return v.value_or(current);
}

// What sys/mounts/PATH and sys/auth/PATH share: path, type (required) and description.
Result<MountEntry> entry_from_body(std::string_view path, const Json& body) {
  COFFER_TRY(auto type, fields::get_string(body, "type"));
  if (!type || type->empty()) return Error::invalid("missing required field \"type\"");
  MountEntry entry;
  entry.path = canonical_mount_path(path);
  entry.type = *type;
  COFFER_TRY(auto description, fields::get_string(body, "description"));
  entry.description = description.value_or("");
  return entry;
}

Result<Response> enable_mount(SysContext& ctx, std::string_view path, const Json& body) {
  COFFER_TRY_STATUS(fields::only(body, {"type", "description", "config", "options", "version", "local", "seal_wrap",
                                        "external_entropy_access", "plugin_name", "plugin_version"}));
  COFFER_TRY(MountEntry entry, entry_from_body(path, body));
  COFFER_TRY(auto options, fields::get_string_map(body, "options"));
  if (options) entry.options = *options;
  for (const auto& [k, v] : entry.options) {
    if (k != "version") return Error::invalid("unknown mount option \"" + k + "\"");
  }
  COFFER_TRY(auto version, fields::get_string(body, "version"));
  if (version) entry.options["version"] = *version;
  if (entry.type == "kv-v2") {
    entry.type = "kv";
    entry.options["version"] = "2";
  }
  if (entry.type == "kv" && !entry.options.contains("version")) entry.options["version"] = "1";
  if (auto it = body.find(std::string_view("config")); it != body.end() && !it->is_null()) {
    COFFER_TRY_STATUS(fields::only(*it, {"default_lease_ttl", "max_lease_ttl"}));
    COFFER_TRY(entry.default_lease_ttl, checked_ttl(*it, "default_lease_ttl", 0));
    COFFER_TRY(entry.max_lease_ttl, checked_ttl(*it, "max_lease_ttl", 0));
  }
  COFFER_TRY(auto mount, ctx.stores.router.enable_mount(ctx.ns, std::move(entry), ctx.now));
  (void)mount;
  return Response{};
}

Result<Response> tune_mount(SysContext& ctx, const std::shared_ptr<Mount>& mount, Operation op, const Json& body) {
  if (op == Operation::Read) return Response{tune_info(mount->entry), {}, {}};
  if (op != Operation::Update && op != Operation::Create) return Error::unsupported("tune supports read and write");
  COFFER_TRY_STATUS(
      fields::only(body, {"default_lease_ttl", "max_lease_ttl", "description", "options", "user_lockout_config"}));
  MountEntry updated = mount->entry;
  if (auto it = body.find(std::string_view("user_lockout_config")); it != body.end() && !it->is_null()) {
    COFFER_TRY_STATUS(tune_lockout(*it, updated));
  }
  COFFER_TRY(updated.default_lease_ttl, checked_ttl(body, "default_lease_ttl", updated.default_lease_ttl));
  COFFER_TRY(updated.max_lease_ttl, checked_ttl(body, "max_lease_ttl", updated.max_lease_ttl));
  COFFER_TRY(auto description, fields::get_string(body, "description"));
  if (description) updated.description = *description;
  COFFER_TRY(auto options, fields::get_string_map(body, "options"));
  if (options) {
    for (const auto& [k, v] : *options) {
      if (k != "version") return Error::invalid("unknown mount option \"" + k + "\"");
      if (v != updated.options["version"]) {
        return Error::invalid("changing the kv version of a mount is not supported");
      }
    }
  }
  if (updated.max_lease_ttl != 0 && updated.default_lease_ttl > updated.max_lease_ttl) {
    return Error::invalid("default lease TTL cannot be greater than the maximum lease TTL");
  }
  COFFER_TRY_STATUS(ctx.stores.router.update_mount(ctx.ns, updated));
  return Response{};
}

Result<Response> handle_mounts(SysContext& ctx, Operation op, std::string_view rel, const Json& body) {
  // rel is "mounts", "mounts/", "mounts/<path>" or "mounts/<path>/tune".
  std::string_view path = rel.size() > 7 ? rel.substr(7) : std::string_view{};
  if (op == Operation::List) return list_mounts(ctx.ns, path);
  if (path.empty()) {
    if (op != Operation::Read) return unsupported_path(rel);
    Response resp;
    for (const auto& [mpath, mount] : ctx.ns.mounts) {
      if (!mount->entry.is_auth()) resp.data[to_secure(mpath)] = mount_info(mount->entry);
    }
    return resp;
  }
  auto find = [&](std::string_view p) -> std::shared_ptr<Mount> {
    auto it = ctx.ns.mounts.find(canonical_mount_path(p));
    return it == ctx.ns.mounts.end() || it->second->entry.is_auth() ? nullptr : it->second;
  };
  // ".../tune" is the tune endpoint of the mount before it, when there is one.
  if (path.ends_with("/tune")) {
    if (auto mount = find(path.substr(0, path.size() - 5))) return tune_mount(ctx, mount, op, body);
  }
  switch (op) {
    case Operation::Read: {
      auto mount = find(path);
      if (!mount) return Error::not_found("no mount at \"" + ctx.ns.record.path + std::string(path) + "\"");
      return Response{mount_info(mount->entry), {}, {}};
    }
    case Operation::Create:
    case Operation::Update: return enable_mount(ctx, path, body);
    case Operation::Delete:
      if (!find(path)) return Error::not_found("no mount at " + ctx.ns.record.path + canonical_mount_path(path));
      COFFER_TRY_STATUS(ctx.stores.router.disable_mount(ctx.ns, path));
      return Response{};
    default: return unsupported_path(rel);
  }
}

// ---- sys/auth ------------------------------------------------------------
// Auth methods live in the namespace's mount table at "auth/<path>"; this
// API shows and takes paths below auth/ ("userpass/"), as Vault's.

Json auth_info(const MountEntry& e) {
  Json info = mount_info(e);
  info["options"] = nullptr;
  info["config"]["token_type"] = "default-service";
  if (e.lockout_tuned) {
    info["config"]["user_lockout_config"] = Json{{"user_lockout_counter_reset_duration", e.lockout_counter_reset},
                                                 {"user_lockout_threshold", e.lockout_threshold},
                                                 {"user_lockout_duration", e.lockout_duration},
                                                 {"user_lockout_disable", e.lockout_disable}};
  }
  return info;
}

// The token store's line in sys/auth: it is no mount entry (the core
// serves auth/token/ itself), so its accessor derives from the sys/ mount.
MountEntry token_entry(const NamespaceNode& ns) {
  MountEntry e;
  e.path = "auth/token/";
  e.type = "token";
  e.description = "token based credentials";
  e.namespace_id = ns.record.id;
  if (auto sys = ns.mounts.find(std::string_view("sys/")); sys != ns.mounts.end()) {
    e.accessor = auth::token_accessor(sys->second->entry.uuid);
  }
  return e;
}

Result<Response> enable_auth(SysContext& ctx, std::string_view path, const Json& body) {
  COFFER_TRY_STATUS(fields::only(body, {"type", "description", "config", "options", "local", "seal_wrap",
                                        "external_entropy_access", "plugin_name", "plugin_version"}));
  COFFER_TRY(MountEntry entry, entry_from_body(path, body));
  COFFER_TRY(auto options, fields::get_string_map(body, "options"));
  if (options && !options->empty()) return Error::invalid("auth method \"" + entry.type + "\" takes no options");
  if (auto it = body.find(std::string_view("config")); it != body.end() && !it->is_null()) {
    COFFER_TRY_STATUS(fields::only(*it, {"default_lease_ttl", "max_lease_ttl"}));
    COFFER_TRY(entry.default_lease_ttl, checked_ttl(*it, "default_lease_ttl", 0));
    COFFER_TRY(entry.max_lease_ttl, checked_ttl(*it, "max_lease_ttl", 0));
    if (entry.max_lease_ttl != 0 && entry.default_lease_ttl > entry.max_lease_ttl) {
      return Error::invalid("default lease TTL cannot be greater than the maximum lease TTL");
    }
  }
  COFFER_TRY_STATUS(auth::validate_auth_path(canonical_mount_path(entry.path)));
  if (!auth::is_enableable_type(entry.type)) {
    return Error::invalid("unknown auth method type \"" + entry.type +
                          "\" (supported: " + std::string(auth::kEnableableTypes) + ")");
  }
  COFFER_TRY(auto mount, ctx.stores.router.enable_auth(ctx.ns, std::move(entry), ctx.now));
  (void)mount;
  return Response{};
}

Result<Response> handle_auth(SysContext& ctx, Operation op, std::string_view rel, const Json& body) {
  // rel is "auth", "auth/", "auth/<path>" or "auth/<path>/tune".
  std::string_view path = rel.size() > 5 ? rel.substr(5) : std::string_view{};
  auto find = [&](std::string_view p) -> std::shared_ptr<Mount> {
    auto it = ctx.ns.mounts.find("auth/" + canonical_mount_path(p));
    return it == ctx.ns.mounts.end() ? nullptr : it->second;
  };
  if (op == Operation::List || path.empty()) {
    if (op == Operation::List) {
      Response listed = list_mounts(ctx.ns, "auth/" + std::string(path), /*auth=*/true);
      if (path.empty() || path == "/") {
        Json keys = Json::array();
        bool placed = false;
        for (const auto& k : listed.data["keys"]) {
          if (!placed && as_view(k.get_ref<const SecureString&>()) > "token") {
            keys.push_back("token");
            placed = true;
          }
          keys.push_back(k);
        }
        if (!placed) keys.push_back("token");
        listed.data["keys"] = std::move(keys);
      }
      return listed;
    }
    if (op != Operation::Read) return unsupported_path(rel);
    Response resp;
    resp.data["token/"] = auth_info(token_entry(ctx.ns));
    for (const auto& [mpath, mount] : ctx.ns.mounts) {
      if (mount->entry.is_auth()) resp.data[to_secure(mpath.substr(5))] = auth_info(mount->entry);
    }
    return resp;
  }
  if (path.ends_with("/tune")) {
    if (auto mount = find(path.substr(0, path.size() - 5))) return tune_mount(ctx, mount, op, body);
  }
  if (canonical_mount_path(path) == "token/") {
    if (op == Operation::Read) return Response{auth_info(token_entry(ctx.ns)), {}, {}};
    if (op == Operation::Delete) return Error::invalid("token credential backend cannot be disabled");
  }
  switch (op) {
    case Operation::Read: {
      auto mount = find(path);
      if (!mount)
        return Error::not_found("no auth method at \"" + ctx.ns.record.path + "auth/" + std::string(path) + "\"");
      return Response{auth_info(mount->entry), {}, {}};
    }
    case Operation::Create:
    case Operation::Update: return enable_auth(ctx, path, body);
    case Operation::Delete: {
      auto mount = find(path);
      // Vault: disabling a path with nothing mounted succeeds.
      if (!mount) return Response{};
      // Its tokens go first, then its data and entry.
      auth::LoginStores login{ctx.stores.router, ctx.stores.tokens, ctx.stores.identity, ctx.stores.acls};
      COFFER_TRY_STATUS(auth::revoke_mount_tokens(login, ctx.ns, mount->entry, ctx.now));
      const std::string accessor = mount->entry.accessor;
      COFFER_TRY_STATUS(ctx.stores.router.disable_mount(ctx.ns, mount->entry.path));
      COFFER_TRY_STATUS(ctx.stores.lockout.forget_mount(ctx.ns.record.id, accessor));
      return Response{};
    }
    default: return unsupported_path(rel);
  }
}

// ---- sys/namespaces ------------------------------------------------------

Json namespace_info(const NamespaceRecord& rec) {
  Json meta = Json::object();
  for (const auto& [k, v] : rec.custom_metadata) meta[to_secure(k)] = v;
  return Json{{"id", rec.id}, {"path", rec.path}, {"custom_metadata", meta}};
}

// custom_metadata of a create: an object of strings.
Result<std::map<std::string, std::string>> metadata_of(const Json& body) {
  COFFER_TRY_STATUS(fields::only(body, {"custom_metadata"}));
  COFFER_TRY(auto meta, fields::get_string_map(body, "custom_metadata"));
  return meta.value_or(std::map<std::string, std::string>{});
}

// JSON merge patch of custom_metadata (vault-semantics §8.4).
Result<std::map<std::string, std::string>> patched_metadata(std::map<std::string, std::string> current,
                                                            const Json& body) {
  COFFER_TRY_STATUS(fields::only(body, {"custom_metadata"}));
  auto it = body.find(std::string_view("custom_metadata"));
  if (it == body.end()) return current;
  if (it->is_null()) return std::map<std::string, std::string>{};
  if (!it->is_object()) return Error::invalid("field \"custom_metadata\" must be an object");
  for (const auto& [k, v] : it->items()) {
    if (v.is_null())
      current.erase(std::string(k));
    else if (v.is_string())
      current[std::string(k)] = v.get<std::string>();
    else
      return Error::invalid("custom_metadata value for \"" + std::string(k) + "\" must be a string or null");
  }
  return current;
}

Result<Response> handle_namespaces(SysContext& ctx, Operation op, std::string_view rel, const Json& body) {
  std::string_view name = rel.size() > 11 ? rel.substr(11) : std::string_view{};
  if (!name.empty() && name.back() == '/') name.remove_suffix(1);
  Router& router = ctx.stores.router;
  if (op == Operation::List || name.empty()) {
    if (op != Operation::List && op != Operation::Read) return unsupported_path(rel);
    Json keys = Json::array();
    Json key_info = Json::object();
    for (const auto& [child, node] : ctx.ns.children) {
      keys.push_back(child + "/");
      key_info[to_secure(child + "/")] = namespace_info(node->record);
    }
    Response resp;
    resp.data = {{"keys", keys}, {"key_info", key_info}};
    return resp;
  }
  if (name.find('/') != std::string_view::npos) {
    return Error::invalid("namespace name must be a single path segment; create nested namespaces from their parent");
  }
  auto child = ctx.ns.children.find(name);
  switch (op) {
    case Operation::Read:
      if (child == ctx.ns.children.end()) return Error::not_found("namespace \"" + std::string(name) + "\" not found");
      return Response{namespace_info(child->second->record), {}, {}};
    case Operation::Create:
    case Operation::Update: {
      COFFER_TRY(auto meta, metadata_of(body));
      if (child != ctx.ns.children.end()) {
        COFFER_TRY_STATUS(router.set_namespace_metadata(*child->second, std::move(meta)));
        return Response{namespace_info(child->second->record), {}, {}};
      }
      COFFER_TRY(const NamespaceRecord* rec, router.create_namespace(ctx.ns, name, std::move(meta), ctx.now));
      return Response{namespace_info(*rec), {}, {}};
    }
    case Operation::Patch: {
      if (child == ctx.ns.children.end()) return Error::not_found("namespace \"" + std::string(name) + "\" not found");
      COFFER_TRY(auto meta, patched_metadata(child->second->record.custom_metadata, body));
      COFFER_TRY_STATUS(router.set_namespace_metadata(*child->second, std::move(meta)));
      return Response{namespace_info(child->second->record), {}, {}};
    }
    case Operation::Delete: {
      const std::string gone_id = child != ctx.ns.children.end() ? child->second->record.id : std::string();
      COFFER_TRY_STATUS(router.delete_namespace(ctx.ns, name, /*require_no_mounts=*/false));
      // Its policies are gone from storage; cached ones and compiled ACLs go too.
      ctx.stores.policies.forget_all();
      if (!gone_id.empty()) ctx.stores.identity.forget_namespace(gone_id);  // its entities and groups
      // Its tokens die with it (with their subtrees), as in Vault.
      if (!gone_id.empty()) COFFER_TRY_STATUS(ctx.stores.tokens.revoke_namespace(gone_id));
      if (!gone_id.empty()) COFFER_TRY_STATUS(ctx.stores.lockout.forget_namespace(gone_id));
      return Response{};
    }
    default: return unsupported_path(rel);
  }
}

// ---- sys/policies/acl, sys/policy ----------------------------------------

// The policy text of a write body: "policy" (or legacy "rules").
Result<std::string> policy_text(const Json& body, bool legacy) {
  COFFER_TRY_STATUS(legacy ? fields::only(body, {"policy", "rules", "name"}) : fields::only(body, {"policy", "name"}));
  COFFER_TRY(auto text, fields::get_string(body, "policy"));
  if (!text && legacy) {
    COFFER_TRY(text, fields::get_string(body, "rules"));
  }
  if (!text || text->find_first_not_of(" \t\r\n") == std::string::npos) {
    return Error::invalid("'policy' parameter not supplied or empty");
  }
  return std::move(*text);
}

// `rel` below sys/: "policies/acl[/<name>]" or (legacy) "policy[/<name>]".
Result<Response> handle_policies(SysContext& ctx, Operation op, std::string_view rel, const Json& body) {
  const bool legacy = rel.starts_with("policy");
  std::string_view raw = legacy ? rel.substr(6) : rel.substr(12);
  if (!raw.empty() && raw.front() == '/') raw.remove_prefix(1);
  if (!raw.empty() && raw.back() == '/') raw.remove_suffix(1);
  PolicyStore& store = ctx.stores.policies;
  const std::string& ns_id = ctx.ns.record.id;
  if (raw.empty() || op == Operation::List) {
    if (op != Operation::List && !(legacy && op == Operation::Read)) return unsupported_path(rel);
    COFFER_TRY(auto names, store.list(ns_id, is_root_namespace(ctx)));
    // LIST sys/policies/acl/<prefix>: the names starting with it.
    std::erase_if(names, [&](const std::string& n) { return !n.starts_with(raw); });
    Response resp;
    resp.data["keys"] = string_list(names);
    if (legacy) resp.data["policies"] = string_list(names);
    return resp;
  }
  const std::string name = policy::normalize_policy_name(raw);
  switch (op) {
    case Operation::Read: {
      if (name == policy::kRootPolicyName) return Error::not_found("policy \"root\" has no text: it grants everything");
      COFFER_TRY(auto text, store.text(ns_id, name));
      Response resp;
      resp.data = Json{{"name", name}, {legacy ? "rules" : "policy", text}};
      return resp;
    }
    case Operation::Create:
    case Operation::Update: {
      COFFER_TRY(auto text, policy_text(body, legacy));
      COFFER_TRY_STATUS(store.set(ns_id, ctx.ns.record.path, name, text, ctx.now));
      return Response{};
    }
    case Operation::Delete: COFFER_TRY_STATUS(store.remove(ns_id, name)); return Response{};
    default: return unsupported_path(rel);
  }
}

// ---- sys/capabilities, -self, -accessor ------------------------------------

// Paths of a capabilities request: "paths" (list or comma string) or "path".
Result<std::vector<std::string>> capability_paths(const Json& body) {
  COFFER_TRY(auto paths, fields::get_string_list(body, "paths"));
  if (!paths || paths->empty()) {
    COFFER_TRY(paths, fields::get_string_list(body, "path"));
  }
  if (!paths || paths->empty()) return Error::invalid("missing paths");
  return std::move(*paths);
}

Result<Response> capabilities_reply(SysContext& ctx, const policy::Acl& acl, const std::vector<std::string>& paths) {
  Response resp;
  for (const auto& p : paths) {
    std::string_view rel = p;
    while (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
    // Paths are relative to the namespace of the request.
    resp.data[to_secure(p)] = string_list(acl.capabilities(ctx.ns.record.path + std::string(rel)));
  }
  if (paths.size() == 1) resp.data["capabilities"] = resp.data[to_secure(paths.front())];
  return resp;
}

Result<Response> handle_capabilities(SysContext& ctx, Operation op, std::string_view rel, const Json& body) {
  if (op != Operation::Create && op != Operation::Update) return unsupported_path(rel);
  if (rel == "capabilities-self") {
    COFFER_TRY_STATUS(fields::only(body, {"paths", "path", "token"}));
    COFFER_TRY(auto paths, capability_paths(body));
    return capabilities_reply(ctx, *ctx.auth.acl, paths);
  }
  if (rel == "capabilities") {
    COFFER_TRY_STATUS(fields::only(body, {"paths", "path", "token"}));
    COFFER_TRY(auto paths, capability_paths(body));
    auto it = body.find(std::string_view("token"));
    if (it == body.end() || !it->is_string() || it->get_ref<const SecureString&>().empty()) {
      return Error::invalid("missing token");
    }
    COFFER_TRY(auto entry, ctx.stores.tokens.lookup(as_view(it->get_ref<const SecureString&>()), ctx.now));
    // Only tokens of this namespace or below, as on auth/token/lookup.
    if (!entry || !token_within_namespace(ctx.stores.router, *entry, ctx.ns)) return Error::invalid("invalid token");
    COFFER_TRY(auto acl, acl_of(ctx.stores.acls, ctx.stores.identity, ctx.stores.router, *entry));
    return capabilities_reply(ctx, *acl, paths);
  }
  // capabilities-accessor
  COFFER_TRY_STATUS(fields::only(body, {"paths", "path", "accessor"}));
  COFFER_TRY(auto paths, capability_paths(body));
  COFFER_TRY(auto accessor, fields::get_string(body, "accessor"));
  if (!accessor || accessor->empty()) return Error::invalid("missing accessor");
  COFFER_TRY(auto entry, ctx.stores.tokens.lookup_accessor(*accessor, ctx.now));
  if (!entry || !token_within_namespace(ctx.stores.router, *entry, ctx.ns)) return Error::invalid("invalid accessor");
  COFFER_TRY(auto acl, acl_of(ctx.stores.acls, ctx.stores.identity, ctx.stores.router, *entry));
  return capabilities_reply(ctx, *acl, paths);
}

// ---- sys/locked-users ------------------------------------------------------
// Vault's user lockout report and unlock (engine/auth/lockout.hpp), scoped
// to the request's namespace: its own users and its descendants' (list), its
// own users only (unlock).

// The settings in force for an accessor of ns (defaults if the mount is gone).
UserLockoutConfig lockout_of(SysContext& ctx, const NamespaceNode& ns, std::string_view accessor) {
  for (const auto& [path, mount] : ns.mounts) {
    if (mount->entry.accessor == accessor) return auth::lockout_config(mount->entry, ctx.stores.opts.user_lockout);
  }
  return auth::lockout_config(MountEntry{}, ctx.stores.opts.user_lockout);
}

Result<std::vector<auth::LockoutTable::Locked>> locked_in(SysContext& ctx, const NamespaceNode& ns) {
  return ctx.stores.lockout.locked_users(
      ns.record.id, [&](std::string_view accessor) { return lockout_of(ctx, ns, accessor); }, ctx.now);
}

// Vault's LockedUsersResponse for one namespace.
Json namespace_report(const NamespaceNode& ns, const std::vector<auth::LockoutTable::Locked>& locked,
                      std::int64_t& count) {
  Json accessors = Json::array();
  count = 0;
  for (const auto& m : locked) {
    accessors.push_back(Json{{"mount_accessor", m.accessor},
                             {"counts", static_cast<std::int64_t>(m.aliases.size())},
                             {"alias_identifiers", string_list(m.aliases)}});
    count += static_cast<std::int64_t>(m.aliases.size());
  }
  return Json{{"namespace_id", ns.record.id},
              {"namespace_path", ns.record.path},
              {"counts", count},
              {"mount_accessors", std::move(accessors)}};
}

Result<Response> handle_locked_users(SysContext& ctx, Operation op, std::string_view rel, const Json& body) {
  std::string_view rest = rel.size() > 12 ? rel.substr(13) : std::string_view{};  // below "locked-users/"
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  Response resp;
  if (rest.empty()) {
    if (op == Operation::List) {
      // Not in Vault: `ls sys/locked-users` shows the mounts with locked users.
      COFFER_TRY(auto locked, locked_in(ctx, ctx.ns));
      Json keys = Json::array();
      for (const auto& m : locked) keys.push_back(m.accessor + "/");
      resp.data["keys"] = std::move(keys);
      return resp;
    }
    if (op != Operation::Read) return unsupported_path(rel);
    // GET sys/locked-users [mount_accessor]: this namespace and those below,
    // the most locked first (Vault's handleLockedUsersQuery).
    COFFER_TRY_STATUS(fields::only(body, {"mount_accessor"}));
    COFFER_TRY(auto only_accessor, fields::get_string(body, "mount_accessor"));
    std::vector<std::pair<std::int64_t, Json>> reports;
    std::int64_t total = 0;
    if (only_accessor && !only_accessor->empty()) {
      COFFER_TRY(auto locked, locked_in(ctx, ctx.ns));
      std::erase_if(locked, [&](const auto& m) { return m.accessor != *only_accessor; });
      if (locked.empty()) locked.push_back({*only_accessor, {}});
      std::int64_t count = 0;
      Json report = namespace_report(ctx.ns, locked, count);
      reports.emplace_back(count, std::move(report));
      total = count;
    } else {
      std::vector<const NamespaceNode*> todo{&ctx.ns};
      while (!todo.empty()) {
        const NamespaceNode* ns = todo.back();
        todo.pop_back();
        for (const auto& [name, child] : ns->children) todo.push_back(child.get());
        COFFER_TRY(auto locked, locked_in(ctx, *ns));
        if (locked.empty()) continue;
        std::int64_t count = 0;
        Json report = namespace_report(*ns, locked, count);
        reports.emplace_back(count, std::move(report));
        total += count;
      }
      std::stable_sort(reports.begin(), reports.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    }
    Json by_namespace = Json::array();
    for (auto& [count, report] : reports) by_namespace.push_back(std::move(report));
    resp.data = Json{{"by_namespace", std::move(by_namespace)}, {"total", total}};
    return resp;
  }
  // ACCESSOR[/unlock[/ALIAS]]
  const auto slash = rest.find('/');
  const std::string accessor(rest.substr(0, slash));
  std::string_view below = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
  if (below.empty() || below == "unlock") {
    // Not in Vault: the folders `ls` walks to reach the unlock files.
    if (op != Operation::List) return unsupported_path(rel);
    COFFER_TRY(auto locked, locked_in(ctx, ctx.ns));
    auto it = std::find_if(locked.begin(), locked.end(), [&](const auto& m) { return m.accessor == accessor; });
    if (it == locked.end()) return Error::not_found("no locked users for mount accessor \"" + accessor + "\"");
    if (below.empty()) {
      resp.data["keys"] = Json::array({"unlock/"});
    } else {
      resp.data["keys"] = string_list(it->aliases);
    }
    return resp;
  }
  if (!below.starts_with("unlock/") || below.size() == 7) return unsupported_path(rel);
  if (op != Operation::Update && op != Operation::Create) return unsupported_path(rel);
  COFFER_TRY_STATUS(fields::only(body, {"mount_accessor", "alias_identifier"}));
  // Vault's handleUnlockUser: this namespace's entry goes, locked or not.
  COFFER_TRY_STATUS(ctx.stores.lockout.unlock({ctx.ns.record.id, accessor, std::string(below.substr(7))}));
  return Response{};
}

// The entries `ls sys/` shows (a Coffer extension: Vault has no LIST sys/).
Response list_sys(const SysContext& ctx) {
  Json keys = Json::array({"auth/", "capabilities", "capabilities-accessor", "capabilities-self", "events/",
                           "locked-users/", "mounts/", "namespaces/", "policies/"});
  if (is_root_namespace(ctx)) {
    for (const char* k :
         {"audit/", "audit-hash/", "config/", "generate-root/", "health", "init", "key-status", "monitor", "rekey/",
          "rotate", "seal", "seal-status", "unseal"}) {
      keys.push_back(k);
    }
  }
  Response resp;
  resp.data["keys"] = std::move(keys);
  return resp;
}

Result<Response> handle_sys(SysContext& ctx, Operation op, std::string_view rel, const Json& body) {
  if (rel.empty() || rel == "/") {
    if (op == Operation::List || op == Operation::Read) return list_sys(ctx);
    return unsupported_path(rel);
  }
  if (rel == "mounts" || rel == "mounts/" || rel.starts_with("mounts/")) {
    if (op != Operation::Read && op != Operation::List && !ctx.exclusive)
      return Error::internal("mount change without the core lock");
    return handle_mounts(ctx, op, rel, body);
  }
  if (rel == "auth" || rel == "auth/" || rel.starts_with("auth/")) {
    if (op != Operation::Read && op != Operation::List && !ctx.exclusive)
      return Error::internal("auth mount change without the core lock");
    return handle_auth(ctx, op, rel, body);
  }
  if (rel == "namespaces" || rel == "namespaces/" || rel.starts_with("namespaces/")) {
    if (op != Operation::Read && op != Operation::List && !ctx.exclusive)
      return Error::internal("namespace change without the core lock");
    return handle_namespaces(ctx, op, rel, body);
  }
  if (rel == "policies" || rel == "policies/") {
    if (op != Operation::List && op != Operation::Read) return unsupported_path(rel);
    Response resp;
    resp.data["keys"] = Json::array({"acl/"});
    return resp;
  }
  if (rel == "policies/acl" || rel.starts_with("policies/acl/") || rel == "policy" || rel.starts_with("policy/")) {
    return handle_policies(ctx, op, rel, body);
  }
  if (rel == "capabilities" || rel == "capabilities-self" || rel == "capabilities-accessor") {
    return handle_capabilities(ctx, op, rel, body);
  }
  if (rel == "locked-users" || rel.starts_with("locked-users/")) return handle_locked_users(ctx, op, rel, body);
  if (rel.starts_with("events/subscribe/") && rel.size() > 17) {
    // Vault's GET sys/events/subscribe/TYPE upgrades to a WebSocket; here
    // it is the (ACL-checked, audited) request that opens an event stream
    // file, whose events the file view serves (engine/fileview/events.hpp).
    if (op != Operation::Read) return unsupported_path(rel);
    return Response{};
  }
  if (rel == "config/group-policy-application") {
    // Root namespace only (the core answers "unsupported path" elsewhere).
    if (!is_root_namespace(ctx)) return unsupported_path(rel);
    if (op == Operation::Read) {
      Response resp;
      resp.data["group_policy_application_mode"] = ctx.stores.identity.group_policy_application_mode();
      return resp;
    }
    if (op != Operation::Update && op != Operation::Create && op != Operation::Patch) return unsupported_path(rel);
    COFFER_TRY_STATUS(fields::only(body, {"group_policy_application_mode"}));
    COFFER_TRY(auto mode, fields::get_string(body, "group_policy_application_mode"));
    if (mode) COFFER_TRY_STATUS(ctx.stores.identity.set_group_policy_application_mode(*mode));
    return Response{};
  }
  if (rel == "rotate") {
    // Vault's sys/rotate: a new barrier key term for new writes; older
    // terms stay to read what they wrote. Root namespace only, and sudo
    // (the path table). Vault answers 204.
    if (!is_root_namespace(ctx)) return unsupported_path(rel);
    if (op == Operation::Read) return Response{};  // the write-only file's stat
    if (op != Operation::Update && op != Operation::Create) return unsupported_path(rel);
    COFFER_TRY_STATUS(fields::only(body, {}));
    COFFER_TRY(auto term, ctx.stores.barrier.rotate());
    (void)term;
    return Response{};
  }
  if (rel == "key-status") {
    if (!is_root_namespace(ctx)) return unsupported_path(rel);
    if (op != Operation::Read) return unsupported_path(rel);
    COFFER_TRY(auto status, ctx.stores.barrier.key_status());
    Response resp;
    // Vault's reply: the term and its install time (RFC 3339). Vault's
    // "encryptions" estimate is not kept.
    resp.data["term"] = static_cast<std::int64_t>(status.term);
    resp.data["install_time"] = format_time(status.installed_unix * 1'000'000'000);
    return resp;
  }
  if (rel == "seal") {
    if (!is_root_namespace(ctx)) return unsupported_path(rel);
    if (op == Operation::Read) return Response{};
    if (!ctx.exclusive) return Error::internal("seal without the core lock");
    ctx.stores.seal();
    return Response{};
  }
  return unsupported_path(rel);
}

}  // namespace

SysBackend::SysBackend(SysStores stores) : stores_(std::move(stores)), audit_({stores_.audit, stores_.opts}) {}

Result<Response> SysBackend::handle(const BackendRequest& req) {
  if (is_audit_sys_path(req.path)) return audit_.handle(req);
  if (req.ctx == nullptr || req.ctx->auth == nullptr) return Error::internal("sys/ request without its caller");
  SysContext ctx{stores_, req.ctx->ns, *req.ctx->auth, req.now, req.ctx->exclusive};
  return handle_sys(ctx, req.op, req.path, req.data);
}

PathProperties SysBackend::path_properties(std::string_view rel, Operation op) const {
  PathProperties props = table_properties(kSysPaths, rel, op);
  const PathProperties audit = audit_.path_properties(rel, op);
  props.root_only = props.root_only || audit.root_only;
  props.sudo = props.sudo || audit.sudo;
  props.exclusive = props.exclusive || audit.exclusive;
  return props;
}

}  // namespace engine
