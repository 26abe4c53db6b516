// Unique jobs (docs/jobs.md, "Unique jobs") on every backend: the store, the application's
// transaction, SQL, the command line, and many processes enqueueing one key at once.
#include <libpq-fe.h>
#include <sqlite3.h>

#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include <fmt/format.h>

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

// 2030-01-01T10:20:00Z: a pinned time whose hour is known.
SysTime At(int hour, int minute) {
  return SysTime(std::chrono::seconds(1893456000)) + std::chrono::hours(hour) +
         std::chrono::minutes(minute);
}

class UniqueTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    clock_ = std::make_shared<FakeClock>(At(10, 20));
    store_ = OpenStore({db_->url(), 4, clock_});
    store_->Migrate();
  }

  EnqueueResult Insert(JobSpec spec) { return store_->JobInsert({spec}).front(); }
  Job Get(const std::string& id) { return store_->JobGet(id).value(); }
  int64_t Jobs(const std::string& where = "true") {
    return db_->QueryInt("SELECT count(*) FROM {jobs} WHERE " + where);
  }
  // Runs job `id` to `kind` (the others fetched with it are handed back).
  void Finish(const std::string& id, JobOutcome::Kind kind) {
    auto fetched = store_->JobFetch({.queue = Get(id).queue, .limit = 1000, .worker_id = "w",
                                     .kinds = {Get(id).kind}});
    std::vector<JobOutcome> outcomes;
    for (const auto& j : fetched) {
      outcomes.push_back({.id = j.id, .attempt = j.attempt,
                          .kind = j.id == id ? kind : JobOutcome::Kind::kRelease, .message = "no"});
    }
    ASSERT_EQ(store_->JobFinishMany("w", outcomes).size(), fetched.size());
    ASSERT_EQ(Get(id).state, kind == JobOutcome::Kind::kCompleted ? JobState::kCompleted
                                                                   : JobState::kFailed);
  }

  std::unique_ptr<TestBackend> db_ = TestBackend::Make(GetParam());
  std::shared_ptr<FakeClock> clock_;
  std::unique_ptr<Store> store_;
};

TEST_P(UniqueTest, ASecondEnqueueOfAKeyReturnsTheJobHoldingIt) {
  auto first = Insert({.kind = "report", .unique_key = "report:7"});
  EXPECT_FALSE(first.existing);
  auto again = Insert({.kind = "report", .args = {{"other", 1}}, .unique_key = "report:7"});
  EXPECT_TRUE(again.existing);
  EXPECT_EQ(again.id, first.id);
  EXPECT_EQ(Get(first.id).unique_key, "report:7");  // shown by jobs show
  // Another key, and keyless jobs, are not held back.
  EXPECT_FALSE(Insert({.kind = "report", .unique_key = "report:8"}).existing);
  EXPECT_FALSE(Insert({.kind = "report"}).existing);
  EXPECT_FALSE(Insert({.kind = "report"}).existing);
  EXPECT_EQ(Jobs(), 4);
  // The key holds in every unfinished state: running, and stopped, too.
  store_->JobFetch({.queue = "default", .limit = 10, .worker_id = "w", .kinds = {"report"}});
  EXPECT_EQ(Get(first.id).state, JobState::kRunning);
  EXPECT_EQ(Insert({.kind = "report", .unique_key = "report:7"}).id, first.id);
  store_->JobStop(first.id);
  EXPECT_EQ(Insert({.kind = "report", .unique_key = "report:7"}).id, first.id);
  EXPECT_EQ(Jobs(), 4);
  // The ids-only entrance returns the holder too.
  EXPECT_EQ(store_->JobInsertMany({{.kind = "report", .unique_key = "report:7"}}).front(), first.id);
}

