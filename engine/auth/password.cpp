// SPDX-License-Identifier: MPL-2.0
// libsodium's password hashing lives here rather than in engine/crypto:
// only auth methods use it.
#include "engine/auth/password.hpp"

#include <sodium.h>

#include <mutex>

#include "engine/crypto/sodium.hpp"

namespace engine::auth {

Result<std::string> hash_password(std::string_view password) {
  crypto::init();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                            crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Error::internal("password hashing ran out of memory");
  }
  return std::string(out);
}

bool verify_password(std::string_view encoded, std::string_view password) {
  crypto::init();
  // crypto_pwhash_str_verify wants a NUL-terminated string within STRBYTES.
  if (encoded.empty() || encoded.size() >= crypto_pwhash_STRBYTES) return false;
  char buf[crypto_pwhash_STRBYTES] = {};
  encoded.copy(buf, encoded.size());
  return crypto_pwhash_str_verify(buf, password.data(), password.size()) == 0;
}

void verify_dummy_password(std::string_view password) {
  static std::once_flag once;
  static std::string dummy;
  std::call_once(once, [] {
    auto h = hash_password("coffer: a password nobody has");
    if (h.ok()) dummy = h.value();
  });
  (void)verify_password(dummy, password);
}

}  // namespace engine::auth
