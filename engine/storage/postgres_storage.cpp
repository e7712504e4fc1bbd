// SPDX-License-Identifier: MPL-2.0
#include "engine/storage/postgres_storage.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <regex>
#include <span>

namespace engine {
namespace {

// Statement names, prepared on each connection.
constexpr const char* kGet = "coffer_get";
constexpr const char* kList = "coffer_list";
constexpr const char* kListFrom = "coffer_list_from";
constexpr const char* kPut = "coffer_put";
constexpr const char* kDel = "coffer_del";
constexpr const char* kDelRange = "coffer_del_range";
constexpr const char* kDelFrom = "coffer_del_from";
constexpr const char* kNextRevision = "coffer_next_revision";
constexpr const char* kExpect = "coffer_expect";
constexpr const char* kTrim = "coffer_trim";

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

// The server's message, first line only: enough to act on, and never
// a parameter (libpq does not echo bound values).
Error pg_error(PGconn* conn, const std::string& what) {
  std::string msg = conn != nullptr ? PQerrorMessage(conn) : "no connection";
  if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
  return Error::storage(what + ": " + (msg.empty() ? "unknown error" : msg));
}

// One parameter: bytes, sent in binary (bytea) or as text (bigint).
struct Param {
  const char* data;
  int length;
  int binary;
};
// An empty value must not be a null pointer: libpq sends that as NULL.
Param bin(std::string_view s) { return {s.empty() ? "" : s.data(), static_cast<int>(s.size()), 1}; }
Param bin(const SecureBytes& b) {
  return {b.empty() ? "" : reinterpret_cast<const char*>(b.data()), static_cast<int>(b.size()), 1};
}
Param text(const std::string& s) { return {s.c_str(), static_cast<int>(s.size()), 0}; }

}  // namespace

struct PostgresStorage::Connection {
  PGconn* conn = nullptr;
  bool prepared = false;

  ~Connection() {
    if (conn != nullptr) PQfinish(conn);
  }

  // A statement's parameters as libpq takes them: three parallel arrays.
  struct Params {
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    explicit Params(std::initializer_list<Param> params) {
      for (const Param& p : params) {
        values.push_back(p.data);
        lengths.push_back(p.length);
        formats.push_back(p.binary);
      }
    }
    int count() const { return static_cast<int>(values.size()); }
  };

  // Runs a prepared statement; rows come back in binary.
  Result<PgResult> run(const char* name, std::initializer_list<Param> params, ExecStatusType want) {
    const Params p(params);
    PgResult r(PQexecPrepared(conn, name, p.count(), p.values.data(), p.lengths.data(), p.formats.data(),
                              /*resultFormat=*/1));
    if (!r || PQresultStatus(r.get()) != want) return pg_error(conn, name);
    return r;
  }

  // Queues a prepared statement in pipeline mode (false: the connection
  // broke). libpq copies the parameters into its buffer at once.
  bool send(const char* name, std::initializer_list<Param> params) {
    const Params p(params);
    return PQsendQueryPrepared(conn, name, p.count(), p.values.data(), p.lengths.data(), p.formats.data(),
                               /*resultFormat=*/1) == 1;
  }
  // The same for SQL with no parameters (transaction control).
  bool send(const char* sql) {
    return PQsendQueryParams(conn, sql, 0, nullptr, nullptr, nullptr, nullptr, /*resultFormat=*/1) == 1;
  }

  // The same, for a statement whose rows do not matter.
  Status command(const char* name, std::initializer_list<Param> params, ExecStatusType want = PGRES_COMMAND_OK) {
    auto r = run(name, params, want);
    if (!r.ok()) return std::move(r).error();
    return {};
  }

  // COMMIT, which must answer COMMIT: in a transaction that failed,
  // PostgreSQL answers a COMMIT with ROLLBACK and a success status.
  Status commit() {
    PgResult r(PQexec(conn, "COMMIT"));
    if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) return pg_error(conn, "cannot commit");
    if (std::string_view(PQcmdStatus(r.get())) != "COMMIT") return Error::storage("the transaction was rolled back");
    return {};
  }

