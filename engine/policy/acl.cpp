// SPDX-License-Identifier: MPL-2.0
#include "engine/policy/acl.hpp"

#include <algorithm>
#include <functional>
#include <numeric>
#include <unordered_map>
#include <unordered_set>

#include "engine/common/path.hpp"
#include "engine/policy/radix.hpp"

namespace engine::policy {
namespace {

constexpr std::uint32_t kNone = RadixTree::kNone;
constexpr std::int64_t kNsPerSecond = 1'000'000'000;
constexpr std::uint32_t kAllCaps = cap::kCreate | cap::kRead | cap::kUpdate | cap::kDelete | cap::kList | cap::kSudo |
                                   cap::kPatch | cap::kSubscribe | cap::kRecover;

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
template <class V>
using StringMapOf = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

// The merged permissions of one (kind, pattern) key.
struct Rule {
  std::string pattern;  // display form: prefix rules get their '*' back
  RuleKind kind = RuleKind::Exact;
  std::uint32_t caps = 0;
  std::int64_t min_wrapping_ttl_ns = 0;
  std::int64_t max_wrapping_ttl_ns = 0;
  std::optional<ParameterMap> allowed;
  std::optional<ParameterMap> denied;
  std::vector<std::string> required;
  std::vector<std::string> mfa_methods;
  bool control_group = false;
  std::vector<std::string> subscribe_event_types;  // unioned over the merged blocks
  // (capability bits a contribution granted, index into Impl::granters).
  std::vector<std::pair<std::uint32_t, std::uint32_t>> grants;
  std::uint32_t rank = 0;  // priority among non-exact rules; higher wins
};

// Priority inputs of a non-exact rule (§3.3).
struct PriorityKey {
  std::size_t first_wildcard = 0;
  bool is_prefix = false;
  std::size_t wildcards = 0;
  std::string_view path;  // without the trailing '*'
};

// OpenBao's `less`: true when a has lower priority than b.
bool lower_priority(const PriorityKey& a, const PriorityKey& b) {
  if (a.first_wildcard != b.first_wildcard) return a.first_wildcard < b.first_wildcard;
  if (a.is_prefix != b.is_prefix) return a.is_prefix;
  if (a.wildcards != b.wildcards) return a.wildcards > b.wildcards;
  if (a.path.size() != b.path.size()) return a.path.size() < b.path.size();
  return a.path < b.path;
}

PriorityKey priority_key(const Rule& r, std::string_view stored_path) {
  PriorityKey k;
  if (r.kind == RuleKind::Prefix) {
    k.first_wildcard = stored_path.size();
    k.is_prefix = true;
    k.path = stored_path;
    return k;
  }
  // Segment rule: the first '+' anywhere (even inside a literal segment such
  // as "+b", exactly as OpenBao computes it).
  k.first_wildcard = stored_path.find('+');
  k.is_prefix = !stored_path.empty() && stored_path.back() == '*';
  k.path = k.is_prefix ? stored_path.substr(0, stored_path.size() - 1) : stored_path;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = k.path.find('/', start);
    const std::string_view seg =
        k.path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (seg == "+") ++k.wildcards;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return k;
}

// Segment-wildcard rules as a trie over path segments: literal children by
// exact text, one child for '+', the rule ending here, and the trailing-'*'
// rules whose last segment is a prefix (a RadixTree of those prefixes).
// Matching visits only trie nodes consistent with the request path.
class SegmentIndex {
 public:
  SegmentIndex() : nodes_(1) {}

  void insert(std::string_view pattern, std::uint32_t rule) {
    const bool star = !pattern.empty() && pattern.back() == '*';
    const std::string_view body = star ? pattern.substr(0, pattern.size() - 1) : pattern;
    std::vector<std::string_view> segs;
    split_segments(body, segs);
    const std::size_t walk = star ? segs.size() - 1 : segs.size();
    std::uint32_t n = 0;
    for (std::size_t i = 0; i < walk; ++i) {
      std::uint32_t next = kNone;
      if (segs[i] == "+") {
        next = nodes_[n].plus;
        if (next == kNone) {
          next = static_cast<std::uint32_t>(nodes_.size());
          nodes_[n].plus = next;
          nodes_.emplace_back();
        }
      } else {
        auto it = nodes_[n].literal.find(segs[i]);
        if (it != nodes_[n].literal.end()) {
          next = it->second;
        } else {
          next = static_cast<std::uint32_t>(nodes_.size());
          nodes_[n].literal.emplace(std::string(segs[i]), next);
          nodes_.emplace_back();
        }
      }
      n = next;
    }
    if (star) {
      if (nodes_[n].star == kNone) {
        nodes_[n].star = static_cast<std::uint32_t>(stars_.size());
        stars_.emplace_back();
      }
      stars_[nodes_[n].star].insert(segs.back()) = rule;
    } else {
      nodes_[n].terminal = rule;
    }
    ++count_;
  }

