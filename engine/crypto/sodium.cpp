// SPDX-License-Identifier: MPL-2.0
#include "engine/crypto/sodium.hpp"

#include <sodium.h>

#include <array>
#include <cstdio>
#include <cstdlib>

namespace engine::crypto {
namespace {

constexpr std::size_t kNonceSize = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kTagSize = crypto_aead_xchacha20poly1305_ietf_ABYTES;
static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == kKeySize);
static_assert(crypto_generichash_KEYBYTES_MIN <= kKeySize && kKeySize <= crypto_generichash_KEYBYTES_MAX);

constexpr char kBase62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// A key of the wrong size is a programming error, not bad input: continuing
// would mean encrypting under a key nobody chose.
void require_key(ByteView key, std::size_t min, std::size_t max, const char* what) {
  if (key.size() < min || key.size() > max) {
    std::fprintf(stderr, "coffer: %s called with a %zu-byte key\n", what, key.size());
    std::abort();
  }
}

const unsigned char* data_or_empty(ByteView b) {
  static const unsigned char kEmpty = 0;
  return b.empty() ? &kEmpty : b.data();
}

// Hex into any string type; writes straight into the destination so no
// intermediate copy holds the bytes.
template <class Str>
Str hex_into(ByteView b) {
  Str out(b.size() * 2 + 1, '\0');  // sodium_bin2hex writes a terminating NUL
  sodium_bin2hex(out.data(), out.size(), data_or_empty(b), b.size());
  out.resize(b.size() * 2);
  return out;
}

bool is_hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

}  // namespace

void init() {
  // sodium_init() is itself thread-safe and idempotent (returns 1 when
  // already initialised).
  if (sodium_init() < 0) {
    std::fprintf(stderr, "coffer: libsodium failed to initialise\n");
    std::abort();
  }
}

void random_bytes(void* out, std::size_t n) {
  init();
  if (n != 0) randombytes_buf(out, n);
}

std::uint32_t random_uniform(std::uint32_t upper) {
  init();
  return randombytes_uniform(upper);
}

SecureBytes random_key() {
  SecureBytes key(kKeySize);
  random_bytes(key.data(), key.size());
  return key;
}

SecureBytes aead_seal(ByteView key, ByteView plaintext, std::string_view aad) {
  init();
  require_key(key, kKeySize, kKeySize, "aead_seal");
  SecureBytes out(kNonceSize + plaintext.size() + kTagSize);
  randombytes_buf(out.data(), kNonceSize);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + kNonceSize, &written, data_or_empty(plaintext),
                                             plaintext.size(), reinterpret_cast<const unsigned char*>(aad.data()),
                                             aad.size(), nullptr, out.data(), key.data());
  out.resize(kNonceSize + written);
  return out;
}

Result<SecureBytes> aead_open(ByteView key, ByteView sealed, std::string_view aad) {
  init();
  if (key.size() != kKeySize) return Error::invalid("aead_open: key must be 32 bytes");
  if (sealed.size() < kNonceSize + kTagSize) {
    return Error::corrupt("decryption failed: ciphertext too short");
  }
  const std::size_t body = sealed.size() - kNonceSize;
  // One spare byte so the buffer is never zero-sized (libsodium wants a
  // non-null output pointer even for an empty plaintext).
  SecureBytes out(body - kTagSize + 1);
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.data(), &written, nullptr, sealed.data() + kNonceSize, body,
                                                 reinterpret_cast<const unsigned char*>(aad.data()), aad.size(),
                                                 sealed.data(), key.data()) != 0) {
    return Error::corrupt("decryption failed: message authentication failed");
  }
  out.resize(written);
  return out;
}

std::string keyed_hash_hex(ByteView key, std::string_view data) {
  init();
  require_key(key, crypto_generichash_KEYBYTES_MIN, crypto_generichash_KEYBYTES_MAX, "keyed_hash_hex");
  std::array<unsigned char, crypto_generichash_BYTES> digest{};
  crypto_generichash(digest.data(), digest.size(), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                     key.data(), key.size());
  std::string out = hex_into<std::string>(digest);
  sodium_memzero(digest.data(), digest.size());
  return out;
}

std::string hmac_sha256_hex(ByteView key, std::string_view data) {
  init();
  // The init/update/final API takes a key of any length (HMAC hashes long
  // keys), which audit devices' salts need.
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, data_or_empty(key), key.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  std::array<unsigned char, crypto_auth_hmacsha256_BYTES> mac{};
  crypto_auth_hmacsha256_final(&state, mac.data());
  sodium_memzero(&state, sizeof state);
  std::string out = hex_into<std::string>(mac);
  sodium_memzero(mac.data(), mac.size());
  return out;
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  init();
  // The length is not secret (hashes and tokens have fixed lengths); only the
  // content comparison must not leak where the first difference is.
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string random_base62(std::size_t n) {
  init();
  std::string out(n, '0');
  // randombytes_uniform rejects the biased tail, so every character is
  // equally likely.
  for (char& c : out) c = kBase62[randombytes_uniform(62)];
  return out;
}

std::string random_hex(std::size_t n_bytes) {
  SecureBytes raw(n_bytes);
  random_bytes(raw.data(), raw.size());
  return hex_into<std::string>(raw);
}

std::string random_uuid() {
  std::array<unsigned char, 16> b{};
  random_bytes(b.data(), b.size());
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  std::string hex = hex_into<std::string>(b);
  std::string out;
  out.reserve(36);
  out.append(hex, 0, 8).push_back('-');
  out.append(hex, 8, 4).push_back('-');
  out.append(hex, 12, 4).push_back('-');
  out.append(hex, 16, 4).push_back('-');
  out.append(hex, 20, 12);
  return out;
}

std::string to_hex(ByteView b) { return hex_into<std::string>(b); }
SecureString to_hex_secure(ByteView b) { return hex_into<SecureString>(b); }

Result<SecureBytes> from_hex(std::string_view s) {
  init();
  if (s.size() % 2 != 0) return Error::invalid("invalid hex: odd length");
  for (char c : s) {
    if (!is_hex_digit(c)) return Error::invalid("invalid hex: unexpected character");
  }
  SecureBytes out(s.size() / 2 + 1);
  std::size_t len = 0;
  if (sodium_hex2bin(out.data(), out.size(), s.data(), s.size(), nullptr, &len, nullptr) != 0 || len != s.size() / 2) {
    return Error::invalid("invalid hex");
  }
  out.resize(len);
  return out;
}

struct StreamHash::State {
  crypto_generichash_state s;
};

StreamHash::StreamHash() : state_(std::make_unique<State>()) {
  init();
  crypto_generichash_init(&state_->s, nullptr, 0, crypto_generichash_BYTES);
}

StreamHash::~StreamHash() { sodium_memzero(&state_->s, sizeof state_->s); }

void StreamHash::update(ByteView data) { crypto_generichash_update(&state_->s, data.data(), data.size()); }

std::string StreamHash::final_hex() {
  std::array<unsigned char, crypto_generichash_BYTES> digest{};
  crypto_generichash_final(&state_->s, digest.data(), digest.size());
  crypto_generichash_init(&state_->s, nullptr, 0, crypto_generichash_BYTES);
  return to_hex(ByteView(digest.data(), digest.size()));
}

}  // namespace engine::crypto
