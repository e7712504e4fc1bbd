// SPDX-License-Identifier: MPL-2.0
#include "engine/storage/postgres_feed.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace engine {

struct PostgresFeed::Conn {
  PGconn* pg = nullptr;
  ~Conn() {
    if (pg != nullptr) PQfinish(pg);
  }
};

namespace {

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

Error feed_error(PGconn* pg, const std::string& what) {
  std::string msg = pg != nullptr ? PQerrorMessage(pg) : "no connection";
  if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
  return Error::storage("change feed: " + what + ": " + (msg.empty() ? "unknown error" : msg));
}

std::string field(PGresult* r, int row, int col) {
  return std::string(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
}

std::int64_t as_int(const std::string& s) { return std::strtoll(s.c_str(), nullptr, 10); }

}  // namespace

PostgresFeed::PostgresFeed(PostgresStorage::Options opts, std::string store_id, std::int64_t seen)
    : opts_(std::move(opts)), store_id_(std::move(store_id)), seen_(seen) {}
PostgresFeed::~PostgresFeed() = default;

Result<std::unique_ptr<PostgresFeed>> PostgresFeed::open(const PostgresStorage::Options& opts, std::string store_id,
                                                         std::int64_t seen) {
  std::unique_ptr<PostgresFeed> feed(new PostgresFeed(opts, std::move(store_id), seen));
  COFFER_TRY_STATUS(feed->connect());
  return feed;
}

Status PostgresFeed::connect() {
  conn_ = std::make_unique<Conn>();
  conn_->pg = PQconnectdb(opts_.connection_url.c_str());
  if (conn_->pg == nullptr || PQstatus(conn_->pg) != CONNECTION_OK) {
    Error e = feed_error(conn_->pg, "cannot connect");
    conn_.reset();
    return e;
  }
  // The table name was checked by PostgresStorage::open's rule.
  PgResult r(PQexec(conn_->pg, ("LISTEN " + opts_.table + "_changes").c_str()));
  if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
    Error e = feed_error(conn_->pg, "cannot listen");
    conn_.reset();
    return e;
  }
  return {};
}

Status PostgresFeed::wait_for_notify(std::chrono::milliseconds wait) {
  PGconn* pg = conn_->pg;
  auto drain = [&]() -> Result<bool> {
    if (PQconsumeInput(pg) == 0) return feed_error(pg, "connection lost");
    bool any = false;
    while (PGnotify* n = PQnotifies(pg)) {
      any = true;
      PQfreemem(n);
    }
    return any;
  };
  COFFER_TRY(bool queued, drain());
  if (queued) return {};
  pollfd p{PQsocket(pg), POLLIN, 0};
  if (p.fd < 0) return feed_error(pg, "no socket");
  const int n = ::poll(&p, 1, static_cast<int>(wait.count()));
  if (n < 0 && errno != EINTR) return Error::storage("change feed: poll failed");
  if (n > 0) {
    auto drained = drain();
    if (!drained.ok()) return std::move(drained).error();
  }
  return {};
}

