// The worker runtime against a real PostgreSQL: handlers, outcomes, timeouts, commands,
// competition between workers, shutdown and reconnection.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <map>
#include <mutex>
#include <set>

#include <spdlog/sinks/base_sink.h>

#include "core/log.h"
#include "testing.h"

namespace spindle {
namespace {

using namespace std::chrono_literals;
using testing::BackendKind;
using testing::TestBackend;
using testing::WaitUntil;

// Keeps the library's log records, at debug and above, while it lives.
class LogCapture {
 public:
  LogCapture() : level_(core::Log().level()) {
    core::Log().sinks().push_back(sink_);
    core::Log().set_level(spdlog::level::debug);
  }
  ~LogCapture() {
    auto& sinks = core::Log().sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
    core::Log().set_level(level_);
  }
  // The records at `level` that hold every one of `parts`.
  std::vector<std::string> Find(spdlog::level::level_enum level,
                                const std::vector<std::string>& parts) {
    std::vector<std::string> found;
    for (const auto& [l, text] : sink_->Records()) {
      bool all = l == level;
      for (const auto& p : parts) all = all && text.find(p) != std::string::npos;
      if (all) found.push_back(text);
    }
    return found;
  }
  // Every record that holds `part`, whatever its level.
  std::vector<std::pair<spdlog::level::level_enum, std::string>> About(const std::string& part) {
    std::vector<std::pair<spdlog::level::level_enum, std::string>> found;
    for (const auto& r : sink_->Records()) {
      if (r.second.find(part) != std::string::npos) found.push_back(r);
    }
    return found;
  }

 private:
  class Sink : public spdlog::sinks::base_sink<std::mutex> {
   public:
    std::vector<std::pair<spdlog::level::level_enum, std::string>> Records() {
      std::lock_guard lock(mutex_);
      return records_;
    }

   protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
      records_.emplace_back(msg.level, std::string(msg.payload.data(), msg.payload.size()));
    }
    void flush_() override {}

   private:
    std::vector<std::pair<spdlog::level::level_enum, std::string>> records_;
  };
  std::shared_ptr<Sink> sink_ = std::make_shared<Sink>();
  spdlog::level::level_enum level_;
};

class WorkerTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    client_ = Client::Open({db_->url()});
    db_->InstallFinishLog();
  }

  WorkerOptions Options(int concurrency = 4) {
    WorkerOptions o;
    o.database_url = db_->url();
    o.queues = {QueueOptions{"default", concurrency}};
    o.backoff = {.base = 10ms, .max = 50ms, .jitter = 0.1};
    o.rescue_interval = 200ms;
    o.shutdown_grace = 5s;
    return o;
  }

  JobState StateOf(const std::string& id) { return client_->Get(id).state; }
  bool Finished(const std::string& id) { return IsFinal(StateOf(id)); }
  int64_t FinishCount() { return db_->QueryInt("SELECT count(*) FROM test_finish"); }
  int64_t Count(const std::string& where) {
    return db_->QueryInt("SELECT count(*) FROM {jobs} WHERE " + where);
  }

  std::unique_ptr<TestBackend> db_ = TestBackend::Make(GetParam());
  std::unique_ptr<Client> client_;
};

TEST_P(WorkerTest, RunsAHandlerAndCompletesTheJob) {
  Worker w(Options());
  std::atomic<int> calls{0};
  Json seen;
  w.Register("greet", [&](JobContext& ctx) {
    seen = ctx.job.args;
    ++calls;
    return JobResult::Done();
  });
  w.Start();
  std::string id = client_->Enqueue({.kind = "greet", .args = {{"name", "ada"}}});
  ASSERT_TRUE(WaitUntil([&] { return Finished(id); }));
  Job j = client_->Get(id);
  EXPECT_EQ(j.state, JobState::kCompleted);
  EXPECT_EQ(j.attempt, 1);
  EXPECT_TRUE(j.errors.empty());
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(seen, (Json{{"name", "ada"}}));
}

