// SPDX-License-Identifier: MPL-2.0
// The compiled ACL: policies merged per pattern and indexed so one decision
// costs O(path length), whatever the number of rules (vault-semantics §3-§5).
//
// Behaviour choices:
// - LIST fallback in OpenBao's order (§3.1 step 4): the full path (with its
//   trailing '/') is matched against prefix/segment rules before the path
//   without it, so a specific `deny` on `secret/foo/` is not bypassed by a
//   broader grant on `secret/foo*` (GHSA-xp3c-3jw3-4vcr). Vault's stored
//   acl.go checks the trimmed path first.
// - Parameter values are matched as whole values (OpenBao; Vault's newest
//   element-wise matching of list values is not implemented). Numbers compare
//   by value (5 == 5.0), where Vault's reflect.DeepEqual of an HCL int with a
//   json.Number never matches.
// - Root: an ACL built from the root policy allows every path inside the
//   namespace the root policy was made for (OpenBao); for the root namespace
//   that is everything (Vault). Root cannot be combined with other policies.
// - mfa_methods / control_group on the deciding rule deny the operation
//   (fail closed: Coffer has neither login MFA nor control groups).
// - A templated block whose substitution fails, or whose substituted key is
//   invalid (e.g. '+*' after substitution with wildcards allowed), is dropped
//   alone; the rest of the policy applies.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/error.hpp"
#include "engine/common/request.hpp"
#include "engine/common/secure.hpp"
#include "engine/policy/policy.hpp"
#include "engine/policy/template.hpp"

namespace engine::policy {

// A policy that granted the capability an operation needed (audit's
// policy_results.granting_policies).
struct GrantingPolicy {
  std::string name;
  std::string namespace_id;
  std::string namespace_path;
  bool operator==(const GrantingPolicy&) const = default;
};

enum class DenyReason {
  None,                  // allowed
  NoRule,                // no rule matches the path (implicit deny)
  Capability,            // the deciding rule lacks the capability (or is deny)
  SudoRequired,          // root-protected path without sudo on the rule
  Wrapping,              // wrapping TTL missing or outside min/max
  Parameters,            // required/denied/allowed parameter check failed
  MfaRequired,           // rule lists mfa_methods (unsupported: fail closed)
  ControlGroup,          // rule has a control group (unsupported: fail closed)
  OutsideRootNamespace,  // root ACL used outside its namespace
};

const char* to_string(DenyReason reason) noexcept;

struct AclDecision {
  bool allowed = false;
  std::uint32_t capabilities = 0;  // cap:: bits of the deciding rule (all for root)
  bool is_root = false;
  bool root_privs = false;  // sudo on the deciding rule, or root
  DenyReason reason = DenyReason::NoRule;
  // Pattern of the deciding rule as the ACL stores it ("secret/foo*");
  // valid while the Acl lives. Empty for root or no rule.
  std::string_view rule;
  std::vector<GrantingPolicy> granting_policies;  // filled when allowed
};

// One policy and the identity its templates are evaluated with. Pointers are
// only read during compile().
struct AclInput {
  const Policy* policy = nullptr;             // nullptr entries are skipped
  const IdentityContext* identity = nullptr;  // nullptr: no entity, no groups
};

class Acl {
 public:
  // Merges the policies (§4) and builds the indexes. InvalidArgument "other
  // policies present along with root" when the root policy is combined.
  static Result<Acl> compile(const std::vector<AclInput>& inputs);
  // Same, one identity for all policies; each templated policy is evaluated
  // with identity.namespace_id replaced by its own Policy::namespace_id.
  static Result<Acl> compile(const std::vector<Policy>& policies, const IdentityContext& identity);

  // Decides one operation on `abs_path` (namespace path + request path;
  // leading '/' ignored; list paths end in '/'). `params` is the request
  // body or query (an object; anything else counts as empty). `wrap_ttl_s`
  // is the requested response-wrapping TTL in seconds, unset if unwrapped.
  // `root_protected`: the path needs sudo (§9.5). Thread-safe.
  AclDecision allow(Operation op, std::string_view abs_path, const Json& params, std::optional<std::int64_t> wrap_ttl_s,
                    bool root_protected = false) const;

  // sys/capabilities: names in the fixed order (§3.4), ["root"] for root,
  // ["deny"] for explicit deny or nothing. Evaluated with list fallback.
  std::vector<std::string> capabilities(std::string_view abs_path) const;
  // The same as bits (0 = nothing; root: every bit).
  std::uint32_t capability_bits(std::string_view abs_path) const;
  // The subscribe_event_types of the rule that decides abs_path (list
  // fallback, as capability_bits), unioned over the policies merged into
  // it; ["*"] for root, [] for deny or no rule. Vault's
  // CapabilitiesAndSubscribeEventTypes without the capabilities.
  std::vector<std::string> subscribe_event_types(std::string_view abs_path) const;

  // True when some rule grants a capability (other than deny) on a path at
  // or below the directory `abs_prefix` ("ns1/secret/"; "" = everything):
  // whether to show a namespace or mount directory to this caller (SPEC §4,
  // Vault's resultant-ACL idea). O(prefix length). A conservative "may
  // see": a segment-wildcard rule makes everything below its literal start
  // visible; rules that only deny count for nothing.
  bool has_capability_below(std::string_view abs_prefix) const;

  bool is_root() const noexcept;
  std::size_t rule_count() const noexcept;  // merged rules, all kinds

  struct Impl;

 private:
  explicit Acl(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;  // immutable after compile: copies share it
};

}  // namespace engine::policy
