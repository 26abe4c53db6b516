// Retention (docs/jobs.md, "Retention") on every backend: the store's JobPrune and the leader's
// pruner, driven at pinned times; the worker's loop; and the configuration.
#include <gtest/gtest.h>

#include <fstream>

#include <fmt/format.h>

#include "maintenance/pruner.h"
#include "store/store.h"
#include "testing.h"

namespace spindle {
namespace {

using namespace std::chrono_literals;
using testing::BackendKind;
using testing::Cli;
using testing::Quote;
using testing::TestBackend;

class RetentionTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    clock_ = std::make_shared<FakeClock>();
    store_ = OpenStore({db_->url(), 4, clock_});
    store_->Migrate();
  }

  std::string Insert(JobSpec spec = {.kind = "k"}) { return store_->JobInsertMany({spec}).front(); }
  // Fetches every due job of kind `kind` and ends job `id` with `outcome` (the rest go back).
  void Finish(const std::string& id, JobOutcome::Kind outcome, const std::string& kind = "k") {
    auto fetched = store_->JobFetch({.queue = "default", .limit = 1000, .worker_id = "w",
                                     .kinds = {kind}});
    std::vector<JobOutcome> outcomes;
    for (const auto& j : fetched) {
      outcomes.push_back({.id = j.id, .attempt = j.attempt,
                          .kind = j.id == id ? outcome : JobOutcome::Kind::kRelease,
                          .message = "no"});
    }
    store_->JobFinishMany("w", outcomes);
  }
  bool Exists(const std::string& id) { return store_->JobGet(id).has_value(); }
  int64_t Jobs() { return db_->QueryInt("SELECT count(*) FROM {jobs}"); }
  int64_t Events(const std::string& id) {
    std::string table = GetParam() == BackendKind::kPostgres ? "spindle.job_events" : "spindle_job_events";
    return db_->QueryInt(fmt::format("SELECT count(*) FROM {} WHERE job_id = '{}'", table, id));
  }
  // A job that expired (docs/jobs.md, "Deadlines"): enqueued to expire a moment later, and
  // expired by the store as the leader's expirer does.
  std::string Expired() {
    std::string id = Insert({.kind = "x", .expires_at = clock_->Now() + 1ms});
    clock_->Advance(1ms);
    EXPECT_EQ(store_->JobExpire(10), 1);
    EXPECT_EQ(store_->JobGet(id)->state, JobState::kExpired);
    return id;
  }

  std::unique_ptr<TestBackend> db_ = TestBackend::Make(GetParam());
  std::shared_ptr<FakeClock> clock_;
  std::unique_ptr<Store> store_;
};

constexpr Store::PruneAges kAges{.completed = 1h, .failed = 3h, .cancelled = 2h, .expired = 1h};

TEST_P(RetentionTest, EachFinishedStateIsKeptForItsOwnAge) {
  std::string completed = Insert(), failed = Insert(), cancelled = Insert(), expired = Expired();
  Finish(completed, JobOutcome::Kind::kCompleted);
  Finish(failed, JobOutcome::Kind::kDiscard);
  store_->JobCancel(cancelled);
  std::string kept = Insert({.kind = "keep"});
  Finish(kept, JobOutcome::Kind::kCompleted, "keep");

  clock_->Advance(59min);
  EXPECT_EQ(store_->JobPrune(kAges, 1000), 0);
  clock_->Advance(2min);  // 1h01m
  EXPECT_EQ(store_->JobPrune(kAges, 1000), 3);  // completed, expired, and "keep" (completed too)
  EXPECT_FALSE(Exists(completed));
  EXPECT_FALSE(Exists(expired));
  EXPECT_TRUE(Exists(failed));
  EXPECT_TRUE(Exists(cancelled));
  clock_->Advance(1h);  // 2h01m
  EXPECT_EQ(store_->JobPrune(kAges, 1000), 1);
  EXPECT_FALSE(Exists(cancelled));
  clock_->Advance(1h);  // 3h01m
  EXPECT_EQ(store_->JobPrune(kAges, 1000), 1);
  EXPECT_EQ(Jobs(), 0);

  // An age of 0 keeps the state's jobs.
  std::string forever = Insert();
  Finish(forever, JobOutcome::Kind::kCompleted);
  clock_->Advance(24h * 365);
  EXPECT_EQ(store_->JobPrune({.completed = 0ms, .failed = 1ms}, 1000), 0);
  EXPECT_TRUE(Exists(forever));
}

TEST_P(RetentionTest, TheHistoryGoesWithTheJob) {
  std::string id = Insert();
  store_->JobStop(id);
  store_->JobResume(id);
  Finish(id, JobOutcome::Kind::kCompleted);
  std::string other = Insert();
  store_->JobStop(other);
  ASSERT_GT(Events(id), 0);
  ASSERT_GT(Events(other), 0);
  clock_->Advance(2h);
  EXPECT_EQ(store_->JobPrune(kAges, 1000), 1);
  EXPECT_EQ(Events(id), 0);
  EXPECT_GT(Events(other), 0);
}

