// SPDX-License-Identifier: MPL-2.0
#include "engine/storage/sqlite_storage.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>
#include <set>
#include <utility>

namespace engine {
namespace {

// How long a connection waits for a lock held by another connection of this
// process (checkpoints, WAL recovery) before reporting an error.
constexpr int kBusyTimeoutMs = 5000;
// Idle readers kept for reuse; more are closed when given back.
constexpr std::size_t kMaxIdleReaders = 16;

// Ordered migrations: kMigrations[i] takes the schema from version i to i+1.
// A fresh file is version 0. Append, never edit: a store records how far it
// got and open() runs the rest in one transaction.
constexpr const char* kMigrations[] = {
    // 0 → 1: the key/value table. WITHOUT ROWID stores rows in the primary
    // key's b-tree, so a key lookup or range scan is one tree walk.
    "CREATE TABLE kv (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL) WITHOUT ROWID",
};
static_assert(std::size(kMigrations) == SqliteStorage::kSchemaVersion, "one migration per schema version");

Error sqlite_error(sqlite3* db, const std::string& what) {
  return Error::storage(what + ": " + (db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
}

// Files this process has open as a store, by (device, inode). A second open
// of the same file in this process must be refused *before* it opens its own
// descriptor: closing any descriptor of a file drops every POSIX lock this
// process holds on it, including the ones SQLite's connections rely on.
std::mutex g_open_files_mu;
std::set<std::pair<dev_t, ino_t>> g_open_files;

// A sqlite3 handle, closed on destruction (after the statements that belong
// to it, since it is declared before them in Connection).
struct Db {
  sqlite3* handle = nullptr;
  Db() = default;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db() {
    if (handle != nullptr) sqlite3_close_v2(handle);
  }
};

// A prepared statement. Use it through a Use, which resets the statement and
// clears its bindings when the scope ends: bindings point at caller memory
// (SQLITE_STATIC), and a statement left mid-step would pin a read snapshot.
class Statement {
 public:
  Statement() = default;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  Status prepare(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) != SQLITE_OK) {
      return sqlite_error(db, std::string("cannot prepare \"") + sql + "\"");
    }
    return {};
  }
  sqlite3_stmt* get() const { return stmt_; }

  class Use {
   public:
    explicit Use(Statement& s) : stmt_(s.stmt_) {}
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;
    ~Use() {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
    void bind_text(int i, std::string_view s) {
      // A null pointer would bind SQL NULL; "" keeps an empty key a string.
      sqlite3_bind_text(stmt_, i, s.data() != nullptr ? s.data() : "", static_cast<int>(s.size()), SQLITE_STATIC);
    }
    void bind_blob(int i, ByteView b) {
      // Likewise, a null pointer would store NULL, not an empty value.
      if (b.empty()) {
        sqlite3_bind_zeroblob(stmt_, i, 0);
      } else {
        sqlite3_bind_blob(stmt_, i, b.data(), static_cast<int>(b.size()), SQLITE_STATIC);
      }
    }
    int step() { return sqlite3_step(stmt_); }
    void rewind() {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
    std::string_view column_text(int i) const {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
      return {p != nullptr ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i))};
    }
    ByteView column_blob(int i) const {
      const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, i));
      const auto n = static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i));
      return p != nullptr ? ByteView(p, n) : ByteView();
    }

   private:
    sqlite3_stmt* stmt_;
  };

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// Runs a statement that returns no rows.
Status run(sqlite3* db, Statement& stmt, const char* what) {
  Statement::Use use(stmt);
  if (use.step() != SQLITE_DONE) return sqlite_error(db, what);
  return {};
}

Status exec(sqlite3* db, const char* sql) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return sqlite_error(db, std::string("\"") + sql + "\" failed");
  }
  return {};
}

Result<sqlite3*> open_connection(const std::string& path, int flags) {
  sqlite3* db = nullptr;
  // NOMUTEX: a connection is only ever used by one thread at a time (the
  // writer under write_mu_, a reader while leased from the pool).
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Error err = sqlite_error(db, "cannot open store " + path);
    sqlite3_close_v2(db);
    return err;
  }
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  return db;
}

