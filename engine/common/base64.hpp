// SPDX-License-Identifier: MPL-2.0
// Standard base64 (RFC 4648 alphabet, '=' padding), the engine's one codec
// for it: libsodium's sodium_bin2base64 / sodium_base642bin. Here, below
// engine/crypto, so the pure layers (policy text, seal shares) reach it
// without the rest of crypto. All pure and thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "engine/common/error.hpp"
#include "engine/common/secure.hpp"

namespace engine {

std::string to_base64(std::span<const std::uint8_t> bytes);
// Into zeroing memory, for secret bytes (unseal key shares).
SecureString to_base64_secure(std::span<const std::uint8_t> bytes);

// Padding required and trailing bits zero. Characters of `ignore` (e.g.
// "\r\n", as Go's decoder skips line breaks) may appear anywhere and are
// skipped; a NUL never is. InvalidArgument "invalid base64" on bad input.
Result<SecureBytes> from_base64(std::string_view text, const char* ignore = nullptr);

}  // namespace engine
