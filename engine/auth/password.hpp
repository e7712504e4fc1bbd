// SPDX-License-Identifier: MPL-2.0
// Password hashing for auth methods: Argon2id through libsodium's
// crypto_pwhash_str (the encoded string carries salt and parameters).
#pragma once

#include <string>
#include <string_view>

#include "engine/common/error.hpp"

namespace engine::auth {

// "$argon2id$v=19$m=...,t=...,p=1$<salt>$<hash>" for password. Interactive
// limits (libsodium's OPSLIMIT/MEMLIMIT_INTERACTIVE: 64 MiB, a few tens of
// ms). Internal error only if memory runs out.
Result<std::string> hash_password(std::string_view password);

// True if password matches the encoded hash. A malformed hash never matches.
bool verify_password(std::string_view encoded, std::string_view password);

// Spends the time of one verification without a stored hash, so an unknown
// user costs what a wrong password costs.
void verify_dummy_password(std::string_view password);

}  // namespace engine::auth
