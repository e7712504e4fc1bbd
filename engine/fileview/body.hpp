// SPDX-License-Identifier: MPL-2.0
// Request bodies as people write them into files (SPEC §1): a JSON object, or
// `key=value` pairs as the vault CLI takes them (shell-style quoting; pairs
// separated by spaces or newlines).
#pragma once

#include <string_view>

#include "engine/common/error.hpp"
#include "engine/common/secure.hpp"

namespace engine {

inline constexpr std::size_t kMaxBodyBytes = 1 << 20;  // 1 MiB

// Parses body into a JSON object. InvalidArgument for malformed JSON, a JSON
// value that is not an object, an empty body, a pair without '=', an empty or
// repeated key, or unbalanced quotes; TooLarge above kMaxBodyBytes. Messages
// never quote values (they may be secrets).
Result<Json> parse_body(std::string_view body);

// True if body is a whole request: a complete JSON document, or any text
// ending in a newline (so `echo '{"a":' > f` fails at write(2), visibly).
// Pure.
bool body_is_complete(std::string_view body);

}  // namespace engine
