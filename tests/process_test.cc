// Real processes: worker processes SIGKILLed mid-job, and the spindle command line.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <thread>

#include "store/store.h"
#include "testing.h"

namespace spindle {
namespace {

using namespace std::chrono_literals;
using testing::BackendKind;
using testing::Cli;
using testing::Quote;
using testing::Process;
using testing::TestBackend;
using testing::WaitUntil;

class ProcessTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    client_ = Client::Open({db_->url()});
    db_->InstallFinishLog();
  }
  int64_t Count(const std::string& where) {
    return db_->QueryInt("SELECT count(*) FROM {jobs} WHERE " + where);
  }
  // A file of this test alone: tests of both backends run in parallel.
  std::string TempFile(const std::string& name) {
    return ::testing::TempDir() + "spindle_" + std::to_string(getpid()) + "_" +
           testing::Name(GetParam()) + "_" + name;
  }

  std::unique_ptr<TestBackend> db_ = TestBackend::Make(GetParam());
  std::unique_ptr<Client> client_;
};

// A worker is SIGKILLed while it runs jobs. Another worker finishes them after their lease
// expires, and every job ends exactly once.
TEST_P(ProcessTest, JobsOfAKilledWorkerAreFinishedByAnotherExactlyOnce) {
  constexpr int kJobs = 400;
  std::vector<JobSpec> specs(kJobs, JobSpec{.kind = "work"});
  client_->EnqueueMany(specs);

  Process a({TEST_WORKER_BIN, db_->url(), "--lease", "2000", "--sleep", "40", "--concurrency", "8"});
  std::string a_id = a.ReadLine();
  ASSERT_FALSE(a_id.empty());
  ASSERT_TRUE(WaitUntil([&] {
    return Count("state = 'completed'") >= 40 &&
           Count("state = 'running' AND lease_owner = '" + a_id + "'") >= 4;
  }));
  a.Signal(SIGKILL);
  EXPECT_EQ(a.Wait(), 128 + SIGKILL);
  db_->AwaitOtherSessionsIdle();  // a finish the worker sent as it died may still commit
  int64_t stranded = Count("state = 'running' AND lease_owner = '" + a_id + "'");
  EXPECT_GE(stranded, 1);
  db_->Query("CREATE TABLE stranded AS SELECT id FROM {jobs} WHERE state = 'running'");

  Process b({TEST_WORKER_BIN, db_->url(), "--lease", "2000", "--sleep", "5", "--concurrency", "8"});
  ASSERT_FALSE(b.ReadLine().empty());
  ASSERT_TRUE(WaitUntil([&] { return Count("state = 'completed'") == kJobs; }, 180s));
  b.Signal(SIGTERM);
  EXPECT_EQ(b.Wait(), 0);

  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM test_finish"), kJobs);
  EXPECT_EQ(db_->QueryInt("SELECT count(DISTINCT id) FROM test_finish WHERE state = 'completed'"),
            kJobs);
  // The stranded jobs were rescued: their first attempt ended with an expired lease.
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM {jobs} j JOIN stranded s USING (id) "
                         "WHERE j.attempt = 2 AND j.errors->0->>'error' LIKE 'lease expired%'"),
            stranded);
}

// Several worker processes compete for the jobs of one database: every job is fetched once and
// finished once.
TEST_P(ProcessTest, CompetingWorkerProcessesRunEveryJobExactlyOnce) {
  constexpr int kJobs = 6000;
  for (int i = 0; i < kJobs; i += 500) {
    client_->EnqueueMany(std::vector<JobSpec>(500, JobSpec{.kind = "work"}));
  }
  std::vector<std::unique_ptr<Process>> workers;
  for (int i = 0; i < 3; ++i) {
    workers.push_back(std::make_unique<Process>(
        std::vector<std::string>{TEST_WORKER_BIN, db_->url(), "--concurrency", "8"}));
    ASSERT_FALSE(workers.back()->ReadLine().empty());
  }
  ASSERT_TRUE(WaitUntil([&] { return Count("state = 'completed'") == kJobs; }, 180s));
  int64_t fetched = 0;
  for (auto& w : workers) {
    w->Signal(SIGTERM);
    std::string line = w->ReadLine();  // "fetched N"
    ASSERT_EQ(line.rfind("fetched ", 0), 0u) << line;
    fetched += std::stoll(line.substr(8));  // no per-process share: see the in-process test
    EXPECT_EQ(w->Wait(), 0);
  }
  EXPECT_EQ(fetched, kJobs) << "a job was fetched twice";
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM test_finish"), kJobs);
  EXPECT_EQ(db_->QueryInt("SELECT count(DISTINCT id) FROM test_finish"), kJobs);
}