// Reads the schema version recorded in the properties table (0 when none).
Result<int> read_schema_version(sqlite3* db) {
  Statement stmt;
  COFFER_TRY_STATUS(stmt.prepare(db, "SELECT value FROM properties WHERE name = 'schema_version'"));
  Statement::Use use(stmt);
  const int rc = use.step();
  if (rc == SQLITE_DONE) return 0;
  if (rc != SQLITE_ROW) return sqlite_error(db, "cannot read schema version");
  return sqlite3_column_int(stmt.get(), 0);
}

// Creates or migrates the schema inside one write transaction.
Status prepare_schema(sqlite3* db, const std::string& path) {
  COFFER_TRY_STATUS(exec(db, "BEGIN IMMEDIATE"));
  auto body = [&]() -> Status {
    COFFER_TRY_STATUS(exec(db,
                           "CREATE TABLE IF NOT EXISTS properties ("
                           "name TEXT PRIMARY KEY NOT NULL, value NOT NULL) WITHOUT ROWID"));
    COFFER_TRY(int version, read_schema_version(db));
    if (version > SqliteStorage::kSchemaVersion) {
      return Error::storage("store " + path + " has schema version " + std::to_string(version) +
                            ", newer than this cofferd supports (" + std::to_string(SqliteStorage::kSchemaVersion) +
                            "); upgrade cofferd to open it");
    }
    if (version < 0) {
      return Error::storage("store " + path + " has an invalid schema version");
    }
    for (int v = version; v < SqliteStorage::kSchemaVersion; ++v) {
      COFFER_TRY_STATUS(exec(db, kMigrations[v]));
    }
    if (version != SqliteStorage::kSchemaVersion) {
      Statement set;
      COFFER_TRY_STATUS(set.prepare(db, "INSERT OR REPLACE INTO properties(name, value) VALUES('schema_version', ?1)"));
      sqlite3_bind_int(set.get(), 1, SqliteStorage::kSchemaVersion);
      COFFER_TRY_STATUS(run(db, set, "cannot record schema version"));
    }
    return {};
  };
  Status st = body();
  if (!st.ok()) {
    (void)exec(db, "ROLLBACK");
    return st;
  }
  return exec(db, "COMMIT");
}

}  // namespace

struct SqliteStorage::Connection {
  Db db;  // first, so it is closed after the statements are finalised
  // Readers.
  Statement get;
  Statement seek;
  Statement begin_read;
  Statement end_read;
  // Writer.
  Statement begin_write;
  Statement commit;
  Statement rollback;
  Statement savepoint;    // one batch of a group
  Statement release;      // keeps the batch
  Statement rollback_to;  // drops the batch (then release)
  Statement put;
  Statement del;
  Statement del_range;  // key in [?1, ?2)
  Statement del_from;   // key >= ?1 (prefix with no successor)

  sqlite3* handle() const { return db.handle; }

  Status prepare_reader() {
    COFFER_TRY_STATUS(get.prepare(handle(), "SELECT value FROM kv WHERE key = ?1"));
    COFFER_TRY_STATUS(seek.prepare(handle(), "SELECT key FROM kv WHERE key >= ?1 ORDER BY key"));
    COFFER_TRY_STATUS(begin_read.prepare(handle(), "BEGIN"));
    COFFER_TRY_STATUS(end_read.prepare(handle(), "COMMIT"));
    return {};
  }

  Status prepare_writer() {
    COFFER_TRY_STATUS(begin_write.prepare(handle(), "BEGIN IMMEDIATE"));
    COFFER_TRY_STATUS(commit.prepare(handle(), "COMMIT"));
    COFFER_TRY_STATUS(rollback.prepare(handle(), "ROLLBACK"));
    COFFER_TRY_STATUS(savepoint.prepare(handle(), "SAVEPOINT batch"));
    COFFER_TRY_STATUS(release.prepare(handle(), "RELEASE batch"));
    COFFER_TRY_STATUS(rollback_to.prepare(handle(), "ROLLBACK TO batch"));
    COFFER_TRY_STATUS(put.prepare(handle(), "INSERT OR REPLACE INTO kv(key, value) VALUES(?1, ?2)"));
    COFFER_TRY_STATUS(del.prepare(handle(), "DELETE FROM kv WHERE key = ?1"));
    COFFER_TRY_STATUS(del_range.prepare(handle(), "DELETE FROM kv WHERE key >= ?1 AND key < ?2"));
    COFFER_TRY_STATUS(del_from.prepare(handle(), "DELETE FROM kv WHERE key >= ?1"));
    return {};
  }
};

