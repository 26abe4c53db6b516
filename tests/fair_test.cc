// Fair shares between the tenants of a queue (docs/regulation.md, "Fair shares"), on every
// backend: the store's fetch directly (a pinned clock, one job per fetch so the order is what
// the fetch chose), a regulated queue, a real worker, and the command line.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "regulation/admission.h"
#include "spindle/spindle.h"
#include "store/store.h"
#include "testing.h"

namespace spindle {
namespace {

using namespace std::chrono_literals;
using testing::BackendKind;
using testing::TestBackend;
using testing::WaitUntil;

class FairTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    store_ = OpenStore({db_->url(), 4, clock_});
    store_->Migrate();
  }

  void Fair(std::map<std::string, double> weights = {}) {
    store_->QueueRegister({{"default", {.fair_key = "tenant", .fair_weights = std::move(weights)}}});
  }
  // A batch of n jobs of one tenant, a moment after the last.
  void Insert(const std::string& tenant, int n) {
    clock_->Advance(1ms);
    std::vector<JobSpec> specs(n, JobSpec{.kind = "a", .args = {{"tenant", tenant}}});
    store_->JobInsertMany(specs);
  }
  // The tenants of the next n jobs, fetched one at a time as a worker of the fair queue does.
  std::string Next(int n, std::vector<Limit> limits = {}) {
    std::string tenants;
    for (int i = 0; i < n; ++i) {
      JobFetchParams p{"default", 1, "w1", 30s, {"a"}};
      p.fair = true;
      p.limits = regulation::LimitsFor(limits, "default", p.kinds);
      auto got = store_->JobFetch(p);
      if (got.empty()) break;
      tenants += got[0].args.value("tenant", "-");
    }
    return tenants;
  }
  int64_t Stamped() { return db_->QueryInt("SELECT count(*) FROM {jobs} WHERE fair_vt IS NOT NULL"); }

  std::unique_ptr<TestBackend> db_ = TestBackend::Make(GetParam());
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::unique_ptr<Store> store_;
};

// A tenant that enqueues behind another's backlog does not wait for it: they take turns.
TEST_P(FairTest, TenantsWithBacklogsTakeTurns) {
  Fair();
  Insert("A", 50);
  Insert("B", 3);
  EXPECT_EQ(Next(8), "ABABABAA");
  EXPECT_EQ(Stamped(), 53);
}

// Without fairness the same jobs run in enqueue order: the test above shows fairness at work.
TEST_P(FairTest, AQueueThatIsNotFairRunsInEnqueueOrder) {
  Insert("A", 50);
  Insert("B", 3);
  EXPECT_EQ(Next(8), "AAAAAAAA");
  EXPECT_EQ(Stamped(), 0);
}

// A tenant's jobs at another priority, or scheduled for later, do not push back its due ones.
TEST_P(FairTest, OnlyDueJobsAtTheSamePriorityGoBefore) {
  Fair();
  std::vector<JobSpec> low(20, JobSpec{.kind = "a", .args = {{"tenant", "A"}}, .priority = 1});
  std::vector<JobSpec> later(
      10, JobSpec{.kind = "a", .args = {{"tenant", "A"}}, .run_at = clock_->Now() + 1h});
  store_->JobInsertMany(low);
  store_->JobInsertMany(later);
  Insert("A", 2);
  Insert("B", 2);
  EXPECT_EQ(Next(4), "ABAB");
}

// Scheduled jobs in the same batch as due ones do not push those back either.
TEST_P(FairTest, ScheduledJobsOfABatchDoNotPushBackItsDueOnes) {
  Fair();
  std::vector<JobSpec> batch(
      3, JobSpec{.kind = "a", .args = {{"tenant", "A"}}, .run_at = clock_->Now() + 1h});
  batch.push_back({.kind = "a", .args = {{"tenant", "A"}}});
  batch.push_back({.kind = "a", .args = {{"tenant", "A"}}});
  store_->JobInsertMany(batch);
  Insert("B", 2);
  EXPECT_EQ(Next(4), "ABAB");
}

// Each priority has its own clock: leases at one priority do not put a newcomer at another
// behind that priority's backlog.
TEST_P(FairTest, EachPriorityHasItsOwnClock) {
  Fair();
  std::vector<JobSpec> high(10, JobSpec{.kind = "a", .args = {{"tenant", "A"}}, .priority = 0});
  std::vector<JobSpec> low(10, JobSpec{.kind = "a", .args = {{"tenant", "B"}}, .priority = 1});
  store_->JobInsertMany(high);
  store_->JobInsertMany(low);
  EXPECT_EQ(Next(12), "AAAAAAAAAABB");
  clock_->Advance(1ms);
  store_->JobInsertMany({{.kind = "a", .args = {{"tenant", "C"}}, .priority = 1}});
  EXPECT_EQ(Next(3), "BCB");
}

