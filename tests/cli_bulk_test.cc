// The command line's bulk changes, queue removal and job listing, on both backends: each test
// runs the real binary (stdin is a pipe, not a terminal).
#include <gtest/gtest.h>

#include "core/time.h"
#include "store/store.h"
#include "testing.h"

namespace spindle {
namespace {

using namespace std::chrono_literals;
using testing::BackendKind;
using testing::Cli;
using testing::Quote;
using testing::TestBackend;

class CliBulkTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    client_ = Client::Open({db_->url()});
    store_ = OpenStore({db_->url()});
  }
  testing::CliResult Run(const std::string& args, const std::string& input = "") {
    return Cli("--database " + Quote(db_->url()) + " " + args, input);
  }
  // `n` jobs of `kind` in `queue`, each fetched and failed (discarded) when `fail`.
  std::vector<std::string> Add(int n, const std::string& queue, const std::string& kind,
                               bool fail) {
    auto ids = client_->EnqueueMany(std::vector<JobSpec>(n, {.kind = kind, .queue = queue}));
    if (!fail) return ids;
    std::vector<JobOutcome> outcomes;
    for (const auto& j : store_->JobFetch({.queue = queue, .limit = n, .worker_id = "w",
                                           .lease = 1h, .kinds = {kind}})) {
      outcomes.push_back({j.id, 1, JobOutcome::Kind::kDiscard, "boom\nsecond line"});
    }
    EXPECT_EQ(store_->JobFinishMany("w", outcomes).size(), static_cast<size_t>(n));
    return ids;
  }
  int64_t Count(JobState s, const std::string& queue = "") {
    return client_->Count({.states = {s}, .queue = queue});
  }

  std::unique_ptr<TestBackend> db_ = TestBackend::Make(GetParam());
  std::unique_ptr<Client> client_;
  std::unique_ptr<Store> store_;
};

TEST_P(CliBulkTest, RetryByFilterAcrossManyPagesWithYes) {
  Add(2500, "q", "k", true);
  Add(3, "other", "k", true);
  Add(2, "q", "k", false);

  auto r = Run("jobs retry --state failed --queue q --dry-run");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.out.find("would retry 2500 jobs"), std::string::npos) << r.out;
  EXPECT_EQ(Count(JobState::kFailed), 2503) << "a dry run changed jobs";

  r = Run("jobs retry --queue q --yes");  // failed by default
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.out, "retried 2500 jobs\n");
  EXPECT_EQ(Count(JobState::kAvailable, "q"), 2502);
  EXPECT_EQ(Count(JobState::kFailed, "other"), 3);

  r = Run("jobs cancel --kind k --yes --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(Json::parse(r.out), (Json{{"action", "cancel"}, {"dry_run", false}, {"jobs", 2502}, {"counted", 2502}}));

  r = Run("jobs delete --state completed,failed,cancelled --queue q --yes");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.out, "deleted 2502 jobs\n");
  EXPECT_EQ(client_->Count({}), 3);
}

TEST_P(CliBulkTest, WithoutATerminalOrYesItRefusesAndChangesNothing) {
  Add(5, "q", "k", true);
  for (const char* args : {"jobs retry --queue q", "jobs delete --state failed",
                           "jobs cancel --queue q --state available"}) {
    SCOPED_TRACE(args);
    auto r = Run(args, "y\n");  // an answer on a pipe is not a confirmation
    if (std::string(args).find("cancel") != std::string::npos) {
      EXPECT_EQ(r.status, 0) << "nothing to cancel needs no confirmation: " << r.output;
      EXPECT_EQ(r.out, "cancelled 0 jobs\n");
      continue;
    }
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.err.find("error: refusing to"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("5 jobs"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--yes"), std::string::npos) << r.err;
  }
  EXPECT_EQ(Count(JobState::kFailed), 5);
}

TEST_P(CliBulkTest, BadBulkInputIsRefused) {
  std::string id = Add(1, "q", "k", false)[0];
  auto expect = [&](const std::string& args, int status, const std::string& text) {
    SCOPED_TRACE(args);
    auto r = Run(args);
    EXPECT_EQ(r.status, status) << r.output;
    EXPECT_NE(r.err.find(text), std::string::npos) << r.err;
  };
  expect("jobs retry --state running --yes", 2, "retry applies to completed, failed, cancelled");
  expect("jobs cancel --state completed --yes", 2, "cannot cancel completed jobs");
  expect("jobs cancel", 2, "needs a job id, or --state, --queue or --kind");
  expect("jobs cancel " + id + " --queue q", 2, "not both");
  expect("jobs delete " + id, 4, "cannot delete job " + id + ": it is available");
  expect("jobs delete --state bogus --yes", 2, "unknown state 'bogus'; valid states: scheduled");
  expect("jobs list --state failed,gone", 2, "unknown state 'gone'");
  EXPECT_EQ(Count(JobState::kAvailable), 1);
  // The single-job forms work as before.
  auto r = Run("jobs cancel " + id);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.out.find("state:        cancelled"), std::string::npos) << r.out;
  r = Run("jobs delete " + id + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(Json::parse(r.out)["id"], id);
  EXPECT_EQ(client_->Count({}), 0);
  // Without --json, one line that says the job is gone.
  std::string other = client_->Enqueue({.kind = "k", .queue = "q"});
  ASSERT_EQ(Run("jobs cancel " + other).status, 0);
  r = Run("jobs delete " + other);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.out, "deleted job " + other + " (k, cancelled)\n");
  EXPECT_EQ(client_->Count({}), 0);
}

TEST_P(CliBulkTest, PausingAnUnknownQueueIsAnErrorAndRemoveForgetsAnEmptyOne) {
  Add(2, "a", "k", false);
  Add(1, "b", "k", false);
  auto r = Run("queues pause x");
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.err.find("error: unknown queue 'x'; known queues: a, b"), std::string::npos)
      << r.err;
  EXPECT_EQ(client_->Queues().size(), 2u) << "a refused pause made a queue";

  ASSERT_EQ(Run("queues pause a").status, 0);
  r = Run("queues remove a");
  EXPECT_EQ(r.status, 4) << r.output;
  EXPECT_NE(r.err.find("cannot remove queue 'a': it still has 2 jobs"), std::string::npos)
      << r.err;
  ASSERT_EQ(Run("jobs cancel --queue a --yes").status, 0);
  ASSERT_EQ(Run("jobs delete --queue a --yes").status, 0);
  EXPECT_TRUE(client_->Queues()[0].paused_at.has_value()) << "still paused without jobs";
  r = Run("queues remove a");
  ASSERT_EQ(r.status, 0) << r.output;
  auto queues = client_->Queues();
  ASSERT_EQ(queues.size(), 1u);
  EXPECT_EQ(queues[0].name, "b");
  EXPECT_EQ(Run("queues remove a").status, 3) << "removed twice";
}

