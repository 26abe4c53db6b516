// The storage conformance suite: every storage behaviour, run against every backend.
// A new backend adds itself to INSTANTIATE_TEST_SUITE_P at the bottom.
#include <libpq-fe.h>
#include <sqlite3.h>

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "core/job_json.h"
#include "core/uuid.h"
#include "spindle/postgres.h"
#include "spindle/sqlite.h"
#include "store/store.h"
#include "testing.h"

namespace spindle {
namespace {

using namespace std::chrono_literals;
using testing::BackendKind;
using testing::TestBackend;

class StoreTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    clock_ = std::make_shared<FakeClock>();
    store_ = Open();
    store_->Migrate();
  }

  std::unique_ptr<Store> Open() { return OpenStore({db_->url(), 4, clock_}); }

  std::string Insert(JobSpec spec) { return store_->JobInsertMany({spec}).front(); }
  Job Get(const std::string& id) { return store_->JobGet(id).value(); }
  // Fetches for a worker with handlers for every kind enqueued so far.
  std::vector<Job> Fetch(const std::string& worker, int limit = 10,
                         const std::string& queue = "default", Millis lease = 30s) {
    std::vector<std::string> kinds;
    for (const auto& j : store_->JobList({.limit = 100000})) kinds.push_back(j.kind);
    return store_->JobFetch({queue, limit, worker, lease, kinds});
  }
  std::vector<std::string> Finish(const std::string& worker, JobOutcome o) {
    return store_->JobFinishMany(worker, {o});
  }
  // Inserts a due job of kind "k" with SQL, as an application or a person might, bypassing the
  // store's checks: `args` and `checkpoint` are JSON text (checkpoint "": none).
  std::string InsertRaw(const std::string& args, const std::string& checkpoint = "") {
    std::string id = core::NewUuidV7();
    auto quote = [](const std::string& text) { return "'" + text + "'"; };
    bool pg = GetParam() == BackendKind::kPostgres;
    db_->Query("INSERT INTO {jobs} (id, kind, args, checkpoint, run_at, created_at) VALUES (" +
               quote(id) + ", 'k', " + quote(args) + ", " +
               (checkpoint.empty() ? "NULL" : quote(checkpoint)) + ", " +
               (pg ? "'2000-01-01', now()" : "946684800000000, 946684800000000") + ")");
    return id;
  }
  int64_t Count(const std::string& where = "true") {
    return db_->QueryInt("SELECT count(*) FROM {jobs} WHERE " + where);
  }
  // Collects notifications until none arrives for 300 ms.
  std::multiset<std::string> Drain(StoreListener& l) {
    std::multiset<std::string> got;
    while (true) {
      auto names = l.Wait(300ms).queues;
      if (names.empty()) return got;
      got.insert(names.begin(), names.end());
    }
  }

  std::unique_ptr<TestBackend> db_ = TestBackend::Make(GetParam());
  std::shared_ptr<FakeClock> clock_;
  std::unique_ptr<Store> store_;
};

// --- migrations ---------------------------------------------------------------------------

TEST_P(StoreTest, MigrateIsIdempotent) {
  EXPECT_EQ(store_->LatestVersion(), LatestSchemaVersion());  // the backends share numbering
  EXPECT_EQ(store_->Migrate(), store_->LatestVersion());
  EXPECT_EQ(store_->Migrate(), store_->LatestVersion());
  EXPECT_EQ(store_->SchemaVersion(), store_->LatestVersion());
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM {migrations}"), store_->LatestVersion());
}

TEST_P(StoreTest, ConcurrentMigratorsAgree) {
  auto fresh = TestBackend::Make(GetParam());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      try {
        auto s = OpenStore({fresh->url(), 1, nullptr});
        if (s->Migrate() == s->LatestVersion()) ++ok;
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 6);
  EXPECT_EQ(fresh->QueryInt("SELECT count(*) FROM {migrations}"), store_->LatestVersion());
}

TEST_P(StoreTest, RefusesADatabaseFromANewerSpindle) {
  db_->Query("INSERT INTO {migrations} (version, name) VALUES (999, 'future')");
  try {
    store_->Migrate();
    FAIL() << "migrated a newer schema";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kSchemaTooNew);
    EXPECT_NE(std::string(e.what()).find("999"), std::string::npos);
  }
  EXPECT_THROW(Client::Open({db_->url()}, /*migrate=*/false), Error);
  EXPECT_THROW(Client::Open({db_->url()}), Error);
}

TEST_P(StoreTest, UnmigratedDatabaseIsVersionZero) {
  auto fresh = TestBackend::Make(GetParam());
  EXPECT_EQ(OpenStore({fresh->url(), 1, nullptr})->SchemaVersion(), 0);
  try {
    Client::Open({fresh->url()}, /*migrate=*/false);
    FAIL() << "opened a database without a schema";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("spindle migrate"), std::string::npos) << e.what();
  }
}

// --- enqueue ------------------------------------------------------------------------------

TEST_P(StoreTest, EnqueueStoresEveryField) {
  auto run_at = clock_->Now() - 1s;
  std::string id = Insert({.kind = "email",
                           .args = {{"to", "a@b.c"}, {"n", 3}},
                           .queue = "mail",
                           .priority = 2,
                           .run_at = run_at,
                           .max_attempts = 7,
                           .timeout = 1500ms});
  EXPECT_TRUE(core::IsUuid(id));
  EXPECT_EQ(id[14], '7');
  Job j = Get(id);
  EXPECT_EQ(j.kind, "email");
  EXPECT_EQ(j.queue, "mail");
  EXPECT_EQ(j.args, (Json{{"to", "a@b.c"}, {"n", 3}}));
  EXPECT_EQ(j.priority, 2);
  EXPECT_EQ(j.state, JobState::kAvailable);
  EXPECT_EQ(j.attempt, 0);
  EXPECT_EQ(j.max_attempts, 7);
  EXPECT_EQ(j.timeout, Millis(1500));
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::microseconds>(j.run_at - run_at).count(), 0);
  EXPECT_EQ(j.created_at, std::chrono::time_point_cast<std::chrono::microseconds>(clock_->Now()));
  EXPECT_TRUE(j.errors.empty());
  EXPECT_FALSE(j.started_at || j.finished_at || j.lease_expires_at);
}

TEST_P(StoreTest, EnqueueInTheFutureIsScheduled) {
  std::string id = Insert({.kind = "k", .run_at = clock_->Now() + 1h});
  EXPECT_EQ(Get(id).state, JobState::kScheduled);
}

TEST_P(StoreTest, BatchEnqueueInsertsAllAndNotifiesOncePerQueue) {
  auto listener = store_->Listen();
  Drain(*listener);  // connects
  std::vector<JobSpec> specs;
  for (int i = 0; i < 1000; ++i) specs.push_back({.kind = "k", .queue = i % 2 ? "a" : "b"});
  specs.push_back({.kind = "later", .queue = "c", .run_at = clock_->Now() + 1h});
  auto ids = store_->JobInsertMany(specs);
  EXPECT_EQ(ids.size(), 1001u);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 1001u);
  EXPECT_EQ(Count(), 1001);
  // One notification per queue with due jobs; none for the scheduled-only queue.
  EXPECT_EQ(Drain(*listener), (std::multiset<std::string>{"a", "b"}));
}

TEST_P(StoreTest, BadInputChangesNothing) {
  auto expect_invalid = [&](std::vector<JobSpec> specs) {
    try {
      store_->JobInsertMany(specs);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    }
  };
  expect_invalid({{.kind = "ok"}, {.kind = "bad", .args = Json::array()}});
  expect_invalid({{.kind = ""}});
  expect_invalid({{.kind = "big", .args = {{"blob", std::string(kMaxArgsBytes, 'x')}}}});
  expect_invalid({{.kind = "k", .max_attempts = 0}});
  EXPECT_EQ(Count(), 0);
}

// --- kind defaults ---------------------------------------------------------------------