TEST_P(WorkerTest, RecordsTheDefaultsOfTheKindsItHandlesAndTheirJobsRunWithThem) {
  WorkerOptions o = Options();
  o.queues = {QueueOptions{"images", 2}};
  o.kinds = {{"img", {.queue = "images", .max_attempts = 3, .timeout = 200ms}},
             {"unhandled", {.queue = "nowhere"}}};
  Worker w(o);
  std::atomic<int> calls{0};
  w.Register("img", [&](JobContext& ctx) -> JobResult {
    ++calls;
    ctx.cancel.WaitFor(10s);  // until the kind's timeout cancels it
    return JobResult::Error("slow");
  });
  w.Start();
  auto kinds = client_->Kinds();
  ASSERT_EQ(kinds.size(), 1u) << "recorded a kind it has no handler for";
  EXPECT_EQ(kinds[0].kind, "img");
  EXPECT_EQ(kinds[0].worker, w.id());
  auto members = client_->Members().members;
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].info.kinds, std::vector<std::string>{"img"});
  EXPECT_EQ(members[0].info.concurrency, (std::map<std::string, int>{{"images", 2}}));
  EXPECT_TRUE(members[0].Serves("img", "images"));
  EXPECT_FALSE(members[0].Serves("img", "default"));

  // Enqueued without a queue, the job goes where the worker serves it, and runs with the
  // kind's attempts and timeout.
  std::string id = client_->Enqueue({.kind = "img"});
  ASSERT_TRUE(WaitUntil([&] { return Finished(id); }));
  Job j = client_->Get(id);
  EXPECT_EQ(j.queue, "images");
  EXPECT_EQ(j.state, JobState::kFailed);
  EXPECT_EQ(j.attempt, 3);
  EXPECT_NE(j.errors.back().message.find("timed out after 200ms"), std::string::npos)
      << j.errors.back().message;
}

TEST_P(WorkerTest, RefusesInvalidKindDefaults) {
  WorkerOptions o = Options();
  o.kinds = {{"img", {.max_attempts = 0}}};
  try {
    Worker w(o);
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(std::string(e.what()), "kind 'img': max_attempts must be at least 1");
  }
}

TEST_P(WorkerTest, ThrownExceptionsAreRecordedAndRetried) {
  Worker w(Options());
  std::atomic<int> calls{0};
  w.Register("flaky", [&](JobContext&) -> JobResult {
    if (++calls < 3) throw std::runtime_error("boom " + std::to_string(calls.load()));
    return JobResult::Done();
  });
  w.Start();
  std::string id = client_->Enqueue({.kind = "flaky"});
  ASSERT_TRUE(WaitUntil([&] { return Finished(id); }));
  Job j = client_->Get(id);
  EXPECT_EQ(j.state, JobState::kCompleted);
  EXPECT_EQ(j.attempt, 3);
  ASSERT_EQ(j.errors.size(), 2u);
  EXPECT_EQ(j.errors[0].message, "handler threw: boom 1");
  EXPECT_EQ(j.errors[1].attempt, 2);
}

TEST_P(WorkerTest, ErrorsExhaustMaxAttemptsThenFail) {
  Worker w(Options());
  std::atomic<int> calls{0};
  w.Register("bad", [&](JobContext&) {
    ++calls;
    return JobResult::Error("nope");
  });
  w.Register("discard", [&](JobContext&) { return JobResult::Discard("hopeless"); });
  w.Start();
  std::string id = client_->Enqueue({.kind = "bad", .max_attempts = 3});
  std::string d = client_->Enqueue({.kind = "discard", .max_attempts = 3});
  std::string unknown = client_->Enqueue({.kind = "nobody_handles_this", .max_attempts = 1});
  ASSERT_TRUE(WaitUntil([&] { return Finished(id) && Finished(d); }));
  Job j = client_->Get(id);
  EXPECT_EQ(j.state, JobState::kFailed);
  EXPECT_EQ(j.attempt, 3);
  EXPECT_EQ(j.errors.size(), 3u);
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(client_->Get(d).state, JobState::kFailed);
  EXPECT_EQ(client_->Get(d).attempt, 1);
  // A kind this worker has no handler for is left for a worker that has one.
  Job u = client_->Get(unknown);
  EXPECT_EQ(u.state, JobState::kAvailable);
  EXPECT_EQ(u.attempt, 0);
}

TEST_P(WorkerTest, TimeoutCancelsTheHandlersToken) {
  Worker w(Options());
  std::atomic<bool> saw_cancel{false};
  w.Register("slow", [&](JobContext& ctx) {
    if (ctx.cancel.WaitFor(60s)) saw_cancel = true;
    return JobResult::Error("gave up");
  });
  w.Start();
  auto t0 = std::chrono::steady_clock::now();
  std::string id = client_->Enqueue({.kind = "slow", .max_attempts = 1, .timeout = 300ms});
  ASSERT_TRUE(WaitUntil([&] { return Finished(id); }));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 30s);
  EXPECT_TRUE(saw_cancel);
  Job j = client_->Get(id);
  EXPECT_EQ(j.state, JobState::kFailed);
  ASSERT_EQ(j.errors.size(), 1u);
  EXPECT_EQ(j.errors[0].message, "timed out after 300ms; gave up");
}

