// SPDX-License-Identifier: MPL-2.0
// Path segments: the engine's one splitter of "a/b/c" at '/'.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace engine {

enum class EmptySegments {
  Keep,  // "a//b/" -> {"a", "", "b", ""}; "" -> {""}
  Skip,  // "/a//b/" -> {"a", "b"}; "" -> {}
};

// Splits `path` at each '/' into `out` (cleared first; views into path), so
// a hot caller (the ACL's segment matcher) reuses one vector. Pure.
void split_segments(std::string_view path, std::vector<std::string_view>& out,
                    EmptySegments empty = EmptySegments::Keep);

// The same as a new vector; Segment std::string copies them for a caller
// that keeps them past `path`.
template <class Segment = std::string_view>
std::vector<Segment> split_segments(std::string_view path, EmptySegments empty = EmptySegments::Keep) {
  std::vector<std::string_view> views;
  split_segments(path, views, empty);
  if constexpr (std::is_same_v<Segment, std::string_view>) {
    return views;
  } else {
    return std::vector<Segment>(views.begin(), views.end());
  }
}

}  // namespace engine
