// SPDX-License-Identifier: MPL-2.0
// The daemon's logger: one line per event on stderr, with a UTC timestamp and
// a level. Used by fs/ and mountd/ (the engine never logs). Never pass secret
// values, tokens or write buffers to it: only names, paths, codes and counts.
#pragma once

#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace fsd {

enum class LogLevel { Error = 0, Warn = 1, Info = 2, Debug = 3 };

// The most verbose level that is written (default Info). Thread-safe.
void set_log_level(LogLevel level) noexcept;
LogLevel log_level() noexcept;
// The most verbose level an open sys/monitor file wants (-1: none): lines
// up to it are formatted for the monitor even when stderr does not get them.
int monitor_log_level() noexcept;
inline bool log_enabled(LogLevel level) noexcept {
  return static_cast<int>(level) <= static_cast<int>(log_level()) || static_cast<int>(level) <= monitor_log_level();
}

// "error", "warn", "info", "debug" (also "warning", "trace" = debug).
std::optional<LogLevel> parse_log_level(std::string_view name);
const char* to_string(LogLevel level) noexcept;

// Writes one line ("2026-11-23T18:30:00.123Z cofferd INFO: message") with a
// single write(2), so lines from several threads never interleave. Thread-safe.
void log_line(LogLevel level, std::string_view message) noexcept;

// log(LogLevel::Warn, "lookup ", path, ": ", reason): formats only when the
// level is enabled.
template <class... Parts>
void log(LogLevel level, const Parts&... parts) {
  if (!log_enabled(level)) return;
  std::ostringstream out;
  (out << ... << parts);
  log_line(level, out.str());
}

template <class... Parts>
void log_error(const Parts&... parts) {
  log(LogLevel::Error, parts...);
}
template <class... Parts>
void log_warn(const Parts&... parts) {
  log(LogLevel::Warn, parts...);
}
template <class... Parts>
void log_info(const Parts&... parts) {
  log(LogLevel::Info, parts...);
}
template <class... Parts>
void log_debug(const Parts&... parts) {
  log(LogLevel::Debug, parts...);
}

}  // namespace fsd
