// Execution under faults, in one worker process against a real database (both backends): an
// attempt that is still being stopped blocks the next one, a handler past its timeout keeps its
// job, Stop() never hands back a job whose handler still runs, one unstorable outcome never
// holds back the others, and options under which a worker could not stop its work before its
// peers take it over are refused. Each test counts executions in the handler itself (the side
// effect), not only in the database.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <thread>

#include <sqlite3.h>

#include "runtime/coordinator.h"
#include "testing.h"

namespace spindle {
namespace {

using namespace std::chrono_literals;
using testing::BackendKind;
using testing::TestBackend;
using testing::WaitUntil;

// Counts executions of one kind that overlap in time.
struct Overlaps {
  std::atomic<int> active{0}, most{0}, runs{0};
  void Enter() {
    ++runs;
    int now = ++active;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
  }
  void Leave() { --active; }
};

class FencingTest : public ::testing::TestWithParam<BackendKind> {
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
    o.rescue_interval = 100ms;
    o.lease = 2s;
    o.shutdown_grace = 100ms;
    o.cluster.heartbeat_interval = 200ms;
    o.cluster.heartbeat_timeout = 2s;
    return o;
  }

  JobState StateOf(const std::string& id) { return client_->Get(id).state; }
  int64_t Finishes(const std::string& id) {
    return db_->QueryInt("SELECT count(*) FROM test_finish WHERE id = '" + id + "'");
  }
  static bool LeaseExpired(const Job& j) {
    return std::any_of(j.errors.begin(), j.errors.end(), [](const JobError& e) {
      return e.message.find("lease expired") != std::string::npos;
    });
  }

  // A kind whose first attempt ignores its cancel token for `ignore` after being told, as a
  // command inside its kill_grace does; later attempts complete at once.
  void RegisterStubborn(Worker& w, Overlaps& o, std::atomic<int>& first_started, Millis ignore) {
    w.Register("stubborn", [&o, &first_started, ignore](JobContext& ctx) {
      o.Enter();
      if (ctx.job.attempt == 1) {
        ++first_started;
        ctx.cancel.WaitFor(120s);
        std::this_thread::sleep_for(ignore);
      }
      o.Leave();
      return JobResult::Done();
    });
  }

  // Takes a running job from its worker and gives it back at once, while the first attempt
  // still winds down: the second attempt waits until the first has ended (before, the same
  // worker ran both at once, and the first one's end erased the second from the renewals, so
  // it was rescued while running).
  void TakeAwayAndGiveBack(const std::function<void(const std::string& id)>& take_and_give) {
    Worker w(Options());
    Overlaps o;
    std::atomic<int> started{0};
    RegisterStubborn(w, o, started, 1500ms);
    w.Start();
    std::string id = client_->Enqueue({.kind = "stubborn"});
    ASSERT_TRUE(WaitUntil([&] { return started == 1; }));
    take_and_give(id);
    ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kCompleted; }));
    EXPECT_EQ(o.most, 1) << "two attempts of one job ran at once";
    EXPECT_EQ(o.runs, 2);
    Job j = client_->Get(id);
    EXPECT_EQ(j.attempt, 2);
    EXPECT_FALSE(LeaseExpired(j)) << j.ToJson().dump();
    EXPECT_EQ(Finishes(id), 1);
  }

  std::unique_ptr<TestBackend> db_ = TestBackend::Make(GetParam());
  std::unique_ptr<Client> client_;
};

TEST_P(FencingTest, AResumedJobWaitsForItsStoppedAttemptToEnd) {
  TakeAwayAndGiveBack([this](const std::string& id) {
    client_->Stop(id);
    client_->Resume(id);
  });
}

TEST_P(FencingTest, AClusterResumeWaitsForTheHandedBackAttemptToEnd) {
  TakeAwayAndGiveBack([this](const std::string&) {
    client_->StopCluster("test");
    client_->ResumeCluster();
  });
}

// A handler that ignores its timeout keeps its job for as long as it runs: the job is never
// rescued (and run again by another worker) meanwhile. Before, its lease was renewed only until
// one lease past the timeout.
TEST_P(FencingTest, AHandlerPastItsTimeoutIsNeverRescuedWhileItRuns) {
  Overlaps o;
  auto handler = [&o](JobContext&) {
    o.Enter();
    std::this_thread::sleep_for(5s);  // ignores its 200 ms timeout
    o.Leave();
    return JobResult::Done();
  };
  Worker a(Options()), b(Options());
  a.Register("deaf", handler);
  b.Register("deaf", handler);
  a.Start();
  b.Start();
  std::string id = client_->Enqueue({.kind = "deaf", .max_attempts = 3, .timeout = 200ms});
  ASSERT_TRUE(WaitUntil([&] { return IsFinal(StateOf(id)); }));
  EXPECT_EQ(o.runs, 1) << "rescued while its handler ran";
  EXPECT_EQ(o.most, 1);
  Job j = client_->Get(id);
  EXPECT_EQ(j.state, JobState::kCompleted) << j.ToJson().dump();
  EXPECT_EQ(Finishes(id), 1);
}