  bool empty() const noexcept { return count_ == 0; }

  // Calls f(rule) for every rule matching the split request path.
  template <class F>
  void match(const std::vector<std::string_view>& parts, F&& f) const {
    // Explicit stack: depth is bounded by the request's segment count.
    std::vector<std::pair<std::uint32_t, std::size_t>> stack;
    stack.emplace_back(0, 0);
    while (!stack.empty()) {
      const auto [n, depth] = stack.back();
      stack.pop_back();
      const Node& node = nodes_[n];
      if (depth == parts.size()) {
        if (node.terminal != kNone) f(node.terminal);
        continue;
      }
      if (node.star != kNone) {
        stars_[node.star].for_each_prefix(parts[depth], [&](std::size_t, std::uint32_t r) { f(r); });
      }
      if (!node.literal.empty()) {
        auto it = node.literal.find(parts[depth]);
        if (it != node.literal.end()) stack.emplace_back(it->second, depth + 1);
      }
      if (node.plus != kNone) stack.emplace_back(node.plus, depth + 1);
    }
  }

 private:
  struct Node {
    StringMapOf<std::uint32_t> literal;
    std::uint32_t plus = kNone;
    std::uint32_t terminal = kNone;
    std::uint32_t star = kNone;  // index into stars_
  };
  std::vector<Node> nodes_;
  std::vector<RadixTree> stars_;
  std::size_t count_ = 0;
};

std::uint32_t required_capability(Operation op) {
  switch (op) {
    case Operation::Read: return cap::kRead;
    case Operation::List: return cap::kList;
    case Operation::Create: return cap::kCreate;
    case Operation::Update: return cap::kUpdate;
    case Operation::Patch: return cap::kPatch;
    case Operation::Delete: return cap::kDelete;
  }
  return 0;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// strutil.GlobbedStringsMatch: '*' only at the ends; a lone "*" is literal.
bool glob_match(std::string_view pattern, std::string_view value) {
  if (pattern.size() < 2) return pattern == value;
  const bool lead = pattern.front() == '*';
  const bool trail = pattern.back() == '*';
  if (lead && trail) return value.find(pattern.substr(1, pattern.size() - 2)) != std::string_view::npos;
  if (lead) {
    const auto suffix = pattern.substr(1);
    return value.size() >= suffix.size() && value.substr(value.size() - suffix.size()) == suffix;
  }
  if (trail) return value.substr(0, pattern.size() - 1) == pattern.substr(0, pattern.size() - 1);
  return pattern == value;
}

bool value_in_list(const Json& value, const std::vector<Json>& list) {
  if (list.empty()) return true;  // any value
  for (const auto& allowed : list) {
    if (allowed.is_null() || value.is_null()) {
      if (allowed.is_null() && value.is_null()) return true;
      continue;
    }
    if (allowed.is_string() && value.is_string()) {
      if (glob_match(as_view(allowed.get_ref<const SecureString&>()), as_view(value.get_ref<const SecureString&>()))) {
        return true;
      }
    } else if (allowed == value) {
      return true;
    }
  }
  return false;
}

bool parameters_allowed(const Rule& rule, const Json& params) {
  const bool is_object = params.is_object();
  for (const auto& name : rule.required) {
    const std::string wanted = lower(name);
    if (!is_object || params.find(std::string_view(wanted)) == params.end()) return false;
  }
  if (!is_object || params.empty()) return true;

  if (rule.denied && !rule.denied->empty()) {
    if (rule.denied->count("*") != 0) return false;
    for (auto p = params.begin(); p != params.end(); ++p) {
      const auto it = rule.denied->find(lower(as_view(p.key())));
      if (it != rule.denied->end() && value_in_list(p.value(), it->second)) return false;
    }
  }

  if (!rule.allowed || rule.allowed->empty()) return true;
  const bool allowed_all = rule.allowed->count("*") != 0;
  if (allowed_all && rule.allowed->size() == 1) return true;
  for (auto p = params.begin(); p != params.end(); ++p) {
    const auto it = rule.allowed->find(lower(as_view(p.key())));
    if (it == rule.allowed->end()) {
      if (!allowed_all) return false;
      continue;
    }
    if (!value_in_list(p.value(), it->second)) return false;
  }
  return true;
}

// Vault's merge of parameter maps: keys unioned, value lists concatenated,
// an empty list (any value) on either side wins.
void merge_parameters(std::optional<ParameterMap>& into, const std::optional<ParameterMap>& from) {
  if (!from || from->empty()) return;
  if (!into) {
    into = *from;
    return;
  }
  for (const auto& [key, values] : *from) {
    auto it = into->find(key);
    if (it == into->end()) {
      into->emplace(key, values);
    } else if (values.empty() || it->second.empty()) {
      it->second.clear();
    } else {
      std::vector<Json> merged = values;
      merged.insert(merged.end(), it->second.begin(), it->second.end());
      it->second = std::move(merged);
    }
  }
}

void append_unique(std::vector<std::string>& into, const std::vector<std::string>& from) {
  for (const auto& v : from) {
    if (std::find(into.begin(), into.end(), v) == into.end()) into.push_back(v);
  }
}

}  // namespace

struct Acl::Impl {
  bool root = false;
  std::string root_namespace;  // the root ACL's namespace path
  GrantingPolicy root_granter;

