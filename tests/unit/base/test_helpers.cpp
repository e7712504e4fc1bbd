// SPDX-License-Identifier: MPL-2.0
// The engine's one-of-each helpers: time formatting (engine/common/time),
// base64 (engine/common/base64 over libsodium), path segments
// (engine/common/path), checked numbers (engine/common/numbers) and the
// "unsupported path" error (engine/common/error).
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/common/error.hpp"
#include "engine/common/numbers.hpp"
#include "engine/common/path.hpp"
#include "engine/common/time.hpp"
#include "engine/common/base64.hpp"
#include "engine/storage/storage.hpp"

using engine::ErrorCode;

namespace {

std::string text_of(const engine::SecureBytes& b) { return std::string(b.begin(), b.end()); }

}  // namespace

TEST_CASE("format_time: RFC 3339 UTC as Go's RFC3339Nano, fraction trimmed", "[helpers][time]") {
  using engine::format_time;
  CHECK(format_time(std::int64_t{1521685446945319214}) == "2018-03-22T02:24:06.945319214Z");
  CHECK(format_time(std::int64_t{1521685446500000000}) == "2018-03-22T02:24:06.5Z");
  CHECK(format_time(std::int64_t{1521685446000000000}) == "2018-03-22T02:24:06Z");
  CHECK(format_time(std::int64_t{1521685446000000010}) == "2018-03-22T02:24:06.00000001Z");
  CHECK(format_time(std::int64_t{0}) == "1970-01-01T00:00:00Z");
  CHECK(format_time(std::int64_t{-1}) == "1969-12-31T23:59:59.999999999Z");
  // A TimePoint prints as its unix nanoseconds do.
  const engine::TimePoint t{std::chrono::nanoseconds(1521685446945319214)};
  CHECK(format_time(t) == format_time(std::int64_t{1521685446945319214}));
  CHECK(format_time(engine::TimePoint(std::chrono::seconds(86400))) == "1970-01-02T00:00:00Z");
}

TEST_CASE("base64: libsodium's decoder, strict padding, chosen characters skipped", "[helpers][base64]") {
  using engine::from_base64;
  CHECK(text_of(*from_base64("aGVsbG8=")) == "hello");
  CHECK(text_of(*from_base64("aGVsbG8h")) == "hello!");
  CHECK(text_of(*from_base64("")) == "");
  // Round trip through the encoder.
  const std::string all = "any bytes \x01\xff\x7f";
  CHECK(text_of(*from_base64(engine::to_base64(engine::bytes_of(all)))) == all);
  // Refused: missing or misplaced padding, foreign alphabet, stray bytes,
  // non-zero trailing bits.
  for (const char* bad :
       {"aGVsbG8", "aGVsbG8==", "aGVs=bG8", "aGVsbG8-", "aGVsbG8_", "aGVs bG8=", "QR==", "Q===", "aGVsbG8=\n"}) {
    INFO(bad);
    auto r = from_base64(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::InvalidArgument);
    CHECK(r.error().message == "invalid base64");
  }
  // Line breaks skipped when asked (Go's decoder drops \r and \n), anywhere.
  CHECK(text_of(*from_base64("aGVs\r\nbG8=\n", "\r\n")) == "hello");
  CHECK(text_of(*from_base64("aGVsbG8\n=", "\r\n")) == "hello");
  CHECK_FALSE(from_base64("aGVs bG8=", "\r\n").ok());
  // A NUL is never skipped (libsodium's strchr would match the terminator).
  CHECK_FALSE(from_base64(std::string("aGVs\0bG8=", 9), "\r\n").ok());
}

TEST_CASE("split_segments: one splitter, empty segments kept or skipped", "[helpers][path]") {
  using engine::EmptySegments;
  using engine::split_segments;
  using V = std::vector<std::string_view>;
  CHECK(split_segments("a/b/c") == V{"a", "b", "c"});
  CHECK(split_segments("a//b/") == V{"a", "", "b", ""});
  CHECK(split_segments("") == V{""});
  CHECK(split_segments("/") == V{"", ""});
  CHECK(split_segments("a") == V{"a"});
  CHECK(split_segments("/a//b/", EmptySegments::Skip) == V{"a", "b"});
  CHECK(split_segments("", EmptySegments::Skip).empty());
  CHECK(split_segments("///", EmptySegments::Skip).empty());
  // Copies for a caller that keeps them.
  CHECK(split_segments<std::string>("entity/id/x", EmptySegments::Skip) ==
        std::vector<std::string>{"entity", "id", "x"});
  // Into a reused vector: cleared first.
  V out{"stale"};
  split_segments("x/y", out);
  CHECK(out == V{"x", "y"});
}

TEST_CASE("parse_count: the one checked number parser", "[helpers][numbers]") {
  using engine::parse_count;
  CHECK(*parse_count("0", "version") == 0);
  CHECK(*parse_count("3", "version") == 3);
  CHECK(*parse_count("007", "version") == 7);
  CHECK(*parse_count("9223372036854775807", "version") == INT64_MAX);
  CHECK(*parse_count("644", "mode", 0777, 8) == 0644);
  CHECK(*parse_count("2F", "escape", 0xFF, 16) == 0x2F);
  CHECK(*parse_count("ff", "escape", 0xFF, 16) == 0xFF);
  // Anything but digits of the base: never an exception, never a wrap.
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1.0", "1e3", "0x10", "abc", "\xd9\xa3"}) {
    INFO(bad);
    auto r = parse_count(bad, "version");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::InvalidArgument);
    CHECK(r.error().message == "invalid version \"" + std::string(bad) + "\"");
  }
  CHECK(parse_count("8", "mode", 0777, 8).error().message == "invalid mode \"8\"");
  CHECK(parse_count("zz", "escape", 0xFF, 16).error().message == "invalid escape \"zz\"");
  // Out of range: above max, or above int64.
  for (const char* big : {"9223372036854775808", "99999999999999999999", "18446744073709551616"}) {
    INFO(big);
    CHECK(parse_count(big, "version").error().message == "version out of range");
  }
  CHECK(parse_count("1000", "mode", 0777, 8).error().message == "mode out of range");
  CHECK(parse_count("11", "count", 10).error().message == "count out of range");
  CHECK(*parse_count("10", "count", 10) == 10);
}

TEST_CASE("Error::unsupported_path: Vault's text, in one place", "[helpers][error]") {
  const engine::Error plain = engine::Error::unsupported_path();
  CHECK(plain.code == ErrorCode::Unsupported);
  CHECK(plain.message == "unsupported path");
  const engine::Error named = engine::Error::unsupported_path("sys/nope");
  CHECK(named.code == ErrorCode::Unsupported);
  CHECK(named.message == "unsupported path: sys/nope");
}
