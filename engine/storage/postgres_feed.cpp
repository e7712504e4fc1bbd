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

Error feed_error(PGconn* pg, const std::string& what) { return pg_changes::error(pg, what); }

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
  conn_->pg = pg_changes::connect(opts_.connection_url);
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
    COFFER_TRY_STATUS(pg_changes::read_batches(pg, t, seen_, seen_ + static_cast<std::int64_t>(max_revisions), up));
    if (up.reload) {
      up.revision = revision;
      up.batches.clear();
    }
    return up;
  };
  auto result = body();
  if (result.ok() && !result->empty()) {
    Status st = pg_changes::read_state(pg, opts_.table, *result);
    if (!st.ok()) result = std::move(st).error();
  }
  PgResult end(PQexec(pg, "COMMIT"));
  if (!result.ok()) return result;
  if (!end || PQresultStatus(end.get()) != PGRES_COMMAND_OK) return feed_error(pg, "cannot end the read");
  lost_ = false;
  seen_ = result->revision;
  return result;
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
