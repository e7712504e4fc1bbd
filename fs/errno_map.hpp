// SPDX-License-Identifier: MPL-2.0
// THE one table from engine::ErrorCode to errno (SPEC §2). Every code is
// mapped; tests/unit/fs/test_errno_map.cpp walks every enum value so a new
// code without an entry fails the build (-Wswitch) or the test.
#pragma once

#include <optional>

#include "engine/common/error.hpp"

namespace fsd {

// The table's entry for code, or nullopt if the code has none (which is a bug
// the unit test catches). Pure, thread-safe.
std::optional<int> errno_entry(engine::ErrorCode code) noexcept;

// Positive errno for code, EIO for anything the table does not know. What
// every FUSE reply uses. Pure, thread-safe.
int to_errno(engine::ErrorCode code) noexcept;

// True for codes that mean the daemon or the store is broken rather than the
// request (logged at error level rather than warn).
bool is_server_fault(engine::ErrorCode code) noexcept;

}  // namespace fsd