  // Runs SQL with no parameters (transaction control, schema).
  Status exec(const std::string& sql) {
    PgResult r(PQexec(conn, sql.c_str()));
    const auto st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return pg_error(conn, "query failed");
    return {};
  }
};

namespace {

Status prepare(PostgresStorage::Connection& c, const std::string& t) {
  const std::string kv = t + "_kv";
  const std::string change = "INSERT INTO " + t + "_changes(revision, key, prefix) VALUES ";
  // The children of a prefix ($1, its length + 1 in $3, its successor in
  // $2): each key's remainder up to and including the next '/', once.
  const std::string child =
      "CASE WHEN position('\\x2f'::bytea IN substring(key FROM $3::int)) > 0 "
      "THEN substring(key FROM $3::int FOR position('\\x2f'::bytea IN substring(key FROM $3::int))) "
      "ELSE substring(key FROM $3::int) END";
  const std::pair<const char*, std::string> statements[] = {
      {kGet, "SELECT value FROM " + kv + " WHERE key = $1"},
      {kList, "SELECT DISTINCT " + child + " AS c FROM " + kv + " WHERE key >= $1 AND key < $2 ORDER BY c LIMIT $4"},
      {kListFrom,
       "SELECT DISTINCT " + child + " AS c FROM " + kv + " WHERE key >= $1 AND $2::bytea IS NULL ORDER BY c LIMIT $4"},
      // Each op writes its change row in the same statement (one statement
      // per op): $1 the key, the last parameter the revision, and whether
      // it is a DeletePrefix's prefix.
      {kPut, "WITH w AS (INSERT INTO " + kv +
                 "(key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value) " + change +
                 "($3::bigint, $1, false)"},
      {kDel, "WITH w AS (DELETE FROM " + kv + " WHERE key = $1) " + change + "($2::bigint, $1, false)"},
      {kDelRange,
       "WITH w AS (DELETE FROM " + kv + " WHERE key >= $1 AND key < $2) " + change + "($3::bigint, $1, true)"},
      {kDelFrom, "WITH w AS (DELETE FROM " + kv + " WHERE key >= $1) " + change + "($2::bigint, $1, true)"},
      // The next revision, NOTIFYing it in the same statement (sent at
      // COMMIT, dropped with a rolled-back batch).
      {kNextRevision, "UPDATE " + t +
                          "_meta SET revision = revision + 1 WHERE id = 1 RETURNING revision::text, "
                          "pg_notify('" +
                          t + "_changes', revision::text)"},
      // A conditional write's check ($1 holds $2; NULL: no such key) as an
      // error, so that in a pipeline it stops the rest of its batch without
      // a round trip: SQL has no RAISE, and this division by zero (SQLSTATE
      // 22012) is the only error this statement can raise by itself.
      {kExpect, "SELECT 1 / (CASE WHEN (SELECT value FROM " + kv +
                    " WHERE key = $1) IS NOT DISTINCT FROM $2::bytea THEN 1 ELSE 0 END)"},
      {kTrim, "DELETE FROM " + t + "_changes WHERE revision < $1::bigint"},
  };
  for (const auto& [name, sql] : statements) {
    PgResult r(PQprepare(c.conn, name, sql.c_str(), 0, nullptr));
    if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) return pg_error(c.conn, std::string("prepare ") + name);
  }
  c.prepared = true;
  return {};
}

}  // namespace

PostgresStorage::PostgresStorage(Options opts) : opts_(std::move(opts)) {}
PostgresStorage::~PostgresStorage() = default;

