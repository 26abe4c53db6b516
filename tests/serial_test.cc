// Serial keys (docs/jobs.md, "Serial keys"): jobs that share a key run one at a time, in enqueue
// order, on every backend; through the store's fetch directly and through real workers.
#include <libpq-fe.h>
#include <sqlite3.h>

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "spindle/postgres.h"
#include "spindle/sqlite.h"
#include "store/store.h"
#include "testing.h"

namespace spindle {
namespace {

using namespace std::chrono_literals;
using testing::BackendKind;
using testing::TestBackend;
using testing::WaitUntil;

class SerialTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    clock_ = std::make_shared<FakeClock>();
    store_ = OpenStore({db_->url(), 4, clock_});
    store_->Migrate();
  }

  std::string Insert(const std::string& key, const std::string& kind = "k", Json args = {}) {
    JobSpec spec{.kind = kind, .args = args.is_null() ? Json::object() : args};
    if (!key.empty()) spec.serial_key = key;
    return store_->JobInsertMany({spec}).front();
  }
  Job Get(const std::string& id) { return store_->JobGet(id).value(); }
  std::vector<Job> Fetch(int limit = 10, Millis lease = 30s) {
    return store_->JobFetch({"default", limit, "w1", lease, {"k", "c"}});
  }
  std::set<std::string> FetchIds(int limit = 10) {
    std::set<std::string> ids;
    for (const auto& j : Fetch(limit)) ids.insert(j.id);
    return ids;
  }
  void Finish(const Job& j, JobOutcome::Kind kind = JobOutcome::Kind::kCompleted,
              Millis delay = 0ms) {
    ASSERT_EQ(store_->JobFinishMany("w1", {{.id = j.id, .attempt = j.attempt, .kind = kind,
                                            .message = "boom", .delay = delay}})
                  .size(),
              1u);
  }
  void Finish(const std::string& id) { Finish(Get(id)); }
  int64_t KeyRows() {
    return db_->QueryInt(GetParam() == BackendKind::kPostgres
                             ? "SELECT count(*) FROM spindle.serial_keys"
                             : "SELECT count(*) FROM spindle_serial_keys");
  }

  std::unique_ptr<TestBackend> db_ = TestBackend::Make(GetParam());
  std::shared_ptr<FakeClock> clock_;
  std::unique_ptr<Store> store_;
};

TEST_P(SerialTest, OneAtATimeInEnqueueOrderAndKeysDoNotBlockEachOtherOrKeylessJobs) {
  std::string a1 = Insert("a"), a2 = Insert("a"), b1 = Insert("b"), a3 = Insert("a"),
              free = Insert("");
  EXPECT_FALSE(Get(a1).serial_held);
  EXPECT_TRUE(Get(a2).serial_held);
  EXPECT_TRUE(Get(a3).serial_held);
  EXPECT_FALSE(Get(b1).serial_held);
  EXPECT_EQ(Get(a2).serial_key, "a");
  EXPECT_EQ(Get(free).serial_key, "");
  EXPECT_EQ(FetchIds(), (std::set<std::string>{a1, b1, free}));
  EXPECT_TRUE(FetchIds().empty());  // a2 waits for a1
  Finish(a1);
  EXPECT_FALSE(Get(a2).serial_held);
  EXPECT_EQ(FetchIds(), (std::set<std::string>{a2}));
  Finish(a2);
  EXPECT_EQ(FetchIds(), (std::set<std::string>{a3}));
  Finish(a3);
  Finish(b1);
  Finish(free);
  EXPECT_EQ(KeyRows(), 0);  // a key without unfinished jobs leaves nothing behind
  // The key is free again.
  std::string a4 = Insert("a");
  EXPECT_FALSE(Get(a4).serial_held);
  EXPECT_EQ(FetchIds(), (std::set<std::string>{a4}));
}

