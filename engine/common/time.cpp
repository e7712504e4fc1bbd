// SPDX-License-Identifier: MPL-2.0
#include "engine/common/time.hpp"

#include <cstdio>
#include <ctime>

namespace engine {

std::string format_time(TimePoint t) { return format_time(static_cast<std::int64_t>(t.time_since_epoch().count())); }

std::string format_time(std::int64_t unix_ns) {
  std::int64_t secs = unix_ns / 1'000'000'000;
  std::int64_t frac = unix_ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  const auto whole = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&whole, &tm);
  char buf[64];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  if (frac != 0) {
    char fbuf[16];
    std::snprintf(fbuf, sizeof fbuf, ".%09lld", static_cast<long long>(frac));
    std::string f(fbuf);
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  out += 'Z';
  return out;
}

}  // namespace engine