// --- the command line -----------------------------------------------------------------------

TEST_P(ProcessTest, CliEnqueuesListsAndShowsJobs) {
  std::string db = "--database " + Quote(db_->url());
  auto r = Cli(db + " enqueue mail --args '{\"to\":\"x@y\"}' --queue q1 --priority 2 --max-attempts 3 --timeout 30s");
  ASSERT_EQ(r.status, 0) << r.output;
  std::string id = r.output.substr(0, 36);
  Job j = client_->Get(id);
  EXPECT_EQ(j.kind, "mail");
  EXPECT_EQ(j.queue, "q1");
  EXPECT_EQ(j.priority, 2);
  EXPECT_EQ(j.max_attempts, 3);
  EXPECT_EQ(j.timeout, Millis(30000));
  EXPECT_EQ(j.args["to"], "x@y");

  r = Cli(db + " enqueue later --delay 1h");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(client_->Get(r.output.substr(0, 36)).state, JobState::kScheduled);

  r = Cli(db + " jobs show " + id + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(Json::parse(r.output)["kind"], "mail");
  r = Cli(db + " jobs list --state available --json");
  ASSERT_EQ(r.status, 0) << r.output;
  auto list = Json::parse(r.output)["jobs"];
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["id"], id);
  r = Cli(db + " jobs list --queue q1");
  EXPECT_NE(r.output.find(id), std::string::npos);
}

TEST_P(ProcessTest, CliBadInputFailsClearlyAndChangesNothing) {
  std::string db = "--database " + Quote(db_->url());
  // status -1: any failure status (the option parser chooses its own).
  auto expect = [&](const std::string& args, int status, const std::string& text) {
    auto r = Cli(args);
    if (status == -1) {
      EXPECT_GT(r.status, 0) << args << "\n" << r.output;
    } else {
      EXPECT_EQ(r.status, status) << args << "\n" << r.output;
    }
    EXPECT_NE(r.output.find(text), std::string::npos) << args << "\n" << r.output;
  };
  expect(db + " enqueue k --args '{bad'", 2, "not valid JSON");
  expect(db + " enqueue k --args '[1,2]'", 2, "must be a JSON object");
  expect(db + " enqueue k --delay soon", 2, "invalid duration");
  expect(db + " jobs show 01900000-0000-7000-8000-000000000000", 3, "no job");
  expect(db + " jobs show nonsense", 3, "no job");
  expect(db + " jobs list --state sleeping", 2, "unknown state");
  expect(db + " jobs list --parent nonsense", 2, "'nonsense' is not a job id");
  expect("--database postgresql://127.0.0.1:1/x?connect_timeout=5 jobs list", 5,
         "cannot connect");
  expect("--database mysql://x jobs list", 2, "unsupported database URL");
  expect(db + " enqueue k --bogus", -1, "--bogus");
  std::string cfg = TempFile("bad.toml");
  std::ofstream(cfg) << "[kinds.k]\ncommand = [\"/bin/true\"]\nretries = 3\n";
  expect(db + " --config " + Quote(cfg) + " serve", 2, "unknown key 'kinds.k.retries'");
  expect(db + " --config " + Quote(cfg) + "x serve", 2, "does not exist");
  std::ofstream(cfg) << "[kinds.k\n";
  expect(db + " --config " + Quote(cfg) + " enqueue k", 2, "line 1");
  EXPECT_EQ(Count("true"), 0);
}