TEST_P(UniqueTest, AFinishedJobDoesNotHoldItsKeyByDefault) {
  auto done = Insert({.kind = "k", .unique_key = "u"});
  Finish(done.id, JobOutcome::Kind::kCompleted);
  auto next = Insert({.kind = "k", .unique_key = "u"});
  EXPECT_FALSE(next.existing);
  EXPECT_NE(next.id, done.id);
  store_->JobCancel(next.id);
  EXPECT_FALSE(Insert({.kind = "k", .unique_key = "u"}).existing);
  Finish(Insert({.kind = "k", .unique_key = "f"}).id, JobOutcome::Kind::kDiscard);  // failed
  EXPECT_FALSE(Insert({.kind = "k", .unique_key = "f"}).existing);
}

TEST_P(UniqueTest, TheStatesThatHoldAKeyAreTheJobsOwn) {
  // Completed jobs hold "c": at most one such job ever completes.
  std::vector<JobState> with_completed(std::begin(kRequiredUniqueStates),
                                       std::end(kRequiredUniqueStates));
  with_completed.push_back(JobState::kCompleted);
  auto done = Insert({.kind = "k", .unique_key = "c", .unique_states = with_completed});
  Finish(done.id, JobOutcome::Kind::kCompleted);
  auto again = Insert({.kind = "k", .unique_key = "c", .unique_states = with_completed});
  EXPECT_TRUE(again.existing);
  EXPECT_EQ(again.id, done.id);

  // Without stopped: a stopped job lets go of its key, and resuming it while another holds the
  // key is refused, naming that job, and changes nothing.
  std::vector<JobState> unstopped(std::begin(kRequiredUniqueStates), std::end(kRequiredUniqueStates));
  auto stopped = Insert({.kind = "k", .unique_key = "s", .unique_states = unstopped});
  store_->JobStop(stopped.id);
  auto holder = Insert({.kind = "k", .unique_key = "s"});
  EXPECT_FALSE(holder.existing);
  try {
    store_->JobResume(stopped.id);
    ADD_FAILURE() << "resumed into a held key";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIllegalTransition) << e.what();
    EXPECT_NE(std::string(e.what()).find(holder.id), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'s'"), std::string::npos) << e.what();
  }
  EXPECT_EQ(Get(stopped.id).state, JobState::kStopped);
  store_->JobCancel(holder.id);
  EXPECT_EQ(store_->JobResume(stopped.id).state, JobState::kAvailable);
}

TEST_P(UniqueTest, StatesAJobMovesThroughOnItsOwnAreRequired) {
  for (auto spec : {JobSpec{.kind = "k", .unique_key = "x", .unique_states = {JobState::kAvailable}},
                    JobSpec{.kind = "k", .unique_period = 1h},
                    JobSpec{.kind = "k", .unique_key = ""},
                    JobSpec{.kind = "k", .unique_key = std::string(1001, 'x')},
                    JobSpec{.kind = "k", .unique_key = "x", .unique_period = 0ms}}) {
    try {
      Insert(spec);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    }
  }
  EXPECT_EQ(Jobs(), 0);
}

TEST_P(UniqueTest, APeriodMakesTheKeyUniqueWithinEachPeriodFromTheEpoch) {
  auto ten = Insert({.kind = "k", .unique_key = "hourly", .unique_period = 1h});  // 10:20
  clock_->Advance(39min);                                                        // 10:59
  EXPECT_EQ(Insert({.kind = "k", .unique_key = "hourly", .unique_period = 1h}).id, ten.id);
  // A job scheduled into the next hour belongs to that hour.
  auto eleven = Insert({.kind = "k", .run_at = At(11, 30), .unique_key = "hourly",
                        .unique_period = 1h});
  EXPECT_FALSE(eleven.existing);
  clock_->Advance(1min);  // 11:00
  EXPECT_EQ(Insert({.kind = "k", .unique_key = "hourly", .unique_period = 1h}).id, eleven.id);
  // The same key without a period is another key.
  EXPECT_FALSE(Insert({.kind = "k", .unique_key = "hourly"}).existing);
  EXPECT_EQ(Jobs(), 3);
}

