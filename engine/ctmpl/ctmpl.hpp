// SPDX-License-Identifier: MPL-2.0
// consul-template's language (Go text/template plus Vault Agent's helpers),
// a strict subset: text with {{ }} actions, trim markers and comments;
// pipelines and variables; if/else/with/range/end; the builtins index, len,
// eq/ne/lt/le/gt/ge, and/or/not, printf (%s %d %v %q); the helpers toJSON,
// toJSONPretty, base64Encode/base64Decode, trimSpace, split, join,
// replaceAll, toLower/toUpper, parseJSON; and secret/secrets, which call
// back into the caller. Anything else is a parse error
// `NAME:LINE: function "x" not defined`. No file, no env, no writes.
//
// Parsing is pure and checks everything it can (functions, variables,
// nesting). A render is all or nothing: any error returns no bytes. Missing
// keys are errors (Agent's error_on_missing_key, always on), so are nulls
// printed as text (Go would print "<no value>").
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/common/error.hpp"

namespace engine::ctmpl {

struct Limits {
  std::size_t max_template = 64 * 1024;     // bytes of template text
  std::size_t max_depth = 32;               // nested blocks and parentheses
  std::size_t max_output = 1024 * 1024;     // bytes rendered (and any one string value)
  std::size_t max_iterations = 100 * 1000;  // range iterations in one render, all ranges together
};

// What `secret` and `secrets` read. Each gets the literal path as written in
// the template; the caller resolves it (KV v2 data/ insertion, the caller's
// token, ACL, audit) and answers with Vault Agent's shape: for `secret` the
// response envelope ({"Data": {"data": {...}, "metadata": {...}}, ...}), for
// `secrets` an array of names. Its errors are returned by render unchanged
// (NotFound, PermissionDenied, ...).
struct Source {
  std::function<Result<nlohmann::json>(const std::string& path)> secret;
  std::function<Result<nlohmann::json>(const std::string& path)> secrets;
};

struct Node;

class Template {
 public:
  // InvalidArgument "NAME:LINE: ..." on bad syntax, an unknown function, an
  // undefined variable, `secret` with more than one argument, or a limit.
  static Result<Template> parse(std::string_view name, std::string_view text, const Limits& limits = {});

  // Executes with `dot` as the initial `.` (and `$`). Errors: the source's
  // own; InvalidArgument never (parse checked it); Corrupt (EIO)
  // "NAME:LINE: ..." for a missing key, a wrong type, a bad argument;
  // TooLarge for the output or iteration limits. Messages name keys and
  // functions, never values.
  Result<std::string> render(const Source& source, const nlohmann::json& dot = nullptr) const;

  // The paths of `secret "..."` / `secrets "..."` calls with a literal
  // argument, in order of appearance (a template's static dependencies).
  const std::vector<std::string>& literal_paths() const { return literal_paths_; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  Limits limits_;
  std::shared_ptr<const std::vector<Node>> root_;
  std::vector<std::string> literal_paths_;
};

// Whether `name` is a function templates may call.
bool is_function(std::string_view name);

}  // namespace engine::ctmpl