TEST_P(StoreTest, KindDefaultsApplyToWhatTheEnqueuerLeavesUnset) {
  store_->KindRegister("w1", {{"img", {.queue = "images", .priority = 3, .max_attempts = 4,
                                       .timeout = 90s}},
                              {"mail", {.queue = "mail"}}});
  auto listener = store_->Listen();
  Drain(*listener);
  Job img = Get(Insert({.kind = "img"}));
  EXPECT_EQ(img.queue, "images");
  EXPECT_EQ(img.priority, 3);
  EXPECT_EQ(img.max_attempts, 4);
  EXPECT_EQ(img.timeout, Millis(90s));
  // The kind's queue is the one that is woken.
  EXPECT_EQ(Drain(*listener), (std::multiset<std::string>{"images"}));

  // What the enqueuer says wins, field by field.
  Job own = Get(Insert({.kind = "img", .queue = "q", .priority = -1, .max_attempts = 9,
                        .timeout = 5s}));
  EXPECT_EQ(own.queue, "q");
  EXPECT_EQ(own.priority, -1);
  EXPECT_EQ(own.max_attempts, 9);
  EXPECT_EQ(own.timeout, Millis(5s));
  Job some = Get(Insert({.kind = "img", .max_attempts = 2}));
  EXPECT_EQ(some.queue, "images");
  EXPECT_EQ(some.max_attempts, 2);

  // What the kind leaves unset, and a kind without defaults, take the built-in defaults.
  Job mail = Get(Insert({.kind = "mail"}));
  EXPECT_EQ(mail.queue, "mail");
  EXPECT_EQ(mail.priority, kDefaultPriority);
  EXPECT_EQ(mail.max_attempts, kDefaultMaxAttempts);
  EXPECT_FALSE(mail.timeout);
  Job other = Get(Insert({.kind = "other"}));
  EXPECT_EQ(other.queue, kDefaultQueue);
  EXPECT_EQ(other.priority, 0);
  EXPECT_EQ(other.max_attempts, 25);
  EXPECT_FALSE(other.timeout);

  // A batch of both.
  Drain(*listener);
  auto ids = store_->JobInsertMany({{.kind = "img"}, {.kind = "other"}});
  EXPECT_EQ(Get(ids[0]).queue, "images");
  EXPECT_EQ(Get(ids[1]).queue, "default");
  EXPECT_EQ(Drain(*listener), (std::multiset<std::string>{"images", "default"}));

  // A step's children too.
  std::string parent = Insert({.kind = "parent", .queue = "parents"});
  ASSERT_EQ(Fetch("w", 10, "parents").size(), 1u);
  ASSERT_TRUE(store_->JobSave("w", {parent, 1}, {.step = "join", .children = {{.kind = "img"}}}));
  auto children = store_->JobList({.parent_id = parent});
  ASSERT_EQ(children.size(), 1u);
  EXPECT_EQ(children[0].queue, "images");
  EXPECT_EQ(children[0].max_attempts, 4);
}

TEST_P(StoreTest, TheLastWorkerToRecordAKindsDefaultsWins) {
  EXPECT_TRUE(store_->KindList().empty());
  store_->KindRegister("w1", {{"img", {.queue = "a", .max_attempts = 4}}});
  clock_->Advance(1s);
  store_->KindRegister("w2", {{"img", {.queue = "b", .timeout = 1min}}, {"zip", {.priority = 7}}});
  store_->KindRegister("w3", {});  // declares nothing: changes nothing
  auto kinds = store_->KindList();
  ASSERT_EQ(kinds.size(), 2u);
  EXPECT_EQ(kinds[0].kind, "img");
  EXPECT_EQ(kinds[0].worker, "w2");
  EXPECT_EQ(kinds[0].defaults.queue, "b");
  EXPECT_FALSE(kinds[0].defaults.max_attempts) << "the whole record is replaced";
  EXPECT_EQ(kinds[0].defaults.timeout, Millis(1min));
  EXPECT_EQ(kinds[0].registered_at,
            std::chrono::time_point_cast<std::chrono::microseconds>(clock_->Now()));
  EXPECT_EQ(kinds[1].kind, "zip");
  EXPECT_EQ(kinds[1].defaults.priority, 7);
  EXPECT_FALSE(kinds[1].defaults.queue);
  Job img = Get(Insert({.kind = "img"}));
  EXPECT_EQ(img.queue, "b");
  EXPECT_EQ(img.max_attempts, kDefaultMaxAttempts);
}

TEST_P(StoreTest, InvalidKindDefaultsAreRefusedAndChangeNothing) {
  store_->KindRegister("w1", {{"img", {.queue = "images"}}});
  for (const KindDefaults& bad : {KindDefaults{.queue = ""}, KindDefaults{.max_attempts = 0},
                                  KindDefaults{.timeout = 0ms}}) {
    try {
      store_->KindRegister("w2", {{"aaa", {.queue = "fine"}}, {"img", bad}});
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
      EXPECT_NE(std::string(e.what()).find("kind 'img'"), std::string::npos) << e.what();
    }
  }
  auto kinds = store_->KindList();
  ASSERT_EQ(kinds.size(), 1u);
  EXPECT_EQ(kinds[0].worker, "w1");
}

// The application's connection and transaction, per backend.
class AppTransaction {
 public:
  explicit AppTransaction(const TestBackend& db) : kind_(db.kind()) {
    if (kind_ == BackendKind::kPostgres) {
      pg_ = PQconnectdb(db.url().c_str());
      EXPECT_EQ(PQstatus(pg_), CONNECTION_OK);
    } else {
      EXPECT_EQ(sqlite3_open(db.url().substr(7).c_str(), &lite_), SQLITE_OK);
      sqlite3_busy_timeout(lite_, 5000);
    }
  }
  ~AppTransaction() {
    if (pg_) PQfinish(pg_);
    if (lite_) sqlite3_close(lite_);
  }
  void Exec(const char* sql) {
    if (pg_) {
      PQclear(PQexec(pg_, sql));
    } else {
      sqlite3_exec(lite_, sql, nullptr, nullptr, nullptr);
    }
  }
  std::vector<std::string> Enqueue(const std::vector<JobSpec>& specs) {
    return pg_ ? pg::Enqueue(pg_, specs) : sqlite::Enqueue(lite_, specs);
  }

 private:
  BackendKind kind_;
  PGconn* pg_ = nullptr;
  sqlite3* lite_ = nullptr;
};

TEST_P(StoreTest, EnqueueInTheApplicationsTransaction) {
  auto listener = store_->Listen();
  Drain(*listener);
  AppTransaction app(*db_);
  app.Exec("BEGIN");
  app.Enqueue({{.kind = "rolled_back"}, {.kind = "rolled_back"}});
  app.Exec("ROLLBACK");
  EXPECT_EQ(Count(), 0);
  EXPECT_TRUE(Drain(*listener).empty());

  app.Exec("BEGIN");
  auto ids = app.Enqueue({{.kind = "kept"}, {.kind = "kept"}});
  if (GetParam() == BackendKind::kPostgres) {
    EXPECT_EQ(Count(), 0) << "visible before commit";
  }
  app.Exec("COMMIT");
  EXPECT_EQ(Count("kind = 'kept'"), 2);
  EXPECT_EQ(Get(ids[0]).state, JobState::kAvailable);
  // PostgreSQL notifies at commit; SQLite workers find the jobs by polling.
  if (GetParam() == BackendKind::kPostgres) {
    EXPECT_EQ(Drain(*listener), (std::multiset<std::string>{"default"}));
  }
}

TEST_P(StoreTest, EnqueueInTheApplicationsTransactionAppliesKindDefaults) {
  store_->KindRegister("w1", {{"img", {.queue = "images", .max_attempts = 4}}});
  AppTransaction app(*db_);
  app.Exec("BEGIN");
  auto ids = app.Enqueue({{.kind = "img"}, {.kind = "img", .queue = "own"}});
  app.Exec("COMMIT");
  EXPECT_EQ(Get(ids[0]).queue, "images");
  EXPECT_EQ(Get(ids[0]).max_attempts, 4);
  EXPECT_EQ(Get(ids[1]).queue, "own");
  EXPECT_EQ(Get(ids[1]).max_attempts, 4);
}

