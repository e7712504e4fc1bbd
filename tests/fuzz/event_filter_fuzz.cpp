// SPDX-License-Identifier: MPL-2.0
// libFuzzer target for an event stream's first write (engine/fileview/
// events.hpp): `namespaces=` and the go-bexpr subset of `filter=`. Any input
// must parse or fail cleanly within the depth and size limits, and whatever
// parses must evaluate without tripping a sanitizer.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/fileview/events.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace engine;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  EventFields f{"kv-v2/data-write", "data-write", "secret/", "secret/data/app", "team1/"};
  if (auto filter = parse_event_filter(text); filter.ok()) {
    (void)filter->matches(f);
    f.namespace_path.clear();
    (void)filter->matches(f);
  } else if (filter.error().code != ErrorCode::InvalidArgument) {
    __builtin_trap();  // bad input is InvalidArgument, nothing else
  }
  if (auto options = parse_event_options(text); options.ok()) {
    if (options->namespaces.size() > kMaxNamespacePatterns) __builtin_trap();
    if (options->filter) (void)options->filter->matches(f);
  }
  return 0;
}