TEST_P(UniqueTest, DuplicatesInOneBatchGetTheFirstsId) {
  auto r = store_->JobInsert({{.kind = "k", .unique_key = "a"},
                              {.kind = "k"},
                              {.kind = "k", .unique_key = "a"},
                              {.kind = "k", .unique_key = "b"},
                              {.kind = "k", .unique_key = "a"},
                              {.kind = "k"}});
  ASSERT_EQ(r.size(), 6u);
  std::vector<bool> existing;
  for (const auto& e : r) existing.push_back(e.existing);
  EXPECT_EQ(existing, (std::vector<bool>{false, false, true, false, true, false}));
  EXPECT_EQ(r[2].id, r[0].id);
  EXPECT_EQ(r[4].id, r[0].id);
  EXPECT_EQ(Jobs(), 4);
  EXPECT_EQ(Jobs("unique_key = 'a'"), 1);
  // A second batch finds them all held.
  auto again = store_->JobInsert({{.kind = "k", .unique_key = "b"}, {.kind = "k", .unique_key = "a"}});
  EXPECT_TRUE(again[0].existing && again[1].existing);
  EXPECT_EQ(again[0].id, r[3].id);
  EXPECT_EQ(again[1].id, r[0].id);
}

TEST_P(UniqueTest, RetryingAJobWhoseKeyAnotherHoldsIsRefused) {
  auto failed = Insert({.kind = "k", .unique_key = "u"});
  Finish(failed.id, JobOutcome::Kind::kDiscard);
  auto holder = Insert({.kind = "k", .unique_key = "u"});
  ASSERT_FALSE(holder.existing);
  try {
    store_->JobRetry(failed.id);
    ADD_FAILURE() << "retried into a held key";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIllegalTransition) << e.what();
    EXPECT_EQ(std::string(e.what()),
              fmt::format("cannot retry job {}: job {} (available) holds its unique key 'u'",
                          failed.id, holder.id));
  }
  EXPECT_EQ(Get(failed.id).state, JobState::kFailed);

  // In bulk: a job whose key is held is skipped; of two finished with one key, one is retried.
  auto twin = Insert({.kind = "k", .unique_key = "t"});
  Finish(twin.id, JobOutcome::Kind::kDiscard);
  auto twin2 = Insert({.kind = "k", .unique_key = "t"});
  Finish(twin2.id, JobOutcome::Kind::kDiscard);
  Client::BulkAction retry = Client::BulkAction::kRetry;
  JobFilter filter = Client::BulkFilter(retry, {.states = {JobState::kFailed}, .limit = 1000});
  auto page = store_->JobRetryPage(filter);
  EXPECT_EQ(page.changed, 1);
  EXPECT_EQ(Get(failed.id).state, JobState::kFailed);
  EXPECT_EQ(Jobs("unique_key = 't' AND state = 'available'"), 1);
}

TEST_P(UniqueTest, ChildrenCannotBeUniqueJobs) {
  auto parent = Insert({.kind = "p"});
  auto fetched = store_->JobFetch({.queue = "default", .limit = 1, .worker_id = "w", .kinds = {"p"}});
  ASSERT_EQ(fetched.size(), 1u);
  try {
    store_->JobSave("w", {parent.id, 1}, {.children = {{.kind = "c", .unique_key = "x"}}});
    ADD_FAILURE() << "saved a unique child";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
  }
  EXPECT_EQ(Jobs(), 1);
}

