// Cluster-wide concurrency limits (docs/regulation.md): per queue, per kind and per key value,
// on every backend; through the store's fetch directly (a pinned clock, no sleeps), under
// threads that fetch and finish at once, and through real workers.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "regulation/admission.h"
#include "spindle/spindle.h"
#include "store/postgres/pg_conn.h"
#include "store/store.h"
#include "testing.h"

namespace spindle {
namespace {

using namespace std::chrono_literals;
using testing::BackendKind;
using testing::TestBackend;
using testing::WaitUntil;
using Kind = JobOutcome::Kind;

Limit QueueLimit(int capacity) { return {.name = "queue:default", .capacity = capacity, .queue = "default"}; }
Limit KindLimit(const std::string& kind, int capacity) {
  return {.name = "kind:" + kind, .capacity = capacity, .kind = kind};
}
Limit KeyLimit(const std::string& key, int capacity) {
  return {.name = "per_key", .capacity = capacity, .key = key};
}
Limit Rate(int capacity, Millis per, std::optional<std::string> key = std::nullopt) {
  return {.name = "rate", .capacity = capacity, .key = std::move(key), .per = per};
}
Limit Pool(int capacity, std::map<std::string, int> units) {
  return {.name = "pool:gpu", .capacity = capacity, .units = std::move(units)};
}

class RegulationTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    // On a whole second: rate logs count in ms, and round a start's time up to a step of the
    // window (1/200 of it).
    clock_ = std::make_shared<FakeClock>(
        std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
    store_ = OpenStore({db_->url(), 4, clock_});
    store_->Migrate();
  }

  void Limits(std::vector<Limit> limits) {
    for (auto& recorded : store_->LimitList(false)) {
      bool kept = std::any_of(limits.begin(), limits.end(),
                              [&](const Limit& l) { return l.name == recorded.limit.name; });
      if (!kept) store_->LimitRemove(recorded.limit.name);
    }
    store_->LimitRegister(limits);
    limits_ = std::move(limits);
  }
  std::string Insert(const std::string& kind = "a", Json args = Json::object()) {
    return store_->JobInsertMany({{.kind = kind, .args = std::move(args)}}).front();
  }
  // Fetches as a worker of kinds a and b that read the recorded limits.
  std::vector<Job> Fetch(int limit = 10, const std::string& worker = "w1", Millis lease = 30s) {
    std::vector<Limit> recorded;
    for (auto& info : store_->LimitList(false)) recorded.push_back(info.limit);
    return FetchWithin(recorded, limit, worker, lease);
  }
  // Fetches as a worker of kinds a and b whose copy of the limits is `limits`.
  std::vector<Job> FetchWithin(const std::vector<Limit>& limits, int limit = 10,
                               const std::string& worker = "w1", Millis lease = 30s) {
    JobFetchParams p{"default", limit, worker, lease, {"a", "b"}};
    p.limits = regulation::LimitsFor(limits, "default", p.kinds);
    p.rate_wait = &rate_wait_;
    return store_->JobFetch(p);
  }
  void Finish(const Job& j, Kind kind = Kind::kCompleted, const std::string& worker = "w1") {
    ASSERT_EQ(store_->JobFinishMany(worker, {{.id = j.id, .attempt = j.attempt, .kind = kind,
                                              .message = "boom", .delay = 0ms}})
                  .size(),
              1u);
  }
  int64_t Parked() {
    return db_->QueryInt("SELECT count(*) FROM {jobs} WHERE gate_wait IS NOT NULL");
  }
  // Running jobs per gate, from the jobs alone (not the counters): what the limits promise.
  std::map<std::string, int> RunningPerGate() {
    regulation::Admission admission(limits_);
    std::map<std::string, int> n;
    auto now = clock_->Now();
    for (const auto& j : store_->JobList({.states = {JobState::kRunning}, .limit = 100000})) {
      if (!j.lease_expires_at || *j.lease_expires_at <= now) continue;
      for (const auto& g : admission.Gates({j.id, j.kind, j.queue, j.args})) ++n[g];
    }
    return n;
  }
  void ExpectWithinLimits() {
    std::map<std::string, int> cap;
    for (const auto& l : limits_) cap[l.name] = l.capacity;
    for (const auto& [gate, n] : RunningPerGate()) {
      EXPECT_LE(n, cap[std::string(regulation::LimitOfGate(gate))]) << gate;
    }
  }

  std::unique_ptr<TestBackend> db_ = TestBackend::Make(GetParam());
  std::shared_ptr<FakeClock> clock_;
  std::unique_ptr<Store> store_;
  std::vector<Limit> limits_;
  std::optional<Millis> rate_wait_;  // what the last fetch said about rate limits
};

TEST_P(RegulationTest, AQueueLimitCapsRunningJobsAcrossWorkers) {
  Limits({QueueLimit(2)});
  for (int i = 0; i < 5; ++i) Insert();
  auto first = Fetch(10, "w1");
  EXPECT_EQ(first.size(), 2u);
  EXPECT_TRUE(Fetch(10, "w2").empty());
  EXPECT_EQ(Parked(), 3);  // met once, parked: later fetches do not read past them
  Finish(first[0]);
  EXPECT_EQ(Parked(), 2);  // the release let the first in line go
  auto next = Fetch(10, "w2");
  ASSERT_EQ(next.size(), 1u);
  EXPECT_TRUE(Fetch(10, "w2").empty());
  ExpectWithinLimits();
}

TEST_P(RegulationTest, AKindLimitHoldsBackOnlyItsKind) {
  Limits({KindLimit("a", 1)});
  for (int i = 0; i < 3; ++i) Insert("a");
  for (int i = 0; i < 2; ++i) Insert("b");
  auto got = Fetch(10);
  std::multiset<std::string> kinds;
  for (const auto& j : got) kinds.insert(j.kind);
  EXPECT_EQ(kinds, (std::multiset<std::string>{"a", "b", "b"}));
  EXPECT_EQ(Parked(), 2);
  EXPECT_TRUE(Fetch(10).empty());
  for (const auto& j : got) Finish(j);
  auto after = Fetch(10);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].kind, "a");
}

