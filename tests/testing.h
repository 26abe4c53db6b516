// Shared test support: a fresh database of each backend per test, waiting for events, and a log
// of every job finish that the database itself writes (so "finished exactly once" is checked by
// the database, not by the code under test).
#pragma once

#include <chrono>
#include <functional>
#include <ostream>
#include <memory>
#include <string>
#include <thread>

#include "spindle/spindle.h"

namespace spindle::testing {

enum class BackendKind { kPostgres, kSqlite };

std::string Name(BackendKind kind);
// For INSTANTIATE_TEST_SUITE_P: every backend.
inline constexpr BackendKind kAllBackends[] = {BackendKind::kPostgres, BackendKind::kSqlite};

// An empty database of one backend, dropped (or deleted) at the end. PostgreSQL databases are
// created on the server named by SPINDLE_TEST_DATABASE; without it the test fails (never skips).
// SQLite databases are files in the test's temporary directory.
class TestBackend {
 public:
  static std::unique_ptr<TestBackend> Make(BackendKind kind);
  virtual ~TestBackend() = default;

  virtual BackendKind kind() const = 0;
  virtual const std::string& url() const = 0;
  // Runs SQL on the database and returns the first column of the first row ("" if none).
  // "{jobs}" and "{migrations}" stand for the backend's table names.
  std::string Query(const std::string& sql) const { return RunSql(Expand(sql)); }
  int64_t QueryInt(const std::string& sql) const { return std::stoll(Query(sql)); }
  // Installs a trigger that appends (job id, new state) to the table test_finish on every
  // transition of a job into completed, failed or cancelled. Call after migrating.
  virtual void InstallFinishLog() const = 0;

 protected:
  virtual std::string RunSql(const std::string& sql) const = 0;
  virtual std::string Expand(std::string sql) const = 0;
};

// Polls `done` every 10 ms until it is true or `limit` passes; returns its last value.
bool WaitUntil(const std::function<bool()>& done,
               std::chrono::milliseconds limit = std::chrono::seconds(60));

}  // namespace spindle::testing

namespace spindle::testing {
// Names the backend in GoogleTest's messages.
inline void PrintTo(BackendKind kind, std::ostream* os) { *os << Name(kind); }
}  // namespace spindle::testing