TEST_P(UniqueTest, TheApplicationsTransactionAndSqlSeeTheSameKeys) {
  auto first = Insert({.kind = "k", .unique_key = "app"});
  std::vector<EnqueueResult> got;
  if (GetParam() == BackendKind::kPostgres) {
    PGconn* conn = PQconnectdb(db_->url().c_str());
    ASSERT_EQ(PQstatus(conn), CONNECTION_OK);
    got = pg::Insert(conn, {{.kind = "k", .unique_key = "app"}, {.kind = "k", .unique_key = "new"}});
    PQfinish(conn);
    // SQL: the key's holder, and a new job for a new key; its states are checked.
    EXPECT_EQ(db_->Query("SELECT spindle.enqueue('k', unique_key => 'app')"), first.id);
    std::string sql_new = db_->Query(
        "SELECT spindle.enqueue('k', unique_key => 'sql', unique_period => '1 hour')");
    EXPECT_EQ(db_->Query("SELECT spindle.enqueue('k', unique_key => 'sql', "
                         "unique_period => '1 hour')"),
              sql_new);
    EXPECT_NE(db_->Query("SELECT spindle.enqueue('k', unique_key => 'sql')"), sql_new);
  } else {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_->url().substr(7).c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    got = sqlite::Insert(db, {{.kind = "k", .unique_key = "app"}, {.kind = "k", .unique_key = "new"}});
    sqlite3_close(db);
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].existing);
  EXPECT_EQ(got[0].id, first.id);
  EXPECT_FALSE(got[1].existing);
  EXPECT_EQ(Jobs("unique_key = 'app'"), 1);
}

// Unique jobs with serial keys (migration 013): a unique job joins its serial key's line as any
// job does, with its deadline and expiry; one that is not inserted takes no place in a line.
class UniqueSerialTest : public UniqueTest {
 protected:
  int64_t KeyRows() {
    return db_->QueryInt(GetParam() == BackendKind::kPostgres
                             ? "SELECT count(*) FROM spindle.serial_keys"
                             : "SELECT count(*) FROM spindle_serial_keys");
  }
  // The ids of the due jobs of kind "k" fetched now (at most 10).
  std::vector<std::string> Fetch() {
    std::vector<std::string> ids;
    for (const auto& j : store_->JobFetch({.queue = "default", .limit = 10, .worker_id = "w",
                                           .kinds = {"k"}})) {
      ids.push_back(j.id);
    }
    return ids;
  }
  void Complete(const std::string& id) {
    Job j = Get(id);
    ASSERT_EQ(store_->JobFinishMany("w", {{.id = j.id, .attempt = j.attempt}}).size(), 1u);
  }
  using Ids = std::vector<std::string>;
};

TEST_P(UniqueSerialTest, AUniqueJobJoinsItsSerialKeysLineWithItsDeadlines) {
  SysTime deadline = At(11, 0), expires = At(12, 0);
  auto head = Insert({.kind = "k", .deadline = deadline, .expires_at = expires, .serial_key = "s",
                      .unique_key = "u"});
  ASSERT_FALSE(head.existing);
  Job j = Get(head.id);
  EXPECT_EQ(j.serial_key, "s");
  EXPECT_FALSE(j.serial_held);
  EXPECT_EQ(j.deadline, deadline);
  EXPECT_EQ(j.expires_at, expires);
  // Held by its key's holder: nothing inserted, and the line is as it was.
  auto dup = Insert({.kind = "k", .serial_key = "s", .unique_key = "u"});
  EXPECT_TRUE(dup.existing);
  EXPECT_EQ(dup.id, head.id);
  // The next job of the key, unique or not, waits behind the head.
  auto second = Insert({.kind = "k", .serial_key = "s", .unique_key = "v"});
  std::string third = store_->JobInsertMany({{.kind = "k", .serial_key = "s"}}).front();
  EXPECT_TRUE(Get(second.id).serial_held);
  EXPECT_TRUE(Get(third).serial_held);
  EXPECT_EQ(Fetch(), Ids{head.id});
  Complete(head.id);
  EXPECT_EQ(Fetch(), Ids{second.id});
  Complete(second.id);
  EXPECT_EQ(Fetch(), Ids{third});
  Complete(third);
  EXPECT_EQ(KeyRows(), 0);
}