TEST_P(WorkerTest, RefusesClusterOptionsThatCannotWork) {
  auto o = Options();
  o.cluster.heartbeat_interval = 2s;
  o.cluster.heartbeat_timeout = 3s;  // less than two heartbeats
  try {
    Worker w(o);
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("heartbeat_timeout"), std::string::npos) << e.what();
  }
  o = Options();
  o.cluster.partition = -1;
  EXPECT_THROW(Worker{o}, Error);
}

TEST_P(WorkerTest, RefusesToStartWithoutHandlers) {
  Worker w(Options());
  try {
    w.Start();
    FAIL() << "started";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
}

TEST_P(WorkerTest, UnstorableMessagesAreCleanedNotFatal) {
  Worker w(Options());
  std::string ugly = std::string("bad\xff bytes and a \0 NUL ", 24) + std::string(100000, 'x');
  w.Register("ugly", [&](JobContext&) { return JobResult::Discard(ugly); });
  w.Register("fine", [](JobContext&) { return JobResult::Done(); });
  w.Start();
  std::string id = client_->Enqueue({.kind = "ugly"});
  std::string other = client_->Enqueue({.kind = "fine"});
  ASSERT_TRUE(WaitUntil([&] { return Finished(id) && Finished(other); }));
  Job j = client_->Get(id);
  EXPECT_EQ(j.state, JobState::kFailed);
  EXPECT_EQ(j.errors.at(0).message.rfind("bad\xef\xbf\xbd bytes", 0), 0u);
  EXPECT_LE(j.errors[0].message.size(), 16u * 1024);
  EXPECT_EQ(StateOf(other), JobState::kCompleted);
}

TEST_P(WorkerTest, SnoozeRunsAgainWithoutCountingTheAttempt) {
  Worker w(Options());
  std::atomic<int> calls{0};
  w.Register("snoozy", [&](JobContext&) {
    return ++calls == 1 ? JobResult::Snooze(50ms) : JobResult::Done();
  });
  w.Start();
  std::string id = client_->Enqueue({.kind = "snoozy", .max_attempts = 1});
  ASSERT_TRUE(WaitUntil([&] { return Finished(id); }));
  EXPECT_EQ(StateOf(id), JobState::kCompleted);
  EXPECT_EQ(calls.load(), 2);
}

class CommandTest : public WorkerTest {
 protected:
  std::string TempFile(const std::string& name) {
    return ::testing::TempDir() + "spindle_" + std::to_string(getpid()) + "_" +
           testing::Name(GetParam()) + "_" + name;
  }
};

TEST_P(CommandTest, CommandGetsTheJobOnStdinAndExitZeroCompletes) {
  std::string out = TempFile("stdin.json");
  Worker w(Options());
  // argv exactly as given: "$1" is expanded by sh from the argument, not by Spindle.
  w.RegisterCommand("dump", {.argv = {"/bin/sh", "-c", "cat > \"$1\"", "sh", out}});
  w.Start();
  std::string id = client_->Enqueue({.kind = "dump", .args = {{"x", "a b"}}});
  ASSERT_TRUE(WaitUntil([&] { return Finished(id); }));
  EXPECT_EQ(StateOf(id), JobState::kCompleted);
  std::ifstream f(out);
  Json got = Json::parse(f);
  EXPECT_EQ(got["id"], id);
  EXPECT_EQ(got["kind"], "dump");
  EXPECT_EQ(got["attempt"], 1);
  EXPECT_EQ(got["args"], (Json{{"x", "a b"}}));
  std::remove(out.c_str());
}

TEST_P(CommandTest, FailuresKeepTheStderrTail) {
  Worker w(Options());
  w.RegisterCommand("fails", {.argv = {"/bin/sh", "-c", "echo 'disk on fire' >&2; exit 3"}});
  w.RegisterCommand("tempfail", {.argv = {"/bin/sh", "-c", "echo later >&2; exit 75"}});
  w.Start();
  std::string id = client_->Enqueue({.kind = "fails", .max_attempts = 2});
  std::string t = client_->Enqueue({.kind = "tempfail", .max_attempts = 1});
  ASSERT_TRUE(WaitUntil([&] { return Finished(id) && Finished(t); }));
  Job j = client_->Get(id);
  EXPECT_EQ(j.state, JobState::kFailed);
  ASSERT_EQ(j.errors.size(), 2u);
  EXPECT_NE(j.errors[0].message.find("status 3"), std::string::npos) << j.errors[0].message;
  EXPECT_NE(j.errors[0].message.find("disk on fire"), std::string::npos) << j.errors[0].message;
  Job tj = client_->Get(t);
  EXPECT_NE(tj.errors.at(0).message.find("exit 75"), std::string::npos);
  EXPECT_NE(tj.errors.at(0).message.find("later"), std::string::npos);
}

TEST_P(CommandTest, TimeoutKillsTheCommand) {
  std::string pidfile = TempFile("pid");
  Worker w(Options());
  w.RegisterCommand("hang", {.argv = {"/bin/sh", "-c", "echo $$ > \"$1\"; exec sleep 60", "sh",
                                      pidfile},
                             .timeout = 300ms,
                             .kill_grace = 500ms});
  w.Start();
  auto t0 = std::chrono::steady_clock::now();
  std::string id = client_->Enqueue({.kind = "hang", .max_attempts = 1});
  ASSERT_TRUE(WaitUntil([&] { return Finished(id); }));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 30s);
  Job j = client_->Get(id);
  EXPECT_EQ(j.state, JobState::kFailed);
  EXPECT_NE(j.errors.at(0).message.find("timed out"), std::string::npos) << j.errors[0].message;
  int pid = 0;
  std::ifstream(pidfile) >> pid;
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(WaitUntil([&] { return kill(pid, 0) != 0; }, 10s)) << "command still alive";
  std::remove(pidfile.c_str());
}

