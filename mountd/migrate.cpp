// SPDX-License-Identifier: MPL-2.0
#include "mountd/migrate.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <optional>

#include "engine/crypto/sodium.hpp"
#include "engine/storage/postgres_storage.hpp"

namespace mountd {

namespace {

void hash_length(engine::crypto::StreamHash& h, std::size_t n) {
  std::uint8_t be[8];
  for (int i = 7; i >= 0; --i) {
    be[i] = static_cast<std::uint8_t>(n & 0xff);
    n >>= 8;
  }
  h.update(engine::ByteView(be, sizeof be));
}

void hash_entry(engine::crypto::StreamHash& h, std::string_view key, engine::ByteView value) {
  hash_length(h, key.size());
  h.update(engine::bytes_of(key));
  hash_length(h, value.size());
  h.update(value);
}

engine::Result<std::string> take(const std::vector<std::string>& args, std::size_t& i, const std::string& name) {
  const std::string& a = args[i];
  if (a.size() > name.size() && a[name.size()] == '=') {
    if (a.size() == name.size() + 1) return engine::Error::invalid(name + " needs a value");
    return a.substr(name.size() + 1);
  }
  if (i + 1 >= args.size() || args[i + 1].empty()) return engine::Error::invalid(name + " needs a value");
  return args[++i];
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// The same store named twice: one SQLite file (same inode), or one
// PostgreSQL URL and table.
bool same_store(const StoreLocation& a, const StoreLocation& b) {
  if (a.postgres != b.postgres) return false;
  if (a.postgres) return a.path == b.path && a.table == b.table;
  struct stat x {}, y {};
  if (::stat(a.path.c_str(), &x) != 0 || ::stat(b.path.c_str(), &y) != 0) return a.path == b.path;
  return x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

}  // namespace

engine::Result<std::vector<std::string>> all_keys(engine::Storage& store) {
  std::vector<std::string> keys;
  std::vector<std::string> todo{""};
  while (!todo.empty()) {
    const std::string prefix = std::move(todo.back());
    todo.pop_back();
    COFFER_TRY(auto children, store.list(prefix));
    for (const std::string& child : children) {
      if (!child.empty() && child.back() == '/') {
        todo.push_back(prefix + child);
      } else {
        keys.push_back(prefix + child);  // "" under "a/": the key "a/" itself
      }
    }
  }
  // std::string's order is bytewise (char_traits<char> compares as unsigned char).
  std::sort(keys.begin(), keys.end());
  return keys;
}

engine::Result<StoreDigest> digest_store(engine::Storage& store) {
  COFFER_TRY(auto keys, all_keys(store));
  engine::crypto::StreamHash h;
  for (const std::string& key : keys) {
    COFFER_TRY(auto value, store.get(key));
    if (!value) return engine::Error::storage("key " + key + " vanished while the store was read");
    hash_entry(h, key, *value);
  }
  return StoreDigest{keys.size(), h.final_hex()};
}

engine::Result<MigrateArgs> parse_migrate_args(const std::vector<std::string>& args) {
  std::optional<std::string> from, to;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--from" || a.rfind("--from=", 0) == 0) {
      if (from) return engine::Error::invalid("migrate: --from is given twice");
      COFFER_TRY(from, take(args, i, "--from"));
    } else if (a == "--to" || a.rfind("--to=", 0) == 0) {
      if (to) return engine::Error::invalid("migrate: --to is given twice");
      COFFER_TRY(to, take(args, i, "--to"));
    } else {
      return engine::Error::invalid("migrate: unexpected argument " + a +
                                    " (cofferd migrate --from sqlite:PATH|postgres://... --to sqlite:PATH|postgres://...)");
    }
  }
  if (!from || !to) {
    return engine::Error::invalid("migrate needs --from and --to (sqlite:PATH or postgres://...)");
  }
  MigrateArgs out;
  COFFER_TRY(out.from, parse_store_location(*from, "--from"));
  COFFER_TRY(out.to, parse_store_location(*to, "--to"));
  return out;
}

engine::Result<MigrateReport> migrate(const StoreLocation& from, const StoreLocation& to, std::size_t batch) {
  const auto started = std::chrono::steady_clock::now();
  if (batch == 0) batch = 1;
  if (same_store(from, to)) return engine::Error::invalid("--from and --to name the same store");

  // The source: held (SQLite) or watched (PostgreSQL) until verified.
  auto source = open_store(from, /*create=*/false);
  if (!source.ok()) {
    engine::Error e = std::move(source).error();
    if (e.code == engine::ErrorCode::Locked) {
      e.message = "the source " + describe(from) +
                  " is in use (a running cofferd holds its lock); stop that cofferd first, so that nothing "
                  "changes during the copy";
    } else {
      e.message = "cannot open the source " + describe(from) + ": " + e.message;
    }
    return e;
  }
  engine::Storage& src = **source;
  auto* src_pg = from.postgres ? static_cast<engine::PostgresStorage*>(&src) : nullptr;
  std::int64_t src_revision = 0;
  if (src_pg != nullptr) {
    COFFER_TRY(src_revision, src_pg->revision());
  }

  COFFER_TRY(auto keys, all_keys(src));
  if (keys.empty()) return engine::Error::invalid("the source " + describe(from) + " holds no key: nothing to migrate");

  // The target: new, or empty.
  const bool created_file = !to.postgres && !file_exists(to.path);
  auto target = open_store(to, /*create=*/true);
  if (!target.ok()) {
    engine::Error e = std::move(target).error();
    e.message = "cannot open the target " + describe(to) + ": " + e.message;
    return e;
  }
  engine::Storage& dst = **target;
  auto* dst_pg = to.postgres ? static_cast<engine::PostgresStorage*>(&dst) : nullptr;
  {
    COFFER_TRY(auto any, dst.list("", 1));
    if (!any.empty()) {
      return engine::Error::not_empty("the target " + describe(to) +
                                      " is not empty; migrate only into a new or empty store (nothing was written)");
    }
  }

  // On any failure from here: take back what was written.
  auto undo = [&](engine::Error e) -> engine::Error {
    if (created_file) {
      target->reset();
      bool removed = true;
      for (const char* suffix : {"", "-wal", "-shm"}) {
        const std::string p = to.path + suffix;
        if (::unlink(p.c_str()) != 0 && errno != ENOENT) removed = false;
      }
      e.message += removed ? "; the new target file was removed"
                           : "; the target " + to.path + " could not be removed: delete it (and its -wal, -shm)";
      return e;
    }
    const engine::WriteOp wipe[] = {{engine::WriteOp::Kind::DeletePrefix, "", {}}};
    engine::Status st = dst.apply(wipe);
    if (st.ok() && dst_pg != nullptr) {
      auto rev = dst_pg->revision();
      st = rev.ok() ? dst_pg->trim_changes(*rev + 1) : engine::Status(std::move(rev).error());
    }
    e.message += st.ok() ? "; what was copied into the target was deleted again"
                         : "; the target " + describe(to) + " now holds part of the store and could not be emptied (" +
                               st.error().message + "): empty it before another migrate";
    return e;
  };

  // Copy, hashing the source on the way.
  engine::crypto::StreamHash h;
  std::vector<engine::WriteOp> ops;
  ops.reserve(batch);
  for (std::size_t i = 0; i < keys.size(); i += batch) {
    ops.clear();
    const std::size_t end = std::min(keys.size(), i + batch);
    for (std::size_t k = i; k < end; ++k) {
      auto value = src.get(keys[k]);
      if (!value.ok()) return undo(std::move(value).error());
      if (!*value) return undo(engine::Error::storage("key " + keys[k] + " vanished from the source during the copy"));
      hash_entry(h, keys[k], **value);
      ops.push_back({engine::WriteOp::Kind::Put, keys[k], std::move(**value)});
    }
    if (auto st = dst.apply(ops); !st.ok()) {
      engine::Error e = std::move(st).error();
      e.message = "cannot write to the target: " + e.message;
      return undo(std::move(e));
    }
  }
  const StoreDigest copied{keys.size(), h.final_hex()};

  // The change rows the copy wrote: a fleet's hosts start from a full load.
  if (dst_pg != nullptr) {
    auto rev = dst_pg->revision();
    engine::Status st = rev.ok() ? dst_pg->trim_changes(*rev + 1) : engine::Status(std::move(rev).error());
    if (!st.ok()) return undo(std::move(st).error());
  }

  // Verify: the source did not move, and both sides read back the same.
  if (src_pg != nullptr) {
    auto now = src_pg->revision();
    if (!now.ok()) return undo(std::move(now).error());
    if (*now != src_revision) {
      return undo(engine::Error::conflict("the source changed during the copy (revision " +
                                          std::to_string(src_revision) + " -> " + std::to_string(*now) +
                                          "): stop every cofferd on it and migrate again"));
    }
  }
  auto again = digest_store(src);
  if (!again.ok()) return undo(std::move(again).error());
  if (!(*again == copied)) return undo(engine::Error::conflict("the source changed during the copy"));
  auto written = digest_store(dst);
  if (!written.ok()) return undo(std::move(written).error());
  if (!(*written == copied)) {
    return undo(engine::Error::corrupt("the target does not read back what was copied (" +
                                       std::to_string(written->keys) + " keys, digest " + written->hex + "; source " +
                                       std::to_string(copied.keys) + " keys, digest " + copied.hex + ")"));
  }
  MigrateReport report;
  report.digest = copied;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

int run_migrate(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto parsed = parse_migrate_args(args);
  if (!parsed.ok()) {
    err << "cofferd: " << parsed.error().message << "\n";
    return 2;
  }
  auto report = migrate(parsed->from, parsed->to);
  if (!report.ok()) {
    err << "cofferd: migrate: " << report.error().message << "\n";
    return 1;
  }
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.3f", report->seconds);
  out << "cofferd: migrated " << report->digest.keys << " keys from " << describe(parsed->from) << " to "
      << describe(parsed->to) << " in " << secs << " s\n"
      << "keys: " << report->digest.keys << "\n"
      << "blake2b-256: " << report->digest.hex << " (the same on both sides)\n";
  return 0;
}

}  // namespace mountd