// A fair fetch that finds fewer jobs than it may take also takes jobs that have no time (here
// one enqueued while a worker that did not declare the queue fair was the last to start).
TEST_P(FairTest, JobsWithoutATimeAreTakenBesideTimedOnes) {
  Fair();
  Insert("A", 2);
  store_->QueueRegister({{"default", {}}});  // the last worker to start: not fair
  Insert("late", 1);
  EXPECT_EQ(Stamped(), 2);
  JobFetchParams p{"default", 10, "w1", 30s, {"a"}};
  p.fair = true;
  EXPECT_EQ(store_->JobFetch(p).size(), 3u);
}

// A tenant of weight 3 starts three jobs to the others' one.
TEST_P(FairTest, WeightsShareInProportion) {
  Fair({{"gold", 3}});
  Insert("A", 30);
  Insert("gold", 30);
  std::string first = Next(12);
  EXPECT_EQ(std::count(first.begin(), first.end(), 'A'), 3) << first;
  // "gold" is four letters: nine of them.
  EXPECT_EQ(first.size(), 3u + 9 * 4) << first;
}

// A tenant that arrives late starts at the queue's clock: it neither waits for the jobs before
// it nor gets credit for the time it had none.
TEST_P(FairTest, ALateTenantStartsAtTheClock) {
  Fair();
  Insert("A", 10);
  EXPECT_EQ(Next(6), "AAAAAA");
  Insert("B", 2);
  EXPECT_EQ(Next(6), "ABABAA");
}

// A job keeps its place through a retry: it comes back ahead of the jobs enqueued after it.
TEST_P(FairTest, ARetryKeepsItsPlace) {
  Fair();
  Insert("A", 5);
  JobFetchParams p{"default", 1, "w1", 30s, {"a"}};
  p.fair = true;
  auto first = store_->JobFetch(p);
  ASSERT_EQ(first.size(), 1u);
  Insert("B", 5);
  ASSERT_EQ(store_->JobFinishMany("w1", {{.id = first[0].id, .attempt = 1,
                                           .kind = JobOutcome::Kind::kError, .message = "boom",
                                           .delay = 0ms}})
                .size(),
            1u);
  auto again = store_->JobFetch(p);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, first[0].id);
}

// Jobs enqueued before the queue was declared fair are stamped when it is, each tenant's in
// enqueue order from the clock on: a tenant that comes after does not wait behind them all.
TEST_P(FairTest, JobsFromBeforeTheQueueWasFairTakeTurnsToo) {
  Insert("A", 2);
  Insert("B", 1);
  Insert("A", 2);
  Fair();
  EXPECT_EQ(Stamped(), 5);
  Insert("C", 2);
  EXPECT_EQ(Next(7), "ABCACAA");
}

// Workers that start together all stamp the jobs from before: none of them fails (on
// PostgreSQL their updates of the same rows may deadlock; the loser stamps again), and every job
// is stamped. (Once the queue is fair, inserts stamp their jobs themselves: one round.)
TEST_P(FairTest, WorkersStartingTogetherAllStampTheJobsFromBefore) {
  for (const char* tenant : {"A", "B", "C", "D"}) Insert(tenant, 3000);
  std::vector<std::unique_ptr<Store>> stores;
  for (int w = 0; w < 4; ++w) stores.push_back(OpenStore({db_->url(), 1, clock_}));
  std::vector<std::thread> workers;
  std::atomic<int> failed{0}, ready{0};
  for (auto& store : stores) {
    workers.emplace_back([&] {
      for (++ready; ready < 4;) std::this_thread::yield();
      try {
        store->QueueRegister({{"default", {.fair_key = "tenant"}}});
      } catch (const std::exception& e) {
        ++failed;
        ADD_FAILURE() << e.what();
      }
    });
  }
  for (auto& t : workers) t.join();
  ASSERT_EQ(failed, 0);
  EXPECT_EQ(Stamped(), 12000);
}

// Another queue's jobs are not stamped, and a job without the key is a tenant of its own.
TEST_P(FairTest, OnlyTheFairQueueIsStampedAndAMissingKeyIsATenant) {
  Fair();
  store_->JobInsertMany({{.kind = "a", .args = {{"tenant", "A"}}, .queue = "other"}});
  EXPECT_EQ(Stamped(), 0);
  Insert("A", 5);
  clock_->Advance(1ms);
  store_->JobInsertMany({{.kind = "a", .args = Json::object()}});
  EXPECT_EQ(Next(2), "A-");
}

// Under a cluster-wide limit the regulated fetch takes its candidates in the same order.
TEST_P(FairTest, ARegulatedQueueIsFairToo) {
  Fair();
  Limit limit{.name = "queue:default", .capacity = 100, .queue = "default"};
  store_->LimitRegister({limit});
  Insert("A", 50);
  Insert("B", 3);
  EXPECT_EQ(Next(8, {limit}), "ABABABAA");
}

