// Shared test support: a fresh database of each backend per test, waiting for events, and a log
// of every job finish that the database itself writes (so "finished exactly once" is checked by
// the database, not by the code under test).
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <vector>
#include <functional>
#include <ostream>
#include <memory>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "spindle/spindle.h"

extern "C" char** environ;

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
  // Waits until no other session is inside a statement or a transaction. A SIGKILLed client's
  // last statement runs on in its PostgreSQL backend, and may commit, after the client died;
  // SQLite has nothing to wait for (a write commits in the writing process, or not at all).
  virtual void AwaitOtherSessionsIdle() const {}

 protected:
  virtual std::string RunSql(const std::string& sql) const = 0;
  virtual std::string Expand(std::string sql) const = 0;
};

// A child process whose stdout we read line by line; SIGKILLed if still running at the end.
class Process {
 public:
  explicit Process(const std::vector<std::string>& argv) {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ) != 0) {
      throw std::runtime_error("cannot start " + argv[0]);
    }
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    out_ = fdopen(fds[0], "r");
  }
  ~Process() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      Wait();
    }
    if (out_) fclose(out_);
  }
  std::string ReadLine() {
    char buf[512];
    if (!fgets(buf, sizeof buf, out_)) return "";
    std::string s(buf);
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }
  void Signal(int sig) { kill(pid_, sig); }
  // Returns the exit status, or 128+signal.
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
};

// Shell-quotes one word.
std::string Quote(const std::string& s);

// A file's whole content ("" if it cannot be read).
std::string ReadFile(const std::string& path);

// One run of a command line: its exit status (-1 when it did not exit), stdout and stderr apart
// and `output`, both (stdout first).
struct CliResult {
  int status;
  std::string out;
  std::string err;
  std::string output;
};

// Runs `program` with `args` (shell words, quoted by the caller) and `input` on stdin, bounded in
// time: a command that should have failed at once must not hang the test.
CliResult RunCommand(const std::string& program, const std::string& args,
                     const std::string& input = "");

#ifdef SPINDLE_BIN
// The spindle command line.
inline CliResult Cli(const std::string& args, const std::string& input = "") {
  return RunCommand(SPINDLE_BIN, args, input);
}
// Writes `toml` to `path` and runs `spindle serve` with it on `url` (bounded in time like every
// RunCommand): passes when serve refused it as bad input (exit 2) and said `want` on stderr.
inline ::testing::AssertionResult ServeRefuses(const std::string& url, const std::string& path,
                                               const std::string& toml, const std::string& want) {
  std::ofstream(path) << toml;
  CliResult r = Cli("--database " + Quote(url) + " --config " + Quote(path) + " serve");
  if (r.status != 2) {
    return ::testing::AssertionFailure() << "exit " << r.status << ", not 2, for:\n"
                                         << toml << r.output;
  }
  if (r.err.find(want) == std::string::npos) {
    return ::testing::AssertionFailure() << "stderr does not say \"" << want << "\": " << r.err;
  }
  return ::testing::AssertionSuccess();
}
#endif

// Polls `done` every 10 ms until it is true or `limit` passes; returns its last value.
bool WaitUntil(const std::function<bool()>& done,
               std::chrono::milliseconds limit = std::chrono::seconds(60));

// Waits (up to 120 s, a test failure past that) for the job to complete or fail; returns it.
Job WaitFinished(Client& client, const std::string& id);

}  // namespace spindle::testing

namespace spindle::testing {
// Names the backend in GoogleTest's messages.
inline void PrintTo(BackendKind kind, std::ostream* os) { *os << Name(kind); }
}  // namespace spindle::testing
