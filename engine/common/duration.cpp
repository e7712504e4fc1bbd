// SPDX-License-Identifier: MPL-2.0
#include "engine/common/duration.hpp"

#include <array>
#include <limits>
#include <optional>

namespace engine {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::int64_t kDaySeconds = 86'400;
// Go accumulates magnitudes as uint64 up to 2^63, so that -2^63 ns (the
// most negative Duration) parses while +2^63 does not.
constexpr std::uint64_t kMagnitudeLimit = std::uint64_t{1} << 63;

struct Unit {
  std::string_view name;
  std::uint64_t ns;
};

constexpr std::array<Unit, 8> kUnits = {{
    {"ns", 1},
    {"us", 1'000},
    {"\xC2\xB5s", 1'000},  // U+00B5 micro sign
    {"\xCE\xBCs", 1'000},  // U+03BC Greek small letter mu
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
}};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

Error invalid_duration(std::string_view text) {
  return Error::invalid("invalid duration \"" + std::string(text) + "\"");
}

// strconv.ParseInt(s, 10, 64): an optional sign and at least one digit,
// nothing else; nullopt on bad syntax or a value outside int64.
std::optional<std::int64_t> parse_go_int(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  std::uint64_t magnitude = 0;
  for (const char c : s) {
    if (!is_digit(c)) return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (magnitude > (kMagnitudeLimit - digit) / 10) return std::nullopt;
    magnitude = magnitude * 10 + digit;
  }
  if (negative) {
    return magnitude == kMagnitudeLimit ? std::numeric_limits<std::int64_t>::min()
                                        : -static_cast<std::int64_t>(magnitude);
  }
  if (magnitude == kMagnitudeLimit) return std::nullopt;
  return static_cast<std::int64_t>(magnitude);
}

// Go's leadingInt: the digits at the front of s, consumed. False when the
// value passes 2^63.
bool leading_int(std::string_view& s, std::uint64_t& out, bool& any) {
  std::size_t i = 0;
  out = 0;
  for (; i < s.size() && is_digit(s[i]); ++i) {
    if (out > kMagnitudeLimit / 10) return false;
    out = out * 10 + static_cast<std::uint64_t>(s[i] - '0');
    if (out > kMagnitudeLimit) return false;
  }
  any = i > 0;
  s.remove_prefix(i);
  return true;
}

// Go's leadingFraction: the digits at the front of s, consumed; precision
// stops accumulating (no error) once more digits would overflow.
void leading_fraction(std::string_view& s, std::uint64_t& out, double& scale, bool& any) {
  std::size_t i = 0;
  out = 0;
  scale = 1;
  bool saturated = false;
  for (; i < s.size() && is_digit(s[i]); ++i) {
    if (saturated) continue;
    if (out > (kMagnitudeLimit - 1) / 10) {
      saturated = true;
      continue;
    }
    const std::uint64_t next = out * 10 + static_cast<std::uint64_t>(s[i] - '0');
    if (next > kMagnitudeLimit) {
      saturated = true;
      continue;
    }
    out = next;
    scale *= 10;
  }
  any = i > 0;
  s.remove_prefix(i);
}

const Unit* find_unit(std::string_view name) {
  for (const Unit& u : kUnits) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

// One <number><unit> from the front of s, consumed, as a magnitude in ns.
Result<std::uint64_t> component(std::string_view& s, std::string_view text) {
  if (!(s.front() == '.' || is_digit(s.front()))) return invalid_duration(text);
  std::uint64_t whole = 0;
  bool pre = false;
  if (!leading_int(s, whole, pre)) return invalid_duration(text);
  std::uint64_t fraction = 0;
  double scale = 1;
  bool post = false;
  if (!s.empty() && s.front() == '.') {
    s.remove_prefix(1);
    leading_fraction(s, fraction, scale, post);
  }
  if (!pre && !post) return invalid_duration(text);  // ".s", "-.s"

  std::size_t n = 0;
  while (n < s.size() && s[n] != '.' && !is_digit(s[n])) ++n;
  if (n == 0) return Error::invalid("missing unit in duration \"" + std::string(text) + "\"");
  const std::string_view name = s.substr(0, n);
  s.remove_prefix(n);
  const Unit* unit = find_unit(name);
  if (unit == nullptr) {
    return Error::invalid("unknown unit \"" + std::string(name) + "\" in duration \"" + std::string(text) + "\"");
  }

  if (whole > kMagnitudeLimit / unit->ns) return invalid_duration(text);
  std::uint64_t v = whole * unit->ns;
  if (fraction > 0) {
    // As Go: float64 keeps fractions of an hour exact to the nanosecond; the
    // product is below one unit (at most 3.6e12), so the cast is in range.
    const double part = static_cast<double>(fraction) * (static_cast<double>(unit->ns) / scale);
    v += static_cast<std::uint64_t>(part);
    if (v > kMagnitudeLimit) return invalid_duration(text);
  }
  return v;
}

}  // namespace

Result<std::int64_t> parse_go_duration(std::string_view text) {
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::int64_t{0};
  if (s.empty()) return invalid_duration(text);
  std::uint64_t total = 0;
  while (!s.empty()) {
    COFFER_TRY(const std::uint64_t v, component(s, text));
    // Both are at most 2^63, so the sum fits in uint64 unless it is 2^64.
    if (__builtin_add_overflow(total, v, &total) || total > kMagnitudeLimit) return invalid_duration(text);
  }
  if (negative) {
    return total == kMagnitudeLimit ? std::numeric_limits<std::int64_t>::min() : -static_cast<std::int64_t>(total);
  }
  if (total == kMagnitudeLimit) return invalid_duration(text);
  return static_cast<std::int64_t>(total);
}

Result<std::int64_t> parse_duration_ns(std::string_view text) {
  if (text.empty()) return std::int64_t{0};
  if (const auto seconds = parse_go_int(text)) {
    std::int64_t ns = 0;
    if (__builtin_mul_overflow(*seconds, kSecond, &ns)) return invalid_duration(text);
    return ns;
  }
  if (text.back() == 'd') {
    const auto days = parse_go_int(text.substr(0, text.size() - 1));
    std::int64_t ns = 0;
    if (!days || __builtin_mul_overflow(*days, kDaySeconds * kSecond, &ns)) return invalid_duration(text);
    return ns;
  }
  return parse_go_duration(text);
}

Result<std::int64_t> parse_duration_seconds(std::string_view text) {
  if (text.empty()) return std::int64_t{0};
  if (const auto seconds = parse_go_int(text)) return *seconds;
  if (text.back() == 'd') {
    const auto days = parse_go_int(text.substr(0, text.size() - 1));
    std::int64_t seconds = 0;
    if (!days || __builtin_mul_overflow(*days, kDaySeconds, &seconds)) return invalid_duration(text);
    return seconds;
  }
  COFFER_TRY(const std::int64_t ns, parse_go_duration(text));
  return whole_seconds(ns);
}

std::int64_t whole_seconds(std::int64_t ns) {
  // Go's Duration.Seconds(): whole seconds plus the remainder, as float64.
  const double seconds = static_cast<double>(ns / kSecond) + static_cast<double>(ns % kSecond) / 1e9;
  return static_cast<std::int64_t>(seconds);  // |seconds| <= 9.3e9: in range
}

std::string go_duration(std::int64_t seconds) {
  if (seconds == 0) return "0s";
  std::string sign;
  // Go's Duration is int64 nanoseconds: clamp as it would hold the value.
  constexpr std::int64_t kMaxSeconds = std::numeric_limits<std::int64_t>::max() / kSecond;
  if (seconds > kMaxSeconds) seconds = kMaxSeconds;
  if (seconds < -kMaxSeconds) seconds = -kMaxSeconds;
  if (seconds < 0) {
    sign = "-";
    seconds = -seconds;
  }
  const std::int64_t h = seconds / 3600;
  const std::int64_t m = (seconds % 3600) / 60;
  const std::int64_t s = seconds % 60;
  if (h > 0) return sign + std::to_string(h) + "h" + std::to_string(m) + "m" + std::to_string(s) + "s";
  if (m > 0) return sign + std::to_string(m) + "m" + std::to_string(s) + "s";
  return sign + std::to_string(s) + "s";
}

}  // namespace engine