TEST_P(RegulationTest, AKeyLimitsEachValueOnItsOwn) {
  Limits({KeyLimit("customer.id", 1)});
  std::map<std::string, std::string> first_of;
  for (int round = 0; round < 2; ++round) {
    for (auto customer : {"acme", "globex"}) {
      auto id = Insert("a", {{"customer", {{"id", customer}}}});
      first_of.emplace(customer, id);
    }
    Insert("a", {{"customer", {{"id", 7}}}});  // a number is a value too
  }
  Insert("a", {{"other", 1}});  // no value at the key: not limited
  auto got = Fetch(10);
  EXPECT_EQ(got.size(), 4u);  // acme, globex, 7 and the unkeyed one
  EXPECT_EQ(Parked(), 3);
  ExpectWithinLimits();
  for (const auto& j : got) {
    if (j.id == first_of["acme"]) Finish(j);
  }
  auto next = Fetch(10);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].args["customer"]["id"], "acme");
  auto usage = store_->LimitList(true);
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[0].running, 3);
  EXPECT_EQ(usage[0].waiting, 2);
  EXPECT_EQ(usage[0].keys, 3);
}

// A resource pool: each job takes its kind's units, all of them or none, until its lease ends;
// kinds that do not use the pool are not held back by it.
TEST_P(RegulationTest, APoolCountsTheUnitsEachKindTakes) {
  Limits({Pool(3, {{"a", 2}, {"b", 1}})});
  std::vector<std::string> ids;
  for (const char* kind : {"a", "a", "b", "b"}) ids.push_back(Insert(kind));
  auto got = Fetch(10);
  ASSERT_EQ(got.size(), 2u);  // the first a (2 units) and the first b (1): either other makes 4
  EXPECT_EQ(got[0].id, ids[0]);
  EXPECT_EQ(got[1].id, ids[2]);
  EXPECT_EQ(Parked(), 2);
  auto usage = store_->LimitList(true);
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[0].running, 3);  // units
  EXPECT_EQ(usage[0].waiting, 2);
  EXPECT_EQ(usage[0].limit.units, (std::map<std::string, int>{{"a", 2}, {"b", 1}}));
  ExpectWithinLimits();
  Finish(got[0]);  // two units back: room for the second a beside the running b
  auto next = Fetch(10);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].id, ids[1]);
  ExpectWithinLimits();
  Finish(got[1]);
  Finish(next[0]);
  auto last = Fetch(10);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].id, ids[3]);
  Finish(last[0]);
  EXPECT_EQ(store_->LimitList(true)[0].running, 0);

  Limits({Pool(2, {{"a", 2}})});  // b does not use it
  for (const char* kind : {"a", "a", "b", "b"}) Insert(kind);
  EXPECT_EQ(Fetch(10).size(), 3u);
  EXPECT_EQ(Parked(), 1);
  ExpectWithinLimits();
}

// A release of several units lets as many waiting jobs go as now fit, not one.
TEST_P(RegulationTest, AReleaseOfSeveralUnitsLetsGoAsManyJobsAsFit) {
  Limits({Pool(2, {{"a", 2}, {"b", 1}})});
  for (const char* kind : {"a", "b", "b", "b"}) Insert(kind);
  auto first = Fetch(10);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(Parked(), 3);
  Finish(first[0]);
  EXPECT_EQ(Parked(), 1);  // both units free: two of the waiting jobs go at once
  EXPECT_EQ(Fetch(10).size(), 2u);
  ExpectWithinLimits();
}

// A fetch decides with the limits as recorded now, not with the worker's copy: a limit removed
// (or grown) a moment ago no longer holds jobs back, however old the copy.
TEST_P(RegulationTest, AFetchDecidesWithTheRecordedLimitsNotItsCopy) {
  Limits({QueueLimit(1)});
  for (int i = 0; i < 3; ++i) Insert();
  auto copy = limits_;
  ASSERT_EQ(FetchWithin(copy).size(), 1u);
  EXPECT_EQ(Parked(), 2);
  store_->LimitRemove("queue:default");
  EXPECT_EQ(Parked(), 0);
  EXPECT_EQ(FetchWithin(copy).size(), 2u);  // not parked again at a limit that is gone
  EXPECT_EQ(Parked(), 0);
  for (int i = 0; i < 3; ++i) Insert();
  store_->LimitRegister({{.name = "queue:default", .capacity = 4, .queue = "default"}});
  EXPECT_EQ(FetchWithin(copy).size(), 1u);  // capacity 4 as recorded, 3 running
}