namespace {

Result<std::unique_ptr<PostgresStorage::Connection>> connect(const PostgresStorage::Options& opts) {
  auto c = std::make_unique<PostgresStorage::Connection>();
  c->conn = pg_changes::connect(opts.connection_url);
  if (c->conn == nullptr || PQstatus(c->conn) != CONNECTION_OK) return pg_error(c->conn, "cannot connect");
  COFFER_TRY_STATUS(prepare(*c, opts.table));
  return c;
}

// A connection that failed is reset before its next use (the server may be
// back, or a standby promoted: libpq tries every host of the URL again).
Status ensure_usable(PostgresStorage::Connection& c, const std::string& table) {
  if (PQstatus(c.conn) == CONNECTION_OK && PQpipelineStatus(c.conn) == PQ_PIPELINE_OFF &&
      PQtransactionStatus(c.conn) == PQTRANS_IDLE) {
    return {};
  }
  PQreset(c.conn);
  if (PQstatus(c.conn) != CONNECTION_OK) return pg_error(c.conn, "cannot reconnect");
  return prepare(c, table);
}

std::string bytes_of_result(PGresult* r, int row) {
  return std::string(PQgetvalue(r, row, 0), static_cast<std::size_t>(PQgetlength(r, row, 0)));
}

}  // namespace

Result<std::unique_ptr<PostgresStorage>> PostgresStorage::open(Options opts) {
  static const std::regex kTableName("[a-z_][a-z0-9_]{0,39}");
  if (!std::regex_match(opts.table, kTableName)) {
    return Error::invalid("storage table \"" + opts.table + "\" must match [a-z_][a-z0-9_]{0,39}");
  }
  const std::string& t = opts.table;
  auto conn = std::make_unique<Connection>();
  conn->conn = pg_changes::connect(opts.connection_url);
  if (conn->conn == nullptr || PQstatus(conn->conn) != CONNECTION_OK) return pg_error(conn->conn, "cannot connect");
  // Quiet the NOTICEs of CREATE ... IF NOT EXISTS.
  PQsetNoticeProcessor(
      conn->conn, [](void*, const char*) {}, nullptr);
  COFFER_TRY_STATUS(conn->exec("BEGIN"));
  auto schema = [&]() -> Status {
    // One creator at a time across hosts: a transaction-scoped advisory lock.
    COFFER_TRY_STATUS(conn->exec("SELECT pg_advisory_xact_lock(hashtext('" + t + "_schema'))"));
    if (!opts.create) {
      PgResult found(PQexec(conn->conn, ("SELECT to_regclass('" + t + "_meta') IS NOT NULL").c_str()));
      if (!found || PQresultStatus(found.get()) != PGRES_TUPLES_OK)
        return pg_error(conn->conn, "cannot look for the store");
      if (std::string_view(PQgetvalue(found.get(), 0, 0)) != "t") {
        return Error::not_found("no store in table " + t + "_meta");
      }
    }
    COFFER_TRY_STATUS(
        conn->exec("CREATE TABLE IF NOT EXISTS " + t + "_kv (key bytea PRIMARY KEY, value bytea NOT NULL)"));
    COFFER_TRY_STATUS(conn->exec("CREATE TABLE IF NOT EXISTS " + t +
                                 "_meta (id int PRIMARY KEY CHECK (id = 1), store_id text NOT NULL, "
                                 "revision bigint NOT NULL)"));
    // prefix: the key is a DeletePrefix's prefix. NULL in the rows written
    // before the column was added (or by a host that does not know it yet):
    // then a key ending in '/' is taken for a prefix, as such a host does.
    COFFER_TRY_STATUS(conn->exec("CREATE TABLE IF NOT EXISTS " + t +
                                 "_changes (revision bigint NOT NULL, key bytea NOT NULL, prefix boolean)"));
    // A store made before the column gets it. Looked up first: ALTER TABLE
    // locks the table against every reader, even when it finds the column.
    PgResult has_prefix(PQexec(conn->conn, ("SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass('" + t +
                                            "_changes') AND attname = 'prefix' AND NOT attisdropped")
                                               .c_str()));
    if (!has_prefix || PQresultStatus(has_prefix.get()) != PGRES_TUPLES_OK) {
      return pg_error(conn->conn, "cannot read the change table's columns");
    }
    if (std::string_view(PQgetvalue(has_prefix.get(), 0, 0)) == "0") {
      COFFER_TRY_STATUS(conn->exec("ALTER TABLE " + t + "_changes ADD COLUMN prefix boolean"));
    }
    COFFER_TRY_STATUS(
        conn->exec("CREATE INDEX IF NOT EXISTS " + t + "_changes_revision ON " + t + "_changes (revision)"));
    return conn->exec("INSERT INTO " + t + "_meta VALUES (1, gen_random_uuid()::text, 0) ON CONFLICT (id) DO NOTHING");
  };
  Status st = schema();
  if (st.ok()) st = conn->commit();
  if (!st.ok()) {
    (void)conn->exec("ROLLBACK");
    return std::move(st).error();
  }
  COFFER_TRY_STATUS(prepare(*conn, t));
  PgResult id(PQexec(conn->conn, ("SELECT store_id FROM " + t + "_meta WHERE id = 1").c_str()));
  if (!id || PQresultStatus(id.get()) != PGRES_TUPLES_OK || PQntuples(id.get()) != 1) {
    return pg_error(conn->conn, "cannot read the store id");
  }
  std::unique_ptr<PostgresStorage> s(new PostgresStorage(std::move(opts)));
  s->store_id_ = PQgetvalue(id.get(), 0, 0);
  s->writer_ = std::move(conn);
  return s;
}

