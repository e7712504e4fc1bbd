// SPDX-License-Identifier: MPL-2.0
// Typed access to request bodies, with Vault's leniency (a number may come
// as a string from a key=value body) and Coffer's strictness (unknown keys
// are an error, not silently ignored).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/error.hpp"
#include "engine/common/numbers.hpp"
#include "engine/common/secure.hpp"

namespace engine::fields {

// InvalidArgument naming the first key of body not in allowed.
Status only(const Json& body, std::initializer_list<std::string_view> allowed);

// Each returns nullopt when the key is absent (or null), InvalidArgument when
// it has the wrong type.
Result<std::optional<std::string>> get_string(const Json& body, std::string_view key);
Result<std::optional<std::int64_t>> get_int(const Json& body, std::string_view key);
Result<std::optional<bool>> get_bool(const Json& body, std::string_view key);
// Seconds, from a non-negative JSON integer or a string as
// parse_duration_seconds (engine/common/duration.hpp) reads it: Vault's
// ParseDurationSecond ("90", "2d", "90s", "1h30m", "768h"; "" is 0).
// InvalidArgument for other types, bad syntax or a negative duration.
Result<std::optional<std::int64_t>> get_duration(const Json& body, std::string_view key);
// A list of strings, from a JSON array or a comma-separated string.
Result<std::optional<std::vector<std::string>>> get_string_list(const Json& body, std::string_view key);
// A map of string to string (JSON object with string values).
Result<std::optional<std::map<std::string, std::string>>> get_string_map(const Json& body, std::string_view key);

// Non-negative integers from a path or body ("3" in db@3): the engine's one
// checked parser, engine/common/numbers.hpp.
using engine::parse_count;

}  // namespace engine::fields