TEST_P(SerialTest, BatchesAndEveryEnqueueEntranceJoinTheLine) {
  std::vector<JobSpec> specs;
  for (int i = 0; i < 5; ++i) specs.push_back({.kind = "k", .args = {{"n", i}}, .serial_key = "a"});
  auto ids = store_->JobInsertMany(specs);
  std::string id;
  clock_->Advance(1min);  // past the database's clock, which the last one's run_at comes from
  if (GetParam() == BackendKind::kPostgres) {
    id = db_->Query("SELECT spindle.enqueue('k', '{\"n\": 5}', serial_key => 'a')");
  } else {
    // The application's own connection, in its transaction.
    std::string path = db_->url().substr(std::string("sqlite:").size());
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    id = sqlite::Enqueue(db, {{.kind = "k", .args = {{"n", 5}}, .serial_key = "a"}}).front();
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  ids.push_back(id);
  for (int i = 0; i < 6; ++i) {
    auto got = Fetch();
    ASSERT_EQ(got.size(), 1u) << i;
    EXPECT_EQ(got[0].id, ids[i]);
    EXPECT_EQ(got[0].args["n"], i);
    Finish(got[0]);
  }
}

// With deadlines (migration 011): an earliest-deadline-first queue fetches only heads, as a fifo
// one does, and a waiting head that expires leaves its line like a cancelled one.
TEST_P(SerialTest, DeadlineQueuesFetchOnlyHeadsAndAnExpiredHeadLetsTheLineGoOn) {
  SysTime now = clock_->Now();
  std::string c1 = store_->JobInsertMany({{.kind = "k", .expires_at = now + 1min,
                                           .serial_key = "c"}}).front();
  std::string c2 = Insert("c");
  EXPECT_TRUE(Get(c2).serial_held);
  clock_->Advance(2min);
  EXPECT_EQ(store_->JobExpire(100), 1);
  EXPECT_EQ(Get(c1).state, JobState::kExpired);
  EXPECT_FALSE(Get(c1).serial_held);
  EXPECT_FALSE(Get(c2).serial_held);  // the next in line is the head now
  now = clock_->Now();
  auto ids = store_->JobInsertMany({{.kind = "k", .deadline = now + 1h, .serial_key = "a"},
                                    {.kind = "k", .deadline = now + 10min, .serial_key = "a"},
                                    {.kind = "k", .deadline = now + 30min, .serial_key = "b"}});
  EXPECT_EQ(Get(ids[1]).deadline, now + 10min);
  EXPECT_EQ(Get(ids[1]).serial_key, "a");
  EXPECT_TRUE(Get(ids[1]).serial_held);
  // One at a time, so that the order shows (PostgreSQL returns a batch unordered).
  JobFetchParams p{"default", 1, "w1", 30s, {"k"}};
  p.order = QueueOrder::kDeadline;
  std::vector<std::string> fetched;
  for (int i = 0; i < 4; ++i) {
    for (const auto& j : store_->JobFetch(p)) {
      fetched.push_back(j.id);
      if (j.id == ids[0]) {
        EXPECT_EQ(j.deadline, now + 1h);
      }
    }
  }
  // a's second job has the earliest deadline but waits behind a's first: never fetched early.
  EXPECT_EQ(fetched, (std::vector<std::string>{ids[2], ids[0], c2}));
  Finish(ids[0]);
  fetched.clear();
  for (const auto& j : store_->JobFetch(p)) fetched.push_back(j.id);
  EXPECT_EQ(fetched, (std::vector<std::string>{ids[1]}));
  if (GetParam() == BackendKind::kPostgres) {
    // SQL: 011's parameters and the serial key, by name, in one call.
    std::string id = db_->Query(
        "SELECT spindle.enqueue('k', deadline => now() + interval '1 hour', "
        "expires_at => now() + interval '2 hours', serial_key => 'd')");
    Job j = Get(id);
    EXPECT_TRUE(j.deadline.has_value());
    EXPECT_TRUE(j.expires_at.has_value());
    EXPECT_EQ(j.serial_key, "d");
  }
}

TEST_P(SerialTest, AFailingHeadBlocksItsKeyUntilItSucceedsOrFails) {
  std::string a1 = Insert("a"), a2 = Insert("a");
  auto got = Fetch();
  ASSERT_EQ(got.size(), 1u);
  Finish(got[0], JobOutcome::Kind::kError, 1s);
  clock_->Advance(2s);
  got = Fetch();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, a1);  // retried before a2 runs
  Finish(got[0], JobOutcome::Kind::kDiscard);
  EXPECT_EQ(Get(a1).state, JobState::kFailed);
  EXPECT_EQ(FetchIds(), (std::set<std::string>{a2}));
}

