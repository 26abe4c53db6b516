// Long-lived helpers (docs/jobs.md, "Long-lived helpers"): one process runs many jobs of a kind,
// one at a time, and is recycled after max_jobs_per_process. Real processes throughout: the pool
// on its own (reuse, recycling, a helper that dies, hangs, ignores its end or cannot start),
// real workers on both backends (each job's side effect exactly once, jobs per process, a
// status that fails the job), and `spindle serve` from TOML SIGKILLed with a helper running.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "runtime/helper.h"
#include "testing.h"

namespace spindle {
namespace {

using namespace std::chrono_literals;
using runtime::HelperPool;
using runtime::LineUse;
using testing::BackendKind;
using testing::ReadFile;
using testing::Quote;
using testing::TestBackend;
using testing::WaitUntil;
using Clock = std::chrono::steady_clock;

// A helper in sh: for each job line it appends "PID JOBLINE" to $1 and ends the job with status 0
// and its pid as the result; a job line that says "fail" ends with status 3, "die" exits the
// helper, "hang" sleeps. At end of input it writes "bye PID" to $1 and exits.
const char* kHelper = R"(
while IFS= read -r line; do
  echo "$$ $line" >> "$1"
  case "$line" in
    *fail*) echo '{"status": 3, "error": "asked to fail"}' ;;
    *die*) echo 'dying' >&2; exit 4 ;;
    *hang*) sleep 600 ;;
    *badstatus*) echo '{"status": -1}' ;;
    *) echo "noise from $line" >&2; echo '{"progress": 0.5}'
       echo "{\"status\": 0, \"result\": {\"pid\": $$}}" ;;
  esac
done
echo "bye $$" >> "$1"
)";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool Alive(pid_t pid) { return kill(pid, 0) == 0; }

std::string TempDir(const std::string& name) {
  std::string dir =
      ::testing::TempDir() + "spindle_helper_" + std::to_string(getpid()) + "_" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

class HelperPoolTest : public ::testing::Test {
 protected:
  runtime::CommandRun Base(const char* script = kHelper) {
    runtime::CommandRun run;
    run.argv = {"/bin/sh", "-c", script, "sh", log_};
    run.kill_grace = 2s;
    return run;
  }
  // Runs one job; returns the pid its status line named (0 if none) and the outcome.
  std::pair<pid_t, HelperPool::Outcome> Job(HelperPool& pool, const std::string& input,
                                            Clock::duration timeout = 60s,
                                            const CancelToken* cancel = nullptr) {
    pid_t pid = 0;
    auto outcome = pool.Run(input + "\n", Clock::now() + timeout, cancel,
                            [&](std::string_view line) {
                              auto j = Json::parse(line, nullptr, false);
                              if (!j.is_object()) return LineUse::kOutput;
                              if (!j.contains("status")) return LineUse::kObeyed;
                              if (j.contains("result")) pid = j["result"]["pid"].get<pid_t>();
                              return LineUse::kEndsJob;
                            },
                            [](size_t) {});
    return {pid, outcome};
  }

  std::string dir_ = TempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::string log_ = dir_ + "/log";
};

TEST_F(HelperPoolTest, OneProcessRunsManyJobsAndIsRecycledAfterMaxJobs) {
  std::vector<pid_t> pids;
  {
    HelperPool pool(Base(), /*max_jobs=*/2);
    for (int i = 0; i < 5; ++i) {
      auto [pid, outcome] = Job(pool, "job " + std::to_string(i));
      ASSERT_TRUE(outcome.ended) << outcome.Describe();
      pids.push_back(pid);
    }
    EXPECT_EQ(pool.started(), 3u);
    EXPECT_EQ(pids[0], pids[1]);
    EXPECT_EQ(pids[2], pids[3]);
    EXPECT_NE(pids[1], pids[2]);
    EXPECT_NE(pids[3], pids[4]);
    // A retired helper is told by the end of its input, and exits.
    EXPECT_TRUE(WaitUntil([&] { return !Alive(pids[0]) && !Alive(pids[2]); }, 30s));
    EXPECT_TRUE(Alive(pids[4]));
  }
  // The pool's end retires the last one too; every job ran once, each helper said goodbye after
  // its jobs (a retiring helper's goodbye and the next one's first job may come in either order).
  EXPECT_FALSE(Alive(pids[4]));
  std::map<pid_t, std::vector<std::string>> lines, want;
  for (const auto& line : Lines(ReadFile(log_))) {
    const bool bye = line.rfind("bye ", 0) == 0;
    const std::string pid = bye ? line.substr(4) : line.substr(0, line.find(' '));
    lines[std::stoi(pid)].push_back(line);
  }
  for (int i = 0; i < 5; ++i) {
    want[pids[i]].push_back(std::to_string(pids[i]) + " job " + std::to_string(i));
    if (i % 2 == 1 || i == 4) want[pids[i]].push_back("bye " + std::to_string(pids[i]));
  }
  EXPECT_EQ(lines, want);
}

TEST_F(HelperPoolTest, JobsAtOnceGetAHelperEachAndIdleOnesAreReused) {
  // Each job waits until three have started (the log has three lines), so the first three run
  // at once however the threads are scheduled; later jobs do not wait.
  HelperPool pool(Base(R"sh(while IFS= read -r line; do echo "$$" >> "$1"
                          while [ "$(wc -l < "$1")" -lt 3 ]; do sleep 0.02; done
                          echo "{\"status\": 0, \"result\": {\"pid\": $$}}"; done)sh"),
                  0);
  std::set<pid_t> first, second;
  std::mutex mu;
  for (auto* seen : {&first, &second}) {
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; ++i) {
      threads.emplace_back([&, seen] {
        auto [pid, outcome] = Job(pool, "job");
        EXPECT_TRUE(outcome.ended) << outcome.Describe();
        std::lock_guard lock(mu);
        seen->insert(pid);
      });
    }
    for (auto& t : threads) t.join();
  }
  EXPECT_EQ(first.size(), 3u);
  for (pid_t pid : second) EXPECT_TRUE(first.count(pid)) << "a new helper while 3 were idle";
  EXPECT_EQ(pool.started(), 3u);
  EXPECT_EQ(pool.alive(), 3u);
}

