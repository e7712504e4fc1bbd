// SPDX-License-Identifier: MPL-2.0
// Where a store is, as the operator commands (cofferd migrate, unseal-file)
// name it, and opening it as plain physical storage: no core, no barrier,
// no change feed. A SQLite store is held with its lock (SqliteStorage's
// flock) for as long as it is open, so a running cofferd's store is refused.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "engine/common/error.hpp"
#include "engine/storage/storage.hpp"

namespace mountd {

struct StoreLocation {
  bool postgres = false;
  std::string path;             // the SQLite file, or the PostgreSQL URL
  std::string table = "coffer";  // PostgreSQL's table prefix
};

// "sqlite:PATH", a plain PATH, or a postgres:// / postgresql:// URL.
// InvalidArgument for an empty path, and for a URL carrying a password
// (the command line is readable by every user: use ~/.pgpass or PGPASSFILE).
engine::Result<StoreLocation> parse_store_location(std::string_view text, std::string_view what);

// What messages may show: the URL without its password, or the path.
std::string describe(const StoreLocation& where);

// Opens the store. create: make a missing SQLite file / PostgreSQL tables;
// otherwise a missing store is NotFound. Locked (SQLite) when another
// process, such as a running cofferd, holds it. Errors as the backends.
engine::Result<std::unique_ptr<engine::Storage>> open_store(const StoreLocation& where, bool create);

}  // namespace mountd
