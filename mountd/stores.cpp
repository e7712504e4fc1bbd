// SPDX-License-Identifier: MPL-2.0
#include "mountd/stores.hpp"

#include "engine/storage/postgres_storage.hpp"
#include "engine/storage/sqlite_storage.hpp"
#include "mountd/options.hpp"

namespace mountd {

engine::Result<StoreLocation> parse_store_location(std::string_view text, std::string_view what) {
  StoreLocation where;
  if (is_postgres_url(text)) {
    if (redacted_url(text) != text) {
      return engine::Error::invalid(std::string(what) +
                                    ": the URL carries a password, which every user can read in ps; use "
                                    "~/.pgpass or PGPASSFILE");
    }
    where.postgres = true;
    where.path = std::string(text);
    return where;
  }
  if (text.starts_with("sqlite:")) text.remove_prefix(7);
  if (text.empty()) {
    return engine::Error::invalid(std::string(what) + " needs sqlite:PATH or postgres://...");
  }
  where.path = std::string(text);
  return where;
}

std::string describe(const StoreLocation& where) {
  if (!where.postgres) return "sqlite:" + where.path;
  std::string d = redacted_url(where.path);
  if (where.table != "coffer") d += " (table " + where.table + ")";
  return d;
}

engine::Result<std::unique_ptr<engine::Storage>> open_store(const StoreLocation& where, bool create) {
  if (where.postgres) {
    engine::PostgresStorage::Options o;
    o.connection_url = where.path;
    o.table = where.table;
    o.create = create;
    COFFER_TRY(auto pg, engine::PostgresStorage::open(std::move(o)));
    return std::unique_ptr<engine::Storage>(std::move(pg));
  }
  COFFER_TRY(auto sqlite,
             engine::SqliteStorage::open(where.path, create ? engine::SqliteStorage::IfMissing::Create
                                                            : engine::SqliteStorage::IfMissing::Fail));
  return std::unique_ptr<engine::Storage>(std::move(sqlite));
}

}  // namespace mountd