SqliteStorage::SqliteStorage(std::string path, int lock_fd)
    : path_(std::move(path)), wal_path_(path_ + "-wal"), lock_fd_(lock_fd) {}

SqliteStorage::~SqliteStorage() {
  // Every connection closes before the lock descriptor: closing it releases
  // the flock, and must not happen while SQLite still holds POSIX locks.
  idle_readers_.clear();
  writer_.reset();
  struct stat st {};
  if (::fstat(lock_fd_, &st) == 0) {
    std::lock_guard lock(g_open_files_mu);
    g_open_files.erase({st.st_dev, st.st_ino});
  }
  ::close(lock_fd_);
}

Result<std::unique_ptr<SqliteStorage>> SqliteStorage::open(const std::string& path, IfMissing if_missing) {
  const std::string in_use = "store " + path + " is in use by another process";
  const std::string wal_path = path + "-wal";
  std::unique_lock registry(g_open_files_mu);
  struct stat st {};
  const bool exists = ::stat(path.c_str(), &st) == 0;
  if (!exists && errno != ENOENT) {
    return Error::storage("cannot stat store " + path + ": " + std::strerror(errno));
  }
  if (exists && g_open_files.count({st.st_dev, st.st_ino}) != 0) {
    return Error{ErrorCode::Locked, in_use};
  }
  struct stat wal_st {};
  const bool wal_exists = ::stat(wal_path.c_str(), &wal_st) == 0;
  if (!exists && wal_exists) {
    // The latest commits live in the WAL: a new store here would be
    // paired with it, and the moved store would lack them.
    return Error::storage("store " + path + " is missing but its write-ahead log " + wal_path +
                          " is there: the store was deleted or moved without it; put the "
                          "store back (to start a new one instead, remove " +
                          wal_path + " and " + path + "-shm first)");
  }
  // A file is a store once journal_mode=WAL wrote its first page (open()
  // does that before anything else): an empty file with no WAL never held
  // anything.
  const bool is_store = exists && (st.st_size > 0 || wal_exists);
  if (!is_store && if_missing == IfMissing::Fail) {
    return Error::not_found("no store at " + path + (exists ? " (the file is empty)" : ""));
  }

  const int open_flags = O_RDWR | O_CLOEXEC | (if_missing == IfMissing::Create ? O_CREAT : 0);
  const int fd = ::open(path.c_str(), open_flags, 0600);
  if (fd < 0) {
    const int e = errno;
    if (e == ENOENT && if_missing == IfMissing::Fail) {
      return Error::not_found("no store at " + path);
    }
    return Error::storage("cannot open store " + path + ": " + std::strerror(e));
  }
  // flock() locks are independent of the POSIX locks SQLite takes, and are
  // held per open file description: the lock lives exactly as long as fd.
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    ::close(fd);
    if (e == EWOULDBLOCK) return Error{ErrorCode::Locked, in_use};
    return Error::storage("cannot lock store " + path + ": " + std::strerror(e));
  }
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return Error::storage("cannot stat store " + path + ": " + std::strerror(e));
  }
  g_open_files.insert({st.st_dev, st.st_ino});
  registry.unlock();
  // From here the destructor releases the lock and the registry entry.
  std::unique_ptr<SqliteStorage> storage(new SqliteStorage(path, fd));
  storage->dev_ = st.st_dev;
  storage->ino_ = st.st_ino;

  COFFER_TRY(sqlite3 * db, open_connection(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
  storage->writer_ = std::make_unique<Connection>();
  storage->writer_->db.handle = db;

  // journal_mode=WAL is persistent in the file; it is also the first
  // statement that reads the header, so a file that is not a database fails
  // here.
  {
    Statement wal;
    COFFER_TRY_STATUS(wal.prepare(db, "PRAGMA journal_mode=WAL"));
    Statement::Use use(wal);
    if (use.step() != SQLITE_ROW) return sqlite_error(db, "cannot open store " + path);
    if (use.column_text(0) != "wal") {
      return Error::storage("cannot open store " + path + ": WAL journal mode unavailable");
    }
  }
  // FULL: each commit syncs the WAL, so an acknowledged apply() survives a
  // power loss, not only a crash of this process.
  COFFER_TRY_STATUS(exec(db, "PRAGMA synchronous=FULL"));
  COFFER_TRY_STATUS(prepare_schema(db, path));
  COFFER_TRY_STATUS(storage->writer_->prepare_writer());
  // The writer reads too while the path no longer names the store.
  COFFER_TRY_STATUS(storage->writer_->prepare_reader());
  // SQLite opened the path on its own: make sure it is the file locked
  // above (nothing was renamed over it meanwhile).
  int moved = 0;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK || moved != 0) {
    return Error::storage("store " + path + " was replaced while it was being opened");
  }
  // The schema transaction above opened the WAL, which stays until the
  // last connection closes (ours, in the destructor). Its name is SQLite's:
  // the database's full path with symbolic links resolved, plus "-wal".
  const char* wal = sqlite3_filename_wal(sqlite3_db_filename(db, "main"));
  if (wal != nullptr && *wal != '\0') storage->wal_path_ = wal;
  if (::stat(storage->wal_path_.c_str(), &st) != 0) {
    return Error::storage("cannot stat the write-ahead log " + storage->wal_path_ + ": " + std::strerror(errno));
  }
  storage->wal_dev_ = st.st_dev;
  storage->wal_ino_ = st.st_ino;
  COFFER_TRY_STATUS(storage->check_in_place());
  return storage;
}

