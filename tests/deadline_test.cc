// Deadlines on both backends (docs/jobs.md, "Deadlines"): earliest-deadline-first dispatch,
// expiry, at-risk listing, missed deadlines, shedding, and every entrance that sets them (C++,
// SQL, the application's transaction, the command line, the configuration).
#include <gtest/gtest.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include <atomic>
#include <fstream>

#include "core/time.h"
#include "runtime/run_stats.h"
#include "spindle/postgres.h"
#include "spindle/sqlite.h"
#include "store/store.h"
#include "testing.h"

namespace spindle {
namespace {

using namespace std::chrono_literals;
using testing::BackendKind;
using testing::Cli;
using testing::Quote;
using testing::TestBackend;
using testing::WaitUntil;

class DeadlineTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    clock_ = std::make_shared<FakeClock>();
    store_ = OpenStore({db_->url(), 4, clock_});
    store_->Migrate();
  }

  SysTime Now() { return clock_->Now(); }
  std::string Insert(JobSpec spec) { return store_->JobInsertMany({spec}).front(); }
  Job Get(const std::string& id) { return store_->JobGet(id).value(); }
  std::vector<std::string> FetchIds(const std::string& queue, QueueOrder order, int limit) {
    JobFetchParams p{queue, limit, "w1", 30s, {"k", "slow", "fast"}};
    p.order = order;
    std::vector<std::string> ids;
    for (const auto& j : store_->JobFetch(p)) ids.push_back(j.id);
    return ids;
  }
  std::optional<KindRunStats> StatsOf(const std::string& kind) {
    for (auto& k : store_->KindStatsList()) {
      if (k.kind == kind) return k;
    }
    return std::nullopt;
  }
  std::vector<JobEvent> History(const std::string& id) {
    return JobTimeline(Get(id), store_->JobEvents(id));
  }
  // `spindle --database URL ARGS`.
  testing::CliResult Run(const std::string& args) {
    return Cli("--database " + Quote(db_->url()) + " " + args);
  }

  std::unique_ptr<TestBackend> db_ = TestBackend::Make(GetParam());
  std::shared_ptr<FakeClock> clock_;
  std::unique_ptr<Store> store_;
};

// Within each priority: deadlines first, earliest first; then jobs without one, oldest first.
// A lower priority number still wins over any deadline.
TEST_P(DeadlineTest, DeadlineOrderIsEarliestDeadlineFirstWithinEachPriority) {
  auto t = Now();
  std::string plain1 = Insert({.kind = "k", .queue = "q"});
  std::string late = Insert({.kind = "k", .queue = "q", .deadline = t + 3h});
  std::string urgent_low = Insert({.kind = "k", .queue = "q", .priority = 1, .deadline = t + 1min});
  std::string soon = Insert({.kind = "k", .queue = "q", .deadline = t + 1h});
  std::string plain2 = Insert({.kind = "k", .queue = "q"});
  std::string past = Insert({.kind = "k", .queue = "q", .deadline = t - 1h});
  std::vector<std::string> expected{past, soon, late, plain1, plain2, urgent_low};
  // One at a time: the query's own order, not a sort of the batch.
  std::vector<std::string> one_by_one;
  for (int i = 0; i < 6; ++i) {
    auto ids = FetchIds("q", QueueOrder::kDeadline, 1);
    ASSERT_EQ(ids.size(), 1u);
    one_by_one.push_back(ids[0]);
  }
  EXPECT_EQ(one_by_one, expected);
  // A batch comes in the same order.
  for (const auto& id : expected) {
    store_->JobFinishMany("w1", {{.id = id, .attempt = 1, .kind = JobOutcome::Kind::kRelease}});
  }
  EXPECT_EQ(FetchIds("q", QueueOrder::kDeadline, 10), expected);
}

TEST_P(DeadlineTest, FifoQueueIgnoresDeadlines) {
  auto t = Now();
  std::string a = Insert({.kind = "k", .queue = "q"});
  std::string b = Insert({.kind = "k", .queue = "q", .deadline = t + 3h});
  std::string c = Insert({.kind = "k", .queue = "q", .deadline = t + 1min});
  std::string d = Insert({.kind = "k", .queue = "q", .priority = -1});
  std::vector<std::string> expected{d, a, b, c};
  EXPECT_EQ(FetchIds("q", QueueOrder::kFifo, 10), expected);
}

