// SPDX-License-Identifier: MPL-2.0
// The engine's one checked parser for numbers that come as text in a path,
// a body, a config file or a stored key: no exception, no silent wrap.
#pragma once

#include <cstdint>
#include <string_view>

#include "engine/common/error.hpp"

namespace engine {

// Parses a non-negative integer written in `base` (10 by default; 8 for a
// file mode, 16 for a hex escape): "3" in db@3. Only digits of the base: no
// sign, space or "0x" prefix. InvalidArgument "invalid WHAT \"TEXT\"" for
// anything else, and "WHAT out of range" above max. Pure.
Result<std::int64_t> parse_count(std::string_view text, std::string_view what, std::int64_t max = INT64_MAX,
                                 int base = 10);

}  // namespace engine
