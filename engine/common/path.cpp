// SPDX-License-Identifier: MPL-2.0
#include "engine/common/path.hpp"

namespace engine {

void split_segments(std::string_view path, std::vector<std::string_view>& out, EmptySegments empty) {
  out.clear();
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = path.find('/', start);
    const std::string_view seg = path.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (empty == EmptySegments::Keep || !seg.empty()) out.push_back(seg);
    if (slash == std::string_view::npos) return;
    start = slash + 1;
  }
}

}  // namespace engine