TEST_P(DeadlineTest, AJobPastItsExpiryIsNeverFetchedAndExpires) {
  std::string doomed = Insert({.kind = "k", .expires_at = Now() + 1min});
  std::string fine = Insert({.kind = "k", .expires_at = Now() + 1h});
  std::string plain = Insert({.kind = "k"});
  EXPECT_EQ(Get(doomed).expires_at, Now() + 1min);
  clock_->Advance(2min);
  auto ids = FetchIds("default", QueueOrder::kFifo, 10);
  EXPECT_EQ(ids, (std::vector<std::string>{fine, plain}));
  EXPECT_TRUE(FetchIds("default", QueueOrder::kDeadline, 10).empty());
  EXPECT_EQ(Get(doomed).state, JobState::kAvailable);  // until the expirer comes
  EXPECT_EQ(store_->JobExpire(100), 1);
  Job j = Get(doomed);
  EXPECT_EQ(j.state, JobState::kExpired);
  EXPECT_EQ(j.attempt, 0);
  EXPECT_EQ(j.finished_at, Now());
  EXPECT_EQ(History(doomed).back().type, "expired");
  EXPECT_EQ(History(doomed).back().detail, "not started by its expires_at");
  EXPECT_EQ(StatsOf("k").value().expired, 1);
  EXPECT_EQ(store_->JobExpire(100), 0);  // done once
  // Running jobs are not touched, whatever their expiry: it bounds the start.
  clock_->Advance(2h);
  EXPECT_EQ(store_->JobExpire(100), 0);
  EXPECT_EQ(Get(fine).state, JobState::kRunning);
  // Listed among the queue's jobs by state.
  for (const auto& q : store_->QueueList()) {
    if (q.name == "default") {
      EXPECT_EQ(q.jobs.at("expired"), 1);
    }
  }
}

TEST_P(DeadlineTest, ExpiresInSmallBatchesAndARetryWaitingPastItsExpiry) {
  for (int i = 0; i < 5; ++i) Insert({.kind = "k", .expires_at = Now() + 1min});
  std::string retried = Insert({.kind = "k", .expires_at = Now() + 1min});
  clock_->Advance(2min);
  EXPECT_EQ(store_->JobExpire(4), 4);
  EXPECT_EQ(store_->JobExpire(4), 2);
  EXPECT_EQ(Get(retried).state, JobState::kExpired);
  EXPECT_EQ(StatsOf("k").value().expired, 6);
}

TEST_P(DeadlineTest, AnExpiryNotAfterRunAtIsRefused) {
  auto t = Now();
  try {
    Insert({.kind = "k", .run_at = t + 1h, .expires_at = t + 1h});
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("would never run"), std::string::npos) << e.what();
  }
  EXPECT_EQ(store_->JobCount({}), 0);
}

TEST_P(DeadlineTest, AtRiskListsWaitingJobsWhoseKindNoLongerFitsBeforeTheirDeadline) {
  store_->KindStatsFlush({{"slow", {.estimate = 10min, .samples = 5}}});
  std::string risky = Insert({.kind = "slow", .deadline = Now() + 5min});
  std::string roomy = Insert({.kind = "slow", .deadline = Now() + 1h});
  std::string fast = Insert({.kind = "fast", .deadline = Now() + 1min});  // never measured
  Insert({.kind = "slow"});                                               // no deadline
  auto ids = [&](const JobFilter& f) {
    std::vector<std::string> out;
    for (const auto& j : store_->JobList(f)) out.push_back(j.id);
    return out;
  };
  EXPECT_EQ(ids({.at_risk = true}), (std::vector<std::string>{risky}));
  EXPECT_EQ(store_->JobCount({.at_risk = true}), 1);
  EXPECT_TRUE(Get(risky).AtRisk(10min, Now()));
  EXPECT_FALSE(Get(roomy).AtRisk(10min, Now()));
  clock_->Advance(2min);  // now the fast one's deadline passed
  EXPECT_EQ(ids({.at_risk = true}), (std::vector<std::string>{fast, risky}));
  EXPECT_EQ(ids({.kind = "slow", .at_risk = true}), (std::vector<std::string>{risky}));
  // A running job is not at risk any more: it runs.
  JobFetchParams p{"default", 10, "w1", 30s, {"fast"}};
  ASSERT_EQ(store_->JobFetch(p).size(), 1u);
  EXPECT_EQ(ids({.at_risk = true}), (std::vector<std::string>{risky}));
}

