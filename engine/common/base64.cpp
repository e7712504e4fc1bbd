// SPDX-License-Identifier: MPL-2.0
#include "engine/common/base64.hpp"

#include <sodium.h>

// libsodium's codecs are plain code (no randomness, no CPU dispatch), so they
// need no sodium_init() and this file none of engine/crypto.

namespace engine {
namespace {

const unsigned char* data_or_empty(std::span<const std::uint8_t> b) {
  static const unsigned char kEmpty = 0;
  return b.empty() ? &kEmpty : b.data();
}

// Writes straight into the destination so no intermediate copy holds the bytes.
template <class Str>
Str base64_into(std::span<const std::uint8_t> b) {
  const std::size_t len = sodium_base64_ENCODED_LEN(b.size(), sodium_base64_VARIANT_ORIGINAL);
  Str out(len, '\0');  // sodium_bin2base64 writes a terminating NUL
  sodium_bin2base64(out.data(), out.size(), data_or_empty(b), b.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(len - 1);
  return out;
}

}  // namespace

std::string to_base64(std::span<const std::uint8_t> bytes) { return base64_into<std::string>(bytes); }
SecureString to_base64_secure(std::span<const std::uint8_t> bytes) { return base64_into<SecureString>(bytes); }

Result<SecureBytes> from_base64(std::string_view text, const char* ignore) {
  // libsodium finds ignored characters with strchr, which also matches the
  // terminating NUL: a NUL in text would be skipped silently.
  if (ignore != nullptr && text.find('\0') != std::string_view::npos) return Error::invalid("invalid base64");
  SecureBytes out(text.size() / 4 * 3 + 3);
  std::size_t len = 0;
  const char* end = nullptr;
  // With b64_end set, libsodium stops at the first character it cannot use
  // instead of failing; requiring it to have consumed everything rejects
  // trailing garbage.
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), ignore, &len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size()) {
    return Error::invalid("invalid base64");
  }
  out.resize(len);
  return out;
}

}  // namespace engine