Result<std::unique_ptr<PostgresStorage::Connection>> PostgresStorage::acquire_reader() {
  {
    std::lock_guard lock(pool_mu_);
    if (!idle_readers_.empty()) {
      auto c = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return c;
    }
  }
  return connect(opts_);
}

void PostgresStorage::release_reader(std::unique_ptr<Connection> conn) {
  std::lock_guard lock(pool_mu_);
  idle_readers_.push_back(std::move(conn));
}

template <class Read>
auto PostgresStorage::with_reader(Read&& read) -> decltype(read(std::declval<Connection&>())) {
  COFFER_TRY(auto conn, acquire_reader());
  COFFER_TRY_STATUS(ensure_usable(*conn, opts_.table));
  auto result = read(*conn);
  if (!result.ok() && PQstatus(conn->conn) != CONNECTION_OK) {
    // Broken while idle in the pool: a read may simply be made again.
    COFFER_TRY_STATUS(ensure_usable(*conn, opts_.table));
    result = read(*conn);
  }
  // A connection left broken is dropped, not pooled.
  if (PQstatus(conn->conn) == CONNECTION_OK) release_reader(std::move(conn));
  return result;
}

Result<std::optional<SecureBytes>> PostgresStorage::get(std::string_view key) {
  return with_reader([&](Connection& c) -> Result<std::optional<SecureBytes>> {
    COFFER_TRY(auto r, c.run(kGet, {bin(key)}, PGRES_TUPLES_OK));
    if (PQntuples(r.get()) == 0) return std::optional<SecureBytes>{};
    const auto* data = reinterpret_cast<const std::uint8_t*>(PQgetvalue(r.get(), 0, 0));
    SecureBytes value(data, data + PQgetlength(r.get(), 0, 0));
    return std::optional<SecureBytes>(std::move(value));
  });
}

Result<std::vector<std::string>> PostgresStorage::list(std::string_view prefix, std::size_t limit) {
  return with_reader([&](Connection& c) -> Result<std::vector<std::string>> {
    const std::optional<std::string> end = prefix_successor(prefix);
    const std::string from = std::to_string(prefix.size() + 1);
    const std::string max = limit == 0 ? std::string("ALL") : std::to_string(limit);
    // LIMIT ALL is not a bigint parameter; NULL means no limit.
    Param limit_param = limit == 0 ? Param{nullptr, 0, 0} : text(max);
    Param end_param = end ? bin(*end) : Param{nullptr, 0, 1};
    COFFER_TRY(auto r,
               c.run(end ? kList : kListFrom, {bin(prefix), end_param, text(from), limit_param}, PGRES_TUPLES_OK));
    std::vector<std::string> out;
    out.reserve(static_cast<std::size_t>(PQntuples(r.get())));
    for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back(bytes_of_result(r.get(), i));
    return out;
  });
}

Result<std::int64_t> PostgresStorage::revision() {
  return with_reader([&](Connection& c) -> Result<std::int64_t> {
    PgResult r(PQexec(c.conn, ("SELECT revision FROM " + opts_.table + "_meta WHERE id = 1").c_str()));
    if (!r || PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) != 1) {
      return pg_error(c.conn, "cannot read the revision");
    }
    return std::strtoll(PQgetvalue(r.get(), 0, 0), nullptr, 10);
  });
}