// Several workers compete for 10,000 jobs: each is run once and finished once.
TEST_P(WorkerTest, CompetingWorkersFinishEveryJobExactlyOnce) {
  constexpr int kJobs = 10000;
  std::mutex mu;
  std::map<std::string, int> runs;
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < 4; ++i) {
    auto o = Options(8);
    o.fetch_batch_max = 50;  // small batches: more contention between fetchers
    workers.push_back(std::make_unique<Worker>(o));
    workers.back()->Register("count", [&](JobContext& ctx) {
      std::lock_guard lock(mu);
      ++runs[ctx.job.id];
      return JobResult::Done();
    });
  }
  for (auto& w : workers) w->Start();
  std::vector<JobSpec> specs(kJobs, JobSpec{.kind = "count"});
  for (int i = 0; i < kJobs; i += 500) {
    client_->EnqueueMany(std::vector<JobSpec>(specs.begin() + i, specs.begin() + i + 500));
  }
  ASSERT_TRUE(WaitUntil([&] { return Count("state = 'completed'") == kJobs; }, 180s));
  for (auto& w : workers) w->Stop();
  std::lock_guard lock(mu);
  EXPECT_EQ(runs.size(), static_cast<size_t>(kJobs));
  for (const auto& [id, n] : runs) ASSERT_EQ(n, 1) << id << " ran " << n << " times";
  EXPECT_EQ(FinishCount(), kJobs);
  EXPECT_EQ(db_->QueryInt("SELECT count(DISTINCT id) FROM test_finish"), kJobs);
  int64_t fetched = 0, completed = 0;
  for (auto& w : workers) {
    // No per-worker share is asserted: SQLite's write lock is not fair, and one worker may
    // take every batch for a while.
    fetched += w->stats().fetched;
    completed += w->stats().completed;
    EXPECT_EQ(w->stats().lost, 0);
  }
  // Each job was completed once. A job may be fetched twice: a worker fenced for a moment (on a
  // loaded machine SQLite's write lock can be held for seconds) hands back the jobs it fetched
  // and has not started, and another worker fetches them.
  EXPECT_EQ(completed, kJobs);
  EXPECT_GE(fetched, kJobs);
}

TEST_P(WorkerTest, NotificationWakesAnIdleWorkerWithoutPolling) {
  auto o = Options();
  o.poll_interval = 3600s;  // only a notification can wake it: NOTIFY on PostgreSQL, the
  o.poll_interval_no_notify = 3600s;  // in-process hub on SQLite (client and worker share it)
  Worker w(o);
  w.Register("ping", [](JobContext&) { return JobResult::Done(); });
  w.Start();
  std::this_thread::sleep_for(300ms);  // the first (startup) fetch has found nothing
  std::string id = client_->Enqueue({.kind = "ping"});
  EXPECT_TRUE(WaitUntil([&] { return Finished(id); }, 30s));
}

TEST_P(WorkerTest, ShutdownHandsBackJobsThatOutliveTheGrace) {
  auto o = Options(2);
  o.shutdown_grace = 200ms;
  auto w = std::make_unique<Worker>(o);
  std::atomic<int> started{0};
  w->Register("long", [&](JobContext& ctx) {
    ++started;
    ctx.cancel.WaitFor(60s);
    return JobResult::Error("interrupted");
  });
  w->Start();
  std::string id = client_->Enqueue({.kind = "long", .max_attempts = 1});
  ASSERT_TRUE(WaitUntil([&] { return started.load() == 1; }));
  w->Stop();
  Job j = client_->Get(id);
  EXPECT_EQ(j.state, JobState::kAvailable);
  EXPECT_EQ(j.attempts_used, 0) << "handing back must not use up an attempt";
  EXPECT_EQ(j.max_attempts, 1);
  EXPECT_TRUE(j.lease_owner.empty());
  // Another worker finishes it.
  Worker w2(Options());
  w2.Register("long", [](JobContext&) { return JobResult::Done(); });
  w2.Start();
  ASSERT_TRUE(WaitUntil([&] { return Finished(id); }));
  EXPECT_EQ(StateOf(id), JobState::kCompleted);
}

