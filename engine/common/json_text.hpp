// SPDX-License-Identifier: MPL-2.0
// JSON text from outside (request bodies, stored records, metadata strings)
// into Json, with the limits every parser of outside input keeps.
//
// The depth bound is what keeps a hostile body from overflowing a worker's
// stack: nlohmann's parser itself is iterative, but copying, comparing,
// dumping and every walk of ours over a Json recurses once per level. Every
// Json the engine holds comes through parse_json (or is built by our code
// from values that did), so bounding the parse bounds every later walk.
#pragma once

#include <string_view>

#include "engine/common/error.hpp"
#include "engine/common/secure.hpp"

namespace engine {

// Objects and arrays nested deeper than this are refused. The same bound as
// the HCL parser's; real bodies use a handful of levels.
inline constexpr int kMaxJsonDepth = 64;

// Parses text as exactly one JSON document. InvalidArgument "malformed JSON"
// or "JSON nested too deep (more than 64 levels)"; what names the input in
// the message ("JSON body"). Never quotes the input (it may be a secret).
// Thread-safe; never throws.
Result<Json> parse_json(std::string_view text, std::string_view what = "JSON");

// True if value nests no deeper than limit (a scalar is depth 0, `[]` is 1).
// Walks with an explicit stack, so it is safe on any value. Never throws.
bool json_depth_within(const Json& value, int limit = kMaxJsonDepth);

}  // namespace engine