TEST_F(HelperPoolTest, AHelperThatDiesEndsItsJobAndTheNextJobGetsANewOne) {
  HelperPool pool(Base(), 0);
  auto [first, ok] = Job(pool, "job a");
  ASSERT_TRUE(ok.ended);
  auto [none, died] = Job(pool, "job die");
  EXPECT_FALSE(died.ended);
  // Its stderr in the error is what it wrote for this job, not the earlier job's noise.
  EXPECT_EQ(died.Describe(),
            "the helper ended before the job did: exited with status 4; stderr: dying");
  auto [next, after] = Job(pool, "job b");
  EXPECT_TRUE(after.ended);
  EXPECT_NE(next, first);
  EXPECT_EQ(pool.started(), 2u);
  EXPECT_EQ(pool.alive(), 1u);
}

// Lines a helper writes while it runs no job put it out of step with its jobs: it is replaced
// rather than have its late status end the next job.
TEST_F(HelperPoolTest, AHelperOutOfStepIsReplaced) {
  HelperPool pool(Base(R"(while IFS= read -r line; do echo "$$ $line" >> "$1"
                          echo "{\"status\": 0, \"result\": {\"pid\": $$}}"
                          sleep 0.2; echo '{"status": 0, "result": "late"}'; done)"),
                  0);
  auto [first, one] = Job(pool, "job 1");
  ASSERT_TRUE(one.ended);
  // The late line arrives while the helper is idle.
  ASSERT_TRUE(WaitUntil([&] { return pool.out_of_step() == 1; }, 30s));
  auto [second, two] = Job(pool, "job 2");
  ASSERT_TRUE(two.ended);
  EXPECT_NE(second, first);
  EXPECT_EQ(pool.started(), 2u);
}