// Numbers, durations and times are parsed strictly: a bad one is refused with exit 2 and a
// message that names the option (or key) and what it accepts, before anything is changed.
TEST_P(ProcessTest, CliRefusesBadNumbersDurationsAndTimes) {
  std::string db = "--database " + Quote(db_->url());
  auto expect = [&](const std::string& args, const std::string& text) {
    auto r = Cli(args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.output;
    EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(text), std::string::npos) << args << "\n" << r.output;
  };
  // What is no whole number is told the range; a whole number out of it, the bound it crossed.
  std::string priority = "--priority must be a whole number between -2147483648 and 2147483647";
  for (const char* bad : {"1.5", "1e3", "0x10", "99999999999999999999", "+1", "x"}) {
    expect(db + " enqueue k --priority " + bad, priority + ", got '" + bad + "'");
  }
  expect(db + " enqueue k --priority 4294967297", "--priority must be at most 2147483647");
  expect(db + " enqueue k --priority -4294967297", "--priority must be at least -2147483648");
  std::string attempts = "--max-attempts must be a whole number between 1 and 2147483647";
  for (const char* bad : {"1.5", "1e3", "0x10", "99999999999999999999"}) {
    expect(db + " enqueue k --max-attempts " + bad, attempts + ", got '" + bad + "'");
  }
  for (const char* bad : {"0", "-1"}) {
    expect(db + " enqueue k --max-attempts " + bad,
           std::string("--max-attempts must be at least 1, got '") + bad + "'");
  }
  expect(db + " jobs list --limit 1.5", "--limit must be a whole number between 1 and 100000");
  expect(db + " jobs list --limit 0x10", "--limit must be a whole number between 1 and 100000");
  expect(db + " enqueue k --run-at 2027-02-31T00:00:00Z",
         "--run-at: invalid time '2027-02-31T00:00:00Z': 2027-02 has 28 days");
  expect(db + " enqueue k --run-at 2026-01-31T12:00:00", "no UTC offset");
  expect(db + " enqueue k --run-at 2026-01-31T25:00:00Z", "between 00:00:00 and 23:59:59");
  expect(db + " enqueue k --timeout 0s", "--timeout must be longer than 0s");
  expect(db + " enqueue k --timeout -5s", "--timeout: invalid duration '-5s'");
  expect(db + " enqueue k --delay 99999999999999999999h", "longer than 100 years");
  expect(db + " bench --n 1.5", "--n must be a whole number between 1 and 2147483647, got '1.5'");
  expect(db + " bench --workers 99999999999999999999", "--workers must be a whole number");

  // serve, with a configuration it would otherwise run.
  std::string cfg = TempFile("strict.toml");
  std::string kind = "[kinds.k]\ncommand = [\"/bin/true\"]\n";
  std::ofstream(cfg) << kind;
  std::string serve = db + " --config " + Quote(cfg) + " serve";
  for (const char* bad : {"1.5", "0", "-1", "1e3", "0x10", "99999999999999999999"}) {
    expect(serve + " --partition " + bad,
           std::string("--partition must be a whole number between 1 and 10000, or auto, got '") +
               bad + "'");
  }
  std::ofstream(cfg) << kind << "[queues.default]\nconcurrency = 4294967297\n";
  expect(serve, "'queues.default.concurrency' must be a whole number between 1 and 10000, got "
                "4294967297");
  std::ofstream(cfg) << kind << "[worker]\nfetch_batch_max = 1.5\n";
  expect(serve, "'worker.fetch_batch_max' must be a whole number between 1 and 10000, got 1.5");
  std::ofstream(cfg) << kind << "max_attempts = 4294967297\n";
  expect(serve, "'kinds.k.max_attempts' must be a whole number between 1 and 2147483647");
  std::ofstream(cfg) << kind << "timeout = \"0s\"\n";
  expect(serve, "'kinds.k.timeout' must be longer than 0s");
  std::ofstream(cfg) << kind << "[worker]\nlease = \"0ms\"\n";
  expect(serve, "'worker.lease' must be longer than 0s");
  std::ofstream(cfg) << kind << "[cluster]\nheartbeat_interval = \"1s30s\"\n";
  expect(serve, "'cluster.heartbeat_interval': invalid duration '1s30s'");
  std::ofstream(cfg) << kind << "[cluster]\npartition = 2.5\n";
  expect(serve, "'cluster.partition' must be a whole number between 1 and 10000, or \"auto\"");

  EXPECT_EQ(Count("true"), 0) << "nothing was enqueued";
  EXPECT_TRUE(client_->Members().members.empty()) << "no worker registered";
}