Status SqliteStorage::check_in_place() {
  // No latch: a file renamed back is the same file, and writes go on. A
  // deleted one never comes back (a copy is another inode); its bytes can
  // still be copied from /proc/PID/fd/ before a restart.
  const char* const refusing = ": writes are refused until it is back at that path";
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    return Error::storage("store " + path_ + " was deleted or renamed while in use" + refusing);
  }
  if (st.st_dev != dev_ || st.st_ino != ino_) {
    return Error::storage("store " + path_ + " was replaced by another file while in use" + refusing);
  }
  if (::stat(wal_path_.c_str(), &st) != 0) {
    return Error::storage("the write-ahead log " + wal_path_ + " of the store was deleted or renamed while in use" +
                          refusing);
  }
  if (st.st_dev != wal_dev_ || st.st_ino != wal_ino_) {
    return Error::storage("the write-ahead log " + wal_path_ +
                          " of the store was replaced by another file while in use" + refusing);
  }
  return {};
}

Result<std::unique_ptr<SqliteStorage::Connection>> SqliteStorage::acquire_reader() {
  {
    std::lock_guard lock(pool_mu_);
    if (!idle_readers_.empty()) {
      auto conn = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return conn;
    }
  }
  // A new connection opens the path, which must still name the store:
  // checked before and after, so it never opens a file put in its place.
  if (!check_in_place().ok()) return std::unique_ptr<Connection>();
  COFFER_TRY(sqlite3 * db, open_connection(path_, SQLITE_OPEN_READWRITE));
  auto conn = std::make_unique<Connection>();
  conn->db.handle = db;
  if (!check_in_place().ok()) return std::unique_ptr<Connection>();
  // query_only: a reader cannot write even by mistake; all writes go
  // through the one writer connection.
  COFFER_TRY_STATUS(exec(db, "PRAGMA query_only=1"));
  COFFER_TRY_STATUS(conn->prepare_reader());
  return conn;
}

void SqliteStorage::release_reader(std::unique_ptr<Connection> conn) {
  std::lock_guard lock(pool_mu_);
  if (idle_readers_.size() < kMaxIdleReaders) idle_readers_.push_back(std::move(conn));
}

// The reader a ReadTogether scope holds on this thread, with its read
// transaction open, until the scope ends.
struct SqliteStorage::Together final : ReadTogether::Held {
  SqliteStorage* store = nullptr;
  std::unique_ptr<Connection> conn;

  void end() override {
    std::unique_ptr<Connection> c = std::move(conn);
    SqliteStorage* s = std::exchange(store, nullptr);
    sqlite3* db = c->handle();
    if (!run(db, c->end_read, "cannot end read").ok()) (void)sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    // A connection still inside a transaction is closed, not pooled.
    if (sqlite3_get_autocommit(db) != 0) s->release_reader(std::move(c));
  }
};

thread_local SqliteStorage::Together SqliteStorage::together_;