TEST_P(DeadlineTest, KindStatsMergeWorkersRunsAndAddUpCounts) {
  store_->KindStatsFlush({{"k", {.estimate = 1000ms, .samples = 100, .missed = 2}}});
  auto s = StatsOf("k").value();
  EXPECT_EQ(s.estimate, 1000ms);
  EXPECT_EQ(s.samples, 100);
  EXPECT_EQ(s.missed, 2);
  // Another worker measured 100 runs at 3 s: halfway, weighted by runs.
  store_->KindStatsFlush({{"k", {.estimate = 3000ms, .samples = 100, .missed = 1}}});
  s = StatsOf("k").value();
  EXPECT_EQ(s.estimate, 2000ms);
  EXPECT_EQ(s.samples, 200);
  EXPECT_EQ(s.missed, 3);
  // Misses without runs leave the estimate alone.
  store_->KindStatsFlush({{"k", {.estimate = std::nullopt, .samples = 0, .missed = 4}}});
  s = StatsOf("k").value();
  EXPECT_EQ(s.estimate, 2000ms);
  EXPECT_EQ(s.missed, 7);
}

TEST_P(DeadlineTest, ShedQueueExpiresWorkThatCannotMeetItsDeadline) {
  store_->QueueRegister({{"shedq", {QueueOrder::kDeadline, true}}, {"keep", {}}});
  store_->KindStatsFlush({{"slow", {.estimate = 10min, .samples = 5}}});
  std::string hopeless = Insert({.kind = "slow", .queue = "shedq", .deadline = Now() + 5min});
  std::string passed = Insert({.kind = "k", .queue = "shedq", .deadline = Now() - 1s});
  std::string meets = Insert({.kind = "slow", .queue = "shedq", .deadline = Now() + 1h});
  std::string kept = Insert({.kind = "slow", .queue = "keep", .deadline = Now() + 5min});
  std::string plain = Insert({.kind = "slow", .queue = "shedq"});
  EXPECT_EQ(store_->JobExpire(100), 2);
  EXPECT_EQ(Get(hopeless).state, JobState::kExpired);
  EXPECT_EQ(History(hopeless).back().detail,
            "shed: it cannot finish by its deadline (its kind takes 600000 ms)");
  EXPECT_EQ(Get(passed).state, JobState::kExpired);
  EXPECT_EQ(History(passed).back().detail, "shed: its deadline passed");
  for (const auto& id : {meets, kept, plain}) EXPECT_EQ(Get(id).state, JobState::kAvailable);
  EXPECT_EQ(StatsOf("slow").value().expired, 1);
  // The settings are listed with the queue; the last to register wins, a pause is kept.
  store_->QueuePause("shedq", true);
  store_->QueueRegister({{"shedq", {QueueOrder::kFifo, false}}});
  for (const auto& q : store_->QueueList()) {
    if (q.name == "shedq") {
      EXPECT_TRUE(q.paused_at.has_value());
      EXPECT_EQ(q.settings.order, QueueOrder::kFifo);
      EXPECT_FALSE(q.settings.shed);
    }
    if (q.name == "keep") {
      EXPECT_EQ(q.settings.order, QueueOrder::kFifo);
    }
  }
}