TEST_P(FairTest, SettingsAreValidated) {
  auto invalid = [](QueueSettings q) {
    try {
      q.Validate("default");
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(invalid({.fair_key = "a..b"}).find("fair_key \"a..b\" must be a path"),
            std::string::npos);
  EXPECT_NE(invalid({.order = QueueOrder::kDeadline, .fair_key = "tenant"})
                .find("fair (fair_key) or in deadline order, not both"),
            std::string::npos);
  EXPECT_NE(invalid({.fair_key = "tenant", .fair_weights = {{"gold", 0}}})
                .find("tenant 'gold' has weight 0; a weight must be 0.001 to 1000"),
            std::string::npos);
  EXPECT_NE(invalid({.fair_weights = {{"gold", 2}}}).find("fair_weights need a fair_key"),
            std::string::npos);
  EXPECT_EQ(invalid({.fair_key = "account.id", .fair_weights = {{"gold", 2.5}}}), "");
  WorkerOptions o{.database_url = db_->url(),
                  .queues = {QueueOptions{.name = "default", .order = QueueOrder::kDeadline,
                                          .fair_key = "tenant"}}};
  EXPECT_THROW(Worker{o}, Error);
}

// A real worker of a fair queue with one slot: the small tenant's jobs run among the first,
// though the big tenant's backlog was enqueued before them.
TEST_P(FairTest, ARealWorkerRunsTenantsInTurn) {
  auto client = Client::Open({db_->url()});
  std::vector<JobSpec> big(40, JobSpec{.kind = "a", .args = {{"tenant", "big"}}});
  std::vector<JobSpec> small(4, JobSpec{.kind = "a", .args = {{"tenant", "small"}}});
  WorkerOptions o{.database_url = db_->url(),
                  .queues = {QueueOptions{.name = "default", .concurrency = 1,
                                          .fair_key = "tenant"}}};
  std::mutex mu;
  std::vector<std::string> ran;
  Worker w(o);
  w.Register("a", [&](JobContext& ctx) {
    std::lock_guard lock(mu);
    ran.push_back(ctx.job.args.value("tenant", ""));
    return JobResult::Done();
  });
  // Recorded as fair before the jobs come, as a deployed worker would have.
  store_->QueueRegister({{"default", o.queues[0].Settings()}});
  client->EnqueueMany(big);
  client->EnqueueMany(small);
  w.Start();
  ASSERT_TRUE(WaitUntil([&] { std::lock_guard lock(mu); return ran.size() == 44; }, 60s));
  w.Stop();
  int small_in_first_ten = 0;
  for (int i = 0; i < 10; ++i) small_in_first_ten += ran[i] == "small";
  EXPECT_EQ(small_in_first_ten, 4);
}

// The command line: fairness from the configuration, bad settings refused, `queues list`.
TEST_P(FairTest, CommandLine) {
  auto run = [&](const std::string& args) {
    return testing::Cli("--database " + testing::Quote(db_->url()) + " " + args);
  };
  std::string path = ::testing::TempDir() + "/fair-" + testing::Name(GetParam()) + ".toml";
  auto refuses = [&](const std::string& toml, const std::string& want) {
    return testing::ServeRefuses(db_->url(), path, toml, want);
  };
  EXPECT_TRUE(refuses("[queues.default]\norder = \"deadline\"\nfair_key = \"tenant\"\n",
                      "queue 'default': a queue is fair (fair_key) or in deadline order"));
  EXPECT_TRUE(refuses("[queues.default]\nfair_key = \"tenant\"\nfair_weights = { gold = \"x\" }\n",
                      "'queues.default.fair_weights.gold' must be a number"));

  std::ofstream(path) << "[queues.default]\nfair_key = \"tenant\"\n"
                         "fair_weights = { gold = 4 }\n[kinds.a]\ncommand = [\"true\"]\n";
  auto served = testing::RunCommand(
      "timeout", "-s TERM 8 " + std::string(SPINDLE_BIN) + " --database " +
                     testing::Quote(db_->url()) + " --config " + testing::Quote(path) + " serve");
  // Shown as soon as a worker declared it, before any job came.
  auto listed = run("queues list");
  ASSERT_EQ(listed.status, 0) << listed.output << served.output;
  EXPECT_NE(listed.out.find("fair(tenant)"), std::string::npos) << listed.out;
  auto json = Json::parse(run("--json queues list").out);
  ASSERT_EQ(json.size(), 1u) << json.dump();
  EXPECT_EQ(json[0]["order"], "fair");
  EXPECT_EQ(json[0]["fair_key"], "tenant");
  EXPECT_EQ(json[0]["fair_weights"]["gold"], 4.0);

  store_->JobInsertMany({{.kind = "a", .args = {{"tenant", 42}}}, {.kind = "a"}});
  auto jobs = Json::parse(run("--json jobs list").out)["jobs"];
  ASSERT_EQ(jobs.size(), 2u) << jobs.dump();
  std::set<std::string> tenants;
  for (const auto& j : jobs) tenants.insert(j["tenant"].get<std::string>());
  EXPECT_EQ(tenants, (std::set<std::string>{"42", ""}));
  std::string keyless = jobs[0]["tenant"] == "" ? jobs[0]["id"] : jobs[1]["id"];
  auto shown = run("jobs show " + keyless);
  EXPECT_NE(shown.out.find("tenant:       \"\" (its args lack the queue's fair_key)"),
            std::string::npos)
      << shown.out;
}

INSTANTIATE_TEST_SUITE_P(Backends, FairTest, ::testing::ValuesIn(testing::kAllBackends),
                         [](const auto& info) { return testing::Name(info.param); });

}  // namespace
}  // namespace spindle