Result<PostgresFeed::Update> PostgresFeed::read(std::size_t max_revisions) {
  PGconn* pg = conn_->pg;
  // One snapshot for the meta row and the change rows, so they agree.
  PgResult begin(PQexec(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  if (!begin || PQresultStatus(begin.get()) != PGRES_COMMAND_OK) return feed_error(pg, "cannot begin");
  auto body = [&]() -> Result<Update> {
    const std::string& t = opts_.table;
    PgResult meta(PQexec(pg, ("SELECT store_id, revision::text FROM " + t + "_meta WHERE id = 1").c_str()));
    if (!meta || PQresultStatus(meta.get()) != PGRES_TUPLES_OK) return feed_error(pg, "cannot read the meta row");
    if (PQntuples(meta.get()) != 1) return Error::storage("change feed: the store's meta row is missing");
    const std::string store_id = PQgetvalue(meta.get(), 0, 0);
    const std::int64_t revision = as_int(PQgetvalue(meta.get(), 0, 1));
    Update up;
    up.revision = revision;
    auto reload = [&](std::string why) {
      up.reload = true;
      up.why = std::move(why);
      up.batches.clear();
      up.revision = revision;
      return up;
    };
    if (store_id != store_id_) {
      store_id_ = store_id;
      return reload("the store id changed (another or a restored database)");
    }
    if (revision < seen_) {
      return reload("the store's revision went backwards, from " + std::to_string(seen_) + " to " +
                    std::to_string(revision));
    }
    if (lost_) return reload("the feed reconnected");
    if (revision == seen_) return up;
    const std::string from = std::to_string(seen_);
    const std::string to = std::to_string(seen_ + static_cast<std::int64_t>(max_revisions));
    const char* values[] = {from.c_str(), to.c_str()};
    // Ordered by the bigint column: the text output column is also named
    // "revision", and ORDER BY revision would sort "100" before "99".
    PgResult rows(PQexecParams(pg,
                               ("SELECT c.revision::text AS rev, c.key FROM " + t +
                                "_changes c WHERE c.revision > $1::bigint AND c.revision <= $2::bigint "
                                "ORDER BY c.revision, c.key")
                                   .c_str(),
                               2, nullptr, values, nullptr, nullptr, /*resultFormat=*/1));
    if (!rows || PQresultStatus(rows.get()) != PGRES_TUPLES_OK) return feed_error(pg, "cannot read the change log");
    std::int64_t expect = seen_ + 1;
    for (int i = 0; i < PQntuples(rows.get()); ++i) {
      const std::int64_t rev = as_int(field(rows.get(), i, 0));
      if (up.batches.empty() || up.batches.back().revision != rev) {
        // Every revision writes at least one row: a missing one was trimmed.
        if (rev != expect) return reload("change rows before revision " + std::to_string(rev) + " are gone");
        up.batches.push_back({rev, {}});
        ++expect;
      }
      up.batches.back().keys.push_back(field(rows.get(), i, 1));
    }
    if (up.batches.empty()) return reload("change rows past revision " + std::to_string(seen_) + " are gone");
    up.revision = up.batches.back().revision;
    return up;
  };
  auto result = body();
  if (result.ok() && !result->empty()) {
    Status st = read_state(*result);
    if (!st.ok()) result = std::move(st).error();
  }
  PgResult end(PQexec(pg, "COMMIT"));
  if (!result.ok()) return result;
  if (!end || PQresultStatus(end.get()) != PGRES_COMMAND_OK) return feed_error(pg, "cannot end the read");
  lost_ = false;
  seen_ = result->revision;
  return result;
}

// Inside read()'s snapshot: what every touched key (or, for a reload,
// every key) holds at up.revision.
Status PostgresFeed::read_state(Update& up) {
  PGconn* pg = conn_->pg;
  const std::string kv = opts_.table + "_kv";
  auto rows_into = [&](PGresult* r) {
    for (int i = 0; i < PQntuples(r); ++i) {
      const auto* v = reinterpret_cast<const std::uint8_t*>(PQgetvalue(r, i, 1));
      up.values.emplace_back(field(r, i, 0), SecureBytes(v, v + PQgetlength(r, i, 1)));
    }
  };
  auto select = [&](const std::string& sql, std::vector<std::string> params) -> Status {
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (const std::string& p : params) {
      values.push_back(p.c_str());
      lengths.push_back(static_cast<int>(p.size()));
      formats.push_back(1);
    }
    PgResult r(PQexecParams(pg, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), lengths.data(),
                            formats.data(), /*resultFormat=*/1));
    if (!r || PQresultStatus(r.get()) != PGRES_TUPLES_OK) return feed_error(pg, "cannot read changed values");
    rows_into(r.get());
    return {};
  };
  if (up.reload) {
    up.cleared = {{"", true}};
    return select("SELECT key, value FROM " + kv + " ORDER BY key", {});
  }
  // Keys never end in '/' (Storage lists them as children); DeletePrefix
  // prefixes do, so the change row tells which it was.
  std::vector<std::string> keys, prefixes;
  for (const Batch& b : up.batches) {
    for (const std::string& k : b.keys) (!k.empty() && k.back() == '/' ? prefixes : keys).push_back(k);
  }
  auto unique = [](std::vector<std::string>& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  };
  unique(keys);
  unique(prefixes);
  for (const std::string& p : prefixes) {
    up.cleared.push_back({p, true});
    if (auto end = prefix_successor(p)) {
      COFFER_TRY_STATUS(select("SELECT key, value FROM " + kv + " WHERE key >= $1 AND key < $2", {p, *end}));
    } else {
      COFFER_TRY_STATUS(select("SELECT key, value FROM " + kv + " WHERE key >= $1", {p}));
    }
  }
  for (const std::string& k : keys) {
    // A key inside a cleared prefix was read with it.
    if (std::any_of(prefixes.begin(), prefixes.end(), [&](const std::string& p) { return k.starts_with(p); })) continue;
    up.cleared.push_back({k, false});  // gone unless a value follows
    COFFER_TRY_STATUS(select("SELECT key, value FROM " + kv + " WHERE key = $1", {k}));
  }
  return {};
}

Result<PostgresFeed::Update> PostgresFeed::next(std::chrono::milliseconds wait, std::size_t max_revisions) {
  const std::size_t most = max_revisions == 0 ? 1 : max_revisions;
  auto broken = [&] { return !conn_ || PQstatus(conn_->pg) != CONNECTION_OK; };
  if (broken()) {
    lost_ = true;
    COFFER_TRY_STATUS(connect());
  }
  Status waited = wait_for_notify(wait);
  Result<Update> up = waited.ok() ? read(most) : Result<Update>(std::move(waited).error());
  if (!up.ok() && broken()) {
    // The connection broke, maybe long ago while idle (the server was
    // restarted): one new connection at once, so a server that is back
    // costs no extra round of the caller's loop.
    lost_ = true;
    conn_.reset();
    if (connect().ok()) up = read(most);
    if (!up.ok() && broken()) conn_.reset();
  }
  return up;
}

}  // namespace engine