TEST_P(DeadlineTest, TheApplicationsTransactionAndSqlEnqueueCarryDeadlines) {
  // Milliseconds: the SQL below reads the times as RFC 3339 text, which has them.
  SysTime deadline = std::chrono::time_point_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now() + 1h);
  SysTime expires = deadline + 1h;
  JobSpec spec{.kind = "k", .queue = "mail", .deadline = deadline, .expires_at = expires};
  std::string id;
  if (GetParam() == BackendKind::kPostgres) {
    PGconn* conn = PQconnectdb(db_->url().c_str());
    ASSERT_EQ(PQstatus(conn), CONNECTION_OK);
    id = pg::Enqueue(conn, {spec}).front();
    // SQL: the new parameters by name, beside the old ones.
    std::string sql_id = db_->Query(
        "SELECT spindle.enqueue('k', '{}', queue => 'mail', max_attempts => 3, "
        "deadline => '" + core::FormatRfc3339(deadline) + "', expires_at => '" +
        core::FormatRfc3339(expires) + "')");
    Job j = Get(sql_id);
    EXPECT_EQ(j.deadline, deadline);
    EXPECT_EQ(j.expires_at, expires);
    EXPECT_EQ(j.max_attempts, 3);
    EXPECT_EQ(j.queue, "mail");
    EXPECT_FALSE(Get(db_->Query("SELECT spindle.enqueue('k')")).deadline.has_value());
    PGresult* r = PQexec(conn, "SELECT spindle.enqueue('k', expires_at => now() - interval '1s')");
    EXPECT_EQ(PQresultStatus(r), PGRES_FATAL_ERROR);
    EXPECT_NE(std::string(PQresultErrorMessage(r)).find("would never run"), std::string::npos);
    PQclear(r);
    PQfinish(conn);
  } else {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_->url().substr(7).c_str(), &db), SQLITE_OK);
    id = sqlite::Enqueue(db, {spec}).front();
    sqlite3_close(db);
  }
  Job j = Get(id);
  EXPECT_EQ(j.deadline, deadline);
  EXPECT_EQ(j.expires_at, expires);
  Json json = j.ToJson();
  EXPECT_EQ(json["deadline"], core::FormatRfc3339(deadline));
  EXPECT_EQ(json["expires_at"], core::FormatRfc3339(expires));
  EXPECT_TRUE(json["missed_by_ms"].is_null());
}

TEST(RunStatsTest, EstimateIsTheNinetiethPercentileOfTheLatestRuns) {
  runtime::RunStats stats;
  for (int i = 1; i <= 10; ++i) stats.Record("k", Millis(i * 100), false);
  stats.Record("k", std::nullopt, true);  // a late failure: counted, no run time
  auto taken = stats.Take();
  EXPECT_EQ(taken["k"].estimate, 900ms);
  EXPECT_EQ(taken["k"].samples, 10);
  EXPECT_EQ(taken["k"].missed, 1);
  EXPECT_TRUE(stats.Take().empty());  // nothing new
  // The window keeps the latest runs only.
  for (size_t i = 0; i < runtime::RunStats::kWindow; ++i) stats.Record("k", 5ms, false);
  EXPECT_EQ(stats.Take()["k"].estimate, 5ms);
}

// --- the worker: expiry while busy, missed deadlines, run-time estimates ---------------------

class DeadlineWorkerTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  WorkerOptions Options() {
    WorkerOptions o;
    o.database_url = db_->url();
    o.queues = {QueueOptions{"default", 1}};
    o.expire_interval = 20ms;
    o.shutdown_grace = 5s;
    o.cluster.heartbeat_interval = 100ms;
    o.cluster.heartbeat_timeout = 10s;
    return o;
  }
  std::unique_ptr<TestBackend> db_ = TestBackend::Make(GetParam());
};

TEST_P(DeadlineWorkerTest, AJobExpiresWhileEveryWorkerIsBusyAndNeverRuns) {
  Worker w(Options());
  std::atomic<bool> release{false};
  std::atomic<int> expired_runs{0};
  w.Register("block", [&](JobContext&) {
    while (!release) std::this_thread::sleep_for(5ms);
    return JobResult::Done();
  });
  w.Register("late", [&](JobContext&) {
    ++expired_runs;
    return JobResult::Done();
  });
  w.Start();
  auto client = Client::Open({db_->url()});
  std::string blocker = client->Enqueue({.kind = "block"});
  ASSERT_TRUE(WaitUntil([&] { return client->Get(blocker).state == JobState::kRunning; }));
  std::string late = client->Enqueue(
      {.kind = "late", .expires_at = std::chrono::system_clock::now() + 300ms});
  // The only slot is taken: the leader's expirer makes it expired all the same.
  EXPECT_TRUE(WaitUntil([&] { return client->Get(late).state == JobState::kExpired; }, 60s));
  release = true;
  ASSERT_TRUE(WaitUntil([&] { return client->Get(blocker).state == JobState::kCompleted; }));
  w.Stop();
  EXPECT_EQ(expired_runs.load(), 0);
}

