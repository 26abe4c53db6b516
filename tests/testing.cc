#include "testing.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <stdexcept>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace spindle::testing {
namespace {

std::string Exec(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(c);
    PQfinish(c);
    throw std::runtime_error("test database: " + msg);
  }
  PQclear(PQexec(c, "SET client_min_messages = warning"));
  PGresult* r = PQexec(c, sql.c_str());
  auto st = PQresultStatus(r);
  std::string out;
  if (st == PGRES_TUPLES_OK && PQntuples(r) > 0) out = PQgetvalue(r, 0, 0);
  std::string err = PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
    throw std::runtime_error("test SQL failed: " + err + "\n" + sql);
  }
  return out;
}

// Replaces the database name (the path) of a postgresql:// URL.
std::string WithDatabase(const std::string& url, const std::string& db) {
  auto scheme = url.find("://");
  auto slash = url.find('/', scheme + 3);
  auto query = url.find('?');
  std::string base = slash == std::string::npos ? url.substr(0, query) : url.substr(0, slash);
  std::string rest = query == std::string::npos ? "" : url.substr(query);
  return base + "/" + db + rest;
}

}  // namespace

TestDatabase::TestDatabase() {
  const char* env = std::getenv("SPINDLE_TEST_DATABASE");
  if (!env || !*env) {
    ADD_FAILURE() << "SPINDLE_TEST_DATABASE is not set: run the tests with scripts/test.sh, "
                     "which starts a throwaway PostgreSQL";
    throw std::runtime_error("SPINDLE_TEST_DATABASE is not set");
  }
  admin_url_ = env;
  static std::atomic<int> counter{0};
  name_ = fmt::format("spindle_t_{}_{}_{:x}", getpid(), counter++, std::random_device{}() & 0xffff);
  Exec(admin_url_, "CREATE DATABASE " + name_);
  url_ = WithDatabase(admin_url_, name_);
}

TestDatabase::~TestDatabase() {
  try {
    Exec(admin_url_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (const std::exception& e) {
    fprintf(stderr, "warning: %s\n", e.what());
  }
}

std::string TestDatabase::Query(const std::string& sql) const { return Exec(url_, sql); }

void TestDatabase::InstallFinishLog() const {
  Query(R"(
    CREATE TABLE test_finish (id uuid NOT NULL, state text NOT NULL, at timestamptz DEFAULT now());
    CREATE FUNCTION test_log_finish() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO test_finish (id, state) VALUES (NEW.id, NEW.state::text);
      RETURN NEW;
    END $$;
    CREATE TRIGGER test_finish_trigger AFTER UPDATE OF state ON spindle.jobs FOR EACH ROW
      WHEN (NEW.state IN ('completed', 'failed', 'cancelled') AND OLD.state IS DISTINCT FROM NEW.state)
      EXECUTE FUNCTION test_log_finish();
  )");
}

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace spindle::testing