TEST_P(SerialTest, UnderContinueAFailingHeadGoesBehindTheOthersAndRetriesAfterThem) {
  store_->KindRegister("w1", {{"c", {.serial = SerialPolicy::kContinue}}});
  EXPECT_EQ(store_->KindList().at(0).defaults.serial, SerialPolicy::kContinue);
  std::string c1 = Insert("a", "c"), c2 = Insert("a", "c"), c3 = Insert("a", "c");
  auto got = Fetch();
  ASSERT_EQ(got.size(), 1u);
  Finish(got[0], JobOutcome::Kind::kError, 0ms);
  EXPECT_TRUE(Get(c1).serial_held);
  EXPECT_EQ(Get(c1).state, JobState::kRetryable);
  std::vector<std::string> order;
  for (int i = 0; i < 3; ++i) {
    got = Fetch();
    ASSERT_EQ(got.size(), 1u) << i;  // still one at a time
    order.push_back(got[0].id);
    Finish(got[0]);
  }
  EXPECT_EQ(order, (std::vector<std::string>{c2, c3, c1}));
  // The only job of its key fails and simply retries.
  std::string c4 = Insert("a", "c");
  Finish(Fetch().at(0), JobOutcome::Kind::kError, 0ms);
  EXPECT_FALSE(Get(c4).serial_held);
  EXPECT_EQ(Fetch().at(0).id, c4);
}

TEST_P(SerialTest, CancellingTheHeadOrAHeldJobLetsTheLineGoOn) {
  std::string a1 = Insert("a"), a2 = Insert("a"), a3 = Insert("a"), a4 = Insert("a");
  store_->JobCancel(a2);  // held: skipped when its turn comes
  EXPECT_FALSE(Get(a2).serial_held);
  ASSERT_EQ(Fetch().at(0).id, a1);
  store_->JobCancel(a1);  // the running head
  // The cancelled attempt keeps its lease until its outcome arrives; a3 does not wait for that.
  EXPECT_EQ(FetchIds(), (std::set<std::string>{a3}));
  // A bulk cancel of the whole line leaves nothing released and nothing behind.
  JobFilter f{.states = {JobState::kAvailable, JobState::kRunning}, .kind = "k"};
  while (!store_->JobCancelPage(f).last_id.empty()) {
  }
  EXPECT_EQ(Get(a4).state, JobState::kCancelled);
  EXPECT_FALSE(Get(a4).serial_held);
  EXPECT_EQ(KeyRows(), 0);
}

TEST_P(SerialTest, ABulkCancelOfPartOfALineReleasesTheFirstJobItLeft) {
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(Insert("a", i < 3 ? "k" : "c"));
  JobFilter f{.states = {JobState::kAvailable}, .kind = "k"};
  while (!store_->JobCancelPage(f).last_id.empty()) {
  }
  EXPECT_EQ(FetchIds(), (std::set<std::string>{ids[3]}));
}

