// SPDX-License-Identifier: MPL-2.0
// Revisions of a PostgreSQL store as a host reads them back: which keys
// each revision touched (the <t>_changes rows) and what those keys hold now.
// The change feed reads them in a snapshot of its own (postgres_feed.hpp);
// an apply that finds revisions of other hosts before its own reads them
// inside its transaction, under the meta row lock (postgres_mirror.hpp).
// Internal to engine/storage.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/common/error.hpp"
#include "engine/common/secure.hpp"
#include "engine/storage/storage.hpp"

struct pg_conn;  // libpq's PGconn

namespace engine {

struct StoreChanges {
  // What one revision touched: a key per Put and Delete, a prefix per
  // DeletePrefix (its change row says which), in key order.
  struct Batch {
    std::int64_t revision = 0;
    std::vector<KeyRange> keys;
  };
  // Everything cached must be reloaded; `why` says what broke the chain.
  bool reload = false;
  std::string why;
  std::vector<Batch> batches;  // in revision order, empty with reload
  std::int64_t revision = 0;   // the revision these changes bring the reader to
  // The state at `revision`: every key in a `cleared` range (a prefix a
  // DeletePrefix named, or one key a batch named) now holds what `values`
  // says, and is gone where `values` has nothing. With reload, `cleared`
  // is the prefix "" and `values` the whole store.
  std::vector<KeyRange> cleared;
  std::vector<std::pair<std::string, SecureBytes>> values;

  bool empty() const { return !reload && batches.empty(); }
};

namespace pg_changes {

// Reads the change rows of revisions (after, upto] of table `t` into
// `out.batches` (out.revision becomes the last one read). Rows missing
// before a revision (trimmed) set out.reload with the reason instead.
// Errors: Storage.
Status read_batches(pg_conn* pg, const std::string& t, std::int64_t after, std::int64_t upto, StoreChanges& out);

// Reads what every key `out`'s batches touched holds now (or, with
// out.reload, every key) into out.cleared and out.values. The caller makes
// "now" one revision: a REPEATABLE READ snapshot, or the meta row lock.
// Errors: Storage.
Status read_state(pg_conn* pg, const std::string& t, StoreChanges& out);

// The first line of the connection's last error, prefixed with `what`.
Error error(pg_conn* pg, const std::string& what);

// Opens a connection to connection_url (a postgres:// URL or key=value
// conninfo; check PQstatus) with timeouts of its own unless the URL sets
// them: a server that vanishes without answering (a host powered off, a
// network partition) fails a connect after 5 s (connect_timeout, per host
// of a multi-host URL) and a request or an idle LISTEN after about 10 s
// (tcp_user_timeout, TCP keepalives), so the daemon fails closed with EIO
// and moves on to a promoted standby rather than wait out the kernel's TCP
// retransmissions (many minutes).
pg_conn* connect(const std::string& connection_url);

}  // namespace pg_changes
}  // namespace engine