TEST_P(DeadlineWorkerTest, CountsMissedDeadlinesAndMeasuresRunTimes) {
  auto o = Options();
  o.stats_interval = 1h;  // flushed when the worker stops
  Worker w(o);
  w.Register("k", [](JobContext&) {
    std::this_thread::sleep_for(20ms);
    return JobResult::Done();
  });
  w.Start();
  auto client = Client::Open({db_->url()});
  auto now = std::chrono::system_clock::now();
  std::string missed = client->Enqueue({.kind = "k", .deadline = now - 1s});
  std::string met = client->Enqueue({.kind = "k", .deadline = now + 1h});
  ASSERT_TRUE(WaitUntil([&] {
    return client->Get(missed).state == JobState::kCompleted &&
           client->Get(met).state == JobState::kCompleted;
  }));
  w.Stop();
  auto stats = client->KindStats();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].kind, "k");
  EXPECT_EQ(stats[0].missed, 1);
  EXPECT_EQ(stats[0].samples, 2);
  ASSERT_TRUE(stats[0].estimate.has_value());
  EXPECT_GE(*stats[0].estimate, 20ms);
  EXPECT_GE(client->Get(missed).MissedBy().value(), 1s);
  EXPECT_FALSE(client->Get(met).MissedBy().has_value());
  // What a person sees.
  auto show = Cli("--database " + Quote(db_->url()) + " jobs show " + missed);
  EXPECT_NE(show.out.find("(missed by "), std::string::npos) << show.out;
  auto json = Json::parse(Cli("--database " + Quote(db_->url()) + " --json jobs show " + missed).out);
  EXPECT_GE(json["missed_by_ms"].get<int64_t>(), 1000);
}

TEST_P(DeadlineWorkerTest, RecordsItsQueueSettings) {
  auto o = Options();
  o.queues = {{.name = "edf", .concurrency = 1, .order = QueueOrder::kDeadline, .shed = true}};
  Worker w(o);
  w.Register("k", [](JobContext&) { return JobResult::Done(); });
  w.Start();
  auto client = Client::Open({db_->url()});
  client->PauseQueue("edf");  // listed while paused, with its settings
  auto r = Cli("--database " + Quote(db_->url()) + " --json queues list");
  w.Stop();
  auto queues = Json::parse(r.out);
  ASSERT_EQ(queues.size(), 1u) << r.out;
  EXPECT_EQ(queues[0]["order"], "deadline");
  EXPECT_EQ(queues[0]["shed"], true);
  auto text = Cli("--database " + Quote(db_->url()) + " queues list");
  EXPECT_NE(text.out.find("deadline+shed"), std::string::npos) << text.out;
}

// --- the command line and the configuration ------------------------------------------------