TEST_P(SerialTest, ARescuedHeadStaysTheHead) {
  store_->KindRegister("w1", {{"c", {.serial = SerialPolicy::kContinue}}});
  for (const std::string kind : {"k", "c"}) {
    std::string x1 = Insert(kind, kind), x2 = Insert(kind, kind);
    auto got = Fetch(10, 1s);
    ASSERT_EQ(got.size(), 1u);
    clock_->Advance(2s);
    EXPECT_EQ(store_->JobRescue(10), 1);
    EXPECT_EQ(Get(x1).state, JobState::kRetryable);
    EXPECT_FALSE(Get(x1).serial_held) << kind;
    EXPECT_TRUE(Get(x2).serial_held) << kind;
    got = Fetch();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].id, x1) << kind;
    Finish(got[0]);
    EXPECT_EQ(Fetch().at(0).id, x2) << kind;
  }
}

TEST_P(SerialTest, AStoppedHeadHoldsItsKeyUntilResumed) {
  std::string a1 = Insert("a"), a2 = Insert("a");
  store_->JobStop(a1);
  EXPECT_TRUE(Fetch().empty());
  store_->JobResume(a1);
  EXPECT_EQ(Fetch().at(0).id, a1);
}

TEST_P(SerialTest, ARetriedJobJoinsTheEndOfItsLine) {
  std::string a1 = Insert("a"), a2 = Insert("a");
  Finish(Fetch().at(0));
  Job retried = store_->JobRetry(a1);
  EXPECT_TRUE(retried.serial_held || Get(a1).serial_held);
  EXPECT_EQ(Fetch().at(0).id, a2);
  EXPECT_TRUE(Fetch().empty());
  Finish(a2);
  EXPECT_EQ(Fetch().at(0).id, a1);
}

TEST_P(SerialTest, AWaitingParentHoldsItsKeyAndAChildCannotShareIt) {
  std::string p = Insert("a"), a2 = Insert("a");
  Job parent = Fetch().at(0);
  ASSERT_EQ(parent.id, p);
  try {
    store_->JobSave("w1", {p, parent.attempt},
                    {.children = {{.kind = "k", .serial_key = "a"}}});
    FAIL() << "a child with its parent's key was saved";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    EXPECT_NE(std::string(e.what()).find("serial key"), std::string::npos) << e.what();
  }
  EXPECT_EQ(Get(p).state, JobState::kRunning);  // nothing changed
  ASSERT_TRUE(store_->JobSave("w1", {p, parent.attempt},
                              {.children = {{.kind = "k", .serial_key = "b"}}}));
  EXPECT_EQ(Get(p).state, JobState::kWaiting);
  auto got = Fetch();  // the child runs; a2 still waits behind the waiting parent
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].parent_id, p);
  Finish(got[0]);
  EXPECT_EQ(Fetch().at(0).id, p);  // the parent again, not a2
}

TEST_P(SerialTest, ListingByKeyAndBulkChangesRefuseIt) {
  Insert("a");
  Insert("a");
  Insert("b");
  EXPECT_EQ(store_->JobList({.serial_key = "a"}).size(), 2u);
  EXPECT_EQ(store_->JobCount({.serial_key = "a"}), 2);
  auto client = Client::Open({db_->url()});
  EXPECT_THROW(client->ChangeAll(Client::BulkAction::kCancel, {.serial_key = "a"}), Error);
  EXPECT_THROW(client->Enqueue({.kind = "k", .serial_key = ""}), Error);
}

