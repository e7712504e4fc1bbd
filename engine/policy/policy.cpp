// SPDX-License-Identifier: MPL-2.0
#include "engine/policy/policy.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "engine/common/base64.hpp"
#include "engine/common/duration.hpp"
#include "engine/policy/hcl.hpp"
#include "engine/policy/template.hpp"

namespace engine::policy {
namespace {

using hcl::Item;
using hcl::Value;

constexpr std::string_view kParseFailed = "failed to parse policy: ";

Error parse_error(std::string_view what) { return Error::invalid(std::string(kParseFailed) + std::string(what)); }

std::string go_quote(std::string_view s) {
  // Go's %q for the ASCII printable subset; other bytes are escaped so a
  // message never carries raw control characters.
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xF];
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

Error path_error(std::string_view key, std::string_view what) {
  return parse_error("path " + go_quote(key) + ": " + std::string(what));
}

std::string on_line(int line) { return " on line " + std::to_string(line); }

// --- base64 (Go's base64.StdEncoding: padded, CR/LF ignored) --------------

// The decoded text when `text` is valid standard base64, else nullopt.
std::optional<std::string> decode_base64(std::string_view text) {
  if (text.find_first_not_of("\r\n") == std::string_view::npos) return std::nullopt;
  auto bytes = from_base64(text, "\r\n");
  if (!bytes.ok()) return std::nullopt;
  return std::string(bytes->begin(), bytes->end());
}

// --- value decoding -------------------------------------------------------

Json to_json(const Value& v) {
  switch (v.kind) {
    case Value::Kind::String: return Json(to_secure(v.text));
    case Value::Kind::Int: return Json(v.int_value);
    case Value::Kind::Float: return Json(v.float_value);
    case Value::Kind::Bool: return Json(v.bool_value);
    case Value::Kind::List: {
      Json arr = Json::array();
      for (const auto& e : v.list) arr.push_back(to_json(e));
      return arr;
    }
    case Value::Kind::Object: {
      Json obj = Json::object();
      for (const auto& item : v.items) {
        // `a "b" { }` inside a value: nested objects, innermost holds the value.
        Json* target = &obj;
        for (std::size_t i = 0; i + 1 < item.keys.size(); ++i) {
          Json& next = (*target)[to_secure(item.keys[i])];
          if (!next.is_object()) next = Json::object();
          target = &next;
        }
        (*target)[to_secure(item.keys.back())] = to_json(item.value);
      }
      return obj;
    }
  }
  return Json();
}

Status decode_string(std::string_view key, const Item& item, std::string& out) {
  if (item.value.kind != Value::Kind::String) {
    return path_error(key, std::string(item.keys[0]) + ": expected a string, got " + hcl::kind_name(item.value.kind) +
                               on_line(item.line));
  }
  out = item.value.text;
  return ok_status();
}

Status decode_string_list(std::string_view key, const Item& item, std::vector<std::string>& out) {
  if (item.value.kind != Value::Kind::List) {
    return path_error(key, std::string(item.keys[0]) + ": expected a list of strings, got " +
                               hcl::kind_name(item.value.kind) + on_line(item.line));
  }
  for (const auto& e : item.value.list) {
    if (e.kind != Value::Kind::String) {
      return path_error(key, std::string(item.keys[0]) + ": expected a list of strings, got a " +
                                 hcl::kind_name(e.kind) + " element" + on_line(e.line));
    }
    out.push_back(e.text);
  }
  return ok_status();
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// `allowed_parameters = { "k" = [...] }` or the block form. Names are
// lower-cased as Vault does at parse time.
Status decode_parameters(std::string_view key, const Item& item, std::optional<ParameterMap>& out) {
  if (item.value.kind != Value::Kind::Object) {
    return path_error(key, std::string(item.keys[0]) + ": expected a map of lists, got " +
                               hcl::kind_name(item.value.kind) + on_line(item.line));
  }
  if (!out) out.emplace();
  for (const auto& p : item.value.items) {
    if (p.keys.size() != 1 || p.value.kind != Value::Kind::List) {
      return path_error(
          key, std::string(item.keys[0]) + ": value of " + go_quote(p.keys[0]) + " must be a list" + on_line(p.line));
    }
    std::vector<Json> values;
    values.reserve(p.value.list.size());
    for (const auto& e : p.value.list) values.push_back(to_json(e));
    (*out)[lower(p.keys[0])] = std::move(values);
  }
  return ok_status();
}

Status decode_ttl(std::string_view key, const Item& item, std::int64_t& out) {
  const std::string field = item.keys[0];
  switch (item.value.kind) {
    case Value::Kind::Int:
      if (item.value.int_value > INT64_MAX / 1'000'000'000 || item.value.int_value < INT64_MIN / 1'000'000'000) {
        return path_error(key, "error parsing " + field + ": value out of range");
      }
      out = item.value.int_value * 1'000'000'000;
      return ok_status();
    case Value::Kind::Float:
      if (!(item.value.float_value < 9.2e9 && item.value.float_value > -9.2e9)) {
        return path_error(key, "error parsing " + field + ": value out of range");
      }
      out = static_cast<std::int64_t>(item.value.float_value) * 1'000'000'000;
      return ok_status();
    case Value::Kind::String: {
      auto parsed = parse_duration_ns(item.value.text);
      if (!parsed) return path_error(key, "error parsing " + field + ": " + parsed.error().message);
      out = *parsed;
      return ok_status();
    }
    default:
      return path_error(
          key, "error parsing " + field + ": could not parse duration from " + hcl::kind_name(item.value.kind));
  }
}

constexpr std::array<std::string_view, 11> kPathKeys = {"comment",
                                                        "policy",
                                                        "capabilities",
                                                        "allowed_parameters",
                                                        "denied_parameters",
                                                        "required_parameters",
                                                        "min_wrapping_ttl",
                                                        "max_wrapping_ttl",
                                                        "mfa_methods",
                                                        "control_group",
                                                        "subscribe_event_types"};

bool valid_path_key(std::string_view k) { return std::find(kPathKeys.begin(), kPathKeys.end(), k) != kPathKeys.end(); }

// Raw fields of one block, decoded before any validation that Vault does
// after decoding.
struct RawBlock {
  std::string policy;
  bool has_policy = false;
  std::vector<std::string> capabilities;
};

Result<PathRule> parse_path_block(Policy& policy, const std::string& key, int line, const Value& body) {
  PathRule rule;
  rule.key = key;
  rule.line = line;

  // 1. Templating: at write time only the brace balance is checked, on
  // every key (a stray "}}" is an error even without "{{", as in Vault).
  if (auto st = validate_template(key); !st) {
    return path_error(key, "failed to validate policy templating: " + st.error().message);
  }
  if (has_template(key)) {
    rule.templated = true;
    policy.templated = true;
  }

  // 2. Keys.
  for (const auto& item : body.items) {
    if (!valid_path_key(item.keys[0])) {
      return path_error(key, "invalid key " + go_quote(item.keys[0]) + on_line(item.line));
    }
  }

  // 3. Decode.
  RawBlock raw;
  // TTL strings are parsed after the capabilities, as Vault does (a deny
  // block never reaches that point).
  const Item* min_item = nullptr;
  const Item* max_item = nullptr;
  for (const auto& item : body.items) {
    const std::string_view k = item.keys[0];
    const bool block_allowed = k == "allowed_parameters" || k == "denied_parameters" || k == "control_group";
    if (item.keys.size() > 1 && !block_allowed) {
      return path_error(key, "key " + go_quote(k) + " takes no labels" + on_line(item.line));
    }
    if (k == "comment") {
      COFFER_TRY_STATUS(decode_string(key, item, rule.comment));
    } else if (k == "policy") {
      COFFER_TRY_STATUS(decode_string(key, item, raw.policy));
      raw.has_policy = true;
    } else if (k == "capabilities") {
      COFFER_TRY_STATUS(decode_string_list(key, item, raw.capabilities));
    } else if (k == "allowed_parameters" || k == "denied_parameters") {
      auto& target = k == "allowed_parameters" ? rule.allowed_parameters : rule.denied_parameters;
      if (item.keys.size() > 1) {
        // `allowed_parameters "name" = [..]` is not HCL; `allowed_parameters "name" { }` would
        // need a list value: refuse both plainly.
        return path_error(key, std::string(k) + ": expected a map of lists" + on_line(item.line));
      }
      COFFER_TRY_STATUS(decode_parameters(key, item, target));
    } else if (k == "required_parameters") {
      COFFER_TRY_STATUS(decode_string_list(key, item, rule.required_parameters));
    } else if (k == "min_wrapping_ttl") {
      min_item = &item;
    } else if (k == "max_wrapping_ttl") {
      max_item = &item;
    } else if (k == "mfa_methods") {
      COFFER_TRY_STATUS(decode_string_list(key, item, rule.mfa_methods));
    } else if (k == "subscribe_event_types") {
      COFFER_TRY_STATUS(decode_string_list(key, item, rule.subscribe_event_types));
    } else if (k == "control_group") {
      if (item.value.kind != Value::Kind::Object) {
        return path_error(key, "error handling control_group: expected an object" + on_line(item.line));
      }
      for (const auto& cg : item.value.items) {
        if (cg.keys[0] != "ttl" && cg.keys[0] != "self_auth_allowed" && cg.keys[0] != "factor") {
          return path_error(key,
                            "error handling control_group: invalid key " + go_quote(cg.keys[0]) + on_line(cg.line));
        }
      }
      rule.has_control_group = true;
    }
  }

  // 4. Normalise the path.
  COFFER_TRY(NormalizedPath norm, [&]() -> Result<NormalizedPath> {
    auto r = normalize_rule_path(key, policy.namespace_path);
    if (!r) return path_error(key, r.error().message);
    return r;
  }());
  rule.path = std::move(norm.path);
  rule.kind = norm.kind;

  // 5. Legacy `policy = "..."`.
  if (raw.has_policy && !raw.policy.empty()) {
    if (raw.policy == "deny") {
      raw.capabilities = {"deny"};
    } else if (raw.policy == "read") {
      raw.capabilities.insert(raw.capabilities.end(), {"read", "list"});
    } else if (raw.policy == "write") {
      raw.capabilities.insert(raw.capabilities.end(), {"create", "read", "update", "delete", "list"});
    } else if (raw.policy == "sudo") {
      raw.capabilities.insert(raw.capabilities.end(), {"create", "read", "update", "delete", "list", "sudo"});
    } else {
      return path_error(key, "invalid policy " + go_quote(raw.policy));
    }
  }

  // 6. Capabilities; `deny` ends the block's processing, as in Vault (so
  // nothing after it in the list, nor the parameters/TTLs, is validated).
  for (const auto& c : raw.capabilities) {
    const auto bit = capability_from_name(c);
    if (!bit) return path_error(key, "invalid capability " + go_quote(c));
    if (*bit == cap::kDeny) {
      rule.capabilities = cap::kDeny;
      return rule;
    }
    rule.capabilities |= *bit;
  }

  // 7. Wrapping TTLs.
  if (min_item != nullptr) COFFER_TRY_STATUS(decode_ttl(key, *min_item, rule.min_wrapping_ttl_ns));
  if (max_item != nullptr) COFFER_TRY_STATUS(decode_ttl(key, *max_item, rule.max_wrapping_ttl_ns));
  if (rule.min_wrapping_ttl_ns != 0 && rule.max_wrapping_ttl_ns != 0 &&
      rule.max_wrapping_ttl_ns < rule.min_wrapping_ttl_ns) {
    return path_error(key, "max_wrapping_ttl cannot be less than min_wrapping_ttl");
  }
  return rule;
}

struct BlockRef {
  std::string pattern;
  int line = 0;
  const Value* body = nullptr;
};

// Flattens the shapes `path "p" { }` (HCL), {"path": {"p": {..}}} and
// {"path": [{"p": {..}}, ...]} (JSON), and a block body given as a list of
// objects (HCL-JSON repetition), into (pattern, body) pairs in order.
Status add_bodies(const std::string& pattern, int line, const Value& v, std::vector<BlockRef>& out) {
  if (v.kind == Value::Kind::Object) {
    out.push_back({pattern, line, &v});
    return ok_status();
  }
  if (v.kind == Value::Kind::List) {
    for (const auto& e : v.list) {
      if (e.kind != Value::Kind::Object) {
        return path_error(pattern, "expected an object" + on_line(e.line));
      }
      out.push_back({pattern, e.line, &e});
    }
    return ok_status();
  }
  return path_error(pattern, "expected an object" + on_line(v.line));
}

Status add_pattern_map(const Value& map, std::vector<BlockRef>& out) {
  for (const auto& entry : map.items) {
    if (entry.keys.size() != 1) {
      return parse_error("path " + go_quote(entry.keys[0]) + ": unexpected extra labels" + on_line(entry.line));
    }
    COFFER_TRY_STATUS(add_bodies(entry.keys[0], entry.line, entry.value, out));
  }
  return ok_status();
}

Status collect_blocks(const Item& item, std::vector<BlockRef>& out) {
  if (item.keys.size() == 2) return add_bodies(item.keys[1], item.line, item.value, out);
  if (item.keys.size() > 2) {
    return parse_error("path " + go_quote(item.keys[1]) + ": unexpected extra labels" + on_line(item.line));
  }
  if (item.value.kind == Value::Kind::Object) return add_pattern_map(item.value, out);
  if (item.value.kind == Value::Kind::List) {
    for (const auto& e : item.value.list) {
      if (e.kind != Value::Kind::Object) return parse_error("path: expected an object" + on_line(e.line));
      COFFER_TRY_STATUS(add_pattern_map(e, out));
    }
    return ok_status();
  }
  return parse_error("path: expected an object" + on_line(item.line));
}

}  // namespace

std::optional<std::uint32_t> capability_from_name(std::string_view name) noexcept {
  if (name == "deny") return cap::kDeny;
  if (name == "create") return cap::kCreate;
  if (name == "read") return cap::kRead;
  if (name == "update") return cap::kUpdate;
  if (name == "delete") return cap::kDelete;
  if (name == "list") return cap::kList;
  if (name == "sudo") return cap::kSudo;
  if (name == "patch") return cap::kPatch;
  if (name == "subscribe") return cap::kSubscribe;
  if (name == "recover") return cap::kRecover;
  return std::nullopt;
}

std::vector<std::string> capability_names(std::uint32_t bits) {
  static constexpr std::array<std::pair<std::uint32_t, std::string_view>, 9> kOrder = {{
      {cap::kSudo, "sudo"},
      {cap::kRead, "read"},
      {cap::kList, "list"},
      {cap::kUpdate, "update"},
      {cap::kDelete, "delete"},
      {cap::kCreate, "create"},
      {cap::kPatch, "patch"},
      {cap::kSubscribe, "subscribe"},
      {cap::kRecover, "recover"},
  }};
  std::vector<std::string> out;
  if ((bits & cap::kDeny) == 0) {
    for (const auto& [bit, name] : kOrder) {
      if ((bits & bit) != 0) out.emplace_back(name);
    }
  }
  if (out.empty()) out.emplace_back("deny");
  return out;
}

std::string normalize_policy_name(std::string_view name) {
  const auto is_ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!name.empty() && is_ws(name.front())) name.remove_prefix(1);
  while (!name.empty() && is_ws(name.back())) name.remove_suffix(1);
  return lower(name);
}

std::string normalize_namespace_path(std::string_view path) {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  std::string out(path);
  if (!out.empty() && out.back() != '/') out += '/';
  return out;
}

Result<NormalizedPath> normalize_rule_path(std::string_view key, std::string_view namespace_path) {
  std::string_view k = key;
  if (!k.empty() && k.front() == '/') k.remove_prefix(1);  // one '/', as Vault
  NormalizedPath out;
  out.path = normalize_namespace_path(namespace_path);
  out.path.append(k);
  const std::string& p = out.path;
  if (p.find("+*") != std::string::npos) {
    return Error::invalid("invalid use of wildcards ('+*' is forbidden)");
  }
  const bool segment = p == "+" || p.find("/+") != std::string::npos || p.rfind("+/", 0) == 0;
  if (segment) {
    out.kind = RuleKind::SegmentWildcard;
  } else if (!p.empty() && p.back() == '*') {
    out.path.pop_back();
    out.kind = RuleKind::Prefix;
  } else {
    out.kind = RuleKind::Exact;
  }
  return out;
}

Result<Policy> parse_policy(std::string_view name, std::string_view text, std::string_view namespace_path) {
  Policy policy;
  policy.name = std::string(name);
  policy.namespace_path = normalize_namespace_path(namespace_path);
  if (auto decoded = decode_base64(text)) {
    policy.raw = std::move(*decoded);
  } else {
    policy.raw = std::string(text);
  }

  auto doc = hcl::parse(policy.raw);
  if (!doc) return parse_error(doc.error().message);

  for (const auto& item : doc->items) {
    if (item.keys[0] != "name" && item.keys[0] != "path") {
      return parse_error("invalid key " + go_quote(item.keys[0]) + on_line(item.line));
    }
  }
  std::vector<BlockRef> blocks;
  for (const auto& item : doc->items) {
    if (item.keys[0] == "name") {
      // Ignored: the stored name comes from the API path. Still type-checked.
      if (item.keys.size() != 1 || item.value.kind != Value::Kind::String) {
        return parse_error("name: expected a string" + on_line(item.line));
      }
      continue;
    }
    COFFER_TRY_STATUS(collect_blocks(item, blocks));
  }
  policy.paths.reserve(blocks.size());
  for (const auto& b : blocks) {
    COFFER_TRY(PathRule rule, parse_path_block(policy, b.pattern, b.line, *b.body));
    policy.paths.push_back(std::move(rule));
  }
  return policy;
}

Policy make_root_policy(std::string_view namespace_path, std::string_view namespace_id) {
  Policy p;
  p.name = std::string(kRootPolicyName);
  p.namespace_path = normalize_namespace_path(namespace_path);
  p.namespace_id = std::string(namespace_id);
  p.is_root = true;
  return p;
}

const std::string_view kDefaultPolicyText = R"(# Allow tokens to look up their own properties
path "auth/token/lookup-self" {
    capabilities = ["read"]
}

# Allow tokens to renew themselves
path "auth/token/renew-self" {
    capabilities = ["update"]
}

# Allow tokens to revoke themselves
path "auth/token/revoke-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own capabilities on a path
path "sys/capabilities-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own entity by id or name
path "identity/entity/id/{{identity.entity.id}}" {
  capabilities = ["read"]
}
path "identity/entity/name/{{identity.entity.name}}" {
  capabilities = ["read"]
}

# Allow a token to look up its resultant ACL from all policies. This is useful
# for UIs. It is an internal path because the format may change at any time
# based on how the internal ACL features and capabilities change.
path "sys/internal/ui/resultant-acl" {
    capabilities = ["read"]
}

# Allow a token to renew a lease via lease_id in the request body; old path for
# old clients, new path for newer
path "sys/renew" {
    capabilities = ["update"]
}
path "sys/leases/renew" {
    capabilities = ["update"]
}

# Allow looking up lease properties. This requires knowing the lease ID ahead
# of time and does not divulge any sensitive information.
path "sys/leases/lookup" {
    capabilities = ["update"]
}

# Allow a token to manage its own cubbyhole
path "cubbyhole/*" {
    capabilities = ["create", "read", "update", "delete", "list"]
}

# Allow a token to wrap arbitrary values in a response-wrapping token
path "sys/wrapping/wrap" {
    capabilities = ["update"]
}

# Allow a token to look up the creation time and TTL of a given
# response-wrapping token
path "sys/wrapping/lookup" {
    capabilities = ["update"]
}

# Allow a token to unwrap a response-wrapping token. This is a convenience to
# avoid client token swapping since this is also part of the response wrapping
# policy.
path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}

# Allow general purpose tools
path "sys/tools/hash" {
    capabilities = ["update"]
}
path "sys/tools/hash/*" {
    capabilities = ["update"]
}

# Allow checking the status of a Control Group request if the user has the
# accessor
path "sys/control-group/request" {
    capabilities = ["update"]
}

# Allow a token to make requests to the Authorization Endpoint for OIDC providers.
path "identity/oidc/provider/+/authorize" {
    capabilities = ["read", "update"]
}
)";

const std::string_view kResponseWrappingPolicyText = R"(path "cubbyhole/response" {
    capabilities = ["create", "read"]
}

path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}
)";

}  // namespace engine::policy
