// SPDX-License-Identifier: MPL-2.0
// engine/common/duration: Go's time.ParseDuration, Vault's
// parseutil.ParseDurationSecond and Go's Duration.String(), edge cases and
// overflow included (overflow is InvalidArgument, never a wrapped value).
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>

#include "engine/common/duration.hpp"

using engine::ErrorCode;

namespace {

constexpr std::int64_t kNs = 1;
constexpr std::int64_t kUs = 1'000;
constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kS = 1'000'000'000;
constexpr std::int64_t kM = 60 * kS;
constexpr std::int64_t kH = 60 * kM;
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

std::int64_t go(const std::string& text) {
  INFO(text);
  auto r = engine::parse_go_duration(text);
  REQUIRE(r.ok());
  return *r;
}

bool go_refuses(const std::string& text) {
  auto r = engine::parse_go_duration(text);
  return !r.ok() && r.error().code == ErrorCode::InvalidArgument;
}

}  // namespace

TEST_CASE("duration: Go's time.ParseDuration accepts what Go accepts", "[duration]") {
  CHECK(go("0") == 0);
  CHECK(go("-0") == 0);
  CHECK(go("+0") == 0);
  CHECK(go("5s") == 5 * kS);
  CHECK(go("1478s") == 1478 * kS);
  CHECK(go("-5s") == -5 * kS);
  CHECK(go("+5s") == 5 * kS);
  CHECK(go("-0s") == 0);
  // Fractions, either side of the point may be empty.
  CHECK(go("5.0s") == 5 * kS);
  CHECK(go("5.6s") == 5 * kS + 600 * kMs);
  CHECK(go("5.s") == 5 * kS);
  CHECK(go(".5s") == 500 * kMs);
  CHECK(go("1.004s") == 1 * kS + 4 * kMs);
  CHECK(go("100.00100s") == 100 * kS + 1 * kMs);
  CHECK(go("1.5h") == 90 * kM);
  // Every unit, both spellings of micro.
  CHECK(go("10ns") == 10 * kNs);
  CHECK(go("11us") == 11 * kUs);
  CHECK(go("12\xC2\xB5s") == 12 * kUs);
  CHECK(go("12\xCE\xBCs") == 12 * kUs);
  CHECK(go("13ms") == 13 * kMs);
  CHECK(go("15m") == 15 * kM);
  CHECK(go("16h") == 16 * kH);
  // Sequences, in any order, units repeated.
  CHECK(go("3h30m") == 3 * kH + 30 * kM);
  CHECK(go("10.5s4m") == 4 * kM + 10 * kS + 500 * kMs);
  CHECK(go("-2m3.4s") == -(2 * kM + 3 * kS + 400 * kMs));
  CHECK(go("1h2m3s4ms5us6ns") == kH + 2 * kM + 3 * kS + 4 * kMs + 5 * kUs + 6 * kNs);
  CHECK(go("1s1s") == 2 * kS);
  // Nanosecond-exact fractions of an hour, as Go computes them.
  CHECK(go("0.3333333333333333333h") == 20 * kM);
  CHECK(go("0.100000000000000000000h") == 6 * kM);
  CHECK(go("0.830103483285477580700h") == 49 * kM + 48 * kS + 372'539'827 * kNs);
  CHECK(go("9007199254740993ns") == (std::int64_t{1} << 53) + 1);
  // The ends of int64 nanoseconds.
  CHECK(go("9223372036854775807ns") == kMax);
  CHECK(go("9223372036854775.807us") == kMax);
  CHECK(go("9223372036s854ms775us807ns") == kMax);
  CHECK(go("2562047h47m16.854775807s") == kMax);
  CHECK(go("-9223372036854775808ns") == kMin);
  CHECK(go("-9223372036s854ms775us808ns") == kMin);
  CHECK(go("-2562047h47m16.854775808s") == kMin);
}

TEST_CASE("duration: Go's time.ParseDuration refuses what Go refuses", "[duration]") {
  for (const char* bad :
       {"",      "3",       "-",   "+",   "s",  ".",    "-.", ".s",       "+.s",      "1d",
        "1.5d",  "3 hours", " 1s", "1s ", "1S", "1sec", "h",  "\x85\x85", "\xff\xff", "hello \xff\xff world",
        "1h-5m", "1e3s"}) {
    INFO(bad);
    CHECK(go_refuses(bad));
  }
  CHECK(engine::parse_go_duration("3").error().message == "missing unit in duration \"3\"");
  CHECK(engine::parse_go_duration("1x").error().message == "unknown unit \"x\" in duration \"1x\"");
  CHECK(engine::parse_go_duration("soon").error().message == "invalid duration \"soon\"");
}

TEST_CASE("duration: overflow is InvalidArgument, never a wrapped value", "[duration][overflow]") {
  for (const char* big :
       {"9223372036854775808ns", "9223372036854775.808us", "9223372036854ms775us808ns", "-9223372036854775809ns",
        "2562047h47m16.854775808s", "2562048h", "3000000h", "99999999999999999999s", "18446744073709551616ns",
        "9223372036854775808ns9223372036854775808ns", "5000000h5000000h", "1000000000000000000000000000000h"}) {
    INFO(big);
    CHECK(go_refuses(big));
  }
}

