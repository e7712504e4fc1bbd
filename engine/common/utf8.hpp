// SPDX-License-Identifier: MPL-2.0
// UTF-8 checks for text that will be shown as JSON (names, body values),
// and the encoder the HCL and template lexers use for \u escapes.
// Written here because Debian 12 offers no small, well-kept validator: ICU
// and GLib are large runtime dependencies for one loop, and nlohmann's own
// decoder is internal. The rules are RFC 3629's: no overlong forms, no
// surrogates, nothing above U+10FFFF.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace engine::utf8 {

// Decodes the code point at text[pos] and advances pos past it; nullopt (pos
// unchanged) when the bytes there are not valid UTF-8. Pure.
std::optional<char32_t> next(std::string_view text, std::size_t& pos) noexcept;

// True if text is entirely valid UTF-8. Pure.
bool valid(std::string_view text) noexcept;

// True if text is valid UTF-8 but for a last character cut short, which
// more bytes may complete (a write(2) may end mid-character). Pure.
bool valid_prefix(std::string_view text) noexcept;

// Appends code point cp as UTF-8; false (nothing appended) when cp is not
// a Unicode scalar value (a surrogate, or above U+10FFFF).
bool append(std::string& out, char32_t cp);

}  // namespace engine::utf8
