// Thin RAII layer over libpq: connections, results, prepared statements, a pool, and the one
// place where SQLSTATEs become spindle::Error codes.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "spindle/job.h"
#include "store/pool.h"

namespace spindle::pg {

using Params = std::vector<std::optional<std::string>>;

class Result {
 public:
  explicit Result(PGresult* r) : r_(r, &PQclear) {}
  int rows() const { return PQntuples(r_.get()); }
  bool IsNull(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  // The column of that name, or -1.
  int Column(const char* name) const { return PQfnumber(r_.get(), name); }
  std::string_view Get(int row, int col) const {
    return {PQgetvalue(r_.get(), row, col),
            static_cast<size_t>(PQgetlength(r_.get(), row, col))};
  }
  // Rows changed by an INSERT/UPDATE/DELETE without RETURNING.
  int affected() const;

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> r_;
};

class Conn {
 public:
  // Connects; throws Error(kInvalidArgument) for a malformed URL, kUnavailable when the
  // server cannot be reached.
  static std::unique_ptr<Conn> Connect(const std::string& url);
  // Wraps a connection owned by someone else (the application's); never closes it.
  static Conn Borrow(PGconn* conn) { return Conn(conn, false); }
  ~Conn();
  Conn(Conn&&) = delete;

  // Runs a statement with text parameters (unnamed, not prepared).
  Result Exec(std::string_view sql, const Params& params = {});
  // Runs a named statement, preparing it on this connection the first time.
  Result ExecPrepared(const char* name, std::string_view sql, const Params& params = {});
  // Runs one or more statements without parameters (migrations, BEGIN/COMMIT).
  void ExecScript(std::string_view sql);

  bool ok() const { return PQstatus(conn_) == CONNECTION_OK; }
  // For the pool: a broken connection, or one inside a failed or open transaction, is not reused.
  bool Reusable() const { return ok() && PQtransactionStatus(conn_) == PQTRANS_IDLE; }
  PGconn* raw() { return conn_; }

 private:
  Conn(PGconn* conn, bool owned) : conn_(conn), owned_(owned) {}
  Result Check(PGresult* r, std::string_view what);

  PGconn* conn_;
  bool owned_;
  std::unordered_set<std::string> prepared_;
};

// Throws the spindle::Error that fits a failed result or connection.
[[noreturn]] void ThrowError(PGconn* conn, PGresult* r, std::string_view what);

// A PostgreSQL array literal: {"a","b",NULL}; elements quoted and escaped.
std::string FormatArray(const std::vector<std::optional<std::string>>& items);

using Pool = spindle::Pool<Conn>;

}  // namespace spindle::pg