TEST_P(WorkerTest, ShutdownLetsRunningJobsFinishWithinTheGrace) {
  auto w = std::make_unique<Worker>(Options(2));
  std::atomic<int> started{0};
  w->Register("short", [&](JobContext&) {
    ++started;
    std::this_thread::sleep_for(300ms);
    return JobResult::Done();
  });
  w->Start();
  std::string id = client_->Enqueue({.kind = "short"});
  ASSERT_TRUE(WaitUntil([&] { return started.load() == 1; }));
  w->Stop();
  EXPECT_EQ(StateOf(id), JobState::kCompleted);
}

// PostgreSQL only: the server drops every connection of the worker while jobs flow; the worker
// reconnects and every job still finishes exactly once.
// A command assignment runs while its worker is a member and is stopped with SIGTERM when the
// worker leaves; a worker that only runs assignments may start without job handlers.
TEST_P(CommandTest, AssignmentCommandRunsUntilItsWorkerStops) {
  std::string out = TempFile("assignment");
  auto o = Options();
  o.cluster.roles = {"replicator"};
  o.cluster.heartbeat_interval = 100ms;
  o.cluster.stability_period = 0ms;
  Worker w(o);
  w.RegisterAssignmentCommand(
      "orders", "replicator",
      {.argv = {"/bin/sh", "-c",
                "read -r input; echo \"$input\" > " + out + ".stdin; trap 'echo stopped >> " +
                    out + "; exit 0' TERM; echo started >> " + out +
                    "; while true; do sleep 0.05; done"}});
  w.Start();
  ASSERT_TRUE(WaitUntil([&] { return w.assignments() == std::vector<std::string>{"orders"}; }));
  auto lines = [&] {
    std::ifstream in(out);
    std::vector<std::string> v;
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
  };
  ASSERT_TRUE(WaitUntil([&] { return lines() == std::vector<std::string>{"started"}; }));
  auto claims = client_->Assignments();
  ASSERT_EQ(claims.size(), 1u);
  EXPECT_EQ(claims[0].owner, w.id());
  std::ifstream in(out + ".stdin");
  Json input = Json::parse(in);
  EXPECT_EQ(input, (Json{{"assignment", "orders"}, {"role", "replicator"}, {"worker", w.id()}}));

  w.Stop();
  EXPECT_EQ(lines(), (std::vector<std::string>{"started", "stopped"}));
  EXPECT_TRUE(client_->Assignments().empty());
  EXPECT_TRUE(client_->Members().members.empty());
}

// Job control: a running job that is stopped, cancelled or handed back by a cluster stop has its
// handler's token cancelled at once (a notification), and its late outcome is refused.
class ControlTest : public WorkerTest {
 protected:
  // Jobs block on their token in their first attempt and complete in later ones.
  void StartBlockingWorker(Worker& w) {
    w.Register("block", [this](JobContext& ctx) {
      if (ctx.job.attempt > 1) return JobResult::Done();
      ++started_;
      if (ctx.cancel.WaitFor(std::chrono::seconds(120))) {
        ++cancelled_;
        return JobResult::Error("cancelled");
      }
      return JobResult::Done();
    });
    w.Start();
  }
  std::atomic<int> started_{0}, cancelled_{0};
};

TEST_P(ControlTest, StoppingARunningJobCancelsItsHandlerUntilResumed) {
  Worker w(Options());
  StartBlockingWorker(w);
  std::string id = client_->Enqueue({.kind = "block"});
  ASSERT_TRUE(WaitUntil([&] { return started_ == 1; }));
  Job stopped = client_->Stop(id);
  EXPECT_EQ(stopped.state, JobState::kStopped);
  ASSERT_TRUE(WaitUntil([&] { return cancelled_ == 1; }, 30s)) << "the handler was not told";
  // Its late outcome was refused: still stopped, and nothing fetches it.
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(StateOf(id), JobState::kStopped);
  EXPECT_EQ(client_->Get(id).attempts_used, 0) << "the stopped attempt does not count";
  EXPECT_EQ(client_->Get(id).max_attempts, 25);
  client_->Resume(id);
  ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kCompleted; }));
  EXPECT_EQ(client_->Get(id).attempt, 2);
}