template <class Read>
auto SqliteStorage::with_reader(Read&& read) -> decltype(read(std::declval<Connection&>(), false)) {
  if (ReadTogether::active()) {
    if (together_.store == this) return read(*together_.conn, true);
    if (ReadTogether::held() == nullptr) {
      COFFER_TRY(auto conn, acquire_reader());
      if (conn != nullptr) {
        Status begun = run(conn->handle(), conn->begin_read, "cannot begin read");
        if (!begun.ok()) return std::move(begun).error();  // the connection is closed
        together_.store = this;
        together_.conn = std::move(conn);
        ReadTogether::hold(&together_);
        return read(*together_.conn, true);
      }
    }
  }
  COFFER_TRY(auto conn, acquire_reader());
  if (conn == nullptr) {
    // The path no longer names the store: read through the writer, which
    // has the store open (and takes no writes now), one read at a time.
    std::lock_guard lock(write_mu_);
    return read(*writer_, false);
  }
  auto result = read(*conn, false);
  release_reader(std::move(conn));
  return result;
}

Result<std::optional<SecureBytes>> SqliteStorage::get(std::string_view key) {
  return with_reader([&](Connection& conn, bool) -> Result<std::optional<SecureBytes>> {
    Statement::Use use(conn.get);
    use.bind_text(1, key);
    const int rc = use.step();
    if (rc == SQLITE_DONE) return std::optional<SecureBytes>{};
    if (rc != SQLITE_ROW) return sqlite_error(conn.handle(), "cannot read " + std::string(key));
    ByteView value = use.column_blob(0);
    return std::optional<SecureBytes>{SecureBytes(value.begin(), value.end())};
  });
}

Result<std::vector<std::optional<SecureBytes>>> SqliteStorage::get_many(std::span<const std::string_view> keys) {
  if (keys.empty()) return std::vector<std::optional<SecureBytes>>{};
  if (keys.size() == 1) {
    COFFER_TRY(auto value, get(keys[0]));
    std::vector<std::optional<SecureBytes>> one;
    one.push_back(std::move(value));
    return one;
  }
  return with_reader([&](Connection& conn, bool in_transaction) -> Result<std::vector<std::optional<SecureBytes>>> {
    sqlite3* db = conn.handle();
    auto lookups = [&]() -> Result<std::vector<std::optional<SecureBytes>>> {
      std::vector<std::optional<SecureBytes>> out;
      out.reserve(keys.size());
      for (std::string_view key : keys) {
        Statement::Use use(conn.get);
        use.bind_text(1, key);
        const int rc = use.step();
        if (rc == SQLITE_DONE) {
          out.emplace_back();
        } else if (rc == SQLITE_ROW) {
          ByteView value = use.column_blob(0);
          out.emplace_back(SecureBytes(value.begin(), value.end()));
        } else {
          return sqlite_error(db, "cannot read " + std::string(key));
        }
      }
      return out;
    };
    // One read transaction for every key: one snapshot, and the
    // transaction's cost (locks, the page cache checked against the WAL)
    // paid once instead of once a key.
    if (in_transaction) return lookups();
    Status begun = run(db, conn.begin_read, "cannot begin read");
    if (!begun.ok()) return std::move(begun).error();
    auto result = lookups();
    Status end = run(db, conn.end_read, "cannot end read");
    if (result.ok() && !end.ok()) return std::move(end).error();
    return result;
  });
}

Result<std::vector<std::string>> SqliteStorage::list(std::string_view prefix, std::size_t limit) {
  return with_reader([&](Connection& conn, bool in_transaction) -> Result<std::vector<std::string>> {
    sqlite3* db = conn.handle();
    auto scan = [&]() -> Result<std::vector<std::string>> {
      std::vector<std::string> out;
      std::string from(prefix);  // bound SQLITE_STATIC: must outlive each step
      Statement::Use use(conn.seek);
      use.bind_text(1, from);
      for (;;) {
        const int rc = use.step();
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) return sqlite_error(db, "cannot list " + std::string(prefix));
        std::string_view key = use.column_text(0);
        if (!key.starts_with(prefix)) break;
        std::string_view rest = key.substr(prefix.size());
        const auto slash = rest.find('/');
        if (slash == std::string_view::npos) {
          out.emplace_back(rest);
        } else {
          out.emplace_back(rest.substr(0, slash + 1));
          // Seek past the whole subtree instead of stepping through it: the
          // next candidate is at or after "<prefix><child>0" ('0' = '/' + 1).
          std::string next = std::string(prefix) + out.back();
          next.back() = '/' + 1;
          use.rewind();
          from = std::move(next);
          use.bind_text(1, from);
        }
        if (limit != 0 && out.size() >= limit) break;
      }
      return out;
    };
    // One read transaction across the seeks, so the listing is one snapshot.
    if (in_transaction) return scan();
    Status begun = run(db, conn.begin_read, "cannot begin read");
    Result<std::vector<std::string>> result =
        begun.ok() ? scan() : Result<std::vector<std::string>>(std::move(begun).error());
    if (begun.ok()) {
      Status end = run(db, conn.end_read, "cannot end read");
      if (result.ok() && !end.ok()) result = std::move(end).error();
    }
    return result;
  });
}

