// SPDX-License-Identifier: MPL-2.0
// A small, strict parser for the HCL1 subset Vault policies use, and for the
// JSON form of the same document. Both produce the same tree, so the policy
// decoder (policy.cpp) never needs to know which syntax it was given.
//
// Supported HCL1: `key = value`, blocks `key "label" ... { }`, `key { }`,
// strings with Go-style escapes (\n \t \" \\ \xNN \uNNNN \UNNNNNNNN, octal),
// heredocs (`<<EOF`, `<<-EOF`), integers (decimal, hex, negative), floats,
// bools, lists `[a, b,]`, objects `{ k = v, ... }`, comments `#`, `//`,
// `/* */`. Not supported (never used by policies): `${}` evaluation (the text
// is kept verbatim), unquoted identifiers as values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/error.hpp"

namespace engine::policy::hcl {

struct Item;

// A value in the document. `line` is 1-based; for containers it is the line
// of the opening bracket.
struct Value {
  enum class Kind { String, Int, Float, Bool, List, Object };
  Kind kind = Kind::String;
  int line = 0;
  std::string text;            // String
  std::int64_t int_value = 0;  // Int
  double float_value = 0;      // Float
  bool bool_value = false;     // Bool
  std::vector<Value> list;     // List
  std::vector<Item> items;     // Object, in document order; keys may repeat
};

// One `k1 k2 ... = value` or `k1 "k2" { ... }` entry. JSON members always
// have exactly one key.
struct Item {
  std::vector<std::string> keys;
  int line = 0;  // line of the first key
  Value value;
};

// Parses HCL1 or, when the first non-space character is '{', JSON (as
// hashicorp/hcl does). Returns the top-level object. Errors are
// InvalidArgument with "At LINE:COL: what went wrong".
Result<Value> parse(std::string_view text);

// The two syntaxes separately (tests and tools).
Result<Value> parse_hcl(std::string_view text);
Result<Value> parse_json(std::string_view text);

// Kind name for messages ("string", "list"...).
const char* kind_name(Value::Kind kind) noexcept;

}  // namespace engine::policy::hcl