Status PostgresStorage::trim_changes(std::int64_t below) {
  std::lock_guard lock(write_mu_);
  Connection& w = *writer_;
  COFFER_TRY_STATUS(ensure_usable(w, opts_.table));
  const std::string rev = std::to_string(below);
  return w.command(kTrim, {text(rev)});
}

Status PostgresStorage::apply(std::span<const WriteOp> batch) {
  if (batch.empty()) return {};
  auto rev = apply_at(batch);
  if (!rev.ok()) return std::move(rev).error();
  return {};
}

Result<std::int64_t> PostgresStorage::apply_at(std::span<const WriteOp> batch, std::span<const Expect> expect,
                                               const CatchUp* catch_up) {
  if (batch.empty()) return Error::invalid("an empty batch has no revision");
  Waiter me{batch, expect, catch_up};
  group_.run(me, [this](const std::vector<Waiter*>& group) { commit_group(group); });
  return std::move(me.result);
}

std::size_t PostgresStorage::queued() { return group_.queued(); }

namespace {

// The other hosts' revisions (have, before] and the state at `before`, read
// in the open transaction while it holds the meta row: every revision up to
// `before` is committed and no other can commit, so the state read now is
// the state at `before`.
Status read_earlier(PGconn* conn, const std::string& table, std::int64_t have, std::int64_t before,
                    StoreChanges& earlier) {
  COFFER_TRY_STATUS(pg_changes::read_batches(conn, table, have, before, earlier));
  if (earlier.reload) earlier.batches.clear();
  COFFER_TRY_STATUS(pg_changes::read_state(conn, table, earlier));
  earlier.revision = before;
  return {};
}

}  // namespace

namespace {

// Whether a batch writes `key` (a DeletePrefix writes every key under it).
bool writes(std::span<const WriteOp> batch, const std::string& key) {
  return std::any_of(batch.begin(), batch.end(), [&](const WriteOp& op) {
    return op.kind == WriteOp::Kind::DeletePrefix ? key.starts_with(op.key) : op.key == key;
  });
}

// What one statement sent down the pipeline was, to match its answer to.
struct Sent {
  enum Kind { Recover, Savepoint, Revision, Expect, Op, Release, Commit, Sync } kind;
  std::size_t batch;  // its batch's index in the group
  const char* what;   // the statement's name, for its error
  std::size_t expect = 0;
};

}  // namespace