// PostgreSQL only: SQL triggers, and the connection semantics of libpq.
class PostgresStoreTest : public StoreTest {};

TEST_P(PostgresStoreTest, EnqueueFromASqlTrigger) {
  auto listener = store_->Listen();
  Drain(*listener);
  db_->Query(R"(
    CREATE TABLE orders (id serial PRIMARY KEY, email text NOT NULL);
    CREATE FUNCTION orders_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM spindle.enqueue('send_receipt', jsonb_build_object('order', NEW.id, 'to', NEW.email),
                              queue => 'mail', max_attempts => 5);
      RETURN NEW;
    END $$;
    CREATE TRIGGER orders_enqueue AFTER INSERT ON orders
      FOR EACH ROW EXECUTE FUNCTION orders_enqueue();
    INSERT INTO orders (email) VALUES ('a@x'), ('b@x'), ('c@x');
  )");
  EXPECT_EQ(Count("kind = 'send_receipt' AND queue = 'mail' AND state = 'available' "
                  "AND max_attempts = 5 AND args->>'to' LIKE '%@x'"),
            3);
  EXPECT_EQ(Count("substr(id::text, 15, 1) = '7'"), 3);
  // Three jobs in one transaction: one notification.
  EXPECT_EQ(Drain(*listener), (std::multiset<std::string>{"mail"}));
  // A failing insert rolls back its job too.
  EXPECT_ANY_THROW(db_->Query("INSERT INTO orders (email) VALUES (NULL)"));
  EXPECT_EQ(Count(), 3);
}

TEST_P(PostgresStoreTest, EnqueueFromSqlAppliesKindDefaults) {
  store_->KindRegister("w1", {{"img", {.queue = "images", .priority = 3, .max_attempts = 4,
                                       .timeout = 90s}}});
  auto listener = store_->Listen();
  Drain(*listener);
  db_->Query("SELECT spindle.enqueue('img', '{\"n\": 1}')");
  db_->Query("SELECT spindle.enqueue('img', '{\"n\": 2}', queue => 'own', max_attempts => 9)");
  db_->Query("SELECT spindle.enqueue('other')");
  EXPECT_EQ(Count("args->>'n' = '1' AND queue = 'images' AND priority = 3 AND max_attempts = 4 "
                  "AND timeout_ms = 90000"),
            1);
  EXPECT_EQ(Count("args->>'n' = '2' AND queue = 'own' AND priority = 3 AND max_attempts = 9 "
                  "AND timeout_ms = 90000"),
            1);
  EXPECT_EQ(Count("kind = 'other' AND queue = 'default' AND priority = 0 AND max_attempts = 25 "
                  "AND timeout_ms IS NULL"),
            1);
  EXPECT_EQ(Drain(*listener), (std::multiset<std::string>{"images", "own", "default"}));
}

TEST_P(PostgresStoreTest, EnqueueFromSqlRefusesNumbersWorkersCannotRead) {
  for (const char* args : {R"({"amount": 1e400})", R"({"a": [1, {"b": -1e400}]})",
                           // Just above 2^1024 - 2^970 (1.797693134862315807...e308), the
                           // smallest magnitude that a double rounds to infinity.
                           R"({"edge": 1.7976931348623159e308})"}) {
    SCOPED_TRACE(args);
    try {
      db_->Query(std::string("SELECT spindle.enqueue('k', '") + args + "')");
      ADD_FAILURE() << "accepted";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find("beyond the range workers read"), std::string::npos)
          << e.what();
    }
    // With a SQLSTATE a caller can catch: invalid_parameter_value (22023).
    db_->Query(std::string("DO $$ BEGIN PERFORM spindle.enqueue('k', '") + args +
               "'); RAISE 'accepted'; EXCEPTION WHEN invalid_parameter_value THEN END $$");
  }
  EXPECT_EQ(Count(), 0);
  // What a worker reads is accepted: just below that bound (read as the largest double), and
  // tiny numbers (read as 0).
  db_->Query(R"(SELECT spindle.enqueue('k', '{"max": -1.7976931348623158e308, "tiny": 1e-400}'))");
  clock_->Advance(1min);  // due by the database's clock, which the pinned one must pass
  auto jobs = Fetch("w");
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].args["max"], -1.7976931348623157e308);
  EXPECT_EQ(jobs[0].args["tiny"], 0.0);
}

// --- fetch --------------------------------------------------------------------------------

TEST_P(StoreTest, FetchesByPriorityThenRunAtThenId) {
  auto now = clock_->Now();
  std::string p1_late = Insert({.kind = "p1_late", .priority = 1, .run_at = now - 1s});
  std::string p1_early = Insert({.kind = "p1_early", .priority = 1, .run_at = now - 5s});
  std::string p0 = Insert({.kind = "p0", .priority = 0, .run_at = now - 1s});
  std::string neg = Insert({.kind = "neg", .priority = -3, .run_at = now});
  std::string other_queue = Insert({.kind = "other", .queue = "q2", .priority = -9});
  std::string future = Insert({.kind = "future", .priority = -9, .run_at = now + 10s});
  std::vector<std::string> order;
  for (int i = 0; i < 5; ++i) {
    for (auto& j : Fetch("w", 1)) order.push_back(j.kind);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"neg", "p0", "p1_early", "p1_late"}));
  clock_->Advance(11s);
  auto due = Fetch("w", 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].id, future);
  EXPECT_EQ(Fetch("w", 10, "q2").size(), 1u);
}

TEST_P(StoreTest, FetchLeasesTheJob) {
  std::string id = Insert({.kind = "k"});
  auto jobs = Fetch("w1", 5, "default", 10s);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].attempt, 1);
  EXPECT_EQ(jobs[0].state, JobState::kRunning);
  Job j = Get(id);
  EXPECT_EQ(j.state, JobState::kRunning);
  EXPECT_EQ(j.lease_owner, "w1");
  EXPECT_EQ(*j.lease_expires_at,
            std::chrono::time_point_cast<std::chrono::microseconds>(clock_->Now() + 10s));
  EXPECT_TRUE(Fetch("w2").empty()) << "a leased job was fetched twice";
}

TEST_P(StoreTest, FetchTakesOnlyKindsTheWorkerHandles) {
  std::string mine = Insert({.kind = "mine", .priority = 1});
  Insert({.kind = "theirs", .priority = 0});
  auto jobs = store_->JobFetch({"default", 10, "w", 30s, {"mine", "other"}});
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, mine);
  EXPECT_TRUE(store_->JobFetch({"default", 10, "w", 30s, {}}).empty());
  EXPECT_EQ(Count("kind = 'theirs' AND state = 'available'"), 1);
}

TEST_P(StoreTest, FetchReturnsAtMostTheLimit) {
  std::vector<JobSpec> specs(25, JobSpec{.kind = "k"});
  store_->JobInsertMany(specs);
  EXPECT_EQ(Fetch("w", 10).size(), 10u);
  EXPECT_EQ(Fetch("w", 10).size(), 10u);
  EXPECT_EQ(Fetch("w", 10).size(), 5u);
  EXPECT_EQ(Fetch("w", 10).size(), 0u);
}

// --- what workers cannot read or store ----------------------------------------------------