TEST_P(ControlTest, CancellingARunningJobCancelsItsHandler) {
  Worker w(Options());
  StartBlockingWorker(w);
  std::string id = client_->Enqueue({.kind = "block"});
  ASSERT_TRUE(WaitUntil([&] { return started_ == 1; }));
  EXPECT_EQ(client_->Cancel(id).state, JobState::kCancelled);
  ASSERT_TRUE(WaitUntil([&] { return cancelled_ == 1; }, 30s));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(StateOf(id), JobState::kCancelled);
  EXPECT_EQ(FinishCount(), 1);
}

TEST_P(ControlTest, ClusterStopHandsBackRunningJobsButNotIndividuallyStoppedOnes) {
  Worker w(Options());
  StartBlockingWorker(w);
  std::string a = client_->Enqueue({.kind = "block"});
  std::string b = client_->Enqueue({.kind = "block"});
  std::string c = client_->Enqueue({.kind = "block"});
  ASSERT_TRUE(WaitUntil([&] { return started_ == 3; }));
  client_->Stop(a);
  auto cs = client_->StopCluster("maintenance window");
  ASSERT_TRUE(cs.stopped_at.has_value());
  EXPECT_EQ(client_->Cluster().stop_reason, "maintenance window");
  ASSERT_TRUE(WaitUntil([&] { return cancelled_ == 3; }, 30s));
  // Stopped: nothing runs, however long we wait for the poll.
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(StateOf(a), JobState::kStopped);
  EXPECT_EQ(StateOf(b), JobState::kAvailable);
  EXPECT_EQ(StateOf(c), JobState::kAvailable);
  EXPECT_THROW(client_->StopCluster("again"), Error);

  client_->ResumeCluster();
  ASSERT_TRUE(WaitUntil([&] { return Finished(b) && Finished(c); }));
  EXPECT_EQ(StateOf(b), JobState::kCompleted);
  EXPECT_EQ(StateOf(c), JobState::kCompleted);
  EXPECT_EQ(client_->Get(b).attempts_used, 1) << "the handed-back attempt counted";
  EXPECT_EQ(client_->Get(b).max_attempts, 25);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(StateOf(a), JobState::kStopped) << "a job stopped by a person stays stopped";
  client_->Resume(a);
  ASSERT_TRUE(WaitUntil([&] { return StateOf(a) == JobState::kCompleted; }));
}

TEST_P(ControlTest, AStoppedMultiStepJobResumesAtItsLastCheckpoint) {
  std::atomic<int> first_runs{0}, second_runs{0};
  std::atomic<bool> block{true};
  Json seen;
  Worker w(Options());
  w.RegisterSteps("multi",
                  {{"first",
                    [&](StepContext& ctx) {
                      ++first_runs;
                      ctx.checkpoint = {{"rows", 10}};
                      return JobResult::Done();
                    }},
                   {"second", [&](StepContext& ctx) {
                      ++second_runs;
                      seen = ctx.checkpoint;
                      if (block && ctx.cancel.WaitFor(std::chrono::seconds(120))) {
                        return JobResult::Error("stopped");
                      }
                      return JobResult::Done();
                    }}});
  w.Start();
  std::string id = client_->Enqueue({.kind = "multi"});
  ASSERT_TRUE(WaitUntil([&] { return second_runs == 1; }));
  client_->Stop(id);
  ASSERT_TRUE(WaitUntil([&] { return w.stats().lost == 1; }, 30s)) << "the step was not told";
  Job stopped = client_->Get(id);
  EXPECT_EQ(stopped.state, JobState::kStopped);
  EXPECT_EQ(stopped.step, "second");
  EXPECT_EQ(stopped.checkpoint, (Json{{"rows", 10}}));
  block = false;
  client_->Resume(id);
  ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kCompleted; }));
  EXPECT_EQ(first_runs, 1) << "a checkpointed step ran again";
  EXPECT_EQ(second_runs, 2);
  EXPECT_EQ(seen, (Json{{"rows", 10}}));
}

