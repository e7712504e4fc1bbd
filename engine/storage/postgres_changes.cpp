// SPDX-License-Identifier: MPL-2.0
#include "engine/storage/postgres_changes.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "engine/storage/storage.hpp"

namespace engine::pg_changes {
namespace {

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

std::string field(PGresult* r, int row, int col) {
  return std::string(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
}

// Runs SQL with binary parameters and binary rows. Errors: Storage.
Result<PgResult> query(PGconn* pg, const std::string& sql, const std::vector<std::string>& params) {
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
  for (const std::string& p : params) {
    values.push_back(p.c_str());
    lengths.push_back(static_cast<int>(p.size()));
    formats.push_back(1);
  }
  PgResult r(PQexecParams(pg, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), lengths.data(),
                          formats.data(), /*resultFormat=*/1));
  if (!r || PQresultStatus(r.get()) != PGRES_TUPLES_OK) return error(pg, "cannot read the change log");
  return r;
}

}  // namespace

Error error(pg_conn* pg, const std::string& what) {
  std::string msg = pg != nullptr ? PQerrorMessage(pg) : "no connection";
  if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
  return Error::storage("change feed: " + what + ": " + (msg.empty() ? "unknown error" : msg));
}

Status read_batches(pg_conn* pg, const std::string& t, std::int64_t after, std::int64_t upto, StoreChanges& out) {
  // The bounds as text: bigint parameters, sent as text. Ordered by the
  // bigint column: the text output column is also named "revision", and
  // ORDER BY revision would sort "100" before "99". A row with no prefix
  // flag (NULL) was written by a cofferd from before the column, and read
  // as such a cofferd reads it: a key ending in '/' is a prefix.
  std::vector<const char*> values;
  const std::string from = std::to_string(after), to = std::to_string(upto);
  values = {from.c_str(), to.c_str()};
  PgResult rows(PQexecParams(pg,
                             ("SELECT c.revision::text AS rev, c.key, COALESCE(c.prefix, substring(c.key FROM "
                              "octet_length(c.key)) = '\\x2f'::bytea) FROM " +
                              t +
                              "_changes c WHERE c.revision > $1::bigint AND c.revision <= $2::bigint "
                              "ORDER BY c.revision, c.key")
                                 .c_str(),
                             2, nullptr, values.data(), nullptr, nullptr, /*resultFormat=*/1));
  if (!rows || PQresultStatus(rows.get()) != PGRES_TUPLES_OK) return error(pg, "cannot read the change log");
  std::int64_t expect = after + 1;
  for (int i = 0; i < PQntuples(rows.get()); ++i) {
    const std::int64_t rev = std::strtoll(field(rows.get(), i, 0).c_str(), nullptr, 10);
    if (out.batches.empty() || out.batches.back().revision != rev) {
      // Every revision writes at least one row: a missing one was trimmed.
      if (rev != expect) {
        out.reload = true;
        out.why = "change rows before revision " + std::to_string(rev) + " are gone";
        return {};
      }
      out.batches.push_back({rev, {}});
      ++expect;
    }
    // A boolean in binary is one byte, 1 for true.
    const bool prefix = PQgetlength(rows.get(), i, 2) == 1 && PQgetvalue(rows.get(), i, 2)[0] != 0;
    out.batches.back().keys.push_back({field(rows.get(), i, 1), prefix});
  }
  if (out.batches.empty()) {  // called with revisions to read: all trimmed
    out.reload = true;
    out.why = "change rows past revision " + std::to_string(after) + " are gone";
    return {};
  }
  out.revision = out.batches.back().revision;
  return {};
}

Status read_state(pg_conn* pg, const std::string& t, StoreChanges& out) {
  const std::string kv = t + "_kv";
  auto select = [&](const std::string& sql, const std::vector<std::string>& params) -> Status {
    COFFER_TRY(auto r, query(pg, sql, params));
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      const auto* v = reinterpret_cast<const std::uint8_t*>(PQgetvalue(r.get(), i, 1));
      out.values.emplace_back(field(r.get(), i, 0), SecureBytes(v, v + PQgetlength(r.get(), i, 1)));
    }
    return {};
  };
  if (out.reload) {
    out.cleared = {{"", true}};
    return select("SELECT key, value FROM " + kv + " ORDER BY key", {});
  }
  std::vector<std::string> keys, prefixes;
  for (const auto& b : out.batches) {
    for (const KeyRange& k : b.keys) (k.prefix ? prefixes : keys).push_back(k.key);
  }
  auto unique = [](std::vector<std::string>& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  };
  unique(keys);
  unique(prefixes);
  for (const std::string& p : prefixes) {
    out.cleared.push_back({p, true});
    if (auto end = prefix_successor(p)) {
      COFFER_TRY_STATUS(select("SELECT key, value FROM " + kv + " WHERE key >= $1 AND key < $2", {p, *end}));
    } else {
      COFFER_TRY_STATUS(select("SELECT key, value FROM " + kv + " WHERE key >= $1", {p}));
    }
  }
  for (const std::string& k : keys) {
    // A key inside a cleared prefix was read with it.
    if (std::any_of(prefixes.begin(), prefixes.end(), [&](const std::string& p) { return k.starts_with(p); })) continue;
    out.cleared.push_back({k, false});  // gone unless a value follows
    COFFER_TRY_STATUS(select("SELECT key, value FROM " + kv + " WHERE key = $1", {k}));
  }
  return {};
}

pg_conn* connect(const std::string& connection_url) {
  // Keywords are processed in order and the last value wins, so the URL,
  // expanded from dbname last, overrides every default before it.
  static const char* const kKeys[] = {"connect_timeout",   "keepalives",       "keepalives_idle", "keepalives_interval",
                                      "keepalives_count",  "tcp_user_timeout", "dbname",          nullptr};
  const char* values[] = {"5", "1", "5", "2", "3", "10000", connection_url.c_str(), nullptr};
  return PQconnectdbParams(kKeys, values, /*expand_dbname=*/1);
}

}  // namespace engine::pg_changes