TEST_P(UniqueSerialTest, AUniqueJobThatIsNotInsertedTakesNoPlaceInALine) {
  // "u" is held by a job of another serial key; an enqueue of "u" with the key "fresh" must not
  // open a line for "fresh" that nobody heads.
  auto holder = Insert({.kind = "k", .serial_key = "other", .unique_key = "u"});
  for (int i = 0; i < 3; ++i) {
    auto dup = Insert({.kind = "k", .serial_key = "fresh", .unique_key = "u"});
    EXPECT_TRUE(dup.existing);
    EXPECT_EQ(dup.id, holder.id);
  }
  EXPECT_EQ(KeyRows(), 1);  // "other"
  std::string next = store_->JobInsertMany({{.kind = "k", .serial_key = "fresh"}}).front();
  EXPECT_FALSE(Get(next).serial_held);
  auto both = Fetch();  // PostgreSQL returns a batch unordered
  EXPECT_EQ(std::set<std::string>(both.begin(), both.end()),
            (std::set<std::string>{holder.id, next}));

  // In one batch with jobs of the same serial key, the skipped one leaves the others in order.
  auto r = store_->JobInsert({{.kind = "k", .serial_key = "m", .unique_key = "u"},
                              {.kind = "k", .serial_key = "m"},
                              {.kind = "k", .serial_key = "m", .unique_key = "w"},
                              {.kind = "k", .serial_key = "m"}});
  ASSERT_EQ(r.size(), 4u);
  EXPECT_TRUE(r[0].existing);
  EXPECT_FALSE(Get(r[1].id).serial_held);
  EXPECT_TRUE(Get(r[2].id).serial_held);
  EXPECT_TRUE(Get(r[3].id).serial_held);
  for (size_t i = 1; i < 4; ++i) {
    EXPECT_EQ(Fetch(), Ids{r[i].id}) << i;
    Complete(r[i].id);
  }
}

TEST_P(UniqueSerialTest, ARefusedRetryLeavesTheLineAsItWas) {
  auto failed = Insert({.kind = "k", .serial_key = "s", .unique_key = "u"});
  ASSERT_EQ(Fetch(), Ids{failed.id});
  Job j = Get(failed.id);
  ASSERT_EQ(store_->JobFinishMany("w", {{.id = j.id, .attempt = j.attempt,
                                         .kind = JobOutcome::Kind::kDiscard, .message = "no"}})
                .size(),
            1u);
  auto holder = Insert({.kind = "k", .serial_key = "s", .unique_key = "u"});
  ASSERT_FALSE(holder.existing);
  EXPECT_THROW(store_->JobRetry(failed.id), Error);
  EXPECT_EQ(Get(failed.id).state, JobState::kFailed);
  EXPECT_FALSE(Get(holder.id).serial_held);
  std::string next = store_->JobInsertMany({{.kind = "k", .serial_key = "s"}}).front();
  EXPECT_TRUE(Get(next).serial_held);
  EXPECT_EQ(Fetch(), Ids{holder.id});
  Complete(holder.id);
  EXPECT_EQ(Fetch(), Ids{next});
  Complete(next);
  EXPECT_EQ(KeyRows(), 0);
}

TEST_P(UniqueSerialTest, TheApplicationsTransactionAndSqlToo) {
  auto holder = Insert({.kind = "k", .unique_key = "u"});
  std::vector<EnqueueResult> got;
  if (GetParam() == BackendKind::kPostgres) {
    PGconn* conn = PQconnectdb(db_->url().c_str());
    ASSERT_EQ(PQstatus(conn), CONNECTION_OK);
    got = pg::Insert(conn, {{.kind = "k", .serial_key = "a", .unique_key = "u"},
                            {.kind = "k", .serial_key = "a", .unique_key = "x"}});
    PQfinish(conn);
    // spindle.enqueue: 013's parameters in their places, the unique ones after them.
    EXPECT_EQ(db_->Query("SELECT spindle.enqueue('k', '{}', NULL, NULL, NULL, NULL, NULL, NULL, "
                         "NULL, 'b', 'u')"),
              holder.id);
    std::string sql = db_->Query(
        "SELECT spindle.enqueue('k', '{}', NULL, NULL, NULL, NULL, NULL, "
        "'2030-01-01T11:00:00Z', '2030-01-01T12:00:00Z', 'a', 'y', '1 hour')");
    Job j = Get(sql);
    EXPECT_EQ(j.serial_key, "a");
    EXPECT_TRUE(j.serial_held);  // behind "x"
    EXPECT_EQ(j.deadline, At(11, 0));
    EXPECT_EQ(j.expires_at, At(12, 0));
    EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM spindle.serial_keys WHERE key = 'b'"), 0);
  } else {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_->url().substr(7).c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    got = sqlite::Insert(db, {{.kind = "k", .serial_key = "a", .unique_key = "u"},
                              {.kind = "k", .serial_key = "a", .unique_key = "x"}});
    sqlite3_close(db);
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].existing);
  EXPECT_EQ(got[0].id, holder.id);
  EXPECT_FALSE(got[1].existing);
  EXPECT_FALSE(Get(got[1].id).serial_held);  // the skipped one did not take the head's place
}

