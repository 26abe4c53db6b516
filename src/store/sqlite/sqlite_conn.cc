#include "store/sqlite/sqlite_conn.h"

#include <fmt/format.h>

#include <chrono>
#include <mutex>

#include "spindle/error.h"
#include "store/store.h"

namespace spindle::sqlite {

constexpr int kBusyTimeoutMs = 5000;

namespace {

// spindle_partition(id, count): PartitionOf in SQL, for job_fetch.sql.
void PartitionFunction(sqlite3_context* ctx, int, sqlite3_value** argv) {
  const auto* id = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  auto size = static_cast<size_t>(sqlite3_value_bytes(argv[0]));
  std::string_view text = id ? std::string_view(id, size) : "";
  try {
    sqlite3_result_int(ctx, PartitionOf(text, sqlite3_value_int(argv[1])));
  } catch (const std::exception& e) {  // not hex: must not unwind through SQLite
    sqlite3_result_error(ctx, e.what(), -1);
  }
}

// Before SQLite's first use in the process: no bulk allocation for each new page cache. SQLite
// otherwise mallocs and touches room for 20 pages whenever it opens a page cache, which it does
// for every temporary b-tree, and it builds one for each `x IN (a, b, c)` it evaluates in a
// statement (CHECK constraints, partial index predicates): every insert, fetch and finish paid
// it, keyed jobs several times over (measured: docs/benchmarks.md). Pages are then allocated one
// at a time, as needed. Too late if SQLite was already initialized (then nothing changes).
void ConfigureOnce() {
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_PAGECACHE, nullptr, 0, 0); });
}

}  // namespace

void ThrowError(sqlite3* db, int rc, std::string_view what) {
  std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  ErrorCode code = ErrorCode::kInternal;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      code = ErrorCode::kUnavailable;
      msg = fmt::format("{} ({} after {} ms)", msg, kStillLocked, kBusyTimeoutMs);
      break;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      code = ErrorCode::kUnavailable;
      break;
    case SQLITE_CONSTRAINT:
      // A change that would give a job a unique key another holds (migration 014).
      code = msg.find("spindle_jobs_unique_idx") != std::string::npos
                 ? ErrorCode::kIllegalTransition
                 : ErrorCode::kInvalidArgument;
      break;
    case SQLITE_NOTADB:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
      code = ErrorCode::kInvalidArgument;
      break;
    default:
      break;
  }
  throw Error(code, fmt::format("{}: {}", what, msg));
}

Statement& Statement::Bind(int i, std::nullopt_t) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}
Statement& Statement::Bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}
Statement& Statement::Bind(int i, std::string_view v) {
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::Bind(int i, const std::optional<int64_t>& v) {
  return v ? Bind(i, *v) : Bind(i, std::nullopt);
}
Statement& Statement::Bind(int i, const std::optional<std::string>& v) {
  return v ? Bind(i, std::string_view(*v)) : Bind(i, std::nullopt);
}

bool Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  ThrowError(db_, rc, name_);
}

std::string Statement::Text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : "";
}

namespace {

// Sets WAL mode unless the file is in it already. A change of mode needs the file to itself, so
// a connection that asks for it while another connection turns a new file to WAL (and then keeps
// it open, migrating) would wait in vain: it asks again in short waits, each after reading the
// file, which shows the mode another connection set, for up to the busy timeout.
void TurnToWal(Conn& conn) {
  sqlite3_busy_timeout(conn.raw(), 50);
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
  while (true) {
    try {
      conn.Exec("SELECT count(*) FROM sqlite_master");
      bool wal;
      {
        auto mode = conn.Prepare("journal_mode", "PRAGMA journal_mode");
        wal = mode.Step() && mode.Text(0) == "wal";
      }
      if (!wal) conn.Exec("PRAGMA journal_mode = WAL");
      break;
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kUnavailable || std::chrono::steady_clock::now() >= until) {
        sqlite3_busy_timeout(conn.raw(), kBusyTimeoutMs);
        throw;
      }
    }
  }
  sqlite3_busy_timeout(conn.raw(), kBusyTimeoutMs);
}

}  // namespace

std::unique_ptr<Conn> Conn::Connect(const std::string& path) {
  ConfigureOnce();
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  std::unique_ptr<Conn> conn(new Conn(db, true));  // closes db on every path
  if (rc != SQLITE_OK) ThrowError(db, rc, fmt::format("cannot open SQLite database '{}'", path));
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  sqlite3_extended_result_codes(db, 1);
  rc = sqlite3_create_function_v2(db, "spindle_partition", 2,
                                  SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, nullptr,
                                  PartitionFunction, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) ThrowError(db, rc, "registering spindle_partition");
  try {
    // WAL lets readers and one writer work at once; FULL syncs every commit (durable). A page
    // cache of up to 32 MiB per connection and reads through mmap keep the hot job table and
    // its indexes out of read() calls (measured: about 15% more jobs/s on the work bench).
    // Temporary storage in memory: a statement whose triggers write more rows keeps a statement
    // journal, by default a temporary file created and written for each such statement (in
    // the sqlite3 shell, a keyed insert, whose trigger places the job in its key's line, ran
    // about 4 times faster with it; the page cache above was the larger cost).
    TurnToWal(*conn);
    conn->Exec(
        "PRAGMA synchronous = FULL; PRAGMA cache_size = -32768; PRAGMA mmap_size = 268435456; "
        "PRAGMA temp_store = MEMORY");
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("cannot use '{}' as a Spindle database: {}", path, e.what()));
  }
  return conn;
}

std::unique_ptr<Conn> Conn::Borrow(sqlite3* db) { return std::unique_ptr<Conn>(new Conn(db, false)); }

Conn::~Conn() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  if (owned_) sqlite3_close_v2(db_);
}

Statement Conn::Prepare(std::string_view name, std::string_view sql) {
  auto& stmt = statements_[sql.data()];
  if (!stmt) {
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      statements_.erase(sql.data());
      ThrowError(db_, rc, fmt::format("preparing {}", name));
    }
  }
  return Statement(db_, stmt, name);
}

void Conn::Exec(std::string_view sql) {
  std::string text(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    sqlite3_free(err);
    ThrowError(db_, rc, "statement failed");
  }
}

}  // namespace spindle::sqlite