  std::vector<Rule> rules;
  std::vector<GrantingPolicy> granters;
  StringMapOf<std::uint32_t> exact;
  RadixTree prefix;
  SegmentIndex segments;
  // has_capability_below(): every directory prefix ("a/", "a/b/") of a
  // granting rule's literal part, and the literal starts of granting
  // segment-wildcard rules (anything below them may match).
  std::unordered_set<std::string> granting_dirs;
  RadixTree segment_roots;

  // Highest-priority prefix/segment rule matching `path` (§3.2), or kNone.
  std::uint32_t non_exact(std::string_view path) const {
    std::uint32_t best = prefix.longest_prefix(path);
    if (segments.empty()) return best;
    thread_local std::vector<std::string_view> parts;
    split_segments(path, parts);
    segments.match(parts, [&](std::uint32_t r) {
      if (best == kNone || rules[r].rank > rules[best].rank) best = r;
    });
    return best;
  }

  // §3.1 steps 2-4, OpenBao order.
  std::uint32_t lookup(std::string_view path, bool list) const {
    if (auto it = exact.find(path); it != exact.end()) return it->second;
    const bool trailing = !path.empty() && path.back() == '/';
    const std::string_view trimmed = trailing ? path.substr(0, path.size() - 1) : path;
    if (list && trailing) {
      if (auto it = exact.find(trimmed); it != exact.end()) return it->second;
    }
    if (const std::uint32_t r = non_exact(path); r != kNone) return r;
    if (list && trailing) return non_exact(trimmed);
    return kNone;
  }