TEST_P(StoreTest, AFetchedRowTheWorkerCannotReadFailsAloneAndReadingPathsShowItsRawText) {
  std::vector<std::string> good;
  for (int i = 0; i < 3; ++i) good.push_back(Insert({.kind = "k", .args = {{"i", i}}}));
  // Numbers beyond a double's range: PostgreSQL's jsonb and SQLite's JSON accept them, the
  // worker's JSON parser does not.
  std::string bad_args = InsertRaw(R"({"amount": 1e400})");
  std::string bad_checkpoint = InsertRaw("{}", R"({"total": [-1e400]})");
  Count();

  auto fetched = Fetch("w", 10);
  std::vector<std::string> ids;
  for (const auto& j : fetched) ids.push_back(j.id);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, good) << "the readable jobs of the batch were not all returned";
  for (const auto& j : fetched) EXPECT_EQ(j.state, JobState::kRunning);

  for (const auto& [id, column] : {std::pair{bad_args, std::string("args")},
                                   std::pair{bad_checkpoint, std::string("checkpoint")}}) {
    SCOPED_TRACE(column);
    Job j = Get(id);  // reading it does not fail
    EXPECT_EQ(j.state, JobState::kFailed);
    EXPECT_EQ(j.attempt, 1);
    EXPECT_TRUE(j.finished_at.has_value());
    EXPECT_EQ(j.lease_owner, "");
    ASSERT_EQ(j.errors.size(), 1u);
    EXPECT_EQ(j.errors[0].message.rfind("unreadable " + column + ": ", 0), 0u)
        << j.errors[0].message;
    EXPECT_NE(j.errors[0].message.find("overflow"), std::string::npos) << j.errors[0].message;
    Json raw = column == "args" ? j.args : j.checkpoint;
    ASSERT_TRUE(raw.is_string()) << raw.dump();
    EXPECT_NE(raw.get<std::string>().find(column == "args" ? "amount" : "total"),
              std::string::npos);
    EXPECT_NO_THROW(j.ToJson().dump());
    auto events = store_->JobEvents(id);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().type, "failed");
  }
  EXPECT_EQ(store_->JobList({}).size(), 5u);
  EXPECT_EQ(store_->JobList({.states = {JobState::kFailed}}).size(), 2u);
  EXPECT_TRUE(Fetch("w2").empty());
  // The good ones run on as usual.
  for (const auto& id : good) EXPECT_EQ(Finish("w", {id, 1}), std::vector<std::string>{id});
}

TEST_P(StoreTest, OutcomesAndSavesWithNulOrInvalidUtf8AreStoredCleaned) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Insert({.kind = "k", .priority = i}));
  ASSERT_EQ(Fetch("w").size(), 5u);
  const std::string nul("a\0b", 3), bad = "x\xff\xfey";
  const std::string nul_clean = "a\xef\xbf\xbd" "b", bad_clean = "x\xef\xbf\xbd\xef\xbf\xbdy";

  EXPECT_TRUE(store_->JobSave("w", {ids[0], 1},
                              {.checkpoint = Json{{"s", nul}}, .progress = Json{{bad, bad}}}));
  Job saved = Get(ids[0]);
  EXPECT_EQ(saved.checkpoint, (Json{{"s", nul_clean}}));
  EXPECT_EQ(saved.progress, (Json{{bad_clean, bad_clean}}));
  EXPECT_TRUE(store_->JobSave("w", {ids[1], 1},
                              {.children = {{.kind = "c", .args = {{nul, Json::array({bad})}}}}}));
  auto kids = store_->JobList({.parent_id = ids[1]});
  ASSERT_EQ(kids.size(), 1u);
  EXPECT_EQ(kids[0].args, (Json{{nul_clean, Json::array({bad_clean})}}));

  // In one batch with good outcomes: every one applies.
  auto applied = store_->JobFinishMany(
      "w", {{.id = ids[0], .attempt = 1, .result = Json{{"s", nul}}},
            {.id = ids[2], .attempt = 1, .result = Json{{bad, Json::array({bad, 1})}}},
            {ids[3], 1, JobOutcome::Kind::kError, bad + nul, 1s},
            {.id = ids[4], .attempt = 1, .result = Json{{"ok", true}}}});
  std::sort(applied.begin(), applied.end());
  EXPECT_EQ(applied, (std::vector<std::string>{ids[0], ids[2], ids[3], ids[4]}));
  EXPECT_EQ(Get(ids[0]).state, JobState::kCompleted);
  EXPECT_EQ(Get(ids[0]).result, (Json{{"s", nul_clean}}));
  EXPECT_EQ(Get(ids[2]).result, (Json{{bad_clean, Json::array({bad_clean, 1})}}));
  EXPECT_EQ(Get(ids[3]).state, JobState::kRetryable);
  EXPECT_EQ(Get(ids[3]).errors.at(0).message, bad_clean + "a" + "b");
  EXPECT_EQ(Get(ids[4]).result, (Json{{"ok", true}}));
}

// --- finishing, fencing, retries ----------------------------------------------------------

TEST_P(StoreTest, FinishingIsFencedByWorkerAndAttempt) {
  std::string id = Insert({.kind = "k"});
  ASSERT_EQ(Fetch("w1").size(), 1u);
  EXPECT_TRUE(Finish("w2", {id, 1}).empty()) << "another worker finished it";
  EXPECT_TRUE(Finish("w1", {id, 2}).empty()) << "a wrong attempt finished it";
  EXPECT_EQ(Finish("w1", {id, 1}), std::vector<std::string>{id});
  Job j = Get(id);
  EXPECT_EQ(j.state, JobState::kCompleted);
  EXPECT_TRUE(j.finished_at.has_value());
  EXPECT_TRUE(j.lease_owner.empty());
  EXPECT_TRUE(Finish("w1", {id, 1}).empty()) << "finished twice";
}

TEST_P(StoreTest, ErrorsRetryAfterTheirDelayUntilAttemptsRunOut) {
  std::string id = Insert({.kind = "k", .max_attempts = 2});
  ASSERT_EQ(Fetch("w").size(), 1u);
  Finish("w", {id, 1, JobOutcome::Kind::kError, "first", 10s});
  Job j = Get(id);
  EXPECT_EQ(j.state, JobState::kRetryable);
  EXPECT_EQ(j.run_at, std::chrono::time_point_cast<std::chrono::microseconds>(clock_->Now() + 10s));
  ASSERT_EQ(j.errors.size(), 1u);
  EXPECT_EQ(j.errors[0].attempt, 1);
  EXPECT_EQ(j.errors[0].message, "first");
  EXPECT_TRUE(Fetch("w").empty()) << "fetched before its back-off passed";

  clock_->Advance(10s);
  auto again = Fetch("w");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt, 2);
  Finish("w", {id, 2, JobOutcome::Kind::kError, "second", 10s});
  j = Get(id);
  EXPECT_EQ(j.state, JobState::kFailed);
  EXPECT_TRUE(j.finished_at.has_value());
  EXPECT_EQ(j.errors.size(), 2u);
  clock_->Advance(1h);
  EXPECT_TRUE(Fetch("w").empty()) << "a failed job ran again";
}

TEST_P(StoreTest, DiscardFailsAtOnce) {
  std::string id = Insert({.kind = "k", .max_attempts = 10});
  Fetch("w");
  Finish("w", {id, 1, JobOutcome::Kind::kDiscard, "bad args"});
  EXPECT_EQ(Get(id).state, JobState::kFailed);
  EXPECT_EQ(Get(id).errors.at(0).message, "bad args");
}

TEST_P(StoreTest, ReleaseDoesNotCountTheAttempt) {
  std::string id = Insert({.kind = "k", .max_attempts = 1});
  Fetch("w");
  Finish("w", {id, 1, JobOutcome::Kind::kRelease, "", 5s});
  Job j = Get(id);
  EXPECT_EQ(j.state, JobState::kScheduled);
  EXPECT_EQ(j.attempt, 1) << "attempt only grows: it is the fencing token";
  EXPECT_EQ(j.attempts_used, 0) << "so the released attempt is given back here";
  EXPECT_EQ(j.max_attempts, 1) << "max_attempts stays as enqueued";
  EXPECT_TRUE(Fetch("w").empty());
  clock_->Advance(5s);
  ASSERT_EQ(Fetch("w").size(), 1u);
  EXPECT_EQ(Get(id).attempt, 2);
  EXPECT_EQ(Get(id).attempts_used, 1);
  // The released attempt's late outcome no longer applies.
  EXPECT_TRUE(Finish("w", {id, 1}).empty());
  Finish("w", {id, 2, JobOutcome::Kind::kError, "still failing", 1s});
  EXPECT_EQ(Get(id).state, JobState::kFailed) << "its one counted attempt did not fail it";
}

