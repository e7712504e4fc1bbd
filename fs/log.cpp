// SPDX-License-Identifier: MPL-2.0
#include "fs/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "engine/audit/log_hub.hpp"

namespace fsd {

namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::Info)};

// "2026-11-23T18:30:00.123Z"
std::string utc_timestamp() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t secs = system_clock::to_time_t(now);
  const auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  return buf;
}

}  // namespace

void set_log_level(LogLevel level) noexcept { g_level.store(static_cast<int>(level)); }

LogLevel log_level() noexcept { return static_cast<LogLevel>(g_level.load()); }

int monitor_log_level() noexcept { return engine::LogHub::instance().wanted_level(); }

std::optional<LogLevel> parse_log_level(std::string_view name) {
  if (name == "error") return LogLevel::Error;
  if (name == "warn" || name == "warning") return LogLevel::Warn;
  if (name == "info") return LogLevel::Info;
  if (name == "debug" || name == "trace") return LogLevel::Debug;
  return std::nullopt;
}

const char* to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::Error: return "ERROR";
    case LogLevel::Warn: return "WARN";
    case LogLevel::Info: return "INFO";
    case LogLevel::Debug: return "DEBUG";
  }
  return "?";
}

void log_line(LogLevel level, std::string_view message) noexcept {
  try {
    std::string line = utc_timestamp();
    line += " cofferd ";
    line += to_string(level);
    line += ": ";
    line += message;
    line += '\n';
    // sys/monitor readers get every line up to their level; stderr does not
    // get lines only a monitor asked for.
    engine::LogHub::instance().publish(static_cast<int>(level), line);
    if (static_cast<int>(level) > g_level.load() && static_cast<int>(level) <= monitor_log_level()) return;
    // One write(2) per line: atomic enough on a pipe or tty that lines from
    // several FUSE worker threads do not interleave, and no lock is taken.
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
      const ssize_t n = ::write(STDERR_FILENO, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  } catch (...) {
    // Logging must never take the daemon down (bad_alloc while formatting).
  }
}

}  // namespace fsd