TEST_P(CliBulkTest, ListTakesSeveralStatesPagesWithAfterAndShowsWhenAndErrors) {
  auto failed = Add(3, "q", "k", true);
  auto available = Add(2, "q", "k", false);

  auto r = Run("jobs list --state failed,available --limit 4 --json");
  ASSERT_EQ(r.status, 0) << r.output;
  Json page = Json::parse(r.out);
  ASSERT_EQ(page["jobs"].size(), 4u);
  EXPECT_EQ(page["total"], 5);
  EXPECT_EQ(page["jobs"][0]["id"], available[1]) << "newest first";
  ASSERT_EQ(page["next_after"], page["jobs"][3]["id"]);
  r = Run("jobs list --state failed,available --limit 4 --json --after " +
          page["next_after"].get<std::string>());
  ASSERT_EQ(r.status, 0) << r.output;
  Json rest = Json::parse(r.out);
  ASSERT_EQ(rest["jobs"].size(), 1u);
  EXPECT_EQ(rest["jobs"][0]["id"], failed[0]);
  EXPECT_EQ(rest["next_after"], nullptr);

  r = Run("jobs list --limit 2");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.err.find("showing 2 of 5; next page: --after " + available[0]), std::string::npos)
      << r.err;
  r = Run("jobs list --state failed");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.err, "") << "nothing was cut off";
  EXPECT_NE(r.out.find("WHEN"), std::string::npos) << r.out;
  Job f = client_->Get(failed[0]);
  EXPECT_NE(r.out.find(core::FormatHumanTime(*f.finished_at)), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  boom\n"), std::string::npos) << "the error's first line: " << r.out;
  EXPECT_EQ(r.out.find("second line"), std::string::npos) << r.out;

  r = Run("jobs list --state failed,sleeping");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.err.find("unknown state 'sleeping'; valid states: scheduled, available"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(Run("jobs list --after nonsense").status, 2);
}

// A bulk change of thousands of jobs leaves a running job alone: its worker's heartbeats and
// renewals get through between the pages (SQLite has one writer at a time), so it neither fences
// itself nor loses the job, which finishes in its first attempt.
TEST_P(CliBulkTest, ABulkChangeDoesNotDisturbARunningJob) {
  db_->InstallFinishLog();
  testing::Process worker({TEST_WORKER_BIN, db_->url(), "--sleep", "6000", "--concurrency", "1"});
  ASSERT_FALSE(worker.ReadLine().empty());
  std::string running = client_->Enqueue({.kind = "work"});
  ASSERT_TRUE(testing::WaitUntil([&] { return client_->Get(running).state == JobState::kRunning; }));
  Add(5000, "elsewhere", "other", false);
  auto r = Run("jobs cancel --kind other --yes");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.out.find("cancelled 5000 jobs"), std::string::npos) << r.out;
  ASSERT_TRUE(testing::WaitUntil([&] { return client_->Get(running).state == JobState::kCompleted; },
                                 60s));
  Job job = client_->Get(running);
  EXPECT_EQ(job.attempt, 1);
  for (const auto& e : client_->History(running)) EXPECT_NE(e.detail, "released") << e.type;
  worker.Signal(SIGTERM);
  EXPECT_EQ(worker.Wait(), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, CliBulkTest, ::testing::ValuesIn(testing::kAllBackends),
                         [](const auto& info) { return testing::Name(info.param); });

}  // namespace
}  // namespace spindle