Result<std::size_t> PostgresStorage::pipeline(const std::vector<Waiter*>& group, std::size_t from, std::int64_t next,
                                              bool recover) {
  Connection& w = *writer_;
  const bool savepoints = group.size() > 1;
  std::vector<Sent> sent;
  if (PQenterPipelineMode(w.conn) != 1) return pg_error(w.conn, "cannot enter pipeline mode");
  bool queued = true;
  auto queue = [&](bool ok, Sent s) {
    queued = queued && ok;
    sent.push_back(s);
  };
  auto send = [&](const char* sql, Sent::Kind kind, std::size_t i) { queue(w.send(sql), {kind, i, sql}); };
  auto sync = [&](std::size_t i) { queue(PQpipelineSync(w.conn) == 1, {Sent::Sync, i, "sync"}); };
  if (recover) {
    // Back to before the batch that failed in the last round.
    send("ROLLBACK TO SAVEPOINT batch", Sent::Recover, from);
    send("RELEASE SAVEPOINT batch", Sent::Recover, from);
  }
  for (std::size_t i = from; i < group.size(); ++i) {
    const Waiter& g = *group[i];
    // The revision the batch takes if every batch before it in this round
    // commits; otherwise it is sent again with the next round.
    const std::string rev = std::to_string(next + static_cast<std::int64_t>(i - from));
    if (savepoints) send("SAVEPOINT batch", Sent::Savepoint, i);
    queue(w.send(kNextRevision, {}), {Sent::Revision, i, kNextRevision});
    for (std::size_t e = 0; e < g.expect.size(); ++e) {
      const Expect& x = g.expect[e];
      const Param value = x.value ? bin(*x.value) : Param{nullptr, 0, 1};
      queue(w.send(kExpect, {bin(x.key), value}), {Sent::Expect, i, kExpect, e});
    }
    for (const WriteOp& op : g.batch) {
      const char* name = nullptr;
      bool ok = false;
      switch (op.kind) {
        case WriteOp::Kind::Put: ok = w.send(name = kPut, {bin(op.key), bin(op.value), text(rev)}); break;
        case WriteOp::Kind::Delete: ok = w.send(name = kDel, {bin(op.key), text(rev)}); break;
        case WriteOp::Kind::DeletePrefix:
          if (const std::optional<std::string> end = prefix_successor(op.key)) {
            ok = w.send(name = kDelRange, {bin(op.key), bin(*end), text(rev)});
          } else {
            ok = w.send(name = kDelFrom, {bin(op.key), text(rev)});
          }
          break;
      }
      queue(ok, {Sent::Op, i, name});
    }
    if (i + 1 < group.size()) {
      if (savepoints) send("RELEASE SAVEPOINT batch", Sent::Release, i);
      sync(i);
    }
  }
  // In the last batch's segment, so that it runs only if every batch did.
  send("COMMIT", Sent::Commit, group.size());
  sync(group.size());
  if (!queued) return pg_error(w.conn, "cannot send to the server");

  // The answers, in the order sent. A lost connection is every batch's
  // (and is reset on the writer's next use, pipeline mode and all).
  std::optional<std::size_t> failed;
  std::optional<Error> group_error;
  for (const Sent& s : sent) {
    PgResult r(PQgetResult(w.conn));
    if (!r) return pg_error(w.conn, "connection lost");
    const ExecStatusType st = PQresultStatus(r.get());
    if (s.kind == Sent::Sync) {
      if (st != PGRES_PIPELINE_SYNC) return pg_error(w.conn, "connection lost");
      continue;
    }
    // Each statement's answer ends with a null result.
    PgResult end(PQgetResult(w.conn));
    if (end) return Error::storage(std::string(s.what) + ": more than one answer");
    if (st == PGRES_PIPELINE_ABORTED) continue;  // skipped after an error in its segment
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
      if (s.kind == Sent::Revision) {
        const std::int64_t want = next + static_cast<std::int64_t>(s.batch - from);
        if (PQntuples(r.get()) != 1) {
          group_error = Error::storage("the store's meta row is missing");
        } else if (std::strtoll(bytes_of_result(r.get(), 0).c_str(), nullptr, 10) != want) {
          // Cannot happen: the group holds the meta row.
          group_error = Error::storage("the store's revision moved under a locked row");
        } else {
          group[s.batch]->result = want;
        }
      } else if (s.kind == Sent::Commit && std::string_view(PQcmdStatus(r.get())) != "COMMIT") {
        group_error = Error::storage("the transaction was rolled back");
      }
      continue;
    }
    if (PQstatus(w.conn) != CONNECTION_OK) return pg_error(w.conn, "connection lost");
    // A segment after the failed batch's, failing in the aborted transaction:
    // it did nothing, and is sent again.
    if (failed) continue;
    std::string msg = PQresultErrorMessage(r.get());
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    Error e = Error::storage(std::string(s.what) + ": " + (msg.empty() ? "unknown error" : msg));
    if (s.kind == Sent::Recover || s.kind == Sent::Commit) {
      group_error = std::move(e);
      continue;
    }
    const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
    if (s.kind == Sent::Expect && state != nullptr && std::string_view(state) == "22012") {
      // Say what changed the key, when this host knows: a batch of the
      // same group, committed just before this one.
      const std::string& key = group[s.batch]->expect[s.expect].key;
      const bool same_group = std::any_of(group.begin(), group.begin() + static_cast<std::ptrdiff_t>(s.batch),
                                          [&](const Waiter* g) { return g->result.ok() && writes(g->batch, key); });
      e = Error::conflict(same_group ? "a write of this host, committed just before it in one transaction, changed "
                                       "what this request read; it is run again"
                                     : "what this request read has changed since (a write of another host, or an "
                                       "earlier one of this host); it is run again");
    }
    failed = s.batch;
    group[s.batch]->result = std::move(e);
  }
  if (PQexitPipelineMode(w.conn) != 1) return pg_error(w.conn, "cannot leave pipeline mode");
  if (group_error) return *std::move(group_error);
  return failed.value_or(group.size());
}

