// SPDX-License-Identifier: MPL-2.0
// The one log line of a failed operation, shared by the compute halves
// (fs/operations.hpp) and the session file (fs/session_file.hpp): each error
// is logged once, where it is decided, and its errno returned.
#pragma once

#include <string_view>

#include "engine/common/error.hpp"
#include "fs/log.hpp"

namespace fsd {

// Logs why an engine call failed ("op /path: code: message (strerror)") at a
// level fitting the code (server faults error, NotFound debug, Sealed warn,
// the rest info) and returns its errno. Thread-safe.
int log_failure(const char* op, std::string_view path, const engine::Error& error);

// Logs an error the fs layer itself decided ("op /path: reason (strerror)")
// and returns err. Thread-safe.
int log_rejection(const char* op, std::string_view path, int err, std::string_view reason,
                  LogLevel level = LogLevel::Info);

}  // namespace fsd