// --- leases and rescue --------------------------------------------------------------------

TEST_P(StoreTest, RescueRetriesJobsWhoseLeaseExpired) {
  std::string id = Insert({.kind = "k"});
  std::string last = Insert({.kind = "last", .max_attempts = 1});
  ASSERT_EQ(Fetch("dead", 10, "default", 1s).size(), 2u);
  EXPECT_EQ(store_->JobRescue(100), 0) << "rescued a live lease";
  clock_->Advance(2s);
  EXPECT_EQ(store_->JobRescue(100), 2);
  Job j = Get(id);
  EXPECT_EQ(j.state, JobState::kRetryable);
  EXPECT_TRUE(j.lease_owner.empty());
  ASSERT_EQ(j.errors.size(), 1u);
  EXPECT_NE(j.errors[0].message.find("lease expired"), std::string::npos);
  EXPECT_EQ(Get(last).state, JobState::kFailed) << "out of attempts";
  // The dead worker's late outcome no longer applies.
  EXPECT_TRUE(Finish("dead", {id, 1}).empty());
  auto again = Fetch("alive");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt, 2);
}

// The counts by queue and state that QueueList shows are kept by triggers (migration 024): after
// every kind of change, before and after the leader's fold, they equal a count of the rows.
TEST_P(StoreTest, QueueCountsFollowEveryChangeOfState) {
  auto expect_counts_match = [&](const std::string& when) {
    std::map<std::pair<std::string, std::string>, int64_t> listed, counted;
    for (const auto& q : store_->QueueList()) {
      for (const auto& [state, n] : q.jobs) listed[{q.name, state}] = n;
    }
    for (std::string queue : {"a", "b"}) {
      for (JobState state : core::kStates) {
        if (int64_t n = store_->JobCount({.states = {state}, .queue = queue})) {
          counted[{queue, std::string(ToString(state))}] = n;
        }
      }
    }
    EXPECT_EQ(listed, counted) << when;
  };
  std::vector<JobSpec> batch(40, {.kind = "k", .queue = "a", .max_attempts = 2});
  for (int i = 0; i < 10; ++i) batch[i].queue = "b";
  batch[0].run_at = clock_->Now() + 1h;
  store_->JobInsert(batch);
  expect_counts_match("inserted");
  auto a = Fetch("w", 20, "a", 1s);
  ASSERT_EQ(a.size(), 20u);
  Fetch("w", 5, "b");
  store_->JobLeaseRenew("w", {{a[0].id, 1}}, 1s);
  expect_counts_match("fetched");
  std::vector<JobOutcome> outcomes;
  for (int i = 0; i < 12; ++i) outcomes.push_back({a[i].id, 1});
  outcomes.push_back({a[12].id, 1, JobOutcome::Kind::kError, "boom", 1h});
  outcomes.push_back({a[13].id, 1, JobOutcome::Kind::kDiscard, "bad"});
  store_->JobFinishMany("w", outcomes);
  expect_counts_match("finished");
  store_->JobCountsFold();
  expect_counts_match("folded");
  store_->JobCancel(a[14].id);
  store_->JobRetry(a[13].id);
  store_->JobDelete(a[0].id);
  clock_->Advance(2s);
  store_->JobRescue(100);
  expect_counts_match("changed one by one");
  store_->JobCountsFold();
  store_->JobDeletePage({.states = {JobState::kRetryable}, .queue = "a"});
  clock_->Advance(2h);
  store_->JobPrune({.completed = 1h}, 100);
  expect_counts_match("deleted and pruned");
  store_->JobCountsFold();
  expect_counts_match("folded again");
}

TEST_P(StoreTest, TheClusterHistoryKeepsTheNewestThousandEvents) {
  EXPECT_TRUE(store_->ClusterEventList(10).empty());
  for (int i = 1; i <= 1003; ++i) {
    store_->ClusterEventAppend(
        {.kind = "elected", .worker = "w", .detail = "term " + std::to_string(i)});
  }
  auto all = store_->ClusterEventList(5000);
  ASSERT_EQ(all.size(), 1000u);
  EXPECT_EQ(all.front().detail, "term 1003");
  EXPECT_EQ(all.back().detail, "term 4");
  EXPECT_EQ(all.front().at, clock_->Now());
  auto two = store_->ClusterEventList(2);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[1].detail, "term 1002");
  EXPECT_EQ(two[1].kind, "elected");
  EXPECT_EQ(two[1].worker, "w");
}

TEST_P(StoreTest, RenewingKeepsOnlyTheHeldLeases) {
  Insert({.kind = "k"});
  Insert({.kind = "k"});
  std::string forgotten = Insert({.kind = "k"});
  auto jobs = Fetch("w", 10, "default", 1s);
  ASSERT_EQ(jobs.size(), 3u);
  std::vector<JobRef> held;
  for (const auto& j : jobs) {
    if (j.id != forgotten) held.push_back({j.id, j.attempt});
  }
  clock_->Advance(800ms);
  EXPECT_EQ(store_->JobLeaseRenew("w", held, 1s).renewed, 2);
  EXPECT_EQ(store_->JobLeaseRenew("other", held, 1s).renewed, 0);
  EXPECT_EQ(store_->JobLeaseRenew("w", {{held[0].id, held[0].attempt + 1}}, 1s).renewed, 0);
  clock_->Advance(800ms);
  // The attempt the worker no longer holds expired; the held ones did not.
  EXPECT_EQ(store_->JobRescue(100), 1);
  EXPECT_EQ(Get(forgotten).state, JobState::kRetryable);
  clock_->Advance(300ms);
  EXPECT_EQ(store_->JobRescue(100), 2);
}

// --- control ------------------------------------------------------------------------------

TEST_P(StoreTest, CancelAndRetryFollowTheStateRules) {
  auto expect_code = [](auto fn, ErrorCode code) {
    try {
      fn();
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
    }
  };
  std::string id = Insert({.kind = "k"});
  expect_code([&] { store_->JobRetry(id); }, ErrorCode::kIllegalTransition);
  EXPECT_EQ(Get(id).state, JobState::kAvailable);
  EXPECT_EQ(store_->JobCancel(id).state, JobState::kCancelled);
  expect_code([&] { store_->JobCancel(id); }, ErrorCode::kIllegalTransition);
  EXPECT_EQ(store_->JobRetry(id).state, JobState::kAvailable);

  // Completed: cannot be cancelled; can be retried, with one more attempt.
  std::string done = Insert({.kind = "k", .queue = "q", .max_attempts = 1});
  Fetch("w", 1, "q");
  Finish("w", {done, 1});
  expect_code([&] { store_->JobCancel(done); }, ErrorCode::kIllegalTransition);
  EXPECT_EQ(Get(done).state, JobState::kCompleted);
  Job retried = store_->JobRetry(done);
  EXPECT_EQ(retried.state, JobState::kAvailable);
  EXPECT_EQ(retried.max_attempts, 2);

  // A running job that is cancelled cannot be finished by its worker afterwards.
  auto running = Fetch("w", 1, "q");
  ASSERT_EQ(running.size(), 1u);
  store_->JobCancel(done);
  EXPECT_TRUE(Finish("w", {done, 2}).empty());
  EXPECT_EQ(Get(done).state, JobState::kCancelled);

  expect_code([&] { store_->JobCancel(core::NewUuidV7()); }, ErrorCode::kNotFound);
  expect_code([&] { store_->JobRetry("not-a-uuid"); }, ErrorCode::kNotFound);
  EXPECT_FALSE(store_->JobGet("not-a-uuid").has_value());
}

