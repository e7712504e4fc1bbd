// SPDX-License-Identifier: MPL-2.0
#include "fs/op_log.hpp"

#include <cstring>

#include "fs/errno_map.hpp"

namespace fsd {

namespace {

LogLevel level_for(engine::ErrorCode code) {
  if (is_server_fault(code)) return LogLevel::Error;
  // Lookups of absent names are routine (shells probe for files): keep them
  // out of the default log.
  if (code == engine::ErrorCode::NotFound) return LogLevel::Debug;
  if (code == engine::ErrorCode::Sealed) return LogLevel::Warn;
  return LogLevel::Info;
}

}  // namespace

int log_failure(const char* op, std::string_view path, const engine::Error& error) {
  const int err = to_errno(error.code);
  log(level_for(error.code), op, " /", path, ": ", engine::to_string(error.code), error.message.empty() ? "" : ": ",
      error.message, " (", std::strerror(err), ")");
  return err;
}

int log_rejection(const char* op, std::string_view path, int err, std::string_view reason, LogLevel level) {
  log(level, op, " /", path, ": ", reason, " (", std::strerror(err), ")");
  return err;
}

}  // namespace fsd
