// SPDX-License-Identifier: MPL-2.0
#include "engine/seal/shamir.hpp"

#include <set>

#include <catch2/catch.hpp>

#include "engine/crypto/sodium.hpp"

using engine::ErrorCode;
using engine::SecureBytes;
namespace shamir = engine::shamir;

namespace {

std::vector<SecureBytes> pick(const std::vector<SecureBytes>& parts, unsigned mask) {
  std::vector<SecureBytes> out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (mask & (1u << i)) out.push_back(parts[i]);
  }
  return out;
}

}  // namespace

TEST_CASE("shamir: any threshold subset recovers the secret", "[shamir]") {
  const SecureBytes secret = engine::crypto::random_key();
  auto [n, t] = GENERATE(table<int, int>({{1, 1}, {2, 2}, {3, 2}, {5, 3}, {6, 6}}));
  auto parts = shamir::split(secret, n, t);
  REQUIRE(parts.ok());
  REQUIRE(parts->size() == static_cast<std::size_t>(n));
  std::set<std::uint8_t> xs;
  for (const auto& p : *parts) {
    REQUIRE(p.size() == secret.size() + 1);
    CHECK(p.back() != 0);
    xs.insert(p.back());
  }
  CHECK(xs.size() == static_cast<std::size_t>(n));  // distinct x-coordinates

  for (unsigned mask = 1; mask < (1u << n); ++mask) {
    const auto subset = pick(*parts, mask);
    auto combined = shamir::combine(subset);
    REQUIRE(combined.ok());
    if (subset.size() >= static_cast<std::size_t>(t)) {
      CHECK(*combined == secret);
    } else {
      CHECK(*combined != secret);
    }
  }
}

TEST_CASE("shamir: 255 shares, threshold 255 and threshold 2", "[shamir]") {
  const SecureBytes secret = engine::crypto::random_key();
  for (int t : {2, 255}) {
    auto parts = shamir::split(secret, 255, t);
    REQUIRE(parts.ok());
    std::vector<SecureBytes> last(parts->end() - t, parts->end());
    CHECK(*shamir::combine(last) == secret);
  }
}

TEST_CASE("shamir: a changed share gives a different secret", "[shamir]") {
  const SecureBytes secret = engine::crypto::random_key();
  auto parts = shamir::split(secret, 3, 2);
  REQUIRE(parts.ok());
  auto two = pick(*parts, 0b011);
  two[0][0] ^= 1;
  CHECK(*shamir::combine(two) != secret);
}

TEST_CASE("shamir: bad parameters are InvalidArgument", "[shamir]") {
  const SecureBytes secret = engine::crypto::random_key();
  for (auto [n, t] : std::vector<std::pair<int, int>>{{0, 0}, {0, 1}, {1, 0}, {2, 3}, {3, 1}, {256, 2}, {-1, -1}}) {
    auto r = shamir::split(secret, n, t);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::InvalidArgument);
  }
  CHECK_FALSE(shamir::split(SecureBytes{}, 3, 2).ok());

  auto parts = shamir::split(secret, 3, 2);
  REQUIRE(parts.ok());
  CHECK_FALSE(shamir::combine({}).ok());
  CHECK_FALSE(shamir::combine({(*parts)[0], (*parts)[0]}).ok());  // duplicate x
  SecureBytes shorter((*parts)[1].begin(), (*parts)[1].end() - 2);
  shorter.push_back((*parts)[1].back());
  CHECK_FALSE(shamir::combine({(*parts)[0], shorter}).ok());  // lengths differ
  CHECK_FALSE(shamir::combine({SecureBytes{7}}).ok());        // too short
  SecureBytes zero_x = (*parts)[2];
  zero_x.back() = 0;
  CHECK_FALSE(shamir::combine({(*parts)[0], zero_x}).ok());
}