TEST_P(SerialTest, SeveralFetchersRunEachKeyOneAtATimeInOrder) {
  constexpr int kKeys = 3, kPerKey = 20;
  std::vector<JobSpec> specs;
  for (int i = 0; i < kPerKey; ++i) {
    for (int k = 0; k < kKeys; ++k) {
      specs.push_back({.kind = "k", .args = {{"n", i}}, .serial_key = "key" + std::to_string(k)});
    }
  }
  store_->JobInsertMany(specs);
  std::mutex mu;
  std::set<std::string> running;
  std::map<std::string, std::vector<int>> order;
  std::atomic<int> overlaps{0}, done{0};
  std::vector<std::thread> fetchers;
  for (int t = 0; t < 4; ++t) {
    fetchers.emplace_back([&, t] {
      auto store = OpenStore({db_->url(), 2, clock_});
      std::string worker = "w" + std::to_string(t);
      while (done < kKeys * kPerKey) {
        auto got = store->JobFetch({"default", 5, worker, 30s, {"k"}});
        for (const auto& j : got) {
          {
            std::lock_guard lock(mu);
            if (!running.insert(j.serial_key).second) ++overlaps;
            order[j.serial_key].push_back(j.args["n"].get<int>());
          }
          std::this_thread::yield();
          {
            std::lock_guard lock(mu);
            running.erase(j.serial_key);
          }
          store->JobFinishMany(worker, {{.id = j.id, .attempt = j.attempt}});
          ++done;
        }
      }
    });
  }
  for (auto& t : fetchers) t.join();
  EXPECT_EQ(overlaps.load(), 0);
  std::vector<int> expected(kPerKey);
  for (int i = 0; i < kPerKey; ++i) expected[i] = i;
  for (int k = 0; k < kKeys; ++k) EXPECT_EQ(order["key" + std::to_string(k)], expected);
}

// A handler that records overlapping executions of a key, and the order it saw.
struct Recorder {
  std::mutex mu;
  std::map<std::string, int> active;
  std::map<std::string, std::vector<int>> order;
  int overlaps = 0;
  int runs = 0;

  JobResult Run(const JobContext& ctx) {
    const std::string key = ctx.job.serial_key;
    {
      std::lock_guard lock(mu);
      if (++active[key] > 1 && !key.empty()) ++overlaps;  // jobs without a key may overlap
      order[key].push_back(ctx.job.args.value("n", -1));
    }
    std::this_thread::sleep_for(1ms);  // widens the window an overlap would need
    std::lock_guard lock(mu);
    --active[key];
    ++runs;
    return JobResult::Done();
  }
  int Runs() {
    std::lock_guard lock(mu);
    return runs;
  }
};

TEST_P(SerialTest, RealWorkersRunAKeyOneAtATimeInOrder) {
  constexpr int kPerKey = 15;
  Recorder rec;
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < 2; ++i) {
    WorkerOptions o{.database_url = db_->url(), .queues = {QueueOptions{"default", 4}}};
    auto w = std::make_unique<Worker>(o);
    w->Register("k", [&](JobContext& ctx) { return rec.Run(ctx); });
    w->Start();
    workers.push_back(std::move(w));
  }
  auto client = Client::Open({db_->url()});
  std::vector<JobSpec> specs;
  for (int i = 0; i < kPerKey; ++i) {
    specs.push_back({.kind = "k", .args = {{"n", i}}, .serial_key = "a"});
    specs.push_back({.kind = "k", .args = {{"n", i}}, .serial_key = "b"});
    specs.push_back({.kind = "k", .args = {{"n", i}}});
  }
  client->EnqueueMany(specs);
  ASSERT_TRUE(WaitUntil([&] { return rec.Runs() == 3 * kPerKey; }, 120s));
  for (auto& w : workers) w->Stop();
  EXPECT_EQ(rec.overlaps, 0);
  std::vector<int> expected(kPerKey);
  for (int i = 0; i < kPerKey; ++i) expected[i] = i;
  EXPECT_EQ(rec.order["a"], expected);
  EXPECT_EQ(rec.order["b"], expected);
}

