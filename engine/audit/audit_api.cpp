// SPDX-License-Identifier: MPL-2.0
#include "engine/audit/audit_api.hpp"

#include <cctype>

#include "engine/audit/audit_trail.hpp"
#include "engine/audit/log_hub.hpp"
#include "engine/backend/path_table.hpp"
#include "engine/namespace/namespace.hpp"
#include "engine/common/fields.hpp"

namespace engine {
namespace {

// One request's view: the stores and the namespace.
struct AuditContext {
  AuditStores& stores;
  const NamespaceNode& ns;
};

// The audit endpoints' path table (below sys/).
constexpr PathRule kAuditPaths[] = {
    {"audit", PathMatch::Tree, PathOps::Any, {.root_only = true, .sudo = true}},
    {"audit-hash", PathMatch::Tree, PathOps::Any, {.root_only = true}},
    {"monitor", PathMatch::Tree, PathOps::Any, {.root_only = true}},
};

Error unsupported_path(std::string_view rel) { return Error::unsupported_path("sys/" + std::string(rel)); }

Json device_info(const AuditDeviceInfo& d) {
  Json options = Json::object();
  for (const auto& [k, v] : d.options) options[to_secure(k)] = v;
  return Json{
      {"type", d.type}, {"description", d.description}, {"options", options}, {"local", d.local}, {"path", d.path}};
}

// "f", "f/" → "f/".
std::string device_path(std::string_view name) {
  std::string p(name);
  while (!p.empty() && p.back() == '/') p.pop_back();
  return p.empty() ? p : p + "/";
}

// Option keys also taken at the top level of an enable body (`echo
// type=file file_path=/x > sys/audit/f`); Vault takes them in "options".
constexpr std::string_view kOptionKeys[] = {"file_path", "path",   "log_raw", "hmac_accessor",
                                            "mode",      "format", "prefix"};

Result<std::string> option_value(std::string_view key, const Json& v) {
  if (v.is_string()) return std::string(as_view(v.get_ref<const SecureString&>()));
  if (v.is_boolean()) return std::string(v.get<bool>() ? "true" : "false");
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  return Error::invalid("option \"" + std::string(key) + "\" must be a string");
}

Result<Response> enable_device(AuditContext& ctx, const std::string& path, const Json& body) {
  std::map<std::string, std::string> options;
  for (const auto& [k, v] : body.items()) {
    const std::string key(k);
    if (key == "type" || key == "description" || key == "local" || key == "options" || key == "seal_wrap") continue;
    bool is_option = false;
    for (std::string_view o : kOptionKeys) is_option = is_option || key == o;
    if (!is_option) return Error::invalid("unknown field \"" + key + "\"");
    COFFER_TRY(options[key], option_value(key, v));
  }
  if (auto it = body.find(std::string_view("options")); it != body.end() && !it->is_null()) {
    if (!it->is_object()) return Error::invalid("field \"options\" must be an object");
    for (const auto& [k, v] : it->items()) {
      const std::string key(k);
      if (options.contains(key)) return Error::invalid("option \"" + key + "\" given twice");
      COFFER_TRY(options[key], option_value(key, v));
    }
  }
  COFFER_TRY(auto type, fields::get_string(body, "type"));
  if (!type || type->empty()) return Error::invalid("missing audit type");
  COFFER_TRY(auto description, fields::get_string(body, "description"));
  COFFER_TRY(auto local, fields::get_bool(body, "local"));
  COFFER_TRY_STATUS(
      ctx.stores.audit.enable(path, *type, description.value_or(""), std::move(options), local.value_or(false)));
  return Response{};
}

}  // namespace

bool is_audit_sys_path(std::string_view rel) {
  return rel == "audit" || rel.starts_with("audit/") || rel == "audit-hash" || rel.starts_with("audit-hash/") ||
         rel == "monitor" || rel.starts_with("monitor@");
}

Result<MonitorLevel> monitor_level(std::string_view rel, const Json& body) {
  std::string name = "info";
  if (auto at = rel.find('@'); at != std::string_view::npos) {
    name = std::string(rel.substr(at + 1));
  } else {
    COFFER_TRY_STATUS(fields::only(body, {"log_level", "log_format"}));
    COFFER_TRY(auto level, fields::get_string(body, "log_level"));
    COFFER_TRY(auto format, fields::get_string(body, "log_format"));
    if (format && *format != "standard") return Error::invalid("unknown log format \"" + *format + "\"");
    if (level && !level->empty()) name = *level;
  }
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto parsed = parse_monitor_level(name);
  if (!parsed) return Error::invalid("unknown log level \"" + name + "\"");
  return *parsed;
}

Result<Response> AuditBackend::handle(const BackendRequest& req) {
  if (req.ctx == nullptr) return Error::internal("sys/audit request without its namespace");
  AuditContext ctx{stores_, req.ctx->ns};
  const Operation op = req.op;
  const std::string_view rel = req.path;
  const Json& body = req.data;
  const bool root = ctx.ns.parent == nullptr;
  AuditBroker& broker = stores_.audit;
  if (rel == "monitor" || rel.starts_with("monitor@")) {
    // "monitor@L" escapes the core's exact-path check: check here too.
    if (!root && !admin_namespace_allows(stores_.opts, ctx.ns.record.path, rel)) return unsupported_path(rel);
    if (op != Operation::Read) return unsupported_path(rel);
    COFFER_TRY(auto level, monitor_level(rel, body));
    (void)level;
    // The stream itself is served by the fs (engine/fileview/monitor.hpp):
    // a plain read shows an empty object.
    return Response{};
  }
  if (rel == "audit-hash" || rel.starts_with("audit-hash/")) {
    if (!root && !admin_namespace_allows(stores_.opts, ctx.ns.record.path, rel)) return unsupported_path(rel);
    std::string_view name = rel.size() > 11 ? rel.substr(11) : std::string_view{};
    if (op == Operation::List || (name.empty() && op == Operation::Read)) {
      Json keys = Json::array();
      for (const auto& d : broker.list()) keys.push_back(d.path.substr(0, d.path.size() - 1));
      Response resp;
      resp.data["keys"] = std::move(keys);
      return resp;
    }
    if (name.empty() || (op != Operation::Update && op != Operation::Create)) return unsupported_path(rel);
    COFFER_TRY_STATUS(fields::only(body, {"input"}));
    COFFER_TRY(auto input, fields::get_string(body, "input"));
    if (!input) return Error::invalid("the \"input\" parameter is required");
    COFFER_TRY(auto hash, broker.hash(device_path(name), *input));
    Response resp;
    resp.data["hash"] = hash;
    return resp;
  }
  // sys/audit: root namespace only.
  if (!root) return unsupported_path(rel);
  std::string_view name = rel.size() > 6 ? rel.substr(6) : std::string_view{};
  while (!name.empty() && name.back() == '/') name.remove_suffix(1);
  if (op == Operation::List) {
    Json keys = Json::array();
    for (const auto& d : broker.list()) keys.push_back(d.path.substr(0, d.path.size() - 1));
    Response resp;
    resp.data["keys"] = std::move(keys);
    return resp;
  }
  if (name.empty()) {
    if (op != Operation::Read) return unsupported_path(rel);
    Response resp;
    for (const auto& d : broker.list()) resp.data[to_secure(d.path)] = device_info(d);
    return resp;
  }
  const std::string path = device_path(name);
  switch (op) {
    case Operation::Read:
      for (const auto& d : broker.list()) {
        if (d.path != path) continue;
        Response resp;
        resp.data = device_info(d);
        return resp;
      }
      return Error::not_found("no audit device at \"" + path + "\"");
    case Operation::Create:
    case Operation::Update: return enable_device(ctx, path, body);
    case Operation::Delete: {
      // Vault: disabling a path with no device succeeds.
      Status st = broker.disable(path);
      if (!st.ok() && st.error().code != ErrorCode::NotFound) return std::move(st).error();
      return Response{};
    }
    default: return unsupported_path(rel);
  }
}

PathProperties AuditBackend::path_properties(std::string_view rel, Operation op) const {
  return table_properties(kAuditPaths, rel, op);
}

}  // namespace engine