// --run-at takes RFC 3339 with any offset and fractional seconds.
TEST_P(ProcessTest, CliRunAtAcceptsAnyOffsetAndFractions) {
  using namespace std::chrono;
  std::string db = "--database " + Quote(db_->url());
  SysTime expected = sys_days(year(2030) / 6 / 1) + 12h + 250ms;
  for (const char* at : {"2030-06-01T12:00:00.25Z", "2030-06-01T14:00:00.250+02:00",
                         "2030-06-01T06:30:00.250000-05:30"}) {
    auto r = Cli(db + " enqueue k --run-at " + at);
    ASSERT_EQ(r.status, 0) << at << "\n" << r.output;
    Job j = client_->Get(r.output.substr(0, 36));
    EXPECT_EQ(j.run_at, expected) << at;
    EXPECT_EQ(j.state, JobState::kScheduled) << at;
  }
}

// A child with the stop signals and SIGPIPE at their defaults, whatever this test inherited (it
// may run under nohup). With `closed_stderr`, its stderr is a pipe nobody reads any more
// (`spindle serve 2>&1 | head -1`, after head exited). SIGKILLed if still running at the end.
class Child {
 public:
  Child(const std::vector<std::string>& argv, bool closed_stderr) {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (closed_stderr) posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int sig : {SIGHUP, SIGINT, SIGTERM, SIGPIPE}) sigaddset(&defaults, sig);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int err = posix_spawn(&pid_, args[0], &fa, &attr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(fds[0]);  // the reader goes away at once
    close(fds[1]);
    if (err != 0) throw std::runtime_error("cannot start " + argv[0]);
  }
  ~Child() {
    if (Running()) kill(pid_, SIGKILL);
    Wait();
  }
  bool Running() {
    if (status_ >= 0) return false;
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) != pid_) return true;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return false;
  }
  void Signal(int sig) { kill(pid_, sig); }
  // The exit status, or 128+signal.
  int Wait() {
    if (status_ < 0) {
      int st = 0;
      waitpid(pid_, &st, 0);
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    return status_;
  }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

// Losing the log destination never stops the worker: writes to the closed pipe fail (no
// SIGPIPE), and jobs, including a failing one that is logged, still run to their end.
TEST_P(ProcessTest, ServeKeepsWorkingWhenItsLogPipeIsClosed) {
  std::string cfg = TempFile("closed_log.toml");
  std::ofstream(cfg) << "[worker]\nshutdown_grace = \"5s\"\n"
                     << "[kinds.ok]\ncommand = [\"/bin/sh\", \"-c\", \"cat >/dev/null\"]\n"
                     << "[kinds.bad]\ncommand = [\"/bin/sh\", \"-c\", "
                     << "\"cat >/dev/null; echo boom >&2; echo twice >&2; exit 3\"]\n";
  Child serve(
      {SPINDLE_BIN, "--database", db_->url(), "--config", cfg, "--log-level", "debug", "serve"},
      /*closed_stderr=*/true);
  std::string ok = client_->Enqueue({.kind = "ok"});
  std::string bad = client_->Enqueue({.kind = "bad", .max_attempts = 1});
  ASSERT_TRUE(WaitUntil([&] {
    return !serve.Running() || (client_->Get(ok).state == JobState::kCompleted &&
                                client_->Get(bad).state == JobState::kFailed);
  }, 120s)) << "ok is " << ToString(client_->Get(ok).state);
  ASSERT_TRUE(serve.Running()) << "serve exited with " << serve.Wait();
  EXPECT_EQ(client_->Get(ok).state, JobState::kCompleted);
  EXPECT_EQ(client_->Get(bad).state, JobState::kFailed);
  serve.Signal(SIGTERM);
  EXPECT_EQ(serve.Wait(), 0);
  EXPECT_TRUE(client_->Members().members.empty());
}

// SIGHUP (a closed terminal) stops serve gracefully, like SIGTERM: its running job finishes
// within shutdown_grace, it deregisters and exits 0.
TEST_P(ProcessTest, ServeStopsGracefullyOnSighup) {
  std::string cfg = TempFile("sighup.toml");
  std::string started = TempFile("sighup.started");
  std::ofstream(cfg) << "[worker]\nshutdown_grace = \"60s\"\n"
                     << "[cluster]\nheartbeat_interval = \"200ms\"\n"
                     << "[kinds.slow]\ncommand = [\"/bin/sh\", \"-c\", \"cat >/dev/null; touch "
                     << started << "; sleep 1\"]\n";
  Child serve({SPINDLE_BIN, "--database", db_->url(), "--config", cfg, "serve"}, false);
  std::string id = client_->Enqueue({.kind = "slow"});
  ASSERT_TRUE(WaitUntil([&] { return std::ifstream(started).good(); }, 120s));
  ASSERT_EQ(client_->Members().members.size(), 1u);
  serve.Signal(SIGHUP);
  EXPECT_EQ(serve.Wait(), 0);
  EXPECT_EQ(client_->Get(id).state, JobState::kCompleted) << "the running job finished";
  EXPECT_TRUE(client_->Members().members.empty()) << "deregistered";
}

// While serve stops, a second stop signal of any kind, a second or more after the first, ends
// it at once.
TEST_P(ProcessTest, ASecondStopSignalEndsServeAtOnce) {
  std::string cfg = TempFile("second_signal.toml");
  std::string started = TempFile("second_signal.started");
  std::ofstream(cfg) << "[worker]\nshutdown_grace = \"60s\"\n"
                     << "[kinds.slow]\ncommand = [\"/bin/sh\", \"-c\", \"cat >/dev/null; touch "
                     << started << "; exec sleep 10\"]\n";
  Child serve({SPINDLE_BIN, "--database", db_->url(), "--config", cfg, "serve"}, false);
  client_->Enqueue({.kind = "slow"});
  ASSERT_TRUE(WaitUntil([&] { return std::ifstream(started).good(); }, 120s));
  serve.Signal(SIGHUP);
  // Within a second of the first: the same request delivered twice (`timeout` signals the
  // process, then its process group), not a second one.
  serve.Signal(SIGTERM);
  std::this_thread::sleep_for(2500ms);
  serve.Signal(SIGINT);  // the graceful stop would wait for the 10 s job and exit 0
  EXPECT_EQ(serve.Wait(), 128 + SIGINT);
}

// `spindle serve` runs external commands from its configuration and stops cleanly on SIGTERM.
TEST_P(ProcessTest, ServeRunsConfiguredCommandsAndStopsOnSigterm) {
  std::string cfg = TempFile("serve.toml");
  std::ofstream(cfg) << "[worker]\nshutdown_grace = \"5s\"\n"
                     << "[queues.default]\nconcurrency = 2\n"
                     << "[kinds.echo]\ncommand = [\"/bin/sh\", \"-c\", \"cat >/dev/null\"]\n"
                     << "timeout = \"10s\"\nmax_attempts = 2\n";
  Process serve({SPINDLE_BIN, "--database", db_->url(), "--config", cfg, "serve"});
  auto r = Cli("--database " + Quote(db_->url()) + " --config " + Quote(cfg) +
               " enqueue echo --args '{\"n\":1}'");
  ASSERT_EQ(r.status, 0) << r.output;
  std::string id = r.output.substr(0, 36);
  EXPECT_EQ(client_->Get(id).max_attempts, 2) << "the kind's max_attempts applies";
  ASSERT_TRUE(WaitUntil([&] { return client_->Get(id).state == JobState::kCompleted; }));
  r = Cli("--database " + Quote(db_->url()) + " --config " + Quote(cfg) + " enqueue nope");
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.output.find("unknown kind 'nope'"), std::string::npos) << r.output;
  serve.Signal(SIGTERM);
  EXPECT_EQ(serve.Wait(), 0);
}