// A step naps for an hour, holding no slot; a wake-up ends the nap. A wake-up that arrives while
// the step still runs is not lost: the nap it then takes ends at once.
TEST_P(ControlTest, AWakeUpEndsANapEvenWhenItArrivesDuringTheStep) {
  std::atomic<int> runs{0};
  std::atomic<bool> woken_during{false};
  std::string id;
  Worker w(Options(1));
  w.RegisterSteps("wait", {{"wait", [&](StepContext& ctx) {
                              int n = ++runs;
                              ctx.checkpoint = {{"runs", n}};
                              if (n == 2) {  // woken while running, just before napping again
                                client_->Wake(ctx.job.id);
                                woken_during = true;
                              }
                              return n < 3 ? JobResult::Snooze(1h) : JobResult::Done();
                            }}});
  w.Start();
  id = client_->Enqueue({.kind = "wait"});
  ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kScheduled; }));
  EXPECT_EQ(client_->Get(id).checkpoint, (Json{{"runs", 1}}));
  client_->Wake(id);
  ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kCompleted; }, 30s))
      << "runs: " << runs;
  EXPECT_TRUE(woken_during);
  EXPECT_EQ(runs, 3);
  EXPECT_EQ(client_->Get(id).attempt, 3);
}

TEST_P(ControlTest, APausedQueueIsNotFetchedUntilResumed) {
  Worker w(Options());
  StartBlockingWorker(w);
  client_->PauseQueue("default");
  std::string id = client_->Enqueue({.kind = "block", .queue = "default"});
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(StateOf(id), JobState::kAvailable);
  auto queues = client_->Queues();
  ASSERT_EQ(queues.size(), 1u);
  EXPECT_TRUE(queues[0].paused_at.has_value());
  client_->ResumeQueue("default");
  ASSERT_TRUE(WaitUntil([&] { return started_ == 1; }));
  client_->Cancel(id);
}

class PostgresWorkerTest : public WorkerTest {};

TEST_P(PostgresWorkerTest, SurvivesLosingItsConnections) {
  constexpr int kJobs = 600;
  auto o = Options(4);
  o.poll_interval = 200ms;
  Worker w(o);
  std::atomic<int> calls{0};
  w.Register("tick", [&](JobContext&) {
    ++calls;
    std::this_thread::sleep_for(2ms);
    return JobResult::Done();
  });
  w.Start();
  std::vector<JobSpec> specs(kJobs, JobSpec{.kind = "tick"});
  client_->EnqueueMany(specs);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(WaitUntil([&] { return calls.load() > (i + 1) * 100; }));
    db_->Query("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
               "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  }
  ASSERT_TRUE(WaitUntil([&] { return Count("state = 'completed'") == kJobs; }, 120s));
  EXPECT_EQ(FinishCount(), kJobs);
  EXPECT_EQ(db_->QueryInt("SELECT count(DISTINCT id) FROM test_finish"), kJobs);
}

// --- what the worker logs about its jobs ------------------------------------------------------

TEST_P(WorkerTest, LogsEachRunAtDebugAFailureForGoodAtWarnAndAPersonsStopAtInfo) {
  LogCapture logs;
  WorkerOptions o = Options();
  o.id = "w1";
  Worker w(o);
  w.Register("ok", [](JobContext&) { return JobResult::Done(); });
  w.Register("bad", [](JobContext&) { return JobResult::Error("boom"); });
  w.Register("odd", [](JobContext&) { return JobResult::Discard("not for us"); });
  w.Register("long", [](JobContext& ctx) {
    return ctx.cancel.WaitFor(10min) ? JobResult::Error("stopped") : JobResult::Done();
  });
  w.Start();
  std::string ok = client_->Enqueue({.kind = "ok"});
  std::string bad = client_->Enqueue({.kind = "bad", .max_attempts = 2});
  std::string odd = client_->Enqueue({.kind = "odd"});
  std::string stopped = client_->Enqueue({.kind = "long"});
  std::string cancelled = client_->Enqueue({.kind = "long"});
  for (const auto& id : {stopped, cancelled}) {
    ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kRunning; }));
  }
  client_->Stop(stopped);
  client_->Cancel(cancelled);
  for (const auto& id : {ok, bad, odd}) ASSERT_TRUE(WaitUntil([&] { return Finished(id); }));
  for (const auto& id : {stopped, cancelled}) {
    ASSERT_TRUE(WaitUntil([&] { return client_->Get(id).lease_owner.empty(); }));
  }
  w.Stop();
  using spdlog::level::debug, spdlog::level::info, spdlog::level::warn;
  EXPECT_EQ(logs.Find(debug, {"event=job_started job=" + ok, "attempts_used=1 of=25"}).size(), 1u);
  EXPECT_EQ(logs.Find(debug, {"event=job_finished job=" + ok, "outcome=completed", "duration="})
                .size(),
            1u);
  EXPECT_EQ(logs.Find(info, {"event=job_error job=" + bad, "attempts_used=1 of=2"}).size(), 1u);
  EXPECT_EQ(logs.Find(warn, {"event=job_failed job=" + bad, "attempts_used=2 of=2", "boom"}).size(),
            1u);
  EXPECT_EQ(logs.Find(warn, {"event=job_failed job=" + odd, "discarded=true"}).size(), 1u);
  for (const auto& id : {stopped, cancelled}) {
    EXPECT_EQ(logs.Find(info, {"event=job_given_up job=" + id}).size(), 1u) << id;
    EXPECT_EQ(logs.Find(debug, {"event=job_finished job=" + id, "outcome=given_up"}).size(), 1u);
    for (const auto& [level, text] : logs.About(id)) {
      EXPECT_LT(level, warn) << "a person's stop or cancel logged as a problem: " << text;
    }
  }
  for (const auto& [level, text] : logs.About(ok)) EXPECT_LT(level, info) << text;
}

