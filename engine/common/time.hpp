// SPDX-License-Identifier: MPL-2.0
#pragma once

#include <string>

#include "engine/common/request.hpp"

namespace engine {

// RFC 3339 UTC with nanoseconds, as Vault prints times: "2026-11-23T18:00:00.123456789Z".
std::string format_time(TimePoint t);

inline std::int64_t unix_seconds(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace engine