TEST_P(RegulationTest, ARateLimitLetsNStartWithinAnyWindow) {
  Limits({Rate(3, 10s)});
  for (int i = 0; i < 10; ++i) Insert();
  auto first = Fetch(2);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(rate_wait_, std::nullopt);  // nothing waits yet
  clock_->Advance(4s);
  auto second = Fetch(10);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(Parked(), 7);  // met once, parked
  EXPECT_EQ(rate_wait_, Millis(6000));  // the first two starts leave the window in 6 s
  for (const auto& j : first) Finish(j);  // ending a job gives back no start
  EXPECT_TRUE(Fetch(10).empty());
  EXPECT_EQ(Parked(), 7);
  clock_->Advance(5999ms);
  EXPECT_TRUE(Fetch(10).empty());
  EXPECT_EQ(rate_wait_, std::nullopt);  // the fetch that parked them was told
  clock_->Advance(1ms);
  EXPECT_EQ(Fetch(10).size(), 2u);  // the two that left the window; the third stays 4 s more
  EXPECT_EQ(rate_wait_, Millis(4000));
  EXPECT_EQ(Parked(), 5);
  clock_->Advance(4s);
  EXPECT_EQ(Fetch(10).size(), 1u);
  auto limits = store_->LimitList(true);
  ASSERT_EQ(limits.size(), 1u);
  EXPECT_EQ(limits[0].running, 3);  // started within the last 10 s
  EXPECT_EQ(limits[0].waiting, 4);
  EXPECT_EQ(limits[0].limit.per, Millis(10000));
}

TEST_P(RegulationTest, ARateLimitWithAKeyCountsEachValueOnItsOwn) {
  Limits({Rate(1, 1000ms, "customer")});
  for (int i = 0; i < 2; ++i) {
    Insert("a", {{"customer", 1}});
    Insert("a", {{"customer", 2}});
  }
  Insert("a");  // no value: not limited
  EXPECT_EQ(Fetch(10).size(), 3u);
  EXPECT_EQ(Parked(), 2);
  clock_->Advance(1s);
  EXPECT_EQ(Fetch(10).size(), 2u);
  auto limits = store_->LimitList(true);
  EXPECT_EQ(limits[0].running, 2);
  EXPECT_EQ(limits[0].keys, 2);
}

TEST_P(RegulationTest, ARateAndAConcurrencyLimitHoldTogether) {
  Limits({Rate(2, 10s), QueueLimit(1)});
  for (int i = 0; i < 4; ++i) Insert();
  auto first = Fetch(10);
  ASSERT_EQ(first.size(), 1u);  // the concurrency limit
  Finish(first[0]);             // gives back its place, not its start
  auto second = Fetch(10);
  ASSERT_EQ(second.size(), 1u);
  Finish(second[0]);
  EXPECT_TRUE(Fetch(10).empty());  // the rate limit: two started within 10 s
  clock_->Advance(10s);
  EXPECT_EQ(Fetch(10).size(), 1u);
  ExpectWithinLimits();
}

TEST_P(RegulationTest, TheSweepLetsGoRateJobsWhoseTimeCame) {
  Limits({Rate(2, 10s)});
  for (int i = 0; i < 5; ++i) Insert();
  EXPECT_EQ(Fetch(10).size(), 2u);
  EXPECT_EQ(Parked(), 3);
  EXPECT_EQ(store_->LimitSweep(), 0);  // too early
  clock_->Advance(10s);
  EXPECT_EQ(store_->LimitSweep(), 2);  // as many as may start now, in line
  EXPECT_EQ(Parked(), 1);
  EXPECT_EQ(Fetch(10).size(), 2u);
  EXPECT_EQ(Parked(), 1);
  clock_->Advance(10s);
  EXPECT_EQ(Fetch(10).size(), 1u);  // the fetch lets them go itself
  EXPECT_EQ(Parked(), 0);
  EXPECT_EQ(rate_wait_, std::nullopt);
}

TEST_P(RegulationTest, ARateLimitThatGrowsOrGoesLetsItsJobsGo) {
  Limits({Rate(1, 1h)});
  for (int i = 0; i < 4; ++i) Insert();
  EXPECT_EQ(Fetch(10).size(), 1u);
  EXPECT_EQ(Parked(), 3);
  Limits({Rate(2, 1h)});  // recorded again, larger: one more may start within the hour, now
  EXPECT_EQ(Parked(), 2);
  EXPECT_EQ(Fetch(10).size(), 1u);
  EXPECT_EQ(Parked(), 2);
  store_->LimitRemove("rate");
  EXPECT_EQ(Parked(), 0);
  EXPECT_EQ(FetchWithin({}).size(), 2u);
}