// A fan-out of 100 children and its fan-in, through `spindle serve` running the documented shell
// example as two command kinds; one child fails and its parent sees it.
TEST_P(ProcessTest, ServeFansOutAHundredChildrenAndTheParentSeesTheFailedOne) {
  std::string script = std::string(SOURCE_DIR) + "/examples/fan_out.sh";
  std::string cfg = TempFile("fan_out.toml");
  std::ofstream(cfg) << "[kinds.sum_squares]\ncommand = [\"/bin/sh\", \"" << script << "\"]\n"
                     << "[kinds.square]\ncommand = [\"/bin/sh\", \"" << script << "\"]\n";
  Process serve({SPINDLE_BIN, "--database", db_->url(), "--config", cfg, "serve"});
  Json numbers = Json::array();
  int64_t expected = 0;
  for (int n = 0; n < 100; ++n) {
    int v = n == 42 ? -42 : n;  // squaring a negative number fails
    numbers.push_back(v);
    if (v >= 0) expected += v * v;
  }
  auto r = Cli("--database " + Quote(db_->url()) + " enqueue sum_squares --args " +
               Quote(Json{{"numbers", numbers}}.dump()));
  ASSERT_EQ(r.status, 0) << r.output;
  std::string id = r.output.substr(0, 36);
  ASSERT_TRUE(WaitUntil([&] { return client_->Get(id).state == JobState::kCompleted; }, 180s))
      << "the parent is " << ToString(client_->Get(id).state);
  r = Cli("--database " + Quote(db_->url()) + " jobs show " + id + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  Json shown = Json::parse(r.output);
  EXPECT_EQ(shown["result"], (Json{{"sum", expected}, {"failed", 1}}));
  EXPECT_EQ(shown["children_total"], 100);
  EXPECT_EQ(shown["children_pending"], 0);
  EXPECT_EQ(Count("parent_id IS NOT NULL AND state = 'completed'"), 99);
  EXPECT_EQ(Count("parent_id IS NOT NULL AND state = 'failed'"), 1);
  serve.Signal(SIGTERM);
  EXPECT_EQ(serve.Wait(), 0);
}

// `spindle serve` joins the cluster with its partition, roles and configured assignment commands;
// `spindle workers list` shows it, and it is gone after a clean stop.
TEST_P(ProcessTest, ServeJoinsTheClusterAndWorkersListShowsIt) {
  std::string cfg = TempFile("cluster.toml");
  std::string out = TempFile("assignment.out");
  std::ofstream(cfg) << "[cluster]\nheartbeat_interval = \"200ms\"\nstability_period = \"0s\"\n"
                     << "[kinds.echo]\ncommand = [\"/bin/true\"]\n"
                     << "[assignments.copy]\nrole = \"replicator\"\n"
                     << "command = [\"/bin/sh\", \"-c\", \"echo up >> " << out
                     << "; exec sleep 600\"]\n";
  std::string db = "--database " + Quote(db_->url());
  EXPECT_EQ(Cli(db + " serve --partition 0").status, 2);
  Process serve({SPINDLE_BIN, "--database", db_->url(), "--config", cfg, "serve", "--partition",
                 "auto", "--role", "replicator"});
  Json w;
  ASSERT_TRUE(WaitUntil([&] {
    auto r = Cli(db + " workers list --json");
    if (r.status != 0) return false;
    auto ws = Json::parse(r.output)["workers"];
    if (ws.size() != 1 || !ws[0]["leader"].get<bool>() || ws[0]["partition_count"] != 1) {
      return false;
    }
    w = ws[0];
    return true;
  }, 30s));
  EXPECT_EQ(w["partition"], 1);
  EXPECT_EQ(w["roles"], Json::array({"replicator"}));
  EXPECT_EQ(w["queues"], Json::array({"default"}));
  auto r = Cli(db + " workers list");
  EXPECT_NE(r.output.find(w["id"].get<std::string>()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1/1"), std::string::npos) << r.output;
  ASSERT_TRUE(WaitUntil([&] { return std::ifstream(out).good(); }, 30s));
  EXPECT_EQ(client_->Assignments().size(), 1u);

  serve.Signal(SIGTERM);
  EXPECT_EQ(serve.Wait(), 0);
  r = Cli(db + " workers list --json");
  EXPECT_EQ(Json::parse(r.output)["workers"].size(), 0u) << r.output;
  EXPECT_TRUE(client_->Assignments().empty());
}

// Job, queue and cluster control from the command line, including refusals with exit code 4.
// `spindle jobs stop` and `jobs cancel` from another process reach the worker that runs the job
// within a fraction of a second, not at its next lease renewal (a lease of 60 s renews every
// ~19 s): through NOTIFY on PostgreSQL, through the control version the listener reads every
// 250 ms on SQLite.
TEST_P(ProcessTest, AStopOrCancelFromAnotherProcessReachesTheRunningJobAtOnce) {
  std::string db = "--database " + Quote(db_->url());
  Process worker({TEST_WORKER_BIN, db_->url(), "--lease", "60000", "--sleep", "600000"});
  ASSERT_FALSE(worker.ReadLine().empty());
  for (const std::string action : {"stop", "cancel"}) {
    std::string id = client_->Enqueue({.kind = "work"});
    ASSERT_TRUE(WaitUntil([&] { return client_->Get(id).state == JobState::kRunning; }, 60s));
    auto r = Cli(db + " jobs " + action + " " + id);
    ASSERT_EQ(r.status, 0) << r.output;
    auto told = std::chrono::steady_clock::now();
    // The handler has returned when its refused outcome ends the lease the attempt kept.
    ASSERT_TRUE(WaitUntil([&] { return client_->Get(id).lease_owner.empty(); }, 60s));
    EXPECT_LT(std::chrono::steady_clock::now() - told, 5s)
        << action << " reached the worker only at its lease renewal";
  }
}

TEST_P(ProcessTest, CliControlsJobsQueuesAndTheCluster) {
  std::string db = "--database " + Quote(db_->url());
  std::string id = client_->Enqueue({.kind = "k", .queue = "mail"});
  auto r = Cli(db + " jobs stop " + id + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(Json::parse(r.output)["state"], "stopped");
  r = Cli(db + " jobs stop " + id);
  EXPECT_EQ(r.status, 4) << r.output;
  EXPECT_NE(r.output.find("cannot stop job " + id + ": it is stopped"), std::string::npos)
      << r.output;
  EXPECT_EQ(Cli(db + " jobs resume " + id).status, 0);
  EXPECT_EQ(client_->Get(id).state, JobState::kAvailable);
  EXPECT_EQ(Cli(db + " jobs resume " + id).status, 4);
  r = Cli(db + " jobs show " + id);
  EXPECT_NE(r.output.find("history:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("  stopped"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("  available   resumed"), std::string::npos) << r.output;
  EXPECT_EQ(Json::parse(Cli(db + " jobs show " + id + " --json").output)["history"].size(), 3u);


  r = Cli(db + " queues pause mail --json");
  ASSERT_EQ(r.status, 0) << r.output;
  auto qs = Json::parse(r.output);
  ASSERT_EQ(qs.size(), 1u) << r.output;
  EXPECT_EQ(qs[0]["name"], "mail");
  EXPECT_EQ(qs[0]["paused"], true);
  EXPECT_EQ(qs[0]["jobs"]["available"], 1);
  r = Cli(db + " queues list");
  EXPECT_NE(r.output.find("yes"), std::string::npos) << r.output;
  EXPECT_EQ(Cli(db + " queues resume mail").status, 0);
  EXPECT_FALSE(client_->Queues()[0].paused_at.has_value());

  r = Cli(db + " cluster stop --reason 'disk full'");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("stopped since"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("disk full"), std::string::npos) << r.output;
  r = Cli(db + " cluster stop");
  EXPECT_EQ(r.status, 4) << r.output;
  EXPECT_NE(r.output.find("disk full"), std::string::npos) << r.output;
  // Times in messages read as in JSON: RFC 3339, UTC, milliseconds.
  EXPECT_TRUE(std::regex_search(
      r.output, std::regex(R"(stopped since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \()")))
      << r.output;
  r = Cli(db + " cluster status --json");
  EXPECT_EQ(Json::parse(r.output)["stopped"], true) << r.output;
  EXPECT_EQ(Cli(db + " cluster resume").status, 0);
  r = Cli(db + " cluster status");
  EXPECT_NE(r.output.find("running"), std::string::npos) << r.output;
  EXPECT_EQ(Cli(db + " cluster resume").status, 4);

  // A running parent that reported progress and then enqueued two children, as a worker would.
  std::string parent = client_->Enqueue({.kind = "p", .queue = "parents"});
  Store& store = client_->store();
  ASSERT_EQ(store.JobFetch({.queue = "parents", .worker_id = "w", .kinds = {"p"}}).size(), 1u);
  ASSERT_TRUE(store.JobSave("w", {parent, 1}, {.progress = Json{{"fraction", 0.5},
                                                                {"message", "half way"}}}));
  ASSERT_TRUE(store.JobSave("w", {parent, 1},
                            {.step = "gather", .children = {{.kind = "c"}, {.kind = "c"}}}));
  r = Cli(db + " jobs show " + parent);
  EXPECT_NE(r.output.find("state:        waiting"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("progress:     50% half way"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("children:     2 (2 unfinished"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("waiting     2 children, then step gather"), std::string::npos)
      << r.output;
  r = Cli(db + " jobs list --parent " + parent + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(Json::parse(r.output)["jobs"].size(), 2u);
}

// A six-step job whose worker is SIGKILLed during each step in turn: each time it resumes at that
// step with that step's checkpoint, and steps already checkpointed never run again.
TEST_P(ProcessTest, ASixStepJobResumesAtTheStepItsWorkerDiedIn) {
  std::string effects = TempFile("six");
  std::string id = client_->Enqueue({.kind = "six"});
  std::vector<std::string> argv = {TEST_WORKER_BIN, db_->url(), "--effects", effects,
                                   "--lease", "60000", "--hb-interval", "300",
                                   "--hb-timeout", "2000", "--step-ms", "400"};
  auto lines = [&](const std::string& prefix) {
    std::vector<std::string> out;
    std::ifstream in(effects);
    for (std::string l; std::getline(in, l);) {
      if (l.rfind(prefix, 0) == 0) out.push_back(l.substr(prefix.size()));
    }
    return out;
  };
  for (int k = 1; k <= 6; ++k) {
    std::string step = "s" + std::to_string(k);
    Process w(argv);
    ASSERT_FALSE(w.ReadLine().empty());
    // Killed in its first run of this step (the worker before died in the step before).
    ASSERT_TRUE(WaitUntil([&] { return lines("start " + id + " " + step + " ").size() == 1; }))
        << step;
    w.Signal(SIGKILL);
    w.Wait();
  }
  Process last(argv);
  ASSERT_FALSE(last.ReadLine().empty());
  ASSERT_TRUE(WaitUntil([&] { return client_->Get(id).state == JobState::kCompleted; }));
  last.Signal(SIGTERM);
  EXPECT_EQ(last.Wait(), 0);

  Json done = Json::array();
  for (int k = 1; k <= 6; ++k) {
    std::string step = "s" + std::to_string(k);
    auto starts = lines("start " + id + " " + step + " ");
    ASSERT_EQ(starts.size(), 2u) << step << ": killed once, finished once";
    for (const auto& cp : starts) EXPECT_EQ(Json::parse(cp), done) << step;
    EXPECT_EQ(lines("end " + id + " " + step).size(), 1u) << step;
    done.push_back(step);
  }
  Job j = client_->Get(id);
  EXPECT_EQ(j.attempt, 7);
  EXPECT_EQ(j.step, "s6");
  EXPECT_EQ(j.checkpoint["done"].size(), 5u);
}

INSTANTIATE_TEST_SUITE_P(Backends, ProcessTest, ::testing::ValuesIn(testing::kAllBackends),
                         [](const auto& info) { return testing::Name(info.param); });

}  // namespace
}  // namespace spindle
