// SPDX-License-Identifier: MPL-2.0
// Vault ACL policies: parsing (HCL, JSON, base64 of either) into path rules
// with Vault's validation and messages (vault-semantics §2).
//
// Choices (see also acl.hpp, template.hpp):
// - Capabilities: create read update patch delete list sudo deny, plus
//   Vault's `subscribe` and `recover`, which parse, merge and are reported by
//   capabilities() but no Coffer operation requires them. OpenBao's `scan` is
//   rejected (`invalid capability`), as Vault does: Coffer speaks Vault.
// - Path-block keys: Vault Enterprise's set (comment, policy, capabilities,
//   allowed/denied/required_parameters, min/max_wrapping_ttl, mfa_methods,
//   control_group, subscribe_event_types). OpenBao-only keys (expiration,
//   pagination_limit, list_scan_response_keys_filter_path) are invalid keys.
//   mfa_methods and control_group are kept; the ACL fails closed on them
//   because Coffer cannot satisfy MFA or control-group approval.
// - Error messages are Vault's, prefixed "failed to parse policy: " as the
//   Vault API returns them; only the first error is reported (Vault lists
//   all invalid keys). Key errors give the key's own line (Vault reports the
//   line of '=', which is 0 for block keys written without '=').
// - A key repeated inside one block: lists concatenate, parameter maps
//   merge (last value list for a repeated name wins), scalars: last wins.
// - Parameter values are plain JSON: an HCL object in a value list is a JSON
//   object (HCL1 would decode it to a list of maps and never match).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/error.hpp"
#include "engine/common/secure.hpp"

namespace engine::policy {

// Capability bits. Values are Coffer's own (not persisted anywhere).
namespace cap {
inline constexpr std::uint32_t kDeny = 1u << 0;
inline constexpr std::uint32_t kCreate = 1u << 1;
inline constexpr std::uint32_t kRead = 1u << 2;
inline constexpr std::uint32_t kUpdate = 1u << 3;
inline constexpr std::uint32_t kDelete = 1u << 4;
inline constexpr std::uint32_t kList = 1u << 5;
inline constexpr std::uint32_t kSudo = 1u << 6;
inline constexpr std::uint32_t kPatch = 1u << 7;
inline constexpr std::uint32_t kSubscribe = 1u << 8;
inline constexpr std::uint32_t kRecover = 1u << 9;
}  // namespace cap

// "read" -> cap::kRead; nullopt for anything not a valid capability.
std::optional<std::uint32_t> capability_from_name(std::string_view name) noexcept;

// Names of the bits set, in the fixed order of sys/capabilities (§3.4):
// sudo read list update delete create patch subscribe recover; ["deny"]
// when the deny bit is set or nothing is.
std::vector<std::string> capability_names(std::uint32_t bits);

enum class RuleKind {
  Exact,            // "secret/foo"
  Prefix,           // "secret/foo*" stored as "secret/foo"
  SegmentWildcard,  // contains a '+' segment; keeps a trailing '*'
};

// Parameter name (lower-cased) -> accepted values; an empty list = any value.
using ParameterMap = std::map<std::string, std::vector<Json>, std::less<>>;

// One `path "..." { }` block after validation.
struct PathRule {
  std::string key;  // the pattern as written (before templating)
  int line = 0;     // line of the block in the policy text
  bool templated = false;
  // Normalised absolute pattern (§2.3): namespace prefix applied, leading '/'
  // stripped, a prefix rule's '*' removed. For a templated rule this is the
  // unsubstituted key; the ACL substitutes and normalises again.
  std::string path;
  RuleKind kind = RuleKind::Exact;

  std::uint32_t capabilities = 0;  // just cap::kDeny when deny was listed
  std::optional<ParameterMap> allowed_parameters;
  std::optional<ParameterMap> denied_parameters;
  std::vector<std::string> required_parameters;  // as written
  std::int64_t min_wrapping_ttl_ns = 0;          // 0 = unset
  std::int64_t max_wrapping_ttl_ns = 0;
  std::vector<std::string> mfa_methods;
  bool has_control_group = false;
  std::vector<std::string> subscribe_event_types;
  std::string comment;
};

struct Policy {
  std::string name;
  std::string namespace_path;  // "" (root) or "ns1/ns2/"
  // Not known to the parser: the caller sets it (granting-policy records and
  // `identity.groups.names` lookups use it).
  std::string namespace_id;
  std::string raw;  // the policy text (after base64 decoding)
  bool templated = false;
  // OpenBao's per-policy escape hatches for templated values (template.hpp).
  bool allow_slashes_in_templates = false;
  bool allow_wildcards_in_templates = false;
  // The built-in root policy (make_root_policy); never produced by parsing.
  bool is_root = false;
  std::vector<PathRule> paths;
};

// Trims ASCII whitespace and lower-cases, as Vault does for policy names.
std::string normalize_policy_name(std::string_view name);

// "ns1/ns2" / "/ns1/ns2/" -> "ns1/ns2/"; "" and "/" -> "".
std::string normalize_namespace_path(std::string_view path);

// Parses policy text (HCL, JSON, or standard base64 of either) for the
// namespace at `namespace_path`. `name` is stored as given (callers use
// normalize_policy_name first). InvalidArgument with Vault's message on any
// error. Thread-safe.
Result<Policy> parse_policy(std::string_view name, std::string_view text, std::string_view namespace_path);

// The normalised form of one path key (§2.3 steps 2-7). Errors:
// `invalid use of wildcards ('+*' is forbidden)`.
struct NormalizedPath {
  std::string path;
  RuleKind kind = RuleKind::Exact;
};
Result<NormalizedPath> normalize_rule_path(std::string_view key, std::string_view namespace_path);

// The built-in root policy for a namespace: grants everything there and below.
Policy make_root_policy(std::string_view namespace_path, std::string_view namespace_id = "");

// Built-in policy texts (§9.6).
extern const std::string_view kDefaultPolicyText;
extern const std::string_view kResponseWrappingPolicyText;
inline constexpr std::string_view kDefaultPolicyName = "default";
inline constexpr std::string_view kResponseWrappingPolicyName = "response-wrapping";
inline constexpr std::string_view kRootPolicyName = "root";

}  // namespace engine::policy