TEST_P(WorkerTest, ACommandLineThatIsNotObeyedIsToldOncePerRunAtWarn) {
  LogCapture logs;
  Worker w(Options());
  w.RegisterCommand("typo", {.argv = {"/bin/sh", "-c",
                                      "echo '{\"progres\": 0.5}'; echo '{\"progres\": 0.6}'; "
                                      "echo '{\"nap\": \"soon\"}'"}});
  // One line of 9 MB, over the 8 MiB a protocol line may have.
  w.RegisterCommand("huge", {.argv = {"/bin/sh", "-c",
                                      "head -c 9000000 /dev/zero | tr '\\0' a; echo; "
                                      "head -c 9000000 /dev/zero | tr '\\0' b; echo"}});
  w.RegisterCommand("quiet", {.argv = {"/bin/sh", "-c", "echo '{\"progress\": 0.5}'; echo hi"}});
  w.Start();
  std::string typo = client_->Enqueue({.kind = "typo"});
  std::string huge = client_->Enqueue({.kind = "huge"});
  std::string quiet = client_->Enqueue({.kind = "quiet"});
  for (const auto& id : {typo, huge, quiet}) {
    ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kCompleted; }));
  }
  w.Stop();
  auto typos = logs.Find(spdlog::level::warn, {"event=command_line_ignored job=" + typo});
  ASSERT_EQ(typos.size(), 1u) << "not once per run";
  EXPECT_NE(typos[0].find("unknown key 'progres'"), std::string::npos) << typos[0];
  auto huges = logs.Find(spdlog::level::warn, {"event=command_line_ignored job=" + huge});
  ASSERT_EQ(huges.size(), 1u);
  EXPECT_NE(huges[0].find("a line of 9000000 bytes, over the limit of 8388608"),
            std::string::npos)
      << huges[0];
  EXPECT_TRUE(logs.Find(spdlog::level::warn, {"job=" + quiet}).empty());
}

auto BackendName = [](const auto& info) { return testing::Name(info.param); };

INSTANTIATE_TEST_SUITE_P(Backends, WorkerTest, ::testing::ValuesIn(testing::kAllBackends),
                         BackendName);
INSTANTIATE_TEST_SUITE_P(Backends, ControlTest, ::testing::ValuesIn(testing::kAllBackends),
                         [](const auto& info) { return testing::Name(info.param); });
INSTANTIATE_TEST_SUITE_P(Backends, CommandTest, ::testing::ValuesIn(testing::kAllBackends),
                         BackendName);
// A worker that starts while another process holds the SQLite file's write lock past the busy
// timeout (a worker frozen in the middle of a write) waits for the lock, up to its heartbeat
// timeout, instead of failing to start.
TEST(SqliteWorkerTest, StartWaitsForAFileLockedPastTheBusyTimeout) {
  auto db = TestBackend::Make(BackendKind::kSqlite);
  Client::Open({db->url()})->Count({});  // migrated: the worker's start only records and joins
  sqlite3* holder = nullptr;
  ASSERT_EQ(sqlite3_open(db->url().substr(7).c_str(), &holder), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(holder, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  WorkerOptions o{.database_url = db->url()};
  o.cluster.heartbeat_timeout = 60s;
  Worker worker(o);
  worker.Register("a", [](JobContext&) { return JobResult::Done(); });
  std::atomic<bool> started{false};
  std::exception_ptr failed;
  std::thread starting([&] {
    try {
      worker.Start();
      started = true;
    } catch (...) {
      failed = std::current_exception();
    }
  });
  std::this_thread::sleep_for(6s);  // past the 5 s busy timeout
  EXPECT_FALSE(started);
  EXPECT_FALSE(failed);
  EXPECT_EQ(sqlite3_exec(holder, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(holder);
  starting.join();
  EXPECT_TRUE(started);
  EXPECT_FALSE(failed);
  worker.Stop();
}

INSTANTIATE_TEST_SUITE_P(Backends, PostgresWorkerTest,
                         ::testing::Values(BackendKind::kPostgres), BackendName);

}  // namespace
}  // namespace spindle
