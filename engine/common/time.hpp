// SPDX-License-Identifier: MPL-2.0
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "engine/common/request.hpp"

namespace engine {

// RFC 3339 UTC with nanoseconds, as Vault prints times: "2026-11-23T18:00:00.123456789Z".
std::string format_time(TimePoint t);

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

// A duration in seconds as Go's time.Duration.String() prints it
// ("768h0m0s", "1m30s", "45s", "0s"), for texts copied from Vault.
std::string go_duration(std::int64_t seconds);

}  // namespace engine