// The command line: --serial-key, what held jobs show, the listing by key, the kind setting.
TEST_P(SerialTest, CommandLine) {
  auto run = [&](const std::string& args) {
    return testing::Cli("--database " + testing::Quote(db_->url()) + " " + args);
  };
  auto first = run("enqueue k --serial-key acct-1");
  ASSERT_EQ(first.status, 0) << first.output;
  auto second = run("--json enqueue k --serial-key acct-1");
  ASSERT_EQ(second.status, 0) << second.output;
  std::string id = Json::parse(second.out)["id"];
  auto show = run("jobs show " + id);
  EXPECT_NE(show.out.find("serial_key:   acct-1 (held: waits behind"), std::string::npos)
      << show.out;
  auto head = run("jobs show " + first.out.substr(0, first.out.find('\n')));
  EXPECT_NE(head.out.find("acct-1 (the head of its key)"), std::string::npos) << head.out;
  auto json = Json::parse(run("--json jobs show " + id).out);
  EXPECT_EQ(json["serial_key"], "acct-1");
  EXPECT_EQ(json["serial_held"], true);
  auto list = run("jobs list --serial-key acct-1");
  EXPECT_NE(list.out.find("held (serial key)"), std::string::npos) << list.out;
  EXPECT_EQ(Json::parse(run("--json jobs list --serial-key acct-1").out)["total"], 2);
  EXPECT_EQ(Json::parse(run("--json jobs list --serial-key other").out)["total"], 0);
  auto empty = run("enqueue k --serial-key ''");
  EXPECT_EQ(empty.status, 2) << empty.output;
  std::string cfg = ::testing::TempDir() + "spindle_serial_" + std::to_string(getpid()) + "_" +
                    testing::Name(GetParam()) + ".toml";
  std::ofstream(cfg) << "[kinds.k]\nserial = \"later\"\n";
  auto bad = run("--config " + testing::Quote(cfg) + " enqueue k");
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_NE(bad.err.find("kinds.k.serial"), std::string::npos) << bad.err;
  EXPECT_EQ(store_->JobCount({}), 2);  // the refused ones changed nothing
}

class PostgresSerialTest : public SerialTest {};

// Enqueuers on their own connections, racing each other and the workers finishing the key's
// head: the key still runs one job at a time, and never has two heads.
TEST_P(PostgresSerialTest, ConcurrentEnqueuesOfOneKeyStaySerial) {
  constexpr int kThreads = 4, kEach = 25;
  Recorder rec;
  WorkerOptions o{.database_url = db_->url(), .queues = {QueueOptions{"default", 8}}};
  Worker w(o);
  w.Register("k", [&](JobContext& ctx) { return rec.Run(ctx); });
  w.Start();
  std::vector<std::thread> enqueuers;
  std::atomic<int> heads_seen{0};
  for (int t = 0; t < kThreads; ++t) {
    enqueuers.emplace_back([&] {
      auto client = Client::Open({db_->url()});
      for (int i = 0; i < kEach; ++i) client->Enqueue({.kind = "k", .serial_key = "a"});
    });
  }
  std::atomic<bool> stop{false};
  std::thread checker([&] {
    while (!stop) {
      int heads = static_cast<int>(db_->QueryInt(
          "SELECT count(*) FROM spindle.jobs WHERE serial_key = 'a' AND NOT serial_held "
          "AND state NOT IN ('completed', 'failed', 'cancelled')"));
      heads_seen = std::max(heads_seen.load(), heads);
    }
  });
  for (auto& t : enqueuers) t.join();
  ASSERT_TRUE(WaitUntil([&] { return rec.Runs() == kThreads * kEach; }, 120s));
  stop = true;
  checker.join();
  w.Stop();
  EXPECT_EQ(rec.overlaps, 0);
  EXPECT_LE(heads_seen.load(), 1);
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM spindle.serial_keys"), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, SerialTest, ::testing::ValuesIn(testing::kAllBackends),
                         [](const auto& info) { return testing::Name(info.param); });
INSTANTIATE_TEST_SUITE_P(Backends, PostgresSerialTest,
                         ::testing::Values(BackendKind::kPostgres),
                         [](const auto& info) { return testing::Name(info.param); });

}  // namespace
}  // namespace spindle
