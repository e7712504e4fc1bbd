// SPDX-License-Identifier: MPL-2.0
// Helpers shared by the KV v1 and v2 backends: path checks, body checks,
// JSON (de)serialisation of secrets, and Vault's time and duration formats.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/error.hpp"
#include "engine/common/request.hpp"
#include "engine/common/secure.hpp"

namespace engine::kv {

// InvalidArgument unless `name` is a usable secret name: non-empty, no
// leading or trailing '/', no empty, "." or ".." segment.
Status check_secret_name(std::string_view name);

// A folder for a list: "" (the root) or a name ending in '/' whose segments
// pass check_secret_name. InvalidArgument otherwise.
Status check_folder(std::string_view folder);

// InvalidArgument naming the first key of `body` (an object) not in
// `allowed`; `where` says which request it was ("data write").
Status reject_unknown_keys(const Json& body, std::initializer_list<std::string_view> allowed,
                           std::string_view where);

// A value Vault would accept for an integer field: JSON integer, integral
// float, or a string of decimal digits (optionally signed).
Result<std::int64_t> parse_int(const Json& value, std::string_view field);
// JSON bool or a string Go's strconv.ParseBool accepts ("true", "0", "T"...).
Result<bool> parse_bool(const Json& value, std::string_view field);
// Vault's duration-in-seconds field: an integer number of seconds, a string
// of digits, "<n>d", or a Go duration string ("1h30m", "90s", "0s").
// Truncated to whole seconds.
Result<std::int64_t> parse_duration_seconds(const Json& value, std::string_view field);
// Go's time.Duration.String() for whole seconds: "0s", "45s", "3h0m0s", "-1s".
std::string format_duration_seconds(std::int64_t seconds);

// RFC 3339 UTC with trailing zeros of the fraction trimmed, as Go's
// time.RFC3339Nano (what Vault prints): "2018-03-22T02:24:06.945319214Z".
std::string format_time(std::int64_t unix_nanos);
std::int64_t to_unix_nanos(TimePoint t);
TimePoint from_unix_nanos(std::int64_t unix_nanos);

// A secret's JSON rendered for storage, and parsed back (Corrupt when the
// stored bytes are not a JSON object).
SecureBytes dump_secret(const Json& value);
Result<Json> parse_secret(const SecureBytes& bytes);

// Go's %q for a string (used in Vault's messages): quoted, with escapes.
std::string go_quote(std::string_view s);

// The key limit of a LIST (the file view's "is this a folder?" probe asks for
// one key): a positive integer "limit" in the request, else 0 (all keys).
std::size_t list_limit(const Json& data);

}  // namespace engine::kv