TEST(RateLogTest, KeepsTheStartsWithinTheWindow) {
  auto log = regulation::RateLog::Parse("");
  EXPECT_EQ(log.Used(), 0);
  EXPECT_EQ(log.NextFree(1000), std::nullopt);
  log.Add(10'001, 2, 1000);  // rounded up to a multiple of per/200 = 5 ms
  log.Add(10'004, 1, 1000);  // the same step: the same entry
  log.Add(10'500, 3, 1000);
  EXPECT_EQ(log.Text(), "[[10005,3],[10500,3]]");
  EXPECT_EQ(regulation::RateLog::Parse(log.Text()).Text(), log.Text());
  EXPECT_EQ(log.NextFree(1000), 11'005);
  EXPECT_EQ(log.Idle(1000), 11'500);
  log.Expire(11'004, 1000);
  EXPECT_EQ(log.Used(), 6);
  log.Expire(11'005, 1000);
  EXPECT_EQ(log.Used(), 3);
  EXPECT_EQ(regulation::RateLog::Parse("not json").Used(), 0);
}

TEST(RateLogTest, AStreamOfCloseStartsDoesNotHoldItsFirstBack) {
  // A start every 4 ms under a window of 1 s (steps of 5 ms): each start leaves the window at
  // most a step late, however long the stream, so the window holds the last second's 250 starts
  // and at most a step's more.
  regulation::RateLog log;
  for (int64_t t = 0; t < 5000; t += 4) {
    log.Add(t, 1, 1000);
    log.Expire(t, 1000);
    EXPECT_LE(log.Used(), 252) << t;
  }
  EXPECT_GE(log.Used(), 250);
}

TEST(PoolTest, AJobTakesOneToCapacityUnitsOfAPoolThatNamesItsKinds) {
  auto invalid = [](const Limit& l) {
    try {
      l.Validate();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(invalid(Pool(2, {{"a", 2}})), "");
  EXPECT_NE(invalid(Pool(2, {{"a", 3}})).find("kind 'a' takes 3 units, but a job must take 1 to 2"),
            std::string::npos);
  EXPECT_NE(invalid(Pool(2, {{"a", 0}})).find("kind 'a' takes 0 units"), std::string::npos);
  auto with_kind = Pool(2, {{"a", 1}});
  with_kind.kind = "a";
  EXPECT_NE(invalid(with_kind).find("kind must be unset"), std::string::npos);
}

// However an attempt ends, its gates are free again, and only then.
TEST_P(RegulationTest, EveryEndOfALeaseReleasesItsGates) {
  Limits({QueueLimit(1)});
  for (int i = 0; i < 6; ++i) Insert();
  int takes = 0;
  auto take = [&] {
    ++takes;
    auto got = Fetch(10);
    EXPECT_EQ(got.size(), 1u) << "take " << takes;
    return got.empty() ? Job{} : got[0];
  };
  Finish(take(), Kind::kError);    // retryable
  Finish(take(), Kind::kDiscard);  // failed
  Finish(take(), Kind::kRelease);  // a nap
  // Cancelled while it runs: its process may live, so the gate stays taken until the worker
  // reports the attempt's end.
  Job running = take();
  store_->JobCancel(running.id);
  EXPECT_TRUE(Fetch(10).empty());
  EXPECT_TRUE(store_->JobFinishMany("w1", {{.id = running.id, .attempt = running.attempt,
                                            .kind = Kind::kCompleted}})
                  .empty());  // refused, but the lease ended
  // A worker that died: its lease expires, and the rescue that ends it lets the next in line go
  // (parked jobs wait for a release; a job not yet parked would start at once).
  Job lost = take();
  clock_->Advance(31s);
  EXPECT_TRUE(Fetch(10).empty());
  EXPECT_EQ(store_->JobRescue(100), 1);
  EXPECT_EQ(store_->JobGet(lost.id)->lease_expires_at, std::nullopt);
  Job after = take();
  EXPECT_NE(after.id, lost.id);
  EXPECT_TRUE(Fetch(10).empty());
  ExpectWithinLimits();
}

// A dead worker's job holds its place until its lease ends (the rescue, or an eviction's): never
// two at once, even for a moment.
TEST_P(RegulationTest, AnExpiredLeaseCountsUntilTheRescueEndsIt) {
  Limits({QueueLimit(1)});
  Insert();
  Job lost = Fetch(10).at(0);
  clock_->Advance(31s);
  std::string next = Insert();
  EXPECT_TRUE(Fetch(10).empty());
  EXPECT_EQ(store_->LimitSweep(), 0);  // the recount keeps it too
  EXPECT_EQ(store_->JobRescue(100), 1);
  clock_->Advance(1h);           // past the rescued job's back-off
  EXPECT_EQ(Fetch(10).size(), 1u);  // one of the two: the place is free again
  EXPECT_TRUE(Fetch(10).empty());
}

// A job cancelled or stopped while it ran, whose worker died before it reported the attempt's
// end: its lease expires (the eviction's or its own), and the rescue ends it and gives its place
// back, as the rescue of a running job does. The recount alone would keep counting it.
TEST_P(RegulationTest, ATakenJobOfADeadWorkerGivesItsPlaceBackAtTheRescue) {
  Limits({QueueLimit(1)});
  for (int i = 0; i < 3; ++i) Insert();
  Job cancelled = Fetch(10).at(0);
  store_->JobCancel(cancelled.id);
  clock_->Advance(31s);
  store_->LimitSweep();
  EXPECT_TRUE(Fetch(10).empty());
  EXPECT_EQ(store_->JobRescue(100), 0);  // no running job to retry
  EXPECT_EQ(store_->JobGet(cancelled.id)->lease_expires_at, std::nullopt);
  Job stopped = Fetch(10).at(0);
  store_->JobStop(stopped.id);
  clock_->Advance(31s);
  EXPECT_TRUE(Fetch(10).empty());
  store_->JobRescue(100);
  EXPECT_EQ(store_->JobGet(stopped.id)->state, JobState::kStopped);
  EXPECT_EQ(Fetch(10).size(), 1u);
  ExpectWithinLimits();
}

// The counters are a cache of the leases: the sweep recounts them from the jobs.
TEST_P(RegulationTest, TheSweepRecountsWhatTheLeasesHold) {
  Limits({QueueLimit(2)});
  for (int i = 0; i < 3; ++i) Insert();
  ASSERT_EQ(Fetch(10).size(), 2u);
  db_->Query(GetParam() == BackendKind::kPostgres ? "UPDATE spindle.gates SET held = 7"
                                                  : "UPDATE spindle_gates SET held = 7");
  EXPECT_EQ(store_->LimitList(true).at(0).running, 7);
  store_->LimitSweep(false);  // without its recount (SQLite recounts at every sweep)
  EXPECT_EQ(store_->LimitList(true).at(0).running, GetParam() == BackendKind::kPostgres ? 7 : 2);
  store_->LimitSweep();
  EXPECT_EQ(store_->LimitList(true).at(0).running, 2);
}

TEST_P(RegulationTest, ALimitThatGrowsOrGoesLetsItsWaitingJobsGo) {
  Limits({QueueLimit(1)});
  for (int i = 0; i < 5; ++i) Insert();
  EXPECT_EQ(Fetch(10).size(), 1u);
  EXPECT_EQ(Parked(), 4);
  Limits({QueueLimit(3)});
  EXPECT_EQ(Parked(), 2);  // room for two more
  EXPECT_EQ(Fetch(10).size(), 2u);
  store_->LimitRemove("queue:default");  // the limit goes: its waiting jobs may start
  EXPECT_EQ(store_->LimitList(false).size(), 0u);
  EXPECT_EQ(Parked(), 0);
  EXPECT_EQ(Fetch(10).size(), 2u);
}

// A worker records what it declares and removes nothing: a limit goes only when removed.
TEST_P(RegulationTest, AWorkerRecordsItsLimitsAndRemovesNone) {
  store_->LimitRegister({{.name = "other", .capacity = 2, .queue = "q2"}});
  store_->LimitRegister({KindLimit("a", 1)});
  store_->LimitRegister({});
  std::set<std::string> names;
  for (auto& l : store_->LimitList(false)) names.insert(l.limit.name);
  EXPECT_EQ(names, (std::set<std::string>{"kind:a", "other"}));
  store_->LimitRegister({KindLimit("a", 3)});  // the last to start wins
  EXPECT_EQ(store_->LimitList(false).at(0).limit.capacity, 3);
  store_->LimitRemove("other");
  EXPECT_EQ(store_->LimitList(false).size(), 1u);
  try {
    store_->LimitRemove("other");
    FAIL() << "removed twice";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_STREQ(e.what(), "no limit named 'other'");
  }
  EXPECT_THROW(store_->LimitRegister({{.name = "bad/name"}}), Error);
}

// A job let go by a release that is cancelled before it starts leaves the next in line parked
// at a gate with room: the leader's sweep lets that one go.
TEST_P(RegulationTest, TheSweepLetsGoWhatNoReleaseDid) {
  Limits({QueueLimit(1)});
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(Insert());
  auto got = Fetch(10);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(Parked(), 2);
  EXPECT_EQ(store_->LimitSweep(), 0);  // no room
  Finish(got[0]);                      // lets ids[1] go
  ASSERT_EQ(Parked(), 1);
  store_->JobCancel(ids[1]);
  EXPECT_EQ(Parked(), 1);  // nothing let ids[2] go
  EXPECT_EQ(store_->LimitSweep(), 1);
  EXPECT_EQ(Parked(), 0);
  auto next = Fetch(10);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].id, ids[2]);
}

// A parked job that a person cancels leaves its line.
TEST_P(RegulationTest, ACancelledWaitingJobLeavesItsLine) {
  Limits({QueueLimit(1)});
  Insert();
  std::string waiting = Insert();
  ASSERT_EQ(Fetch(10).size(), 1u);
  ASSERT_EQ(Parked(), 1);
  store_->JobCancel(waiting);
  EXPECT_EQ(Parked(), 0);
  EXPECT_EQ(store_->LimitList(true).at(0).waiting, 0);
}

// Random fetches, outcomes, cancels, expiries and rescues by three workers: after every step no
// gate has more live leases than its capacity, and at the end every job ran.
TEST_P(RegulationTest, RandomStepsNeverExceedALimit) {
  Limits({QueueLimit(4), KindLimit("a", 2), KeyLimit("customer", 1),
          Pool(5, {{"a", 1}, {"b", 2}})});
  std::mt19937 rng(20261204);
  for (int i = 0; i < 60; ++i) {
    Json args = Json::object();
    if (rng() % 3) args["customer"] = static_cast<int>(rng() % 4);
    Insert(rng() % 2 ? "a" : "b", args);
  }
  std::vector<std::pair<std::string, Job>> held;  // worker, job
  for (int step = 0; step < 400; ++step) {
    std::string worker = "w" + std::to_string(rng() % 3);
    switch (rng() % 6) {
      case 0:
      case 1:
        for (auto& j : Fetch(1 + rng() % 3, worker, 5s)) held.emplace_back(worker, j);
        break;
      case 2:
      case 3:
        if (!held.empty()) {
          auto i = rng() % held.size();
          Kind kind = rng() % 4 ? Kind::kCompleted : Kind::kError;
          store_->JobFinishMany(held[i].first, {{.id = held[i].second.id,
                                                 .attempt = held[i].second.attempt,
                                                 .kind = kind, .message = "boom"}});
          held.erase(held.begin() + static_cast<long>(i));
        }
        break;
      case 4:
        clock_->Advance(Millis(1000 + rng() % 3000));  // some leases expire
        store_->JobRescue(100);
        break;
      case 5:
        store_->LimitSweep();
        break;
    }
    ExpectWithinLimits();
    if (HasFailure()) FAIL() << "at step " << step;
  }
  // Drain: everything left runs, within the limits, and nothing stays parked.
  for (int round = 0; round < 500; ++round) {
    for (auto& [w, j] : held) store_->JobFinishMany(w, {{.id = j.id, .attempt = j.attempt, .kind = Kind::kCompleted}});
    held.clear();
    clock_->Advance(2s);
    store_->JobRescue(100);
    for (auto& j : Fetch(10, "w0", 60s)) held.emplace_back("w0", j);
    ExpectWithinLimits();
    if (held.empty() && db_->QueryInt("SELECT count(*) FROM {jobs} WHERE state NOT IN "
                                      "('completed', 'failed')") == 0) {
      break;
    }
    if (held.empty()) store_->LimitSweep();
  }
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM {jobs} WHERE state NOT IN ('completed', 'failed')"), 0);
  EXPECT_EQ(Parked(), 0);
  EXPECT_EQ(db_->QueryInt(GetParam() == BackendKind::kPostgres
                              ? "SELECT coalesce(sum(held), 0) FROM spindle.gates"
                              : "SELECT coalesce(sum(held), 0) FROM spindle_gates"),
            0);
}

// Eight threads, each with its own store, fetch and finish at once: the jobs they hold at any
// moment (counted in memory, from fetch's return to before the finish) never exceed a limit.
TEST_P(RegulationTest, ConcurrentFetchersNeverExceedALimit) {
  Limits({QueueLimit(3), KeyLimit("customer", 1)});
  std::vector<JobSpec> specs;
  for (int i = 0; i < 300; ++i) specs.push_back({.kind = "a", .args = {{"customer", i % 5}}});
  store_->JobInsertMany(specs);
  std::atomic<int> holding{0}, most{0}, done{0};
  std::mutex mu;
  std::map<int, int> per_customer;
  int most_per_customer = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto store = OpenStore({db_->url(), 1});
      std::string worker = "t" + std::to_string(t);
      auto deadline = std::chrono::steady_clock::now() + 120s;
      while (done < 300 && std::chrono::steady_clock::now() < deadline) {
        JobFetchParams p{"default", 2, worker, 30s, {"a"}};
        p.limits = limits_;
        auto jobs = store->JobFetch(p);
        if (jobs.empty()) {
          std::this_thread::sleep_for(1ms);
          continue;
        }
        int now = holding += static_cast<int>(jobs.size());
        for (int m = most; now > m && !most.compare_exchange_weak(m, now);) {}
        {
          std::lock_guard lock(mu);
          for (const auto& j : jobs) {
            most_per_customer = std::max(most_per_customer, ++per_customer[j.args["customer"]]);
          }
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200 * t));
        std::vector<JobOutcome> outcomes;
        {
          std::lock_guard lock(mu);
          for (const auto& j : jobs) --per_customer[j.args["customer"]];
        }
        holding -= static_cast<int>(jobs.size());
        for (const auto& j : jobs) outcomes.push_back({.id = j.id, .attempt = j.attempt});
        done += static_cast<int>(store->JobFinishMany(worker, outcomes).size());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(done, 300);
  EXPECT_LE(most, 3);
  EXPECT_GE(most, 2);  // the limit, not the threads, was what held them back
  EXPECT_EQ(most_per_customer, 1);
}

// Real workers: two of them, five slots each, a kind limited to 2 cluster-wide.
TEST_P(RegulationTest, RealWorkersStayWithinALimit) {
  std::atomic<int> running{0}, most{0}, ran{0};
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < 2; ++i) {
    WorkerOptions o{.database_url = db_->url(), .queues = {QueueOptions{"default", 5}}};
    o.limits = {KindLimit("a", 2)};
    auto w = std::make_unique<Worker>(o);
    w->Register("a", [&](JobContext&) {
      int now = ++running;
      for (int m = most; now > m && !most.compare_exchange_weak(m, now);) {}
      std::this_thread::sleep_for(20ms);
      --running;
      ++ran;
      return JobResult::Done();
    });
    w->Start();
    workers.push_back(std::move(w));
  }
  auto client = Client::Open({db_->url()});
  std::vector<JobSpec> specs(30, JobSpec{.kind = "a"});
  client->EnqueueMany(specs);
  ASSERT_TRUE(WaitUntil([&] { return ran == 30; }, 120s));
  for (auto& w : workers) w->Stop();
  EXPECT_LE(most, 2);
  auto limits = client->Limits();
  ASSERT_EQ(limits.size(), 1u);
  EXPECT_EQ(limits[0].running, 0);
  EXPECT_EQ(limits[0].waiting, 0);
}

// Real workers under a rate limit start jobs in bursts a window apart, each woken when the window
// frees: not at its next poll, nor by the leader's sweep (both a minute away here).
TEST_P(RegulationTest, RealWorkersStartWithinARateAndWakeWhenItFrees) {
  std::mutex mu;
  std::vector<std::chrono::steady_clock::time_point> starts;
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < 2; ++i) {
    WorkerOptions o{.database_url = db_->url(), .queues = {QueueOptions{"default", 10}}};
    o.poll_interval = o.poll_interval_no_notify = 60s;
    o.rescue_interval = 60s;
    o.limits = {Rate(4, 1s)};
    auto w = std::make_unique<Worker>(o);
    w->Register("a", [&](JobContext&) {
      std::lock_guard lock(mu);
      starts.push_back(std::chrono::steady_clock::now());
      return JobResult::Done();
    });
    w->Start();
    workers.push_back(std::move(w));
  }
  auto client = Client::Open({db_->url()});
  client->EnqueueMany(std::vector<JobSpec>(12, JobSpec{.kind = "a"}));
  EXPECT_TRUE(WaitUntil([&] { return client->Count({.states = {JobState::kCompleted}}) == 12; },
                        40s));
  for (auto& w : workers) w->Stop();
  // By the leases (started_at): of any 5 starts, the first and the last are a window apart.
  std::vector<SysTime> leased;
  for (const auto& j : client->List({.states = {JobState::kCompleted}})) {
    leased.push_back(*j.started_at);
  }
  ASSERT_EQ(leased.size(), 12u);
  std::sort(leased.begin(), leased.end());
  for (size_t i = 4; i < leased.size(); ++i) EXPECT_GE(leased[i] - leased[i - 4], 999ms) << i;
  // As the handlers saw them, a little after their leases.
  std::lock_guard lock(mu);
  ASSERT_EQ(starts.size(), 12u);
  std::sort(starts.begin(), starts.end());
  for (size_t i = 4; i < starts.size(); ++i) EXPECT_GE(starts[i] - starts[i - 4], 900ms) << i;
}

// The command line: limits from the configuration, bad ones refused, `spindle limits list`.
TEST_P(RegulationTest, CommandLine) {
  auto run = [&](const std::string& args) {
    return testing::Cli("--database " + testing::Quote(db_->url()) + " " + args);
  };
  auto empty = run("limits list");
  ASSERT_EQ(empty.status, 0) << empty.output;
  EXPECT_NE(empty.out.find("no limits recorded"), std::string::npos) << empty.out;

  std::string dir = ::testing::TempDir();
  auto refuses = [&](const std::string& toml, const std::string& want) {
    const std::string path = dir + "/limits-" + testing::Name(GetParam()) + ".toml";
    return testing::ServeRefuses(db_->url(), path, toml, want);
  };
  EXPECT_TRUE(refuses("[limits.per_customer]\nkey = \"customer\"\n",
                      "'limits.per_customer.capacity' is required"));
  EXPECT_TRUE(refuses("[limits.x]\ncapacity = 2\nkey = \"a..b\"\n",
                      "limit 'x': key \"a..b\" must be a path"));
  EXPECT_TRUE(refuses("[queues.default]\nlimit = 0\n",
                      "queues.default.limit"));
  EXPECT_TRUE(refuses("[pools]\ngpu = 2\n[kinds.a]\ncommand = [\"true\"]\npools = { gpu = 3 }\n",
                      "limit 'pool:gpu': kind 'a' takes 3 units"));
  EXPECT_TRUE(refuses("[kinds.a]\ncommand = [\"true\"]\npools = { gpu = 1 }\n",
                      "names the pool 'gpu', which [pools] does not declare"));
  EXPECT_TRUE(refuses("[limits.\"pool:gpu\"]\ncapacity = 5\n",
                      "names that begin with \"pool:\""));
  EXPECT_TRUE(refuses("[pools]\n" + std::string(96, 'g') + " = 2\n",
                      "a pool's name must be 1 to 95"));
  EXPECT_TRUE(refuses("[pools]\ngpu = 2\n",
                      "pool 'gpu' is used by no kind"));
  EXPECT_TRUE(refuses("[queues.default]\nrate = \"100 per minute\"\n",
                      "'queues.default.rate' must be \"N/DURATION\""));
  EXPECT_TRUE(refuses("[kinds.a]\ncommand = [\"true\"]\nrate = \"0/1s\"\n",
                      "N is a whole number from 1 to 1000000"));
  EXPECT_TRUE(refuses("[limits.x]\ncapacity = 2\nper = \"0s\"\n",
                      "limits.x.per' must be longer than 0s"));
  EXPECT_TRUE(refuses("[limits.x]\ncapacity = 2\nkeys = \"a\"\n",
                      "unknown key 'limits.x.keys'"));
  EXPECT_EQ(store_->LimitList(false).size(), 0u);  // nothing was recorded

  Limits({KindLimit("a", 1), KeyLimit("customer", 2)});
  Insert("a", {{"customer", 1}});
  Insert("a", {{"customer", 1}});
  ASSERT_EQ(Fetch(10).size(), 1u);
  auto list = run("limits list");
  ASSERT_EQ(list.status, 0) << list.output;
  EXPECT_NE(list.out.find("kind:a"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("customer"), std::string::npos) << list.out;
  std::string parked = db_->Query("SELECT id FROM {jobs} WHERE gate_wait IS NOT NULL");
  auto show = run("jobs show " + parked);
  EXPECT_NE(show.out.find("waits_for:    limit kind:a (full"), std::string::npos) << show.out;
  EXPECT_EQ(store_->JobGet(parked)->waits_for, "kind:a");
  auto listed = Json::parse(run("--json jobs list --state available").out);
  ASSERT_EQ(listed["jobs"].size(), 1u) << listed.dump();
  EXPECT_EQ(listed["jobs"][0]["waits_for"], "kind:a");
  auto json = run("--json limits list");
  ASSERT_EQ(json.status, 0) << json.output;
  auto limits = Json::parse(json.out);
  ASSERT_EQ(limits.size(), 2u);
  EXPECT_EQ(limits[0]["name"], "kind:a");
  EXPECT_EQ(limits[0]["running"], 1);
  EXPECT_EQ(limits[0]["waiting"], 1);
  EXPECT_EQ(limits[1]["name"], "per_key");
  EXPECT_EQ(limits[1]["running"], 1);
  EXPECT_EQ(limits[1]["keys"], 1);
  EXPECT_EQ(limits[0]["keys"], nullptr);  // no key

  auto removed = run("limits remove kind:a");
  ASSERT_EQ(removed.status, 0) << removed.output;
  EXPECT_EQ(removed.out.find("removed limit kind:a; the limits that remain:\nLIMIT"), 0u)
      << removed.out;
  EXPECT_EQ(removed.out.find("kind:a", 20), std::string::npos) << removed.out;
  EXPECT_EQ(Parked(), 0);  // the job that waited for it may start
  auto unknown_name = run("limits remove kind:a");
  EXPECT_EQ(unknown_name.status, 3) << unknown_name.output;
  EXPECT_NE(unknown_name.err.find("no limit named 'kind:a'"), std::string::npos) << unknown_name.err;

  // Rate limits from the configuration, recorded by a worker that serves it a few seconds, as
  // `spindle limits list` shows them.
  Limits({});
  std::string rates = dir + "/rates-" + testing::Name(GetParam()) + ".toml";
  std::ofstream(rates) << "[queues.default]\nrate = \"100/1m\"\n"
                          "[kinds.a]\ncommand = [\"true\"]\nrate = \"5/s\"\n"
                          "[limits.per_customer]\ncapacity = 2\nper = \"10s\"\nkey = \"customer\"\n";
  auto served = testing::RunCommand("timeout", "-s TERM 8 " + std::string(SPINDLE_BIN) +
                                                   " --database " + testing::Quote(db_->url()) +
                                                   " --config " + testing::Quote(rates) + " serve");
  auto shown = run("limits list");
  EXPECT_NE(shown.out.find("rate:queue:default          100/1m  queue default"), std::string::npos)
      << shown.out << served.output;
  EXPECT_NE(shown.out.find("rate:kind:a                   5/1s  kind a"), std::string::npos)
      << shown.out;
  auto shown_json = Json::parse(run("--json limits list").out);
  ASSERT_EQ(shown_json.size(), 3u) << shown.out;
  EXPECT_EQ(shown_json[0]["name"], "per_customer");
  EXPECT_EQ(shown_json[0]["per_ms"], 10000);
  EXPECT_EQ(shown_json[0]["key"], "customer");

  Limits({Pool(3, {{"a", 2}, {"b", 1}})});
  auto pool = run("limits list");
  EXPECT_NE(pool.out.find("kinds a(2) b"), std::string::npos) << pool.out;
  auto pool_json = Json::parse(run("--json limits list").out);
  EXPECT_EQ(pool_json[0]["units"], (Json{{"a", 2}, {"b", 1}}));
}

// PostgreSQL: a regulated fetch that waited for the regulation lock leases from when it leased,
// not from when its transaction began: a lease already lapsed at the start would be rescued while
// the worker starts the job, and the job run twice at once (seen in the fault suite, when a
// worker cut off in the middle of a fetch held the lock for seconds).
TEST(RegulationPostgresTest, ALeaseRunsFromWhenTheFetchLeasedNotFromWhenItWaited) {
  auto db = TestBackend::Make(BackendKind::kPostgres);
  auto store = OpenStore({db->url(), 2});  // the database's own clock
  store->Migrate();
  store->LimitRegister({QueueLimit(5)});
  store->JobInsertMany({{.kind = "a"}});
  auto holder = pg::Conn::Connect(db->url());
  holder->ExecScript("BEGIN; SELECT pg_advisory_xact_lock(7361626470)");
  std::vector<Job> got;
  std::thread fetcher([&] {
    JobFetchParams p{"default", 10, "w1", 6s, {"a"}};
    p.limits = {QueueLimit(5)};
    got = store->JobFetch(p);
  });
  std::this_thread::sleep_for(3s);  // the fetch waits for the lock meanwhile
  holder->ExecScript("COMMIT");
  fetcher.join();
  ASSERT_EQ(got.size(), 1u);
  double left = std::stod(db->Query(
      "SELECT extract(epoch FROM lease_expires_at - clock_timestamp()) FROM {jobs}"));
  EXPECT_GT(left, 4.5);  // about 6 s; from the transaction's start it would be about 3 s
}

// PostgreSQL: a finish records the places its batch gives back as a row of gate_returns and
// gives them back after its commit (migration 020). A worker that dies in between never does; the
// sweep's recount does (also unasked, once the row is seconds old), and deletes the row in the
// same statement (021), so a give-back that still comes gives nothing back a second time.
TEST(RegulationPostgresTest, APlaceIsGivenBackOnceWhenTheSweepComesBeforeTheGiveBack) {
  auto db = TestBackend::Make(BackendKind::kPostgres);
  auto store = OpenStore({db->url(), 2});
  store->Migrate();
  store->LimitRegister({QueueLimit(2)});
  store->JobInsertMany({{.kind = "a"}, {.kind = "a"}, {.kind = "a"}});
  JobFetchParams p{"default", 10, "w1", 30s, {"a"}};
  p.limits = {QueueLimit(2)};
  auto got = store->JobFetch(p);
  ASSERT_EQ(got.size(), 2u);
  auto running = [&] { return store->LimitList(true).at(0).running; };
  // What job_finish_many.sql does for one job, without the give-back after it.
  const std::string old = "SELECT id, gates FROM {jobs} WHERE id = '" + got[0].id + "'";
  std::string returned = db->Query(
      "WITH old AS (" + old +
      "), ended AS (UPDATE {jobs} j SET state = 'completed', "
      "finished_at = now(), lease_expires_at = NULL, gates = NULL FROM old WHERE j.id = old.id "
      "RETURNING old.gates) INSERT INTO spindle.gate_returns (gates) SELECT gates FROM ended "
      "RETURNING id");
  EXPECT_EQ(running(), 2);  // not given back yet
  store->LimitSweep(false);
  EXPECT_EQ(running(), 2);  // the row is new: its give-back may be under way
  // A row that stayed was lost (a give-back takes milliseconds): the sweep recounts.
  db->Query("UPDATE spindle.gate_returns SET at = at - interval '1 minute'");
  store->LimitSweep(false);
  EXPECT_EQ(running(), 1);
  EXPECT_EQ(db->QueryInt("SELECT count(*) FROM spindle.gate_returns"), 0);
  EXPECT_EQ(db->QueryInt("SELECT spindle.gates_return(" + returned + ")"), 0);  // it comes late
  EXPECT_EQ(running(), 1);
  EXPECT_EQ(store->JobFetch(p).size(), 1u);  // the place is free, once
  EXPECT_EQ(running(), 2);
}

INSTANTIATE_TEST_SUITE_P(Backends, RegulationTest, ::testing::ValuesIn(testing::kAllBackends),
                         [](const auto& info) { return testing::Name(info.param); });

}  // namespace
}  // namespace spindle
