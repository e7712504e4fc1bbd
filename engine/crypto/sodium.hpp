// SPDX-License-Identifier: MPL-2.0
// Thin, typed wrappers over libsodium: the only file that talks to it directly,
// but for its base64 codec (engine/common/base64.hpp, for the pure layers).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "engine/common/error.hpp"
#include "engine/common/secure.hpp"
#include "engine/storage/storage.hpp"

namespace engine::crypto {

constexpr std::size_t kKeySize = 32;  // XChaCha20-Poly1305 and keyed-hash keys

// Initialises libsodium once (thread-safe, idempotent). Aborts the process if
// libsodium cannot initialise: nothing is safe without it.
void init();

void random_bytes(void* out, std::size_t n);
SecureBytes random_key();  // kKeySize random bytes
// A uniformly random integer in [0, upper) (upper >= 1), without modulo bias.
std::uint32_t random_uniform(std::uint32_t upper);

// XChaCha20-Poly1305 (IETF). Output: 24-byte nonce || ciphertext || 16-byte tag.
SecureBytes aead_seal(ByteView key, ByteView plaintext, std::string_view aad);
// Corrupt("...authentication failed") if the key, aad or bytes do not match.
Result<SecureBytes> aead_open(ByteView key, ByteView sealed, std::string_view aad);

// Keyed BLAKE2b-256 of data, hex. For storing tokens as keyed hashes.
std::string keyed_hash_hex(ByteView key, std::string_view data);
// HMAC-SHA256 of data, lowercase hex. For audit ("hmac-sha256:<hex>").
std::string hmac_sha256_hex(ByteView key, std::string_view data);

// BLAKE2b-256 (crypto_generichash, unkeyed) over data given in pieces:
// digests of whole stores (cofferd migrate). Not thread-safe.
class StreamHash {
 public:
  StreamHash();
  ~StreamHash();
  StreamHash(const StreamHash&) = delete;
  StreamHash& operator=(const StreamHash&) = delete;
  void update(ByteView data);
  // The digest, lowercase hex (64 characters). Once: update() after it
  // starts a new digest.
  std::string final_hex();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

bool equal_constant_time(std::string_view a, std::string_view b);

// Random identifiers: n characters of [0-9A-Za-z], unbiased.
std::string random_base62(std::size_t n);
std::string random_hex(std::size_t n_bytes);  // 2*n_bytes lowercase hex chars
std::string random_uuid();                    // RFC 4122 v4, lowercase

std::string to_hex(ByteView b);
Result<SecureBytes> from_hex(std::string_view s);  // InvalidArgument on bad input

// The same encoding into zeroing memory, for secret bytes (unseal key
// shares, generated tokens) that must not linger in a plain std::string.
// Base64 is engine/common/base64.hpp.
SecureString to_hex_secure(ByteView b);

}  // namespace engine::crypto