  bool root_covers(std::string_view path) const { return path.substr(0, root_namespace.size()) == root_namespace; }
};

const char* to_string(DenyReason reason) noexcept {
  switch (reason) {
    case DenyReason::None: return "allowed";
    case DenyReason::NoRule: return "no policy grants access to the path";
    case DenyReason::Capability: return "capability not granted";
    case DenyReason::SudoRequired: return "sudo capability required";
    case DenyReason::Wrapping: return "response wrapping TTL outside policy bounds";
    case DenyReason::Parameters: return "request parameters not permitted";
    case DenyReason::MfaRequired: return "MFA required by policy (unsupported)";
    case DenyReason::ControlGroup: return "control group required by policy (unsupported)";
    case DenyReason::OutsideRootNamespace: return "root policy does not cover this namespace";
  }
  return "unknown";
}

Result<Acl> Acl::compile(const std::vector<AclInput>& inputs) {
  auto impl = std::make_shared<Impl>();
  const IdentityContext no_identity;
  std::size_t live = 0;
  for (const auto& in : inputs) live += in.policy != nullptr ? 1 : 0;

  StringMapOf<std::uint32_t> by_key[3];  // per RuleKind
  for (const auto& in : inputs) {
    if (in.policy == nullptr) continue;
    const Policy& policy = *in.policy;
    const auto granter = static_cast<std::uint32_t>(impl->granters.size());
    impl->granters.push_back({policy.name, policy.namespace_id, policy.namespace_path});
    if (policy.is_root) {
      if (live != 1) return Error::invalid("other policies present along with root");
      impl->root = true;
      impl->root_namespace = policy.namespace_path;
      impl->root_granter = impl->granters.back();
      continue;
    }
    const IdentityContext& identity = in.identity != nullptr ? *in.identity : no_identity;
    const TemplateOptions options{policy.allow_slashes_in_templates, policy.allow_wildcards_in_templates};

    for (const PathRule& pr : policy.paths) {
      std::string path = pr.path;
      RuleKind kind = pr.kind;
      if (pr.templated) {
        auto substituted = populate_template(pr.key, identity, options);
        if (!substituted) continue;  // this block alone is dropped (§6)
        auto norm = normalize_rule_path(*substituted, policy.namespace_path);
        if (!norm) continue;
        path = std::move(norm->path);
        kind = norm->kind;
      }
      auto& index = by_key[static_cast<int>(kind)];
      auto found = index.find(path);
      if (found == index.end()) {
        Rule r;
        r.pattern = kind == RuleKind::Prefix ? path + "*" : path;
        r.kind = kind;
        r.caps = pr.capabilities;
        r.min_wrapping_ttl_ns = pr.min_wrapping_ttl_ns;
        r.max_wrapping_ttl_ns = pr.max_wrapping_ttl_ns;
        r.allowed = pr.allowed_parameters;
        r.denied = pr.denied_parameters;
        r.required = pr.required_parameters;
        append_unique(r.mfa_methods, pr.mfa_methods);
        r.control_group = pr.has_control_group;
        r.subscribe_event_types = pr.subscribe_event_types;
        r.grants.emplace_back(pr.capabilities, granter);
        index.emplace(std::move(path), static_cast<std::uint32_t>(impl->rules.size()));
        impl->rules.push_back(std::move(r));
        continue;
      }
      // Merge into the existing key (§4; OpenBao's NewACL).
      Rule& r = impl->rules[found->second];
      if ((r.caps & cap::kDeny) != 0) continue;  // deny already: nothing else counts
      if ((pr.capabilities & cap::kDeny) != 0) {
        r.caps = cap::kDeny;
        r.allowed.reset();
        r.denied.reset();
        continue;
      }
      r.caps |= pr.capabilities;
      r.grants.emplace_back(pr.capabilities, granter);
      // Wrapping TTLs: the smaller non-zero value of each.
      if (pr.max_wrapping_ttl_ns > 0 &&
          (r.max_wrapping_ttl_ns == 0 || pr.max_wrapping_ttl_ns < r.max_wrapping_ttl_ns)) {
        r.max_wrapping_ttl_ns = pr.max_wrapping_ttl_ns;
      }
      if (pr.min_wrapping_ttl_ns > 0 &&
          (r.min_wrapping_ttl_ns == 0 || pr.min_wrapping_ttl_ns < r.min_wrapping_ttl_ns)) {
        r.min_wrapping_ttl_ns = pr.min_wrapping_ttl_ns;
      }
      merge_parameters(r.allowed, pr.allowed_parameters);
      merge_parameters(r.denied, pr.denied_parameters);
      append_unique(r.required, pr.required_parameters);
      append_unique(r.mfa_methods, pr.mfa_methods);
      r.control_group = r.control_group || pr.has_control_group;
      append_unique(r.subscribe_event_types, pr.subscribe_event_types);
    }
  }

  // Indexes, and one precomputed rank per non-exact rule so a decision
  // compares candidates in O(1).
  std::vector<std::pair<PriorityKey, std::uint32_t>> ranked;
  for (int kind = 0; kind < 3; ++kind) {
    for (const auto& [path, idx] : by_key[kind]) {
      switch (static_cast<RuleKind>(kind)) {
        case RuleKind::Exact: impl->exact.emplace(path, idx); break;
        case RuleKind::Prefix:
          impl->prefix.insert(path) = idx;
          ranked.emplace_back(priority_key(impl->rules[idx], path), idx);
          break;
        case RuleKind::SegmentWildcard:
          impl->segments.insert(path, idx);
          ranked.emplace_back(priority_key(impl->rules[idx], path), idx);
          break;
      }
    }
  }
  std::sort(ranked.begin(), ranked.end(),
            [](const auto& a, const auto& b) { return lower_priority(a.first, b.first); });
  for (const Rule& r : impl->rules) {
    if ((r.caps & ~cap::kDeny) == 0 || (r.caps & cap::kDeny) != 0) continue;
    std::string_view literal = r.pattern;
    if (r.kind == RuleKind::Prefix) literal.remove_suffix(1);  // the display form's '*'
    if (r.kind == RuleKind::SegmentWildcard) {
      literal = literal.substr(0, literal.find('+'));
      impl->segment_roots.insert(literal) = 0;
    }
    impl->granting_dirs.emplace();
    for (std::size_t slash = literal.find('/'); slash != std::string_view::npos; slash = literal.find('/', slash + 1)) {
      impl->granting_dirs.emplace(literal.substr(0, slash + 1));
    }
    // An exact or prefix rule on the directory's own name ("secret") reaches
    // its listing ("secret/") through the list fallback.
    if (r.kind != RuleKind::SegmentWildcard && !literal.empty() && literal.back() != '/') {
      impl->granting_dirs.emplace(std::string(literal) + "/");
    }
  }
  for (std::size_t i = 0; i < ranked.size(); ++i) {
    impl->rules[ranked[i].second].rank = static_cast<std::uint32_t>(i);
  }
  // by_key's strings (which the PriorityKeys viewed) die here; ranks stay.
  return Acl(std::move(impl));
}

Result<Acl> Acl::compile(const std::vector<Policy>& policies, const IdentityContext& identity) {
  std::vector<IdentityContext> per_policy;  // only for templated policies
  per_policy.reserve(policies.size());
  std::vector<AclInput> inputs;
  inputs.reserve(policies.size());
  for (const auto& p : policies) {
    if (p.templated && p.namespace_id != identity.namespace_id) {
      per_policy.push_back(identity);
      per_policy.back().namespace_id = p.namespace_id;
      inputs.push_back({&p, &per_policy.back()});
    } else {
      inputs.push_back({&p, &identity});
    }
  }
  return compile(inputs);
}

AclDecision Acl::allow(Operation op, std::string_view abs_path, const Json& params,
                       std::optional<std::int64_t> wrap_ttl_s, bool root_protected) const {
  AclDecision d;
  while (!abs_path.empty() && abs_path.front() == '/') abs_path.remove_prefix(1);
  const Impl& impl = *impl_;
  if (impl.root) {
    if (!impl.root_covers(abs_path)) {
      d.reason = DenyReason::OutsideRootNamespace;
      return d;
    }
    d.allowed = true;
    d.is_root = true;
    d.root_privs = true;
    d.capabilities = kAllCaps;
    d.reason = DenyReason::None;
    d.granting_policies.push_back(impl.root_granter);
    return d;
  }

  const std::uint32_t idx = impl.lookup(abs_path, op == Operation::List);
  if (idx == kNone) {
    d.reason = DenyReason::NoRule;
    return d;
  }
  const Rule& rule = impl.rules[idx];
  d.rule = rule.pattern;
  d.capabilities = rule.caps;
  d.root_privs = (rule.caps & cap::kSudo) != 0;

  const std::uint32_t needed = required_capability(op);
  if (needed == 0 || (rule.caps & needed) == 0) {
    d.reason = DenyReason::Capability;
    return d;
  }
  if (root_protected && !d.root_privs) {
    d.reason = DenyReason::SudoRequired;
    return d;
  }
  if (!rule.mfa_methods.empty()) {
    d.reason = DenyReason::MfaRequired;
    return d;
  }
  if (rule.control_group) {
    d.reason = DenyReason::ControlGroup;
    return d;
  }

  // Wrapping: a bound set means the request must be wrapped within it. The
  // last check catches a min > max produced by merging.
  const auto wrap_ns = [&]() -> std::optional<long double> {
    if (!wrap_ttl_s) return std::nullopt;
    return static_cast<long double>(*wrap_ttl_s) * kNsPerSecond;
  }();
  if (rule.max_wrapping_ttl_ns > 0 && (!wrap_ns || *wrap_ns > rule.max_wrapping_ttl_ns)) {
    d.reason = DenyReason::Wrapping;
    return d;
  }
  if (rule.min_wrapping_ttl_ns > 0 && (!wrap_ns || *wrap_ns < rule.min_wrapping_ttl_ns)) {
    d.reason = DenyReason::Wrapping;
    return d;
  }
  if (rule.min_wrapping_ttl_ns != 0 && rule.max_wrapping_ttl_ns != 0 &&
      rule.max_wrapping_ttl_ns < rule.min_wrapping_ttl_ns) {
    d.reason = DenyReason::Wrapping;
    return d;
  }

  // Parameters: only operations that carry them (never list or delete).
  if (op == Operation::Read || op == Operation::Create || op == Operation::Update || op == Operation::Patch) {
    if (!parameters_allowed(rule, params)) {
      d.reason = DenyReason::Parameters;
      return d;
    }
  }

  d.allowed = true;
  d.reason = DenyReason::None;
  for (const auto& [bits, granter] : rule.grants) {
    if ((bits & needed) == 0) continue;
    const GrantingPolicy& g = impl.granters[granter];
    if (std::find(d.granting_policies.begin(), d.granting_policies.end(), g) == d.granting_policies.end()) {
      d.granting_policies.push_back(g);
    }
  }
  return d;
}

std::uint32_t Acl::capability_bits(std::string_view abs_path) const {
  while (!abs_path.empty() && abs_path.front() == '/') abs_path.remove_prefix(1);
  const Impl& impl = *impl_;
  if (impl.root) return impl.root_covers(abs_path) ? kAllCaps : 0;
  const std::uint32_t idx = impl.lookup(abs_path, /*list=*/true);
  return idx == kNone ? 0 : impl.rules[idx].caps;
}

std::vector<std::string> Acl::subscribe_event_types(std::string_view abs_path) const {
  while (!abs_path.empty() && abs_path.front() == '/') abs_path.remove_prefix(1);
  const Impl& impl = *impl_;
  if (impl.root) return impl.root_covers(abs_path) ? std::vector<std::string>{"*"} : std::vector<std::string>{};
  const std::uint32_t idx = impl.lookup(abs_path, /*list=*/true);
  if (idx == kNone || (impl.rules[idx].caps & cap::kDeny) != 0) return {};
  return impl.rules[idx].subscribe_event_types;
}

std::vector<std::string> Acl::capabilities(std::string_view abs_path) const {
  std::string_view p = abs_path;
  while (!p.empty() && p.front() == '/') p.remove_prefix(1);
  if (impl_->root && impl_->root_covers(p)) return {"root"};
  return capability_names(capability_bits(p));
}

bool Acl::has_capability_below(std::string_view abs_prefix) const {
  while (!abs_prefix.empty() && abs_prefix.front() == '/') abs_prefix.remove_prefix(1);
  std::string dir(abs_prefix);
  if (!dir.empty() && dir.back() != '/') dir.push_back('/');
  const Impl& impl = *impl_;
  if (impl.root) return impl.root_covers(dir);
  // A rule somewhere below the directory.
  if (impl.granting_dirs.contains(dir)) return true;
  // A wider rule covering the directory itself (priority and deny included).
  const std::uint32_t idx = impl.lookup(dir, /*list=*/true);
  if (idx != kNone) {
    const std::uint32_t caps = impl.rules[idx].caps;
    if ((caps & cap::kDeny) == 0 && caps != 0) return true;
  }
  // A segment-wildcard rule starting at or above the directory.
  return impl.segment_roots.longest_prefix(dir) != kNone;
}

bool Acl::is_root() const noexcept { return impl_->root; }

std::size_t Acl::rule_count() const noexcept { return impl_->rules.size(); }

}  // namespace engine::policy