Status SqliteStorage::apply(std::span<const WriteOp> batch) {
  if (batch.empty()) return {};
  Waiter me{batch};
  group_.run(me, [this](const std::vector<Waiter*>& group) { commit_group(group); });
  return std::move(me.result);
}

std::size_t SqliteStorage::queued() { return group_.queued(); }

Status SqliteStorage::write_ops(std::span<const WriteOp> batch) {
  Connection& w = *writer_;
  sqlite3* db = w.handle();
  for (const WriteOp& op : batch) {
    switch (op.kind) {
      case WriteOp::Kind::Put: {
        Statement::Use use(w.put);
        use.bind_text(1, op.key);
        use.bind_blob(2, op.value);
        if (use.step() != SQLITE_DONE) return sqlite_error(db, "cannot write " + op.key);
        break;
      }
      case WriteOp::Kind::Delete: {
        Statement::Use use(w.del);
        use.bind_text(1, op.key);
        if (use.step() != SQLITE_DONE) return sqlite_error(db, "cannot delete " + op.key);
        break;
      }
      case WriteOp::Kind::DeletePrefix: {
        // A range on the primary key, not LIKE/GLOB: exact for any bytes
        // and served by the b-tree.
        const std::optional<std::string> end = prefix_successor(op.key);
        Statement::Use use(end ? w.del_range : w.del_from);
        use.bind_text(1, op.key);
        if (end) use.bind_text(2, *end);
        if (use.step() != SQLITE_DONE) return sqlite_error(db, "cannot delete prefix " + op.key);
        break;
      }
    }
  }
  return {};
}

void SqliteStorage::commit_group(const std::vector<Waiter*>& group) {
  std::lock_guard lock(write_mu_);
  Connection& w = *writer_;
  sqlite3* db = w.handle();
  auto fail_all = [&](const Status& st) {
    for (Waiter* g : group) {
      if (g->result.ok()) g->result = st;
    }
  };
  // Before: a store known to be gone takes no write at all.
  Status st = check_in_place();
  if (st.ok()) st = run(db, w.begin_write, "cannot begin write");
  if (!st.ok()) return fail_all(st);
  if (group.size() == 1) {
    // Alone: no savepoint, so one writer pays nothing for the grouping.
    group[0]->result = write_ops(group[0]->batch);
  } else {
    for (Waiter* g : group) {
      g->result = run(db, w.savepoint, "cannot begin batch");
      if (g->result.ok()) g->result = write_ops(g->batch);
      if (!g->result.ok()) (void)run(db, w.rollback_to, "cannot roll back batch");
      (void)run(db, w.release, "cannot end batch");
    }
  }
  bool any = false;
  for (Waiter* g : group) any = any || g->result.ok();
  st = any ? run(db, w.commit, "cannot commit") : Status(Error::storage("every batch failed"));
  // A failed statement or COMMIT can leave the transaction open; roll it
  // back so the group leaves nothing behind and the next apply() starts clean.
  if (!st.ok() && sqlite3_get_autocommit(db) == 0) {
    (void)run(db, w.rollback, "cannot roll back");
  }
  if (any) fail_all(st);
  if (st.ok()) commits_.fetch_add(1, std::memory_order_relaxed);
  // After, before acknowledging: a file deleted or moved during the
  // transaction got this commit, but the path will not show it, so the
  // callers must not be told it is stored.
  if (st.ok()) fail_all(check_in_place());
}

}  // namespace engine