void PostgresStorage::commit_group(const std::vector<Waiter*>& group) {
  std::lock_guard lock(write_mu_);
  Connection& w = *writer_;
  auto fail_all = [&](const Error& e) {
    for (Waiter* g : group) {
      if (g->result.ok()) g->result = e;
    }
  };
  StoreChanges earlier;  // other hosts' revisions before the group's (catch_up)
  // Runs the group; an error here (BEGIN, the lock, a broken connection,
  // COMMIT) is every batch's.
  auto run = [&]() -> Status {
    COFFER_TRY_STATUS(ensure_usable(w, opts_.table));
    // BEGIN, and hold the meta row for the whole transaction, outside the
    // savepoints (rolling one back must not let another host commit
    // between batches): one round trip, as the revision before the group
    // must be known before its batches go (the other hosts' revisions
    // are read first).
    const std::string begin = "BEGIN; SELECT revision::text FROM " + opts_.table + "_meta WHERE id = 1 FOR UPDATE";
    PgResult locked(PQexec(w.conn, begin.c_str()));
    if (PQresultStatus(locked.get()) != PGRES_TUPLES_OK && PQstatus(w.conn) != CONNECTION_OK) {
      // The connection broke while idle (the server restarted): nothing was
      // sent, so a new connection may begin again.
      COFFER_TRY_STATUS(ensure_usable(w, opts_.table));
      locked.reset(PQexec(w.conn, begin.c_str()));
    }
    if (PQresultStatus(locked.get()) != PGRES_TUPLES_OK) return pg_error(w.conn, "cannot begin");
    if (PQntuples(locked.get()) != 1) return Error::storage("the store's meta row is missing");
    const std::int64_t before = std::strtoll(PQgetvalue(locked.get(), 0, 0), nullptr, 10);
    std::optional<std::int64_t> have;
    for (Waiter* g : group) {
      if (g->catch_up != nullptr) have = std::min(have.value_or(before), g->catch_up->have());
    }
    if (have && before > *have) COFFER_TRY_STATUS(read_earlier(w.conn, opts_.table, *have, before, earlier));
    // The batches and the COMMIT go out in rounds of one pipeline each
    // (pipeline()): one round trip for the group unless a batch fails.
    std::int64_t next = before + 1;
    bool recover = false;
    for (std::size_t from = 0;;) {
      if (from == group.size() &&
          std::none_of(group.begin(), group.end(), [](const Waiter* g) { return g->result.ok(); })) {
        return Error::storage("every batch failed");
      }
      COFFER_TRY(const std::size_t failed, pipeline(group, from, next, recover));
      if (failed == group.size()) return {};
      // Alone, a batch's failure is its transaction's, rolled back below.
      if (group.size() == 1) return group[failed]->result.error();
      next += static_cast<std::int64_t>(failed - from);
      from = failed + 1;
      recover = true;
    }
  };
  Status st = run();
  if (!st.ok() && PQstatus(w.conn) == CONNECTION_OK && PQpipelineStatus(w.conn) == PQ_PIPELINE_OFF &&
      PQtransactionStatus(w.conn) != PQTRANS_IDLE) {
    (void)w.exec("ROLLBACK");
  }
  if (st.ok()) {
    commits_.fetch_add(1, std::memory_order_relaxed);
  } else {
    fail_all(st.error());
  }
  // Into the callers' hands in revision order (the group's order), the
  // other hosts' revisions with the first.
  bool first = true;
  const StoreChanges none;
  for (Waiter* g : group) {
    if (g->catch_up == nullptr) continue;
    g->catch_up->settle(first ? earlier : none, g->result.ok() ? std::optional(g->result.value()) : std::nullopt);
    first = false;
  }
}

}  // namespace engine
