// SPDX-License-Identifier: MPL-2.0
// A backend's path table: which of its paths are special to the core, stated
// as data (OpenBao's framework.Path list with its PathsSpecial and
// ExistenceCheck) instead of string comparisons in the pipeline. A backend
// answers Backend::path_properties() and Backend::exists() from its table.
#pragma once

#include <span>
#include <string_view>

#include "engine/backend/backend.hpp"

namespace engine {

// How a rule's pattern is compared with the path below the mount.
enum class PathMatch {
  Exact,   // rel == pattern
  Prefix,  // rel starts with pattern ("raw" matches "raw", "rawx", "raw/k")
  Tree,    // rel == pattern, or rel starts with pattern + "/"
};

// The operations a rule applies to.
enum class PathOps {
  Any,     // every operation
  Writes,  // Create, Update, Patch, Delete (not Read, List)
  List,    // List only
};

// An existence check (Vault's ExistenceCheck): does the write's target exist?
// Null in a rule: the path has none, so a write stays Update (needs the
// `update` capability, as in Vault).
using ExistenceCheck = Result<bool> (*)(const Backend& backend, const BackendRequest& req);

struct PathRule {
  std::string_view pattern;
  PathMatch match = PathMatch::Exact;
  PathOps ops = PathOps::Any;
  PathProperties props;
  ExistenceCheck exists = nullptr;
};

// Does `rule` cover `rel` for `op`?
constexpr bool rule_matches(const PathRule& rule, std::string_view rel, Operation op) {
  switch (rule.ops) {
    case PathOps::Any: break;
    case PathOps::Writes:
      if (op == Operation::Read || op == Operation::List) return false;
      break;
    case PathOps::List:
      if (op != Operation::List) return false;
      break;
  }
  switch (rule.match) {
    case PathMatch::Exact: return rel == rule.pattern;
    case PathMatch::Prefix: return rel.starts_with(rule.pattern);
    case PathMatch::Tree:
      return rel == rule.pattern ||
             (rel.size() > rule.pattern.size() && rel.starts_with(rule.pattern) && rel[rule.pattern.size()] == '/');
  }
  return false;
}

// The properties of `rel` for `op`: every matching rule's flags, together.
constexpr PathProperties table_properties(std::span<const PathRule> table, std::string_view rel, Operation op) {
  PathProperties out;
  for (const PathRule& rule : table) {
    if (!rule_matches(rule, rel, op)) continue;
    out.root_only = out.root_only || rule.props.root_only;
    out.sudo = out.sudo || rule.props.sudo;
    out.exclusive = out.exclusive || rule.props.exclusive;
  }
  return out;
}

// The existence check of the first matching rule that has one; true (the
// write is an Update) when none has. Errors: the check's.
inline Result<bool> table_exists(std::span<const PathRule> table, const Backend& backend, const BackendRequest& req) {
  for (const PathRule& rule : table) {
    if (rule.exists != nullptr && rule_matches(rule, req.path, req.op)) return rule.exists(backend, req);
  }
  return true;
}

}  // namespace engine