TEST(UniqueSqlTest, SpindleEnqueueRefusesStatesAJobMovesThroughOnItsOwn) {
  auto db = TestBackend::Make(BackendKind::kPostgres);
  Client::Open({db->url()});
  EXPECT_THROW(db->Query("SELECT spindle.enqueue('k', unique_key => 'x', "
                         "unique_states => '{available}')"),
               std::exception);
  EXPECT_EQ(db->QueryInt("SELECT count(*) FROM spindle.jobs"), 0);
}

class UniqueCliTest : public UniqueTest {
 protected:
  testing::CliResult Run(const std::string& args, const std::string& input = "") {
    return Cli("--database " + Quote(db_->url()) + " " + args, input);
  }
};

TEST_P(UniqueCliTest, TheCommandLineSaysTheJobWasAlreadyThere) {
  auto first = Run("enqueue mail --unique-key welcome:42");
  ASSERT_EQ(first.status, 0) << first.output;
  std::string id = first.out.substr(0, first.out.find('\n'));
  auto again = Run("enqueue mail --unique-key welcome:42 --args '{\"x\": 1}'");
  EXPECT_EQ(again.status, 0) << again.output;
  EXPECT_EQ(again.out, id + "\n");
  EXPECT_NE(again.err.find(fmt::format("job {} already exists (unique key 'welcome:42', state "
                                       "available): nothing was enqueued",
                                       id)),
            std::string::npos)
      << again.err;
  auto json = Run("--json enqueue mail --unique-key welcome:42");
  ASSERT_EQ(json.status, 0) << json.output;
  auto j = Json::parse(json.out);
  EXPECT_EQ(j["id"], id);
  EXPECT_EQ(j["existing"], true);
  EXPECT_EQ(j["state"], "available");
  EXPECT_EQ(Json::parse(Run("--json enqueue mail --unique-key other").out)["existing"], false);

  // Periods and states from the command line; bad ones are refused and change nothing.
  EXPECT_EQ(Run("enqueue mail --unique-key h --unique-period 1h "
                "--unique-states scheduled,available,running,retryable,waiting,completed")
                .status,
            0);
  auto bad = Run("enqueue mail --unique-key h2 --unique-states available");
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_NE(bad.err.find("unique_states must include"), std::string::npos) << bad.err;
  EXPECT_EQ(Run("enqueue mail --unique-key h2 --unique-period 1x").status, 2);
  EXPECT_EQ(Run("enqueue mail --unique-key h2 --unique-states nope").status, 2);
  bad = Run("enqueue mail --unique-period 1h");
  EXPECT_EQ(bad.status, 2);
  EXPECT_EQ(bad.err, "error: --unique-period and --unique-states need --unique-key\n");
  bad = Run("enqueue mail --unique-key h3 --unique-period 0s");
  EXPECT_EQ(bad.status, 2);
  EXPECT_EQ(bad.err, "error: --unique-period: must be longer than 0s\n");
  EXPECT_EQ(Jobs(), 3);

  // --batch lines.
  auto batch = Run("--json enqueue mail --batch",
                   "{\"args\": {}, \"unique_key\": \"b\"}\n"
                   "{\"args\": {}, \"unique_key\": \"b\", \"unique_period\": \"1d\"}\n"
                   "{\"args\": {}, \"unique_key\": \"b\"}\n"
                   "{\"args\": {}, \"unique_key\": \"welcome:42\"}\n"
                   "{\"n\": 1}\n");
  ASSERT_EQ(batch.status, 0) << batch.output;
  auto summary = Json::parse(batch.out);
  EXPECT_EQ(summary["enqueued"], 3);
  EXPECT_EQ(summary["existing"], 2);
  auto plain = Run("enqueue mail --batch", "{\"args\": {}, \"unique_key\": \"b\"}\n");
  EXPECT_NE(plain.out.find("enqueued 0 jobs in"), std::string::npos) << plain.out;
  EXPECT_NE(plain.out.find("1 already existed"), std::string::npos) << plain.out;
}