// Stop() with a handler that ignores its cancel token longer than Stop used to wait (10 s): the
// job is not handed back while the handler runs, so the other worker never starts it; Stop
// returns once the handler does, and the job completes once.
TEST_P(FencingTest, StopNeverHandsBackAJobWhoseHandlerStillRuns) {
  Overlaps o;
  std::atomic<int> started{0};
  auto a = std::make_unique<Worker>(Options());
  Worker b(Options());
  RegisterStubborn(*a, o, started, 11s);
  a->Start();
  std::string id = client_->Enqueue({.kind = "stubborn"});
  ASSERT_TRUE(WaitUntil([&] { return started == 1; }));
  std::atomic<int> b_started{0};
  RegisterStubborn(b, o, b_started, 0ms);
  b.Start();
  a->Stop();
  EXPECT_EQ(o.active, 0);
  ASSERT_TRUE(WaitUntil([&] { return IsFinal(StateOf(id)); }));
  EXPECT_EQ(o.most, 1) << "handed back while its handler still ran";
  EXPECT_EQ(StateOf(id), JobState::kCompleted);
  EXPECT_EQ(o.runs, 1);
  EXPECT_EQ(Finishes(id), 1);
}

// Results the database cannot take as they are (a NUL, invalid UTF-8) in one batch with good
// ones: every job completes, once, in its first attempt (before, the whole batch was dropped
// and its jobs ran again until their attempts ran out).
TEST_P(FencingTest, AnUnstorableResultHoldsBackNothing) {
  Worker w(Options(8));
  std::atomic<int> runs{0};
  w.Register("odd", [&](JobContext& ctx) {
    ++runs;
    std::string r = ctx.job.args.value("result", "");
    return JobResult::Done(Json{{"text", r == "nul" ? std::string("a\0b", 3)
                                        : r == "utf8" ? std::string("\xff\xfe bad")
                                                      : std::string("fine")}});
  });
  std::vector<JobSpec> specs;
  for (int i = 0; i < 20; ++i) {
    specs.push_back({.kind = "odd", .args = {{"result", i == 3 ? "nul" : i == 7 ? "utf8" : ""}}});
  }
  auto ids = client_->EnqueueMany(specs);
  w.Start();
  ASSERT_TRUE(WaitUntil([&] {
    return db_->QueryInt("SELECT count(*) FROM {jobs} WHERE state = 'completed'") == 20;
  }));
  EXPECT_EQ(runs, 20);
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM test_finish"), 20);
  EXPECT_EQ(db_->QueryInt("SELECT max(attempt) FROM {jobs}"), 1);
  EXPECT_EQ(client_->Get(ids[0]).result, (Json{{"text", "fine"}}));
  // What could not be stored as it was is stored readable, not dropped.
  EXPECT_TRUE(client_->Get(ids[3]).result.contains("text"));
  EXPECT_TRUE(client_->Get(ids[7]).result.contains("text"));
}

// A worker that cannot stop a command before its peers may rescue the job refuses to start,
// and says what to change; so does one whose assignment's stop may outlast the fence.
TEST_P(FencingTest, RefusesOptionsUnderWhichItCouldNotStopInTime) {
  auto o = Options();
  o.lease = 30s;
  o.cluster.heartbeat_interval = 2s;
  o.cluster.heartbeat_timeout = 10s;
  {
    Worker w(o);
    w.RegisterCommand("slow_to_die", {.argv = {"/bin/true"}, .kill_grace = 30s});
    try {
      w.Start();
      FAIL() << "accepted a kill_grace of 30 s with a heartbeat timeout of 10 s";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      std::string m = e.what();
      EXPECT_NE(m.find("slow_to_die"), std::string::npos) << m;
      EXPECT_NE(m.find("heartbeat_timeout"), std::string::npos) << m;
    }
  }
  {
    auto longer = o;
    longer.cluster.heartbeat_timeout = 40s;  // enough for the heartbeat, not for a 30 s lease
    Worker w(longer);
    w.RegisterCommand("slow_to_die", {.argv = {"/bin/true"}, .kill_grace = 30s});
    try {
      w.Start();
      FAIL() << "accepted a kill_grace of 30 s with a lease of 30 s";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("lease"), std::string::npos) << e.what();
    }
  }
  {
    auto roles = o;
    roles.cluster.roles = {"r"};
    Worker w(roles);
    w.RegisterAssignment("slow", "r", {[](const std::string&) {}, [](const std::string&) {}, 20s});
    try {
      w.Start();
      FAIL() << "accepted an assignment stop of 20 s with a heartbeat timeout of 10 s";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("assignment 'slow'"), std::string::npos) << e.what();
    }
  }
  EXPECT_TRUE(client_->Members().members.empty()) << "a refused worker stayed registered";
}