TEST_CASE("duration: Vault's ParseDurationSecond, in nanoseconds", "[duration]") {
  using engine::parse_duration_ns;
  CHECK(*parse_duration_ns("") == 0);
  CHECK(*parse_duration_ns("0") == 0);
  CHECK(*parse_duration_ns("15") == 15 * kS);
  CHECK(*parse_duration_ns("+15") == 15 * kS);
  CHECK(*parse_duration_ns("-15") == -15 * kS);
  CHECK(*parse_duration_ns("2d") == 48 * kH);
  CHECK(*parse_duration_ns("-1d") == -24 * kH);
  CHECK(*parse_duration_ns("0d") == 0);
  CHECK(*parse_duration_ns("1.5h") == 90 * kM);
  CHECK(*parse_duration_ns("500ms") == 500 * kMs);
  CHECK(*parse_duration_ns("1h2m3s") == 3723 * kS);
  CHECK(*parse_duration_ns("106751d") == 106751 * 24 * kH);
  // Days only as a whole suffix on an integer, as parseutil does.
  for (const char* bad : {"1d2h", "1.5d", "d", "-d", "1dd", "1 d", "soon", "1x", "h", " 15", "15 ", "0x10"}) {
    INFO(bad);
    CHECK(parse_duration_ns(bad).error().code == ErrorCode::InvalidArgument);
  }
  // Where Go's time.Duration(v) * time.Second would wrap silently.
  for (const char* big : {"9223372037", "-9223372037", "106752d", "9223372036854775807", "99999999999999999999",
                          "9223372036854775808", "99999999999999999999d"}) {
    INFO(big);
    CHECK(parse_duration_ns(big).error().code == ErrorCode::InvalidArgument);
  }
  CHECK(*parse_duration_ns("9223372036") == 9223372036 * kS);
}

TEST_CASE("duration: Vault's ParseDurationSecond, in whole seconds", "[duration]") {
  using engine::parse_duration_seconds;
  CHECK(*parse_duration_seconds("") == 0);
  CHECK(*parse_duration_seconds("90") == 90);
  CHECK(*parse_duration_seconds("-1") == -1);
  CHECK(*parse_duration_seconds("2d") == 2 * 86400);
  CHECK(*parse_duration_seconds("1h30m") == 5400);
  CHECK(*parse_duration_seconds("1500ms") == 1);
  CHECK(*parse_duration_seconds("-1500ms") == -1);
  CHECK(*parse_duration_seconds("768h") == 768 * 3600);
  // Bare seconds take the whole int64 range (TTL arithmetic saturates).
  CHECK(*parse_duration_seconds("9000000000000000000") == 9'000'000'000'000'000'000);
  CHECK(*parse_duration_seconds("9223372036854775807") == kMax);
  CHECK(*parse_duration_seconds("-9223372036854775808") == kMin);
  CHECK(*parse_duration_seconds("106751991167300d") == 106751991167300 * 86400);
  for (const char* bad :
       {"9223372036854775808", "-9223372036854775809", "106751991167301d", "1d2h", "3 hours", "h", "2562048h"}) {
    INFO(bad);
    CHECK(parse_duration_seconds(bad).error().code == ErrorCode::InvalidArgument);
  }
}

TEST_CASE("duration: whole seconds as Go's int64(d.Seconds())", "[duration]") {
  using engine::whole_seconds;
  CHECK(whole_seconds(0) == 0);
  CHECK(whole_seconds(1'500 * kMs) == 1);
  CHECK(whole_seconds(-1'500 * kMs) == -1);
  CHECK(whole_seconds(999 * kMs) == 0);
  // float64 rounds 999999999.999999999 up, so Vault sees 1000000000.
  CHECK(whole_seconds(999'999'999 * kS + 999'999'999) == 1'000'000'000);
  CHECK(whole_seconds(kMax) == 9'223'372'036);
  CHECK(whole_seconds(kMin) == -9'223'372'036);
}

TEST_CASE("duration: Go's Duration.String() for whole seconds", "[duration][format]") {
  using engine::go_duration;
  CHECK(go_duration(0) == "0s");
  CHECK(go_duration(45) == "45s");
  CHECK(go_duration(90) == "1m30s");
  CHECK(go_duration(3 * 3600) == "3h0m0s");
  CHECK(go_duration(768 * 3600) == "768h0m0s");
  CHECK(go_duration(3661) == "1h1m1s");
  CHECK(go_duration(-1) == "-1s");
  CHECK(go_duration(-90) == "-1m30s");
  // Clamped where Go's int64 nanoseconds end.
  CHECK(go_duration(kMax) == "2562047h47m16s");
  CHECK(go_duration(kMin) == "-2562047h47m16s");
  // Printing and parsing agree.
  for (const std::int64_t s : {std::int64_t{1}, std::int64_t{59}, std::int64_t{3600}, std::int64_t{86399},
                               std::int64_t{9'223'372'036}, std::int64_t{-7200}}) {
    INFO(s);
    CHECK(*engine::parse_duration_seconds(go_duration(s)) == s);
  }
}