TEST_P(StoreTest, CheckpointsAreFencedAndSurviveRetries) {
  std::string id = Insert({.kind = "multi"});
  auto jobs = Fetch("w");
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_TRUE(jobs[0].step.empty());
  EXPECT_TRUE(jobs[0].checkpoint.is_null());
  Json cp = {{"rows", 42}};
  EXPECT_TRUE(store_->JobSave("w", {id, 1}, {.step = "second", .checkpoint = cp}));
  EXPECT_FALSE(store_->JobSave("other", {id, 1}, {.step = "third", .checkpoint = Json{{"x", 1}}}));
  EXPECT_FALSE(store_->JobSave("w", {id, 2}, {.step = "third", .checkpoint = Json{{"x", 1}}}));
  EXPECT_EQ(Get(id).step, "second");
  EXPECT_EQ(Get(id).checkpoint, cp);
  // An error ends the attempt; the next one starts from the saved step and checkpoint.
  Finish("w", {id, 1, JobOutcome::Kind::kError, "boom", 0ms});
  jobs = Fetch("w");
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].attempt, 2);
  EXPECT_EQ(jobs[0].step, "second");
  EXPECT_EQ(jobs[0].checkpoint, cp);
  EXPECT_EQ(Get(id).ToJson()["checkpoint"], cp);
}

TEST_P(StoreTest, WakeEndsANapAndIsKeptWhileTheJobRuns) {
  std::string id = Insert({.kind = "nap"});
  ASSERT_EQ(Fetch("w").size(), 1u);
  Finish("w", {id, 1, JobOutcome::Kind::kRelease, "", 1h});
  EXPECT_EQ(Get(id).state, JobState::kScheduled);
  Job woken = store_->JobWake(id);
  EXPECT_EQ(woken.state, JobState::kAvailable);
  EXPECT_EQ(woken.run_at, clock_->Now());

  // A wake-up while it runs: the nap it takes next ends at once, and only that one.
  ASSERT_EQ(Fetch("w").size(), 1u);
  EXPECT_EQ(store_->JobWake(id).state, JobState::kRunning);
  Finish("w", {id, 2, JobOutcome::Kind::kRelease, "", 1h});
  EXPECT_EQ(Get(id).state, JobState::kAvailable);
  ASSERT_EQ(Fetch("w").size(), 1u);
  Finish("w", {id, 3, JobOutcome::Kind::kRelease, "", 1h});
  EXPECT_EQ(Get(id).state, JobState::kScheduled);

  // Finished jobs cannot be woken.
  ASSERT_TRUE(store_->JobWake(id).state == JobState::kAvailable);
  ASSERT_EQ(Fetch("w").size(), 1u);
  Finish("w", {id, 4, JobOutcome::Kind::kCompleted, "", 0ms});
  try {
    store_->JobWake(id);
    FAIL() << "woke a completed job";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIllegalTransition);
    EXPECT_NE(std::string(e.what()).find("completed"), std::string::npos) << e.what();
  }
  EXPECT_EQ(Get(id).state, JobState::kCompleted);
  EXPECT_THROW(store_->JobWake(core::NewUuidV7()), Error);
}

TEST_P(StoreTest, ListFiltersNewestFirst) {
  Insert({.kind = "a", .queue = "q1"});
  Insert({.kind = "b", .queue = "q1"});
  std::string c = Insert({.kind = "a", .queue = "q2"});
  store_->JobCancel(c);
  EXPECT_EQ(store_->JobList({}).size(), 3u);
  EXPECT_EQ(store_->JobList({}).front().id, c);
  EXPECT_EQ(store_->JobList({.queue = "q1"}).size(), 2u);
  EXPECT_EQ(store_->JobList({.kind = "a"}).size(), 2u);
  EXPECT_EQ(store_->JobList({.states = {JobState::kCancelled}}).size(), 1u);
  EXPECT_EQ(store_->JobList({.states = {JobState::kAvailable}, .queue = "q1", .kind = "b"}).size(), 1u);
  EXPECT_EQ(store_->JobList({.limit = 1}).size(), 1u);
}

// --- children, results and progress -------------------------------------------------------

TEST_P(StoreTest, SaveIsFencedKeepsWhatItIsNotGivenAndCompletionKeepsTheResult) {
  std::string id = Insert({.kind = "k"});
  ASSERT_EQ(Fetch("w").size(), 1u);
  Json cp = {{"rows", 1}};
  Json progress = {{"fraction", 0.5}, {"message", "half way"}};
  ASSERT_TRUE(store_->JobSave("w", {id, 1}, {.step = "b", .checkpoint = cp}));
  EXPECT_TRUE(store_->JobSave("w", {id, 1}, {.progress = progress}));
  EXPECT_TRUE(store_->JobSave("w", {id, 1}, {.step = "c"}));
  Job j = Get(id);
  EXPECT_EQ(j.step, "c");
  EXPECT_EQ(j.checkpoint, cp) << "an unset checkpoint was not kept";
  EXPECT_EQ(j.progress, progress) << "an unset progress was not kept";
  EXPECT_EQ(j.state, JobState::kRunning);
  EXPECT_EQ(j.lease_owner, "w");
  EXPECT_EQ(j.ToJson()["progress"], progress);

  // Fenced: another worker's or attempt's save changes nothing.
  EXPECT_FALSE(store_->JobSave("other", {id, 1}, {.progress = Json{{"fraction", 1}}}));
  EXPECT_FALSE(store_->JobSave("w", {id, 2}, {.step = "d"}));
  EXPECT_EQ(Get(id).ToJson(), j.ToJson());

  // Completing stores the result and clears the progress; a finished job saves nothing.
  Json result = {{"sum", 42}};
  ASSERT_EQ(Finish("w", {.id = id, .attempt = 1, .result = result}).size(), 1u);
  j = Get(id);
  EXPECT_EQ(j.result, result);
  EXPECT_TRUE(j.progress.is_null());
  EXPECT_FALSE(store_->JobSave("w", {id, 1}, {.progress = progress}));
  EXPECT_TRUE(Get(id).progress.is_null());

  // An error keeps the progress and sets no result.
  std::string failing = Insert({.kind = "k", .max_attempts = 1});
  ASSERT_EQ(Fetch("w").size(), 1u);
  ASSERT_TRUE(store_->JobSave("w", {failing, 1}, {.progress = progress}));
  Finish("w", {failing, 1, JobOutcome::Kind::kError, "boom", 0ms, result});
  EXPECT_EQ(Get(failing).state, JobState::kFailed);
  EXPECT_TRUE(Get(failing).result.is_null());
  EXPECT_EQ(Get(failing).progress, progress);
}

TEST_P(StoreTest, SavedChildrenCommitWithTheCheckpointAndTheParentWaits) {
  std::string parent = Insert({.kind = "parent", .max_attempts = 3});
  ASSERT_EQ(Fetch("w").size(), 1u);
  auto listener = store_->Listen();
  Drain(*listener);
  auto child = [](int i) {
    return JobSpec{.kind = "child", .args = {{"i", i}}, .queue = "kids"};
  };

  // A refused save inserts no child; nor does a save whose children are bad.
  EXPECT_FALSE(store_->JobSave("other", {parent, 1}, {.step = "join", .children = {child(0)}}));
  EXPECT_THROW(store_->JobSave("w", {parent, 1},
                               {.step = "join", .children = {child(0), {.kind = ""}}}),
               Error);
  EXPECT_EQ(Count(), 1);
  Job before = Get(parent);
  EXPECT_EQ(before.state, JobState::kRunning);
  EXPECT_TRUE(before.step.empty()) << "the checkpoint of a rolled-back save was kept";

  clock_->Advance(1s);
  ASSERT_TRUE(store_->JobSave("w", {parent, 1},
                              {.step = "join", .checkpoint = Json{{"n", 2}},
                               .children = {child(0), child(1)}}));
  Job p = Get(parent);
  EXPECT_EQ(p.state, JobState::kWaiting);
  EXPECT_EQ(p.step, "join");
  EXPECT_EQ(p.checkpoint, (Json{{"n", 2}}));
  EXPECT_EQ(p.children_total, 2);
  EXPECT_EQ(p.children_pending, 2);
  EXPECT_EQ(p.max_attempts, 3) << "max_attempts changed";
  EXPECT_EQ(p.attempts_used, 0) << "the attempt that waits counted";
  EXPECT_EQ(p.attempt, 1);
  EXPECT_EQ(p.run_at, std::chrono::time_point_cast<std::chrono::microseconds>(clock_->Now()));
  EXPECT_EQ(p.lease_owner, "");
  EXPECT_EQ(p.lease_expires_at, std::nullopt);
  auto kids = store_->JobList({.parent_id = parent});
  ASSERT_EQ(kids.size(), 2u);
  for (const auto& k : kids) {
    EXPECT_EQ(k.parent_id, parent);
    EXPECT_EQ(k.state, JobState::kAvailable);
    EXPECT_EQ(k.queue, "kids");
    EXPECT_EQ(k.ToJson()["parent_id"], parent);
  }
  EXPECT_EQ(Count("parent_id IS NOT NULL"), 2);
  EXPECT_TRUE(store_->JobList({.parent_id = kids[0].id}).empty());
  EXPECT_EQ(Drain(*listener), std::multiset<std::string>{"kids"}) << "the children's queue";

  // The attempt ended with the save: its late outcome is refused, and a waiting job is not
  // fetched.
  EXPECT_TRUE(Finish("w", {parent, 1}).empty());
  EXPECT_FALSE(store_->JobSave("w", {parent, 1}, {.step = "x"}));
  EXPECT_TRUE(Fetch("w2").empty());
  EXPECT_EQ(Get(parent).state, JobState::kWaiting);
}

