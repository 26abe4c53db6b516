#include "store/postgres/pg_conn.h"

#include <cstdlib>

#include <fmt/format.h>

#include "spindle/error.h"

namespace spindle::pg {
namespace {

// SQLSTATE classes and codes that mean "the database is (temporarily) not there", or that the
// same statement will succeed when tried again (deadlock detected, serialization failure).
bool IsUnavailable(std::string_view state) {
  return state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03" ||
         state == "53300" || state == "40P01" || state == "40001";
}

// Data exceptions and integrity violations caused by what a user passed in.
bool IsInvalidInput(std::string_view state) {
  return state.starts_with("22") || state == "23502" || state == "23514";
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

int Result::affected() const {
  const char* n = PQcmdTuples(r_.get());
  return n && *n ? std::atoi(n) : 0;
}

void ThrowError(PGconn* conn, PGresult* r, std::string_view what) {
  const char* state_c = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string state = state_c ? state_c : "";
  std::string msg = Trim(r ? PQresultErrorMessage(r) : "");
  if (msg.empty()) msg = Trim(PQerrorMessage(conn));
  ErrorCode code = ErrorCode::kInternal;
  if (PQstatus(conn) != CONNECTION_OK || IsUnavailable(state)) {
    code = ErrorCode::kUnavailable;
  } else if (IsInvalidInput(state)) {
    code = ErrorCode::kInvalidArgument;
  } else if (const char* c = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
             state == "23505" && c && std::string_view(c) == "jobs_unique_idx") {
    code = ErrorCode::kIllegalTransition;  // a change would give a job a key another holds
  }
  throw Error(code, fmt::format("{}: {}", what, msg.empty() ? "unknown database error" : msg));
}

std::unique_ptr<Conn> Conn::Connect(const std::string& url) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (!opts) {
    std::string msg = err ? Trim(err) : "malformed";
    PQfreemem(err);
    throw Error(ErrorCode::kInvalidArgument, fmt::format("invalid database URL: {}", msg));
  }
  PQconninfoFree(opts);
  // Defaults that keep a dead network from blocking a worker for minutes (and its leases from
  // lapsing meanwhile). They come before the URL, so settings in the URL win.
  const char* keys[] = {"connect_timeout", "keepalives_idle", "keepalives_interval",
                        "keepalives_count", "tcp_user_timeout", "dbname", nullptr};
  const char* values[] = {"10", "10", "5", "3", "30000", url.c_str(), nullptr};
  PGconn* c = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = Trim(PQerrorMessage(c));
    PQfinish(c);
    throw Error(ErrorCode::kUnavailable, fmt::format("cannot connect to the database: {}", msg));
  }
  auto conn = std::unique_ptr<Conn>(new Conn(c, true));
  // Timestamps are exchanged as UTC text; notices (CREATE ... IF NOT EXISTS) are not errors.
  // A session idle inside a transaction for 5 s is ended by the server: a worker frozen or cut
  // off in the middle of a regulated fetch would otherwise hold the regulation lock (and every
  // regulated fetch and release in the cluster behind it) until its connection is found dead.
  conn->ExecScript(
      "SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET client_min_messages = warning; "
      "SET idle_in_transaction_session_timeout = '5s'");
  return conn;
}

Conn::~Conn() {
  if (owned_) PQfinish(conn_);
}

Result Conn::Check(PGresult* r, std::string_view what) {
  ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return Result(r);
  Result guard(r);  // frees r while the error propagates
  ThrowError(conn_, r, what);
}

namespace {
struct CParams {
  std::vector<const char*> values;
  explicit CParams(const Params& p) {
    values.reserve(p.size());
    for (const auto& v : p) values.push_back(v ? v->c_str() : nullptr);
  }
};
}  // namespace

Result Conn::Exec(std::string_view sql, const Params& params) {
  CParams c(params);
  std::string text(sql);
  return Check(PQexecParams(conn_, text.c_str(), static_cast<int>(c.values.size()), nullptr,
                            c.values.data(), nullptr, nullptr, 0),
               "query failed");
}

Result Conn::ExecPrepared(const char* name, std::string_view sql, const Params& params) {
  if (!prepared_.contains(name)) {
    std::string text(sql);
    Check(PQprepare(conn_, name, text.c_str(), 0, nullptr), fmt::format("preparing {}", name));
    prepared_.insert(name);
  }
  CParams c(params);
  return Check(PQexecPrepared(conn_, name, static_cast<int>(c.values.size()), c.values.data(),
                              nullptr, nullptr, 0),
               name);
}

void Conn::ExecScript(std::string_view sql) {
  std::string text(sql);
  Check(PQexec(conn_, text.c_str()), "statement failed");
}

std::string FormatArray(const std::vector<std::optional<std::string>>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    if (!items[i]) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (char ch : *items[i]) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace spindle::pg
