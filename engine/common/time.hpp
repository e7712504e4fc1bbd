// SPDX-License-Identifier: MPL-2.0
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "engine/common/request.hpp"

namespace engine {

// RFC 3339 UTC as Vault prints times (Go's time.RFC3339Nano): the fraction
// of a second with its trailing zeros trimmed, none when it is zero:
// "2018-03-22T02:24:06.945319214Z", "2018-03-22T02:24:06.5Z",
// "1970-01-01T00:00:00Z". The one time formatter of the engine. Pure.
std::string format_time(TimePoint t);
// The same for an instant given as unix nanoseconds.
std::string format_time(std::int64_t unix_ns);

inline std::int64_t unix_seconds(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// Saturating int64 arithmetic for durations and instants: a huge TTL, period
// or increment (durations parse up to ~9.2e18 seconds) clamps at the int64
// range instead of wrapping, so no overflow ever yields a time in the past
// (a token dead on arrival) or a wrapped one.
inline std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  std::int64_t out = 0;
  if (!__builtin_add_overflow(a, b, &out)) return out;
  return b > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
}

inline std::int64_t saturating_mul(std::int64_t a, std::int64_t b) {
  std::int64_t out = 0;
  if (!__builtin_mul_overflow(a, b, &out)) return out;
  return (a < 0) != (b < 0) ? std::numeric_limits<std::int64_t>::min() : std::numeric_limits<std::int64_t>::max();
}

// Seconds as nanoseconds, saturating.
inline std::int64_t seconds_to_ns(std::int64_t seconds) { return saturating_mul(seconds, 1'000'000'000); }

// The instant (unix ns) `seconds` after unix ns `start`, saturating.
inline std::int64_t ns_after(std::int64_t start_ns, std::int64_t seconds) {
  return saturating_add(start_ns, seconds_to_ns(seconds));
}

}  // namespace engine
