// SPDX-License-Identifier: MPL-2.0
#include "engine/crypto/sodium.hpp"

#include <set>

#include <catch2/catch.hpp>

#include "engine/common/base64.hpp"

using engine::ErrorCode;
using engine::SecureBytes;
namespace crypto = engine::crypto;

TEST_CASE("crypto: AEAD round trip and authentication", "[crypto]") {
  const SecureBytes key = crypto::random_key();
  REQUIRE(key.size() == crypto::kKeySize);
  for (std::string_view text :
       {std::string_view(""), std::string_view("hello"), std::string_view("\0\xff binary", 9)}) {
    SecureBytes sealed = crypto::aead_seal(key, engine::bytes_of(text), "aad/path");
    REQUIRE(sealed.size() == 24 + text.size() + 16);
    auto opened = crypto::aead_open(key, sealed, "aad/path");
    REQUIRE(opened.ok());
    CHECK(engine::as_view(*opened) == text);

    auto wrong_aad = crypto::aead_open(key, sealed, "aad/other");
    REQUIRE_FALSE(wrong_aad.ok());
    CHECK(wrong_aad.error().code == ErrorCode::Corrupt);
    CHECK_FALSE(crypto::aead_open(crypto::random_key(), sealed, "aad/path").ok());
    sealed.back() ^= 1;
    CHECK_FALSE(crypto::aead_open(key, sealed, "aad/path").ok());
  }
  // Fresh nonce every time: same input, different output.
  CHECK(crypto::aead_seal(key, engine::bytes_of("x"), "") != crypto::aead_seal(key, engine::bytes_of("x"), ""));
  auto short_input = crypto::aead_open(key, SecureBytes(39), "");
  REQUIRE_FALSE(short_input.ok());
  CHECK(short_input.error().code == ErrorCode::Corrupt);
}

TEST_CASE("crypto: keyed hashes", "[crypto]") {
  const SecureBytes key = crypto::random_key();
  const std::string h = crypto::keyed_hash_hex(key, "token");
  CHECK(h.size() == 64);
  CHECK(h == crypto::keyed_hash_hex(key, "token"));
  CHECK(h != crypto::keyed_hash_hex(key, "token2"));
  CHECK(h != crypto::keyed_hash_hex(crypto::random_key(), "token"));

  // RFC 4231 test case 2.
  CHECK(crypto::hmac_sha256_hex(engine::bytes_of("Jefe"), "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(crypto::hmac_sha256_hex({}, "").size() == 64);
}

TEST_CASE("crypto: constant-time equality", "[crypto]") {
  CHECK(crypto::equal_constant_time("abc", "abc"));
  CHECK(crypto::equal_constant_time("", ""));
  CHECK_FALSE(crypto::equal_constant_time("abc", "abd"));
  CHECK_FALSE(crypto::equal_constant_time("abc", "abcd"));
}

TEST_CASE("crypto: random identifiers", "[crypto]") {
  const std::string b62 = crypto::random_base62(2000);
  REQUIRE(b62.size() == 2000);
  std::set<char> seen(b62.begin(), b62.end());
  for (char c : seen) {
    CHECK(((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')));
  }
  CHECK(seen.size() > 55);  // all 62 with overwhelming probability
  CHECK(crypto::random_base62(0).empty());
  CHECK(crypto::random_base62(24) != crypto::random_base62(24));

  const std::string hex = crypto::random_hex(16);
  CHECK(hex.size() == 32);
  CHECK(hex.find_first_not_of("0123456789abcdef") == std::string::npos);

  const std::string uuid = crypto::random_uuid();
  REQUIRE(uuid.size() == 36);
  CHECK(uuid[8] == '-');
  CHECK(uuid[13] == '-');
  CHECK(uuid[14] == '4');
  CHECK(std::string("89ab").find(uuid[19]) != std::string::npos);
  CHECK(uuid.find_first_not_of("0123456789abcdef-") == std::string::npos);
  CHECK(crypto::random_uuid() != uuid);
  for (std::uint32_t upper : {1u, 2u, 62u}) CHECK(crypto::random_uniform(upper) < upper);
}

TEST_CASE("crypto: hex and base64", "[crypto]") {
  const SecureBytes data = {0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff};
  CHECK(crypto::to_hex(data) == "00017f80feff");
  CHECK(engine::as_view(crypto::to_hex_secure(data)) == "00017f80feff");
  CHECK(*crypto::from_hex("00017f80feff") == data);
  CHECK(*crypto::from_hex("00017F80FEFF") == data);
  CHECK(crypto::from_hex("")->empty());
  for (std::string_view bad : {"0", "zz", "00 1", "0g", "0x00"}) {
    auto r = crypto::from_hex(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::InvalidArgument);
  }

  CHECK(engine::to_base64(data) == "AAF/gP7/");
  CHECK(engine::to_base64(engine::bytes_of("ab")) == "YWI=");
  CHECK(engine::as_view(engine::to_base64_secure(engine::bytes_of("a"))) == "YQ==");
  CHECK(*engine::from_base64("AAF/gP7/") == data);
  CHECK(engine::as_view(*engine::from_base64("YWI=")) == "ab");
  CHECK(engine::from_base64("")->empty());
  for (std::string_view bad : {"YWI", "YW=I", "Y!I=", "YWI=x", "AAF_gP7-", "YWI= "}) {
    auto r = engine::from_base64(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::InvalidArgument);
  }
  const SecureBytes key = crypto::random_key();
  CHECK(*engine::from_base64(engine::to_base64(key)) == key);
  CHECK(*crypto::from_hex(crypto::to_hex(key)) == key);
}
