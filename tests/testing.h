// Shared test support: a fresh PostgreSQL database per test, waiting for events, and a log of
// every job finish that the database itself writes (so "finished exactly once" is checked by
// the database, not by the code under test).
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "spindle/spindle.h"

namespace spindle::testing {

// Creates an empty database on the server named by SPINDLE_TEST_DATABASE and drops it at the
// end. Fails the test (never skips) when the variable is missing.
class TestDatabase {
 public:
  TestDatabase();
  ~TestDatabase();
  const std::string& url() const { return url_; }
  // Runs SQL on the test database; returns the first column of the first row ("" if none).
  std::string Query(const std::string& sql) const;
  int64_t QueryInt(const std::string& sql) const { return std::stoll(Query(sql)); }
  // Installs a trigger that appends (job id, new state) to test_finish on every transition of
  // a job into completed, failed or cancelled. Call after migrating.
  void InstallFinishLog() const;

 private:
  std::string admin_url_;
  std::string name_;
  std::string url_;
};

// Polls `done` every 10 ms until it is true or `limit` passes; returns its last value.
bool WaitUntil(const std::function<bool()>& done,
               std::chrono::milliseconds limit = std::chrono::seconds(60));

}  // namespace spindle::testing
