// SPDX-License-Identifier: MPL-2.0
// Durations as Vault reads and prints them: Go's time.ParseDuration, Vault's
// parseutil.ParseDurationSecond on top of it, and Go's Duration.String().
// The one place these rules live; request bodies (fields::get_duration), KV
// metadata, policies and cofferd's config all parse through here. All pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/common/error.hpp"

namespace engine {

// Go's time.ParseDuration, in nanoseconds: an optional sign, then one or
// more <number><unit> ("1h30m", "-1.5h", ".5s", "300ms"), or a bare "0".
// A number is decimal digits with an optional fraction (either side of the
// '.' may be empty, not both); units are ns, us, µs (U+00B5 or U+03BC), ms,
// s, m, h. Fractions are exact to the nanosecond as Go computes them.
// InvalidArgument `invalid duration "TEXT"` (also for a result outside
// int64 nanoseconds, where Go's sum of two 2^63 parts would wrap to 0),
// `missing unit in duration "TEXT"` or `unknown unit "U" in duration "TEXT"`.
Result<std::int64_t> parse_go_duration(std::string_view text);

// Vault's parseutil.ParseDurationSecond for a string, in nanoseconds: ""
// is 0; a base-10 integer (sign allowed, as strconv.ParseInt) is seconds;
// "<integer>d" is days (only a whole suffix: "1d2h" and "1.5d" are
// refused, as Vault does); anything else is parse_go_duration. Where Go
// would wrap silently (more seconds or days than int64 nanoseconds hold),
// InvalidArgument `invalid duration "TEXT"`.
Result<std::int64_t> parse_duration_ns(std::string_view text);

// The same rules, in whole seconds, for fields kept in seconds (TTLs, KV's
// delete_version_after, lockout). A bare integer is taken as is over the
// whole int64 range (Coffer's TTL arithmetic saturates, so a huge TTL is
// capped instead of wrapping as Go's would), "<n>d" as n*86400 (InvalidArgument
// when that overflows int64), and a Go duration as whole_seconds of it.
Result<std::int64_t> parse_duration_seconds(std::string_view text);

// Go's int64(d.Seconds()) for a duration of `ns` nanoseconds: the float
// seconds truncated toward zero, so 999999999.999999999s is 1000000000.
std::int64_t whole_seconds(std::int64_t ns);

// A duration of whole seconds as Go's Duration.String() prints it
// ("768h0m0s", "1m30s", "45s", "0s", "-1s"), clamped to what Go's int64
// nanoseconds can hold, for texts copied from Vault.
std::string go_duration(std::int64_t seconds);

}  // namespace engine