TEST_P(UniqueCliTest, ARetryIntoAHeldKeyExitsWith4AndChangesNothing) {
  std::string failed = Run("enqueue mail --unique-key r").out;
  failed.pop_back();
  Finish(failed, JobOutcome::Kind::kDiscard);
  std::string holder = Run("enqueue mail --unique-key r").out;
  holder.pop_back();
  ASSERT_NE(holder, failed);
  auto r = Run("jobs retry " + failed);
  EXPECT_EQ(r.status, 4) << r.output;
  EXPECT_NE(r.err.find("error: cannot retry job " + failed + ": job " + holder +
                       " (available) holds its unique key 'r'"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(Get(failed).state, JobState::kFailed);
}

// Many processes enqueue one key at the same moment: exactly one job, and every process prints
// its id.
TEST_P(UniqueCliTest, ConcurrentEnqueuesFromManyProcessesMakeOneJobPerKey) {
  constexpr int kProcesses = 8;
  for (int round = 0; round < 4; ++round) {
    std::string key = fmt::format("race:{}", round);
    std::string script;
    for (int i = 0; i < kProcesses; ++i) {
      script += fmt::format("{} --database {} enqueue k --unique-key {} --args '{{\"p\": {}}}' & ",
                            SPINDLE_BIN, Quote(db_->url()), key, i);
    }
    script += "wait";
    auto r = testing::RunCommand("/bin/sh", "-c " + Quote(script));
    ASSERT_EQ(r.status, 0) << r.output;
    std::istringstream lines(r.out);
    std::set<std::string> ids;
    int printed = 0;
    for (std::string line; std::getline(lines, line); ++printed) ids.insert(line);
    EXPECT_EQ(printed, kProcesses) << r.output;
    EXPECT_EQ(ids.size(), 1u) << r.output;
    EXPECT_EQ(Jobs(fmt::format("unique_key = '{}'", key)), 1) << r.output;
    if (round == 1) {  // the key is free again once its job finished
      Finish(*ids.begin(), JobOutcome::Kind::kCompleted);
      auto again = testing::RunCommand("/bin/sh", "-c " + Quote(script));
      ASSERT_EQ(again.status, 0) << again.output;
      EXPECT_EQ(Jobs(fmt::format("unique_key = '{}'", key)), 2) << again.output;
      EXPECT_EQ(Jobs(fmt::format("unique_key = '{}' AND state = 'available'", key)), 1);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, UniqueTest, ::testing::ValuesIn(testing::kAllBackends),
                         [](const auto& info) { return testing::Name(info.param); });
INSTANTIATE_TEST_SUITE_P(Backends, UniqueSerialTest, ::testing::ValuesIn(testing::kAllBackends),
                         [](const auto& info) { return testing::Name(info.param); });
INSTANTIATE_TEST_SUITE_P(Backends, UniqueCliTest, ::testing::ValuesIn(testing::kAllBackends),
                         [](const auto& info) { return testing::Name(info.param); });

}  // namespace
}  // namespace spindle