// A second worker started with the id of a live one is refused, and the refusal leaves the
// live one alone: still a member, its running job not disturbed (before the fix the refused
// worker's clean-up deregistered the id, which evicted the live worker).
TEST_P(FencingTest, ADuplicateWorkerIdIsRefusedWithoutHarmToTheLiveOne) {
  auto o = Options();
  o.id = "twin";
  Worker live(o);
  std::atomic<int> started{0}, cancelled{0};
  live.Register("long", [&](JobContext& ctx) {
    ++started;
    if (ctx.cancel.WaitFor(3s)) ++cancelled;
    return JobResult::Done();
  });
  live.Start();
  std::string id = client_->Enqueue({.kind = "long"});
  ASSERT_TRUE(WaitUntil([&] { return started == 1; }));
  Worker twin(o);
  twin.Register("long", [](JobContext&) { return JobResult::Done(); });
  try {
    twin.Start();
    FAIL() << "a second worker took the id of a live one";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIllegalTransition);
    EXPECT_NE(std::string(e.what()).find("already in use"), std::string::npos) << e.what();
  }
  auto members = client_->Members().members;
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].info.id, "twin");
  EXPECT_EQ(members[0].info.pid, getpid());
  ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kCompleted; }));
  EXPECT_EQ(cancelled, 0) << "the live worker's job was disturbed";
  EXPECT_EQ(started, 1);
}

// An assignment's claim whose release fails (a transient error: here SQLite's write lock held
// past the busy timeout by another process's connection, taken while the assignment stops) is
// released on a later round, so the new owner starts it. Before, the claim stayed with the
// live worker that no longer ran it, and nobody else could claim it. SQLite only: the fault is
// SQLite's.
TEST(AssignmentReleaseTest, AFailedReleaseIsTriedAgain) {
  auto db = TestBackend::Make(BackendKind::kSqlite);
  std::string path = db->url().substr(std::string("sqlite:").size());
  auto client = Client::Open({db->url()});
  auto options = [&](const std::string& id) {
    WorkerOptions o;
    o.database_url = db->url();
    o.id = id;
    o.cluster.roles = {"r"};
    o.cluster.heartbeat_interval = 500ms;
    o.cluster.heartbeat_timeout = 30s;  // nobody is evicted while the file is locked
    o.cluster.stability_period = 0ms;
    return o;
  };
  // b wins "x" over a, so a hands it over when b joins.
  std::string b_id;
  for (int i = 0; b_id.empty(); ++i) {
    Membership both;
    for (std::string id : {std::string("a"), "b" + std::to_string(i)}) {
      Member m;
      m.info.id = id;
      m.info.roles = {"r"};
      both.members.push_back(m);
    }
    if (runtime::OwnerOf("x", "r", both) != "a") b_id = "b" + std::to_string(i);
  }
  std::thread holder;
  std::atomic<bool> locked{false};
  auto lock_the_file = [&] {
    holder = std::thread([&] {
      sqlite3* conn = nullptr;
      sqlite3_open(path.c_str(), &conn);
      sqlite3_exec(conn, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
      locked = true;
      std::this_thread::sleep_for(7s);  // past the store's 5 s busy timeout
      sqlite3_exec(conn, "ROLLBACK", nullptr, nullptr, nullptr);
      sqlite3_close(conn);
    });
    while (!locked) std::this_thread::sleep_for(1ms);
  };
  std::atomic<int> a_stops{0};
  Worker a(options("a")), b(options(b_id));
  a.RegisterAssignment("x", "r",
                       {[](const std::string&) {},
                        [&](const std::string&) {
                          if (a_stops++ == 0) lock_the_file();
                        },
                        100ms});
  b.RegisterAssignment("x", "r", {[](const std::string&) {}, [](const std::string&) {}, 100ms});
  a.Start();
  ASSERT_TRUE(WaitUntil([&] { return a.assignments() == std::vector<std::string>{"x"}; }));
  b.Start();
  ASSERT_TRUE(WaitUntil([&] { return b.assignments() == std::vector<std::string>{"x"}; }, 60s))
      << "the claim was stranded with a, which no longer runs x";
  EXPECT_TRUE(a.assignments().empty());
  holder.join();
}

INSTANTIATE_TEST_SUITE_P(Backends, FencingTest, ::testing::ValuesIn(testing::kAllBackends),
                         [](const auto& info) { return testing::Name(info.param); });

}  // namespace
}  // namespace spindle