// A job of queue "parents" that enqueued `children` with its checkpoint and waits for them.
std::string WaitingParent(Store& store, const std::vector<JobSpec>& children) {
  std::string parent = store.JobInsertMany({{.kind = "parent", .queue = "parents"}}).front();
  EXPECT_EQ(store.JobFetch({"parents", 1, "maker", 30s, {"parent"}}).size(), 1u);
  EXPECT_TRUE(store.JobSave("maker", {parent, 1}, {.step = "join", .children = children}));
  return parent;
}

TEST_P(StoreTest, TheLastChildToFinishMakesTheParentAvailable) {
  auto listener = store_->Listen();
  std::vector<JobSpec> children;
  for (const char* kind : {"done", "discarded", "out_of_attempts", "cancelled", "rescued"}) {
    children.push_back({.kind = kind, .queue = "kids", .max_attempts = 1});
  }
  std::string parent = WaitingParent(*store_, children);
  std::map<std::string, std::string> id;  // by kind
  for (const auto& k : store_->JobList({.parent_id = parent})) id[k.kind] = k.id;
  Drain(*listener);
  auto pending = [&] {
    Job p = Get(parent);
    EXPECT_EQ(p.state, JobState::kWaiting);
    return p.children_pending;
  };

  ASSERT_EQ(store_->JobFetch({"kids", 10, "w", 10s,
                              {"done", "discarded", "out_of_attempts", "rescued"}})
                .size(),
            4u);
  Finish("w", {.id = id["done"], .attempt = 1, .result = Json{{"v", 7}}});
  EXPECT_EQ(pending(), 4);
  Finish("w", {id["discarded"], 1, JobOutcome::Kind::kDiscard, "no"});
  EXPECT_EQ(pending(), 3);
  Finish("w", {id["out_of_attempts"], 1, JobOutcome::Kind::kError, "no", 1s});
  EXPECT_EQ(Get(id["out_of_attempts"]).state, JobState::kFailed);
  EXPECT_EQ(pending(), 2);
  store_->JobCancel(id["cancelled"]);
  EXPECT_EQ(pending(), 1);

  // A final child retried while the parent waits counts again (+1), until it finishes again.
  store_->JobRetry(id["discarded"]);
  EXPECT_EQ(pending(), 2);
  ASSERT_EQ(store_->JobFetch({"kids", 10, "w", 10s, {"discarded"}}).size(), 1u);
  Finish("w", {id["discarded"], 2});
  EXPECT_EQ(pending(), 1);
  // Nothing woke the parent's queue so far.
  EXPECT_EQ(Drain(*listener).count("parents"), 0u);

  // The last one: rescued out of attempts (failed).
  clock_->Advance(11s);
  EXPECT_EQ(store_->JobRescue(100), 1);
  EXPECT_EQ(Get(id["rescued"]).state, JobState::kFailed);
  Job p = Get(parent);
  EXPECT_EQ(p.state, JobState::kAvailable);
  EXPECT_EQ(p.children_pending, 0);
  EXPECT_EQ(p.children_total, 5);
  EXPECT_EQ(Drain(*listener), std::multiset<std::string>{"parents"});

  // The parent runs its next step and reads its children's results.
  auto again = store_->JobFetch({"parents", 1, "maker", 30s, {"parent"}});
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt, 2);
  EXPECT_EQ(again[0].step, "join");
  std::map<std::string, Job> kids;
  for (auto& k : store_->JobList({.parent_id = parent})) kids[k.kind] = k;
  EXPECT_EQ(kids.size(), 5u);
  EXPECT_EQ(kids["done"].state, JobState::kCompleted);
  EXPECT_EQ(kids["done"].result, (Json{{"v", 7}}));
  EXPECT_EQ(kids["discarded"].state, JobState::kCompleted);
  EXPECT_TRUE(kids["discarded"].result.is_null());
  EXPECT_EQ(kids["cancelled"].state, JobState::kCancelled);
}

TEST_P(StoreTest, TheLastChildIsAWakeUpForARunningOrNappingParent) {
  std::string running = WaitingParent(*store_, {{.kind = "r1", .queue = "kids"},
                                                {.kind = "r2", .queue = "kids"}});
  std::string napping = WaitingParent(*store_, {{.kind = "n1", .queue = "kids"},
                                                {.kind = "n2", .queue = "kids"}});
  auto kid = [&](const std::string& kind) {
    auto got = store_->JobFetch({"kids", 1, "w", 10s, {kind}});
    EXPECT_EQ(got.size(), 1u);
    return got.empty() ? std::string() : got[0].id;
  };
  auto run_again = [&](const std::string& parent) {  // a person wakes it before its children end
    EXPECT_EQ(store_->JobWake(parent).state, JobState::kAvailable);
    auto got = store_->JobFetch({"parents", 1, "maker", 30s, {"parent"}});
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].id, parent);
  };

  // While the parent runs, its last child's finish is kept: the nap it takes next ends at once.
  run_again(running);
  Finish("w", {kid("r1"), 1});
  Finish("w", {kid("r2"), 1});
  EXPECT_EQ(Get(running).state, JobState::kRunning);
  Finish("maker", {running, 2, JobOutcome::Kind::kRelease, "", 1h});
  EXPECT_EQ(Get(running).state, JobState::kAvailable) << "the wake-up was lost";
  ASSERT_EQ(store_->JobFetch({"parents", 1, "maker", 30s, {"parent"}}).size(), 1u);
  Finish("maker", {running, 3});

  // A napping parent: its first child's finish is no wake-up, its last one is.
  run_again(napping);
  Finish("maker", {napping, 2, JobOutcome::Kind::kRelease, "", 1h});
  EXPECT_EQ(Get(napping).state, JobState::kScheduled);
  Finish("w", {kid("n1"), 1});
  EXPECT_EQ(Get(napping).state, JobState::kScheduled);
  Finish("w", {kid("n2"), 1});
  EXPECT_EQ(Get(napping).state, JobState::kAvailable);
  // Due now by the database's clock (a trigger cannot read the test's), which is before the
  // test's pinned clock once it moved on.
  clock_->Advance(1min);
  auto got = store_->JobFetch({"parents", 10, "maker", 30s, {"parent"}});
  ASSERT_EQ(got.size(), 1u) << "a parent its last child woke is not due";
  EXPECT_EQ(got[0].id, napping);
}

