// SPDX-License-Identifier: MPL-2.0
// Helpers shared by the KV v1 and v2 backends: path checks, body checks,
// JSON (de)serialisation of secrets, and Vault's duration fields.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "engine/backend/backend.hpp"
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
Status reject_unknown_keys(const Json& body, std::initializer_list<std::string_view> allowed, std::string_view where);

// A value Vault would accept for an integer field: JSON integer, integral
// float, or a string of decimal digits (optionally signed).
Result<std::int64_t> parse_int(const Json& value, std::string_view field);
// JSON bool or a string Go's strconv.ParseBool accepts ("true", "0", "T"...).
Result<bool> parse_bool(const Json& value, std::string_view field);
// Vault's duration-in-seconds field: a JSON number of seconds (a float
// truncated), or a string as engine::parse_duration_seconds reads it
// (engine/common/duration.hpp: digits, "<n>d", or a Go duration such as
// "1h30m", "90s", "0s"). Prints back with engine::go_duration.
Result<std::int64_t> parse_duration_seconds(const Json& value, std::string_view field);

// Times print with engine::format_time (engine/common/time.hpp).
std::int64_t to_unix_nanos(TimePoint t);
TimePoint from_unix_nanos(std::int64_t unix_nanos);

// A secret's JSON rendered for storage, and parsed back (Corrupt when the
// stored bytes are not a JSON object).
SecureBytes dump_secret(const Json& value);
Result<Json> parse_secret(const SecureBytes& bytes);

// How long a secret's whole rendering as a file (render_pretty) may be. A
// `cat` renders it in full, so without a bound a body that nests deep (the
// indentation grows with depth: a 1 MiB body of leaves 60 levels down
// renders to about 60 MiB) or a secret grown patch by patch would make
// every reader, and every stored version, pay many times what the writer
// sent. Vault's integrated storage refuses entries over 1 MiB; this bound
// is on what readers get, and leaves room for escapes (a control character
// is six bytes as JSON).
inline constexpr std::size_t kMaxRenderedSecret = 8u << 20;
// TooLarge (EFBIG) when a rendering of rendered_size bytes is over it.
Status check_rendered_size(std::size_t rendered_size);

// Go's unicode.IsPrint for one code point: general categories L, M, N, P, S
// and the ASCII space U+0020 only. So every other space (U+00A0, U+2003...),
// format character (U+200B, U+00AD, U+FEFF), control, private-use, surrogate
// and unassigned code point is not printable. The category comes from ICU's
// u_charType: ICU 72 (Debian 12) is Unicode 15.0, as Go's tables are since
// Go 1.21 (unicode.Version "15.0.0"), so the two agree code point for code
// point. ICU's own u_isprint does not (it accepts the Z spaces), nor
// u_isgraph (it accepts private use).
bool go_is_print(std::int32_t code_point);
// Vault's strutil.Printable: every rune of s is go_is_print. Invalid UTF-8
// is not printable (Go would see U+FFFD there, but Vault's JSON decoding has
// already replaced such bytes before its check).
bool go_printable(std::string_view s);
// Go's %q for a string (strconv.Quote, used in Vault's messages).
std::string go_quote(std::string_view s);

// The key limit of a LIST (the file view's "is this a folder?" probe asks for
// one key): a positive integer "limit" in the request, else 0 (all keys).
std::size_t list_limit(const Json& data);
// A LIST's reply: the keys into the request's parts.list_keys when it has one
// (an empty reply then), else {"keys": [...]}.
Response list_reply(const BackendRequest& req, std::vector<std::string> keys);

}  // namespace engine::kv