// A helper gone while idle (here it exits after each job) is replaced before the job is written
// to it: the job runs, on a new one.
TEST_F(HelperPoolTest, AnIdleHelperThatIsGoneIsReplacedBeforeItGetsTheJob) {
  HelperPool pool(
      Base(R"(IFS= read -r line; echo "{\"status\": 0, \"result\": {\"pid\": $$}}")"), 0);
  auto [first, one] = Job(pool, "job 1");
  ASSERT_TRUE(one.ended);
  ASSERT_TRUE(WaitUntil([&] { return !Alive(first); }, 30s));
  auto [second, two] = Job(pool, "job 2");
  EXPECT_TRUE(two.ended) << two.Describe();
  EXPECT_NE(second, first);
  // A job already cancelled takes no helper.
  CancelToken cancelled;
  cancelled.Cancel();
  auto [none, never] = Job(pool, "job 3", 60s, &cancelled);
  EXPECT_FALSE(never.ended);
  EXPECT_EQ(never.Describe(), "cancelled before it started");
  EXPECT_EQ(pool.started(), 2u);
}

// A program that reads its job and exits, as a one-shot command does, is told what a helper
// does instead.
TEST_F(HelperPoolTest, AOneShotProgramAsAHelperIsToldWhy) {
  HelperPool pool(Base("head -n 1 > /dev/null"), 0);
  auto [pid, outcome] = Job(pool, "job");
  EXPECT_FALSE(outcome.ended);
  EXPECT_EQ(outcome.Describe(),
            "the helper ended before the job did: exited with status 0 (a helper ends each job "
            "with a {\"status\": N} line and reads the next)");
}

TEST_F(HelperPoolTest, ADeadlineOrACancelKillsTheHelper) {
  HelperPool pool(Base(), 0);
  auto start = Clock::now();
  auto [none, late] = Job(pool, "job hang", 300ms);
  EXPECT_FALSE(late.ended);
  EXPECT_TRUE(late.process.timed_out);
  EXPECT_EQ(late.Describe().rfind("timed out after deadline; killed by SIGTERM", 0), 0u)
      << late.Describe();
  EXPECT_LT(Clock::now() - start, 30s);

  CancelToken token;
  std::thread canceller([&] {
    WaitUntil([&] { return ReadFile(log_).find("job hang 2") != std::string::npos; });
    token.Cancel();
  });
  auto [none2, cancelled] = Job(pool, "job hang 2", 60s, &token);
  canceller.join();
  EXPECT_FALSE(cancelled.ended);
  EXPECT_TRUE(cancelled.process.cancelled);
  EXPECT_FALSE(cancelled.process.timed_out);
  EXPECT_EQ(pool.alive(), 0u);
  auto [pid, ok] = Job(pool, "job c");
  EXPECT_TRUE(ok.ended);
  EXPECT_EQ(pool.started(), 3u);
}

// A helper that does not exit at the end of its input is killed kill_grace later.
TEST_F(HelperPoolTest, ARetiredHelperThatStaysIsKilled) {
  auto run = Base(R"(while :; do IFS= read -r line || sleep 600;
                     echo "{\"status\": 0, \"result\": {\"pid\": $$}}"; done)");
  run.kill_grace = 200ms;
  HelperPool pool(run, 1);
  auto [pid, ok] = Job(pool, "job");
  ASSERT_TRUE(ok.ended);
  EXPECT_TRUE(WaitUntil([&] { return !Alive(pid); }, 30s));
  EXPECT_TRUE(WaitUntil([&] { return pool.alive() == 0; }, 30s));
}

TEST_F(HelperPoolTest, AHelperThatCannotStartSaysWhy) {
  runtime::CommandRun run;
  run.argv = {"/nonexistent/helper"};
  HelperPool pool(run, 0);
  auto [pid, outcome] = Job(pool, "job");
  EXPECT_FALSE(outcome.ended);
  EXPECT_EQ(outcome.Describe(), "cannot execute '/nonexistent/helper': No such file or directory");
  EXPECT_EQ(pool.alive(), 0u);
}

class HelperWorkerTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override { client_ = Client::Open({db_->url()}); }
  Job Finished(const std::string& id) { return testing::WaitFinished(*client_, id); }

  std::unique_ptr<TestBackend> db_ = TestBackend::Make(GetParam());
  std::unique_ptr<Client> client_;
  std::string dir_ = TempDir("worker_" + testing::Name(GetParam()));
  std::string log_ = dir_ + "/log";
};

// Each job's side effect happens once, no helper runs more than its maximum, and a status other
// than 0 fails the job with the helper's message.
TEST_P(HelperWorkerTest, JobsRunOnceEachOnRecycledHelpers) {
  WorkerOptions o;
  o.database_url = db_->url();
  o.queues = {QueueOptions{"default", 2}};
  Worker w(o);
  w.RegisterCommand("h", {.argv = {"/bin/sh", "-c", kHelper, "sh", log_},
                          .helper = true,
                          .max_jobs_per_process = 3});
  w.Start();
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(client_->Enqueue({.kind = "h", .args = {{"n", i}}}));
  const std::string failing =
      client_->Enqueue({.kind = "h", .args = {{"say", "fail"}}, .max_attempts = 1});
  const std::string bad =
      client_->Enqueue({.kind = "h", .args = {{"say", "badstatus"}}, .max_attempts = 1});
  std::map<int64_t, int> jobs_per_pid;
  for (const auto& id : ids) {
    Job job = Finished(id);
    ASSERT_EQ(job.state, JobState::kCompleted)
        << (job.errors.empty() ? "" : job.errors.back().message);
    ++jobs_per_pid[job.result["pid"].get<int64_t>()];
  }
  Job failed = Finished(failing);
  EXPECT_EQ(failed.state, JobState::kFailed);
  ASSERT_FALSE(failed.errors.empty());
  EXPECT_EQ(failed.errors.back().message, "the helper ended the job with status 3: asked to fail");
  // A status line that is not obeyed ends the job too, rather than leave it to its timeout.
  Job refused = Finished(bad);
  EXPECT_EQ(refused.state, JobState::kFailed);
  ASSERT_FALSE(refused.errors.empty());
  EXPECT_EQ(refused.errors.back().message,
            "the helper ended the job with a status line that is not obeyed: 'status' must be a "
            "whole number from 0 to 255, got -1");
  w.Stop();

  EXPECT_GE(jobs_per_pid.size(), 4u);  // 10 jobs, at most 3 per process
  for (const auto& [pid, n] : jobs_per_pid) EXPECT_LE(n, 3) << "pid " << pid;
  // From the helpers' side: each job's line once; and every helper was told to end (the
  // recycled ones, and the idle ones at Stop) and did.
  std::map<std::string, int> runs;
  std::set<std::string> helpers, byes;
  for (const auto& line : Lines(ReadFile(log_))) {
    const std::string first = line.substr(0, line.find(' '));
    const std::string rest = line.substr(line.find(' ') + 1);
    if (first == "bye") {
      byes.insert(rest);
      continue;
    }
    helpers.insert(first);
    ++runs[Json::parse(rest)["id"].get<std::string>()];
  }
  EXPECT_EQ(runs.size(), 12u);
  for (const auto& [id, n] : runs) EXPECT_EQ(n, 1) << id;
  EXPECT_EQ(byes, helpers);
}

TEST_P(HelperWorkerTest, MaxJobsWithoutAHelperIsRefused) {
  Worker w(WorkerOptions{.database_url = db_->url()});
  try {
    w.RegisterCommand("h", {.argv = {"/bin/true"}, .max_jobs_per_process = 2});
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("max_jobs_per_process recycles a long-lived helper"),
              std::string::npos)
        << e.what();
  }
}

