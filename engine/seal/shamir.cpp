// SPDX-License-Identifier: MPL-2.0
#include "engine/seal/shamir.hpp"

extern "C" {  // libgfshare.h has no C++ guards
#include <libgfshare.h>
}

#include <algorithm>
#include <array>
#include <memory>
#include <mutex>
#include <numeric>

#include "engine/crypto/sodium.hpp"

namespace engine::shamir {
namespace {

// libgfshare draws polynomial coefficients (and the bytes it scribbles over
// freed contexts) from this global hook; its default is NULL or random(),
// neither acceptable for key material.
void fill_from_sodium(unsigned char* buffer, unsigned int count) { crypto::random_bytes(buffer, count); }

void install_rng() {
  static std::once_flag once;
  std::call_once(once, [] {
    crypto::init();
    gfshare_fill_rand = fill_from_sodium;
  });
}

struct CtxDeleter {
  void operator()(gfshare_ctx* ctx) const { gfshare_ctx_free(ctx); }
};
using Ctx = std::unique_ptr<gfshare_ctx, CtxDeleter>;

}  // namespace

Result<std::vector<SecureBytes>> split(ByteView secret, int shares, int threshold) {
  if (shares < 1 || shares > 255) return Error::invalid("shares must be between 1 and 255");
  if (threshold < 1) return Error::invalid("threshold must be at least one");
  if (threshold > shares) return Error::invalid("threshold cannot be larger than shares");
  if (shares > 1 && threshold == 1) {
    return Error::invalid("threshold must be greater than one for multiple shares");
  }
  if (secret.empty()) return Error::invalid("cannot split an empty secret");
  install_rng();

  // Distinct non-zero x-coordinates in random order, as Vault picks them, so
  // a share's tag says nothing about how many shares exist.
  std::array<unsigned char, 255> xs{};
  std::iota(xs.begin(), xs.end(), static_cast<unsigned char>(1));
  for (std::size_t i = xs.size() - 1; i > 0; --i) {
    const auto j = crypto::random_uniform(static_cast<std::uint32_t>(i + 1));
    std::swap(xs[i], xs[j]);
  }

  SecureBytes copy(secret.begin(), secret.end());  // libgfshare wants non-const
  Ctx ctx(gfshare_ctx_init_enc(xs.data(), static_cast<unsigned>(shares), static_cast<unsigned char>(threshold),
                               static_cast<unsigned>(secret.size())));
  if (!ctx) return Error::internal("gfshare_ctx_init_enc failed");
  gfshare_ctx_enc_setsecret(ctx.get(), copy.data());

  std::vector<SecureBytes> out;
  out.reserve(static_cast<std::size_t>(shares));
  for (int i = 0; i < shares; ++i) {
    SecureBytes part(secret.size() + 1);
    gfshare_ctx_enc_getshare(ctx.get(), static_cast<unsigned char>(i), part.data());
    part.back() = xs[static_cast<std::size_t>(i)];
    out.push_back(std::move(part));
  }
  return out;
}

Result<SecureBytes> combine(const std::vector<SecureBytes>& parts) {
  if (parts.empty()) return Error::invalid("no shares to combine");
  if (parts.size() > 255) return Error::invalid("too many shares");
  const std::size_t len = parts.front().size();
  if (len < 2) return Error::invalid("share is too short");
  std::array<bool, 256> seen{};
  std::vector<unsigned char> xs;
  xs.reserve(parts.size());
  for (const SecureBytes& p : parts) {
    if (p.size() != len) return Error::invalid("shares have different lengths");
    const unsigned char x = p.back();
    // libgfshare reads x = 0 as "share absent", and a repeated x makes the
    // interpolation divide by zero.
    if (x == 0) return Error::invalid("share has an invalid x-coordinate");
    if (seen[x]) return Error::invalid("duplicate share");
    seen[x] = true;
    xs.push_back(x);
  }
  install_rng();
  const auto size = static_cast<unsigned>(len - 1);
  Ctx ctx(gfshare_ctx_init_dec(xs.data(), static_cast<unsigned>(xs.size()), size));
  if (!ctx) return Error::internal("gfshare_ctx_init_dec failed");
  SecureBytes body(size);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    std::copy(parts[i].begin(), parts[i].end() - 1, body.begin());
    gfshare_ctx_dec_giveshare(ctx.get(), static_cast<unsigned char>(i), body.data());
  }
  SecureBytes secret(size);
  gfshare_ctx_dec_extract(ctx.get(), secret.data());
  return secret;
}

}  // namespace engine::shamir
