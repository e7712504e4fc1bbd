// SPDX-License-Identifier: MPL-2.0
// Shamir's secret sharing over GF(2^8), byte-wise (libgfshare). Randomness
// comes from libsodium, never from libgfshare's default random().
#pragma once

#include <vector>

#include "engine/common/error.hpp"
#include "engine/common/secure.hpp"
#include "engine/storage/storage.hpp"

namespace engine::shamir {

// Splits secret into `shares` parts, any `threshold` of which recover it.
// Each part is the secret's length + 1 byte: the share bytes followed by its
// x-coordinate (as Vault lays them out). 1 <= threshold <= shares <= 255;
// threshold >= 2 when shares > 1. InvalidArgument otherwise.
Result<std::vector<SecureBytes>> split(ByteView secret, int shares, int threshold);

// Recovers the secret from parts made by split(). InvalidArgument for parts
// of different lengths, duplicate x-coordinates, or fewer than two bytes.
// (Too few or wrong parts give a wrong secret: the caller detects that.)
Result<SecureBytes> combine(const std::vector<SecureBytes>& parts);

}  // namespace engine::shamir