TEST_P(RetentionTest, ExpiredJobsGoADayAfterTheyExpiredByDefaultWithTheirHistory) {
  EXPECT_EQ(RetentionOptions{}.expired, 24h);
  std::string id = Expired();
  std::string waiting = Insert({.kind = "x", .expires_at = clock_->Now() + 48h});
  ASSERT_GT(Events(id), 0);
  maintenance::Pruner pruner(*store_, RetentionOptions{}, [] { return true; });
  clock_->Advance(24h - 1min);
  EXPECT_EQ(pruner.RunOnce(), 0);
  EXPECT_TRUE(Exists(id));
  clock_->Advance(2min);
  EXPECT_EQ(pruner.RunOnce(), 1);
  EXPECT_FALSE(Exists(id));
  EXPECT_EQ(Events(id), 0);
  EXPECT_TRUE(Exists(waiting));
}

TEST_P(RetentionTest, UnfinishedJobsAndFamiliesThatStillNeedThemAreNeverPruned) {
  std::string available = Insert();
  std::string scheduled = Insert({.kind = "k", .run_at = clock_->Now() + 24h * 400});
  std::string stopped = Insert();
  store_->JobStop(stopped);
  std::string running = Insert({.kind = "r"});
  store_->JobFetch({.queue = "default", .limit = 1, .worker_id = "w", .kinds = {"r"}});
  std::string retryable = Insert({.kind = "e"});
  auto e = store_->JobFetch({.queue = "default", .limit = 1, .worker_id = "w", .kinds = {"e"}});
  store_->JobFinishMany("w", {{.id = retryable, .attempt = e.at(0).attempt,
                               .kind = JobOutcome::Kind::kError, .message = "x", .delay = 1ms}});
  // A waiting parent with one child finished and one not.
  std::string parent = Insert({.kind = "p"});
  auto p = store_->JobFetch({.queue = "default", .limit = 1, .worker_id = "w", .kinds = {"p"}});
  ASSERT_TRUE(store_->JobSave("w", {parent, p.at(0).attempt},
                              {.children = {{.kind = "c1"}, {.kind = "c2"}}}));
  auto children = store_->JobList({.parent_id = parent});
  ASSERT_EQ(children.size(), 2u);
  std::string done_child = children[0].kind == "c1" ? children[0].id : children[1].id;
  Finish(done_child, JobOutcome::Kind::kCompleted, "c1");
  ASSERT_EQ(store_->JobGet(parent)->state, JobState::kWaiting);

  clock_->Advance(24h * 30);
  Store::PruneAges soon{.completed = 1ms, .failed = 1ms, .cancelled = 1ms, .expired = 1ms};
  EXPECT_EQ(store_->JobPrune(soon, 1000), 0);
  EXPECT_EQ(Jobs(), 8);
  EXPECT_EQ(store_->JobGet(retryable)->state, JobState::kRetryable);

  // A stopped parent is not finished either: its finished child stays.
  store_->JobStop(parent);
  EXPECT_EQ(store_->JobPrune(soon, 1000), 0);
  // Cancelling it cancels the other child: the family is finished and goes.
  store_->JobCancel(parent);
  clock_->Advance(1s);
  EXPECT_EQ(store_->JobPrune(soon, 1000), 3);
  EXPECT_FALSE(Exists(parent));
  EXPECT_FALSE(Exists(done_child));
}

TEST_P(RetentionTest, EachBatchIsBounded) {
  std::vector<JobSpec> specs(25, JobSpec{.kind = "k"});
  store_->JobInsertMany(specs);
  auto fetched = store_->JobFetch({.queue = "default", .limit = 100, .worker_id = "w", .kinds = {"k"}});
  std::vector<JobOutcome> done;
  for (const auto& j : fetched) done.push_back({.id = j.id, .attempt = j.attempt});
  ASSERT_EQ(store_->JobFinishMany("w", done).size(), 25u);
  clock_->Advance(2h);
  RetentionOptions o{.completed = 1h, .batch = 10};
  maintenance::Pruner pruner(*store_, o, [] { return true; });
  EXPECT_EQ(pruner.RunOnce(), 10);
  EXPECT_EQ(Jobs(), 15);
  EXPECT_EQ(pruner.RunOnce(), 10);
  EXPECT_EQ(pruner.RunOnce(), 5);
  EXPECT_EQ(pruner.RunOnce(), 0);
}