TEST_P(DeadlineTest, EnqueueTakesDeadlinesAndRefusesBadOnesChangingNothing) {
  auto r = Run("enqueue k --deadline-in 1h --expires-in 2h");
  ASSERT_EQ(r.status, 0) << r.err;
  Job j = Get(r.out.substr(0, 36));
  ASSERT_TRUE(j.deadline && j.expires_at);
  EXPECT_EQ(*j.expires_at - *j.deadline, 1h);
  auto show = Run("jobs show " + j.id);
  EXPECT_NE(show.out.find("deadline:     "), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("expires_at:   "), std::string::npos) << show.out;
  // A deadline in the past is allowed (it is soft); the job is at risk at once.
  r = Run("enqueue k --deadline 2020-01-01T00:00:00Z");
  ASSERT_EQ(r.status, 0) << r.err;
  std::string past = r.out.substr(0, 36);
  auto listed = Json::parse(Run("--json jobs list --at-risk").out);
  ASSERT_EQ(listed["jobs"].size(), 1u);
  EXPECT_EQ(listed["jobs"][0]["id"], past);
  EXPECT_EQ(listed["jobs"][0]["at_risk"], true);
  auto table = Run("jobs list --at-risk").out;
  EXPECT_NE(table.find("DEADLINE"), std::string::npos) << table;
  EXPECT_NE(table.find("2020-01-01"), std::string::npos) << table;
  EXPECT_NE(Run("jobs show " + past).out.find("(at risk)"), std::string::npos);
  EXPECT_EQ(Json::parse(Run("--json jobs show " + past).out)["at_risk"], true);

  struct Bad {
    std::string args, message;
  };
  for (const auto& [args, message] : std::vector<Bad>{
           {"--run-at 2030-01-01T00:00:00Z --expires-at 2029-12-31T00:00:00Z",
            "error: --expires-at 2029-12-31T00:00:00.000Z is not after the time the job would "
            "run (2030-01-01T00:00:00.000Z): it would never run"},
           {"--expires-at 2020-01-01T00:00:00Z", "error: --expires-at 2020-01-01T00:00:00.000Z "
                                                 "is not after the time the job would run"},
           {"--delay 1h --expires-in 1h", "error: --expires-in 1h ("},  // the same instant
           {"--deadline 2030-01-01T00:00:00Z --deadline-in 1h",
            "error: give --deadline or --deadline-in, not both"},
           {"--expires-at 2030-01-01T00:00:00Z --expires-in 1h",
            "error: give --expires-at or --expires-in, not both"},
           {"--deadline tomorrow", "error: --deadline: "},
           {"--expires-in 0s", "error: --expires-in: must be longer than 0s"},
           {"--deadline-in 5x", "error: --deadline-in: "},
       }) {
    r = Run("enqueue k " + args);
    EXPECT_EQ(r.status, 2) << args << ": " << r.err;
    EXPECT_EQ(r.err.rfind(message, 0), 0u) << args << ": " << r.err;
  }
  EXPECT_EQ(store_->JobCount({}), 2);  // nothing more
}

TEST_P(DeadlineTest, ExpiredJobsAreListedAndDeletedLikeOtherFinishedOnes) {
  std::string one = Insert({.kind = "k", .expires_at = Now() + 1min});
  std::string two = Insert({.kind = "k", .expires_at = Now() + 1min});
  std::string waiting = Insert({.kind = "k"});
  clock_->Advance(2min);
  ASSERT_EQ(store_->JobExpire(100), 2);
  auto listed = Json::parse(Run("--json jobs list --state expired").out);
  ASSERT_EQ(listed["jobs"].size(), 2u);
  auto r = Run("jobs retry --state expired --yes");
  EXPECT_EQ(r.status, 2) << r.err;  // it could never start again
  EXPECT_NE(r.err.find("cannot retry expired jobs"), std::string::npos) << r.err;
  r = Run("jobs delete " + one);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(store_->JobGet(one));
  r = Run("jobs delete --state expired --yes");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "deleted 1 job\n");
  EXPECT_FALSE(store_->JobGet(two));
  EXPECT_TRUE(store_->JobEvents(two).empty());
  EXPECT_EQ(Get(waiting).state, JobState::kAvailable);
}

TEST_P(DeadlineTest, ConfigurationRefusesBadQueueSettingsNamingTheKey) {
  struct Bad {
    std::string toml, message;
  };
  for (const auto& [toml, message] : std::vector<Bad>{
           {"[queues.q]\norder = \"edf\"\n",
            "'queues.q.order' must be \"fifo\" or \"deadline\", got \"edf\""},
           {"[queues.q]\norder = 1\n", "'queues.q.order' must be a string"},
           {"[queues.q]\nshed = \"yes\"\n", "'queues.q.shed' must be true or false, got 'yes'"},
       }) {
    std::string path = ::testing::TempDir() + "spindle_deadline_" + std::to_string(getpid()) +
                       "_" + testing::Name(GetParam()) + ".toml";
    std::ofstream(path) << toml << "[kinds.k]\ncommand = [\"/bin/true\"]\n";
    auto r = Run("--config " + Quote(path) + " serve");
    EXPECT_EQ(r.status, 2) << toml << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << toml << r.err;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, DeadlineTest, ::testing::ValuesIn(testing::kAllBackends),
                         [](const auto& info) { return testing::Name(info.param); });
INSTANTIATE_TEST_SUITE_P(Backends, DeadlineWorkerTest, ::testing::ValuesIn(testing::kAllBackends),
                         [](const auto& info) { return testing::Name(info.param); });

}  // namespace
}  // namespace spindle