// Two workers finish children of the same two parents at once, in opposite orders: the parents are
// locked in one order, so neither batch deadlocks (PostgreSQL would abort one with 40P01).
TEST_P(StoreTest, BatchesFinishingChildrenOfTheSameParentsDoNotDeadlock) {
  constexpr int kEach = 40;
  std::string p1 = WaitingParent(*store_, std::vector<JobSpec>(kEach, {.kind = "a", .queue = "kids"}));
  std::string p2 = WaitingParent(*store_, std::vector<JobSpec>(kEach, {.kind = "b", .queue = "kids"}));
  auto a = store_->JobFetch({"kids", kEach, "w", 1h, {"a"}});
  auto b = store_->JobFetch({"kids", kEach, "w", 1h, {"b"}});
  ASSERT_EQ(a.size() + b.size(), 2u * kEach);
  std::atomic<int> applied{0}, failures{0};
  auto finish = [&](bool a_first, int from) {
    auto store = Open();
    for (int i = from; i < kEach; i += 2) {
      JobOutcome oa{.id = a[i].id, .attempt = 1, .parent_id = p1};
      JobOutcome ob{.id = b[i].id, .attempt = 1, .parent_id = p2};
      try {
        applied += static_cast<int>(
            store->JobFinishMany("w", a_first ? std::vector{oa, ob} : std::vector{ob, oa}).size());
      } catch (const std::exception& e) {
        ++failures;
        ADD_FAILURE() << e.what();
      }
    }
  };
  std::thread t1(finish, true, 0), t2(finish, false, 1);
  t1.join();
  t2.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(applied.load(), 2 * kEach);
  for (const auto& p : {p1, p2}) {
    EXPECT_EQ(Get(p).state, JobState::kAvailable);
    EXPECT_EQ(Get(p).children_pending, 0);
  }
}

TEST_P(StoreTest, ChildrenFinishingAtOnceWakeTheParentOnce) {
  constexpr int kChildren = 100, kThreads = 4, kBatch = 5;
  std::vector<JobSpec> children(kChildren, JobSpec{.kind = "child", .queue = "kids"});
  std::string parent = WaitingParent(*store_, children);
  auto running = store_->JobFetch({"kids", kChildren, "w", 1h, {"child"}});
  ASSERT_EQ(running.size(), static_cast<size_t>(kChildren));
  auto listener = store_->Listen();
  Drain(*listener);

  // Each thread finishes its share, a batch at a time, through a store of its own.
  std::vector<std::thread> threads;
  std::atomic<int> applied{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto store = Open();
      for (int first = t * kBatch; first < kChildren; first += kThreads * kBatch) {
        std::vector<JobOutcome> batch;
        for (int i = first; i < first + kBatch; ++i) batch.push_back({running[i].id, 1});
        applied += static_cast<int>(store->JobFinishMany("w", batch).size());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(applied.load(), kChildren);
  Job p = Get(parent);
  EXPECT_EQ(p.state, JobState::kAvailable);
  EXPECT_EQ(p.children_pending, 0);
  EXPECT_EQ(p.children_total, kChildren);
  EXPECT_EQ(Drain(*listener), std::multiset<std::string>{"parents"}) << "woken more than once";
}

// --- opening ------------------------------------------------------------------------------

void ExpectOpenFails(const std::string& url, ErrorCode code, const std::string& text) {
  try {
    OpenStore({url, 1, nullptr});
    ADD_FAILURE() << "opened " << url;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(OpenStoreTest, BadUrlsFailClearly) {
  ExpectOpenFails("postgresql://127.0.0.1:1/nothing?connect_timeout=5", ErrorCode::kUnavailable,
                  "cannot connect");
  ExpectOpenFails("mysql://user:secret@x", ErrorCode::kInvalidArgument, "'mysql'");
  ExpectOpenFails("sqlite:", ErrorCode::kInvalidArgument, "names no file");
  ExpectOpenFails("sqlite:/nonexistent-dir/x.db", ErrorCode::kUnavailable, "cannot open");
  std::string text_file = ::testing::TempDir() + "spindle_" + std::to_string(getpid()) + "_not_a_database.db";
  std::ofstream(text_file) << "this is not a database, just a text file long enough to tell\n";
  ExpectOpenFails("sqlite:" + text_file, ErrorCode::kInvalidArgument, "not a database");
  std::remove(text_file.c_str());
}

// SQLite only: several connections on one file.
class SqliteStoreTest : public StoreTest {};

TEST_P(SqliteStoreTest, ALockHeldPastTheBusyTimeoutFailsClearlyAndChangesNothing) {
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(db_->url().substr(7).c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto t0 = std::chrono::steady_clock::now();
  try {
    store_->JobInsertMany({{.kind = "k"}});
    ADD_FAILURE() << "inserted under another writer's lock";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnavailable) << e.what();
    EXPECT_NE(std::string(e.what()).find("locked"), std::string::npos) << e.what();
  }
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 4s) << "did not wait for the busy timeout";
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  EXPECT_EQ(Count(), 0);
  store_->JobInsertMany({{.kind = "k"}});
  EXPECT_EQ(Count(), 1);
}

// A clock that counts its readings.
class CountingClock final : public Clock {
 public:
  SysTime Now() const override {
    ++reads;
    return fake.Now();
  }
  std::optional<SysTime> Pinned() const override { return Now(); }
  FakeClock fake;
  mutable std::atomic<int> reads{0};
};

// A renewal that waits for the write lock while an eviction commits must not revive the leases
// the eviction expired: its "now" is read once it holds the lock, not before.
TEST_P(SqliteStoreTest, ARenewalThatWaitedForTheLockDoesNotUndoAnEviction) {
  auto clock = std::make_shared<CountingClock>();
  auto store = OpenStore({db_->url(), 2, clock});
  store->MemberRegister({.id = "w", .heartbeat_timeout = 10s});
  std::string id = store->JobInsertMany({{.kind = "k"}}).front();
  ASSERT_EQ(store->JobFetch({"default", 1, "w", 1h, {"k"}}).size(), 1u);

  // The eviction's transaction holds the write lock while the renewal starts and waits for it.
  sqlite3* evictor = nullptr;
  ASSERT_EQ(sqlite3_open(db_->url().substr(7).c_str(), &evictor), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(evictor, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  int reads = clock->reads;
  Store::LeaseRenewal renewal;
  std::thread renewer([&] { renewal = store->JobLeaseRenew("w", {{id, 1}}, 1h); });
  // A renewal that reads the clock before the lock does so at once; one that reads it after the
  // lock cannot, and this waits in vain.
  testing::WaitUntil([&] { return clock->reads > reads; }, 1s);
  clock->fake.Advance(11s);  // w is silent past its timeout: evicted, its lease expires now
  int64_t expired = std::chrono::duration_cast<std::chrono::microseconds>(
                        clock->fake.Now().time_since_epoch()).count() - 1000;
  std::string evict = "UPDATE spindle_jobs SET lease_expires_at = " + std::to_string(expired) +
                      " WHERE lease_owner = 'w'; DELETE FROM spindle_workers WHERE id = 'w'; COMMIT";
  ASSERT_EQ(sqlite3_exec(evictor, evict.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  renewer.join();
  sqlite3_close(evictor);

  EXPECT_EQ(renewal.renewed, 0) << "the renewal revived the lease the eviction expired";
  EXPECT_EQ(Get(id).lease_expires_at,
            SysTime(std::chrono::microseconds(expired)));
  EXPECT_EQ(store->JobRescue(10), 1);
}

TEST_P(SqliteStoreTest, SharesAFileWithTheApplicationsTables) {
  db_->Query("CREATE TABLE orders (id INTEGER PRIMARY KEY, email TEXT)");
  EXPECT_EQ(store_->Migrate(), store_->LatestVersion());
  Insert({.kind = "k"});
  EXPECT_EQ(Count(), 1);
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM orders"), 0);
}

auto BackendName = [](const auto& info) { return testing::Name(info.param); };

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::ValuesIn(testing::kAllBackends),
                         BackendName);
INSTANTIATE_TEST_SUITE_P(Backends, PostgresStoreTest,
                         ::testing::Values(BackendKind::kPostgres), BackendName);
INSTANTIATE_TEST_SUITE_P(Backends, SqliteStoreTest, ::testing::Values(BackendKind::kSqlite),
                         BackendName);

}  // namespace
}  // namespace spindle