TEST_P(RetentionTest, TheAuditTrailIsKeptForItsAge) {
  auto append = [&](const std::string& who) {
    store_->AuditAppend({.who = who, .method = "POST", .path = "/api/v1/x", .status = 200});
  };
  append("old");
  clock_->Advance(10min);
  append("new");
  clock_->Advance(55min);  // 65 and 55 minutes old
  EXPECT_EQ(store_->AuditPrune(1h, 1000), 1);
  auto left = store_->AuditList(std::nullopt, 10);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].who, "new");
  // The leader's pruner, a bounded batch at a time; 0 keeps the trail.
  for (int i = 0; i < 2; ++i) append("more");
  clock_->Advance(2h);
  maintenance::Pruner keep(*store_, {.completed = 0ms, .audit = 0ms}, [] { return true; });
  EXPECT_EQ(keep.RunOnce(), 0);
  maintenance::Pruner pruner(*store_, {.completed = 0ms, .audit = 1h, .batch = 2},
                             [] { return true; });
  EXPECT_EQ(pruner.RunOnce(), 2);
  EXPECT_EQ(pruner.RunOnce(), 1);
  EXPECT_TRUE(store_->AuditList(std::nullopt, 10).empty());
}

TEST_P(RetentionTest, TheLeadersLoopPrunesAndOnlyTheLeaders) {
  std::string id = Insert();
  Finish(id, JobOutcome::Kind::kCompleted);
  clock_->Advance(2h);
  RetentionOptions o{.completed = 1h, .interval = 100ms, .batch = 10, .pause = 1ms};
  {
    maintenance::Pruner follower(*store_, o, [] { return false; });
    follower.Start();
    EXPECT_FALSE(testing::WaitUntil([&] { return !Exists(id); }, 500ms));
    follower.Stop();
  }
  maintenance::Pruner leader(*store_, o, [] { return true; });
  leader.Start();
  EXPECT_TRUE(testing::WaitUntil([&] { return !Exists(id); }));
  leader.Stop();
}

TEST_P(RetentionTest, AWorkerPrunesItsFinishedJobs) {
  auto client = Client::Open({db_->url()});
  WorkerOptions o;
  o.database_url = db_->url();
  o.retention = {.completed = 1ms, .interval = 100ms};
  o.shutdown_grace = 5s;
  Worker w(o);
  w.Register("k", [](JobContext&) { return JobResult::Done(); });
  w.Start();
  std::string id = client->Enqueue({.kind = "k"});
  EXPECT_TRUE(testing::WaitUntil([&] { return !client->store().JobGet(id); }));
  w.Stop();
}

TEST_P(RetentionTest, BadOptionsAreRefused) {
  WorkerOptions o;
  o.database_url = db_->url();
  o.retention.completed = -1ms;
  try {
    Worker w(o);
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("retention.completed"), std::string::npos) << e.what();
  }
}

class RetentionConfigTest : public RetentionTest {
 protected:
  testing::CliResult Enqueue(const std::string& toml) {
    std::string path = ::testing::TempDir() + fmt::format("spindle_retention_{}_{}.toml", getpid(),
                                                          testing::Name(GetParam()));
    std::ofstream(path) << "[kinds.k]\nqueue = \"q\"\n" << toml;
    return Cli("--database " + Quote(db_->url()) + " --config " + Quote(path) + " enqueue k");
  }
};

TEST_P(RetentionConfigTest, TheConfigurationReadsAgesAndRefusesBadOnesNamingTheKey) {
  auto good = Enqueue("[retention]\ncompleted = \"10s\"\nfailed = \"forever\"\ncancelled = 0\n"
                      "expired = \"0\"\naudit = \"30d\"\ninterval = \"30s\"\nbatch = 500\n");
  EXPECT_EQ(good.status, 0) << good.output;
  for (auto [toml, key] :
       {std::pair{"completed = \"soon\"", "retention.completed"},
        {"failed = 7", "retention.failed"},
        {"cancelled = \"-1h\"", "retention.cancelled"},
        {"expired = \"0s\"", "write 0 or \"forever\""},
        {"audit = \"a month\"", "retention.audit"},
        {"interval = \"0s\"", "retention.interval"},
        {"batch = 0", "retention.batch"},
        {"complete = \"1h\"", "retention.complete"}}) {
    auto r = Enqueue(std::string("[retention]\n") + toml + "\n");
    EXPECT_EQ(r.status, 2) << toml << ": " << r.output;
    EXPECT_NE(r.err.find(key), std::string::npos) << r.err;
  }
  EXPECT_EQ(Jobs(), 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, RetentionTest, ::testing::ValuesIn(testing::kAllBackends),
                         [](const auto& info) { return testing::Name(info.param); });
INSTANTIATE_TEST_SUITE_P(Backends, RetentionConfigTest, ::testing::ValuesIn(testing::kAllBackends),
                         [](const auto& info) { return testing::Name(info.param); });

}  // namespace
}  // namespace spindle
