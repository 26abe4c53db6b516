// Thin RAII layer over the SQLite C API: connections, cached prepared statements, immediate
// transactions, and the one place where SQLite result codes become spindle::Error codes.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace spindle::sqlite {

// Throws the spindle::Error that fits a SQLite result code.
[[noreturn]] void ThrowError(sqlite3* db, int rc, std::string_view what);

// A prepared statement in use: bind, step, read; reset when it goes out of scope so that no
// statement keeps a read snapshot open in a pooled connection.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt, std::string_view name)
      : db_(db), stmt_(stmt), name_(name) {}
  ~Statement() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Statement(const Statement&) = delete;

  Statement& Bind(int i, std::nullopt_t);
  Statement& Bind(int i, int64_t v);
  Statement& Bind(int i, std::string_view v);
  Statement& Bind(int i, const std::optional<int64_t>& v);
  Statement& Bind(int i, const std::optional<std::string>& v);

  // Advances; true while there is a row.
  bool Step();
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  // The column of that name, or -1.
  int Column(std::string_view name) const {
    for (int i = 0, n = sqlite3_column_count(stmt_); i < n; ++i) {
      if (name == sqlite3_column_name(stmt_, i)) return i;
    }
    return -1;
  }
  std::string Text(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  std::string_view name_;
};

class Conn {
 public:
  // Opens (creating if missing) a database file in WAL mode with a busy timeout, with Spindle's
  // SQL functions (spindle_partition) registered.
  // Throws kUnavailable when the file cannot be opened or stays locked, kInvalidArgument when
  // it is not a SQLite database.
  static std::unique_ptr<Conn> Connect(const std::string& path);
  // Wraps the application's connection; never closes it.
  static std::unique_ptr<Conn> Borrow(sqlite3* db);
  ~Conn();

  // A prepared statement for `sql`, prepared once per connection. `name` labels errors.
  Statement Prepare(std::string_view name, std::string_view sql);
  // Runs statements without parameters (migrations, pragmas).
  void Exec(std::string_view sql);
  // For the pool: a connection left inside a transaction is not reused.
  bool Reusable() const { return sqlite3_get_autocommit(db_) != 0; }
  sqlite3* raw() { return db_; }

  // BEGIN IMMEDIATE: takes the write lock at once (waiting up to the busy timeout), so two
  // writers never deadlock on a lock upgrade. Rolls back unless committed.
  class Tx {
   public:
    explicit Tx(Conn& c) : c_(c) { c_.Exec("BEGIN IMMEDIATE"); }
    ~Tx() {
      if (!done_) sqlite3_exec(c_.db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    void Commit() {
      c_.Exec("COMMIT");
      done_ = true;
    }

   private:
    Conn& c_;
    bool done_ = false;
  };

 private:
  Conn(sqlite3* db, bool owned) : db_(db), owned_(owned) {}
  sqlite3* db_;
  bool owned_;
  std::unordered_map<const char*, sqlite3_stmt*> statements_;
};

}  // namespace spindle::sqlite