// `spindle serve` from TOML: a helper serves jobs; SIGKILL the worker while one runs and the
// helper goes with it (no command outlives its worker); TOML mistakes are refused.
TEST_P(HelperWorkerTest, ServeRunsAHelperThatDiesWithIt) {
  const std::string config = dir_ + "/spindle.toml";
  std::ofstream(config) << "[kinds.h]\ncommand = [\"/bin/sh\", \"-c\", " << Json(kHelper).dump()
                        << ", \"sh\", " << Json(log_).dump()
                        << "]\nhelper = true\nmax_jobs_per_process = 100\n";
  testing::Process serve({SPINDLE_BIN, "--database", db_->url(), "--config", config, "serve"});
  const std::string done = client_->Enqueue({.kind = "h"});
  EXPECT_EQ(Finished(done).state, JobState::kCompleted);
  const int64_t pid = client_->Get(done).result["pid"].get<int64_t>();
  const std::string hanging = client_->Enqueue({.kind = "h", .args = {{"say", "hang"}}});
  ASSERT_TRUE(WaitUntil([&] { return ReadFile(log_).find(hanging) != std::string::npos; }, 60s));
  for (const auto& line : Lines(ReadFile(log_))) {
    if (line.find(hanging) != std::string::npos) {
      EXPECT_EQ(line.substr(0, line.find(' ')), std::to_string(pid)) << "the same helper";
    }
  }
  EXPECT_TRUE(Alive(static_cast<pid_t>(pid)));
  serve.Signal(SIGKILL);
  serve.Wait();
  EXPECT_TRUE(WaitUntil([&] { return !Alive(static_cast<pid_t>(pid)); }, 30s));

  const std::string bad = dir_ + "/bad.toml";
  EXPECT_TRUE(testing::ServeRefuses(db_->url(), bad,
                                    "[kinds.h]\ncommand = [\"true\"]\nmax_jobs_per_process = 2\n",
                                    "'kinds.h.max_jobs_per_process' recycles a long-lived helper: "
                                    "set 'kinds.h.helper = true' too"));
  EXPECT_TRUE(testing::ServeRefuses(db_->url(), bad, "[kinds.h]\nhelper = 1\n",
                                    "'kinds.h.helper' must be true or false, got 1"));
  EXPECT_TRUE(testing::ServeRefuses(db_->url(), bad, "[kinds.h]\nhelper = true\n",
                                    "'kinds.h.helper' needs a command"));
}

INSTANTIATE_TEST_SUITE_P(Backends, HelperWorkerTest, ::testing::ValuesIn(testing::kAllBackends),
                         [](const auto& info) { return testing::Name(info.param); });

}  // namespace
}  // namespace spindle
