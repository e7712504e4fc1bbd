// SPDX-License-Identifier: MPL-2.0
// `cofferd migrate --from STORE --to STORE` (Vault's `vault operator
// migrate`): copies every key of one store into another, SQLite or
// PostgreSQL either way. Values are copied as they are stored (ciphertext;
// nothing is unsealed), so the same unseal shares open the copy.
//
//   - The source must not be in use: a SQLite source is held with the lock
//     a running cofferd holds (refused if it does) for the whole copy; a
//     PostgreSQL source must not change meanwhile (its revision is read
//     before and after; a change fails the migrate).
//   - The target must be empty (no key at all); a missing SQLite file or
//     missing PostgreSQL tables are created.
//   - Keys are copied in batches (each one transaction); the change feed's
//     rows are not copied, and those the copy itself wrote in a PostgreSQL
//     target are dropped, so its hosts start from a whole-store load.
//   - Afterwards both stores are read again: the number of keys and a
//     BLAKE2b-256 digest of every key and value must match.
//   - A migrate that fails after writing removes what it wrote: a SQLite
//     file it created is deleted, otherwise every key is deleted again. If
//     even that fails, the message says the target must be emptied by hand
//     (a second migrate refuses a non-empty target).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "engine/common/error.hpp"
#include "engine/storage/storage.hpp"
#include "mountd/stores.hpp"

namespace mountd {

// Every key of a store, sorted bytewise (recursive list()).
engine::Result<std::vector<std::string>> all_keys(engine::Storage& store);

// The number of keys and the BLAKE2b-256 (libsodium crypto_generichash) of
// every key and value, in bytewise key order, each as an 8-byte big-endian
// length followed by its bytes.
struct StoreDigest {
  std::size_t keys = 0;
  std::string hex;
  bool operator==(const StoreDigest&) const = default;
};
engine::Result<StoreDigest> digest_store(engine::Storage& store);

struct MigrateArgs {
  StoreLocation from, to;
};
// What follows "migrate": --from STORE --to STORE (--opt=V or --opt V).
engine::Result<MigrateArgs> parse_migrate_args(const std::vector<std::string>& args);

struct MigrateReport {
  StoreDigest digest;
  double seconds = 0;  // wall time, open to verified
};
// The migrate. batch: keys per transaction.
engine::Result<MigrateReport> migrate(const StoreLocation& from, const StoreLocation& to, std::size_t batch = 500);

// The subcommand: parses, migrates, prints the count and digest on out (or
// why not on err). Exit status 0, 1 on failure, 2 on bad arguments.
int run_migrate(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace mountd
