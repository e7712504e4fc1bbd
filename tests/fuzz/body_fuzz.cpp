// SPDX-License-Identifier: MPL-2.0
// Request bodies as written into files: any bytes must parse or fail with
// InvalidArgument/TooLarge, and what parses must be shallow enough to copy,
// compare and render (the walks that once overflowed a worker's stack), and
// each member read off the rendering is the member's field text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/common/fields.hpp"
#include "engine/common/json_text.hpp"
#include "engine/common/utf8.hpp"
#include "engine/fileview/body.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace engine;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)body_is_complete(text);
  (void)fields::parse_count(text, "version");
  auto body = parse_body(text);
  if (!body.ok()) {
    const auto code = body.error().code;
    if (code != ErrorCode::InvalidArgument && code != ErrorCode::TooLarge) __builtin_trap();
    return 0;
  }
  if (!body->is_object() || !json_depth_within(*body)) __builtin_trap();
  const Json copy = *body;
  if (!(copy == *body)) __builtin_trap();
  // Whatever parsed is valid UTF-8 and renders without throwing.
  const SecureString shown = render_pretty(copy);
  if (!utf8::valid(as_view(shown))) __builtin_trap();
  // A name that is no member is never read off.
  if (!copy.contains(text) && field_in_rendering(as_view(shown), text)) __builtin_trap();
  for (const auto& [key, value] : copy.items()) {
    // A member read off the rendering (cat NAME#KEY of a stored secret) is
    // what a parse gives, or not told at all.
    const std::string_view name(key.data(), key.size());
    if (auto off = field_in_rendering(as_view(shown), name); off && *off != as_view(field_text(value))) {
      __builtin_trap();
    }
    if (const auto shorter = name.substr(0, name.size() / 2);
        !copy.contains(shorter) && field_in_rendering(as_view(shown), shorter)) {
      __builtin_trap();
    }
    (void)fields::get_int(copy, key);
    (void)fields::get_duration(copy, key);
    (void)fields::get_string_list(copy, key);
  }
  return 0;
}
