#include "testing.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace spindle::testing {
namespace {

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

std::string UniqueName() {
  static std::atomic<int> counter{0};
  return fmt::format("spindle_t_{}_{}_{:x}", getpid(), counter++, std::random_device{}() & 0xffff);
}

std::string PgExec(const std::string& url, const std::string& sql) {
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

class PgBackend final : public TestBackend {
 public:
  PgBackend() {
    const char* env = std::getenv("SPINDLE_TEST_DATABASE");
    if (!env || !*env) {
      ADD_FAILURE() << "SPINDLE_TEST_DATABASE is not set: run the tests with scripts/test.sh, "
                       "which starts a throwaway PostgreSQL";
      throw std::runtime_error("SPINDLE_TEST_DATABASE is not set");
    }
    admin_url_ = env;
    name_ = UniqueName();
    PgExec(admin_url_, "CREATE DATABASE " + name_);
    url_ = WithDatabase(admin_url_, name_);
  }
  ~PgBackend() override {
    try {
      PgExec(admin_url_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception& e) {
      fprintf(stderr, "warning: %s\n", e.what());
    }
  }
  BackendKind kind() const override { return BackendKind::kPostgres; }
  const std::string& url() const override { return url_; }
  void AwaitOtherSessionsIdle() const override {
    bool idle = WaitUntil([&] {
      return QueryInt("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                      "AND pid <> pg_backend_pid() AND backend_type = 'client backend' "
                      "AND state IS DISTINCT FROM 'idle'") == 0;
    });
    if (!idle) ADD_FAILURE() << "another session of the database stayed busy for a minute";
  }
  void InstallFinishLog() const override {
    Query(R"(
      CREATE TABLE test_finish (id uuid NOT NULL, state text NOT NULL);
      CREATE FUNCTION test_log_finish() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO test_finish (id, state) VALUES (NEW.id, NEW.state::text);
        RETURN NEW;
      END $$;
      CREATE TRIGGER test_finish_trigger AFTER UPDATE OF state ON spindle.jobs FOR EACH ROW
        WHEN (NEW.state IN ('completed', 'failed', 'cancelled')
              AND OLD.state IS DISTINCT FROM NEW.state)
        EXECUTE FUNCTION test_log_finish();
    )");
  }

 protected:
  std::string RunSql(const std::string& sql) const override { return PgExec(url_, sql); }
  std::string Expand(std::string sql) const override {
    return Replace(Replace(Replace(std::move(sql), "{jobs}", "spindle.jobs"), "{migrations}",
                           "spindle.schema_migrations"),
                   "{job_events}", "spindle.job_events");
  }

 private:
  std::string admin_url_, name_, url_;
};

class SqliteBackend final : public TestBackend {
 public:
  SqliteBackend() {
    path_ = (std::filesystem::path(::testing::TempDir()) / (UniqueName() + ".db")).string();
    url_ = "sqlite:" + path_;
  }
  ~SqliteBackend() override {
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path_ + suffix).c_str());
  }
  BackendKind kind() const override { return BackendKind::kSqlite; }
  const std::string& url() const override { return url_; }
  void InstallFinishLog() const override {
    Query(R"(
      CREATE TABLE test_finish (id TEXT NOT NULL, state TEXT NOT NULL);
      CREATE TRIGGER test_finish_trigger AFTER UPDATE OF state ON spindle_jobs FOR EACH ROW
        WHEN NEW.state IN ('completed', 'failed', 'cancelled') AND OLD.state IS NOT NEW.state
        BEGIN
          INSERT INTO test_finish (id, state) VALUES (NEW.id, NEW.state);
        END;
    )");
  }

 protected:
  std::string RunSql(const std::string& sql) const override {
    sqlite3* db = nullptr;
    sqlite3_open(path_.c_str(), &db);
    sqlite3_busy_timeout(db, 10000);
    std::string out;
    bool first = true;
    std::pair<std::string*, bool*> ctx{&out, &first};
    char* err = nullptr;
    int rc = sqlite3_exec(
        db, sql.c_str(),
        [](void* ctx, int n, char** values, char**) {
          auto* p = static_cast<std::pair<std::string*, bool*>*>(ctx);
          if (*p->second && n > 0) {
            *p->first = values[0] ? values[0] : "";
            *p->second = false;
          }
          return 0;
        },
        &ctx, &err);
    std::string msg = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    if (rc != SQLITE_OK) throw std::runtime_error("test SQL failed: " + msg + "\n" + sql);
    return out;
  }
  std::string Expand(std::string sql) const override {
    return Replace(Replace(Replace(std::move(sql), "{jobs}", "spindle_jobs"), "{migrations}",
                           "spindle_schema_migrations"),
                   "{job_events}", "spindle_job_events");
  }

 private:
  std::string path_, url_;
};

}  // namespace

std::string Name(BackendKind kind) {
  return kind == BackendKind::kPostgres ? "postgres" : "sqlite";
}

std::unique_ptr<TestBackend> TestBackend::Make(BackendKind kind) {
  if (kind == BackendKind::kPostgres) return std::make_unique<PgBackend>();
  return std::make_unique<SqliteBackend>();
}

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Job WaitFinished(Client& client, const std::string& id) {
  EXPECT_TRUE(WaitUntil([&] {
    auto s = client.Get(id).state;
    return s == JobState::kCompleted || s == JobState::kFailed;
  }, std::chrono::seconds(120))) << ToString(client.Get(id).state);
  return client.Get(id);
}

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

CliResult RunCommand(const std::string& program, const std::string& args,
                     const std::string& input) {
  static std::atomic<int> counter{0};
  std::string base = ::testing::TempDir() + fmt::format("spindle_cli_{}_{}", getpid(), counter++);
  std::ofstream(base + ".in", std::ios::binary) << input;
  std::string cmd = fmt::format("timeout 120 {} {} <{} >{} 2>{}", program, args,
                                Quote(base + ".in"), Quote(base + ".out"), Quote(base + ".err"));
  int status = std::system(cmd.c_str());
  CliResult r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, ReadFile(base + ".out"),
              ReadFile(base + ".err"), ""};
  r.output = r.out + r.err;
  for (const char* ext : {".in", ".out", ".err"}) std::filesystem::remove(base + ext);
  return r;
}

}  // namespace spindle::testing
