// Periodic jobs on both backends: the schedules table (Store::Schedule*) and the scheduler
// (src/maintenance/scheduler.h) driven directly with a FakeClock: one job per slot, also with
// two schedulers racing and a leader change mid-slot; catch-up; overrun; jitter; pause, resume
// and run-now; declaring schedules. And a real worker's scheduler, which stops first when the
// worker stops.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "core/time.h"
#include "maintenance/scheduler.h"
#include "spindle/worker.h"
#include "store/store.h"
#include "testing.h"

namespace spindle {
namespace {

using namespace std::chrono_literals;
using maintenance::Scheduler;
using testing::BackendKind;
using testing::TestBackend;

SysTime T(const char* rfc3339) { return core::ParseRfc3339(rfc3339); }

class ScheduleTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    store_ = Open();
    store_->Migrate();
    scheduler_ = std::make_unique<Scheduler>(*store_);
  }
  std::unique_ptr<Store> Open() { return OpenStore({db_->url(), 4, clock_}); }
  // Declares one schedule (without removing others).
  void Declare(Schedule s) { store_->ScheduleSync({s}, false); }
  // Moves the clock to `to` and ticks the scheduler there.
  int TickAt(const char* to) {
    SysTime t = T(to);
    clock_->Advance(std::chrono::duration_cast<std::chrono::microseconds>(t - clock_->Now()));
    return scheduler_->Tick(t);
  }
  std::vector<Job> Jobs(const std::string& kind) {
    auto jobs = store_->JobList({.kind = kind, .limit = 1000});
    std::reverse(jobs.begin(), jobs.end());  // oldest first
    return jobs;
  }
  ScheduleInfo Info(const std::string& name) {
    for (auto& s : store_->ScheduleList()) {
      if (s.schedule.name == name) return s;
    }
    throw std::runtime_error("no schedule " + name);
  }
  // Runs job `id` to completion as worker "w".
  void Complete(const std::string& kind) {
    auto fetched = store_->JobFetch({"default", 10, "w", 30s, {kind}});
    ASSERT_FALSE(fetched.empty());
    for (const auto& j : fetched) store_->JobFinishMany("w", {{.id = j.id, .attempt = j.attempt}});
  }

  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>(T("2026-03-01T00:00:00Z"));
  std::unique_ptr<TestBackend> db_ = TestBackend::Make(GetParam());
  std::unique_ptr<Store> store_;
  std::unique_ptr<Scheduler> scheduler_;
};

TEST_P(ScheduleTest, EachSlotEnqueuesOnceAtItsTime) {
  Declare({.name = "five", .cron = "*/5 * * * *", .kind = "report", .args = {{"x", 1}},
           .queue = "reports", .priority = 3, .max_attempts = 2, .timeout = 30s});
  EXPECT_EQ(TickAt("2026-03-01T00:04:59Z"), 0);
  EXPECT_EQ(TickAt("2026-03-01T00:05:00.200Z"), 1);
  EXPECT_EQ(TickAt("2026-03-01T00:05:01Z"), 0);  // the same slot: taken
  auto jobs = Jobs("report");
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].run_at, T("2026-03-01T00:05:00Z"));
  EXPECT_EQ(jobs[0].args, (Json{{"x", 1}}));
  EXPECT_EQ(jobs[0].queue, "reports");
  EXPECT_EQ(jobs[0].priority, 3);
  EXPECT_EQ(jobs[0].max_attempts, 2);
  EXPECT_EQ(jobs[0].timeout, Millis(30000));
  auto info = Info("five");
  EXPECT_EQ(info.last_slot, T("2026-03-01T00:05:00Z"));
  EXPECT_EQ(info.last_job_id, jobs[0].id);
  EXPECT_TRUE(info.last_enqueued_at.has_value());
}

TEST_P(ScheduleTest, NoSlotBeforeTheDeclarationFires) {
  clock_->Advance(std::chrono::minutes(7));  // declared at 00:07: the 00:05 slot is before it
  Declare({.name = "five", .cron = "*/5 * * * *", .kind = "report"});
  EXPECT_EQ(TickAt("2026-03-01T00:09:00Z"), 0);
  EXPECT_EQ(TickAt("2026-03-01T00:10:00Z"), 1);
}

TEST_P(ScheduleTest, TimeZoneSpringForwardFiresAfterTheGap) {
  clock_->Advance(std::chrono::duration_cast<std::chrono::microseconds>(
      T("2026-03-08T05:00:00Z") - clock_->Now()));  // declared on the day, before the gap
  Declare({.name = "ny", .cron = "30 2 * * *", .zone = "America/New_York", .kind = "ny"});
  EXPECT_EQ(TickAt("2026-03-08T06:59:59Z"), 0);
  EXPECT_EQ(TickAt("2026-03-08T07:00:00.500Z"), 1);  // 02:30 does not exist: 03:00 EDT
  EXPECT_EQ(TickAt("2026-03-08T07:30:00Z"), 0);
  ASSERT_EQ(Jobs("ny").size(), 1u);
  EXPECT_EQ(Jobs("ny")[0].run_at, T("2026-03-08T07:00:00Z"));
}

TEST_P(ScheduleTest, TwoSchedulersRacingEnqueueOncePerSlot) {
  Declare({.name = "race", .cron = "* * * * *", .kind = "race", .overrun = Overrun::kQueue});
  auto other_store = Open();
  Scheduler other(*other_store);
  for (int minute = 1; minute <= 15; ++minute) {
    SysTime now = T("2026-03-01T00:00:00.100Z") + std::chrono::minutes(minute);
    clock_->Advance(std::chrono::duration_cast<std::chrono::microseconds>(now - clock_->Now()));
    std::atomic<int> enqueued{0};
    std::thread a([&] { enqueued += scheduler_->Tick(now); });
    std::thread b([&] { enqueued += other.Tick(now); });
    a.join();
    b.join();
    EXPECT_EQ(enqueued.load(), 1) << "minute " << minute;
  }
  auto jobs = Jobs("race");
  ASSERT_EQ(jobs.size(), 15u);
  std::set<SysTime> slots;
  for (const auto& j : jobs) slots.insert(j.run_at);
  EXPECT_EQ(slots.size(), 15u);
}

TEST_P(ScheduleTest, AStaleLeaderCannotEnqueueASlotAgain) {
  Declare({.name = "hourly", .cron = "@hourly", .kind = "h", .overrun = Overrun::kQueue});
  // The new leader takes the 01:00 slot...
  EXPECT_EQ(TickAt("2026-03-01T01:00:01Z"), 1);
  // ...and the old one, which computed the same slot before it lost its term, comes late.
  auto late = store_->ScheduleFire({.name = "hourly", .slot = T("2026-03-01T01:00:00Z"),
                                    .run_at = T("2026-03-01T01:00:00Z")});
  EXPECT_FALSE(late.taken);
  EXPECT_TRUE(late.job_id.empty());
  // An earlier slot is refused as well.
  EXPECT_FALSE(store_->ScheduleFire({.name = "hourly", .slot = T("2026-03-01T00:00:00Z"),
                                     .run_at = T("2026-03-01T00:00:00Z")})
                   .taken);
  EXPECT_EQ(Jobs("h").size(), 1u);
}

TEST_P(ScheduleTest, CatchUpLatestRunsTheLastMissedSlotOnceAndNoneRunsNone) {
  Declare({.name = "latest", .cron = "0 * * * *", .kind = "latest"});
  Declare({.name = "none", .cron = "0 * * * *", .kind = "none", .catch_up = CatchUp::kNone});
  // Down from 00:00 to 05:10.
  EXPECT_EQ(TickAt("2026-03-01T05:10:00Z"), 1);
  ASSERT_EQ(Jobs("latest").size(), 1u);
  EXPECT_EQ(Jobs("latest")[0].run_at, T("2026-03-01T05:00:00Z"));
  EXPECT_TRUE(Jobs("none").empty());
  EXPECT_EQ(Info("none").last_slot, T("2026-03-01T05:00:00Z"));  // passed over
  Complete("latest");
  // Up again: both fire on time; "none" also when found a little late (within a minute).
  EXPECT_EQ(TickAt("2026-03-01T06:00:30Z"), 2);
  EXPECT_EQ(Jobs("none").size(), 1u);
}

TEST_P(ScheduleTest, OverrunSkipQueueReplace) {
  for (auto [name, overrun] : {std::pair{"skip", Overrun::kSkip}, std::pair{"queue", Overrun::kQueue},
                               std::pair{"replace", Overrun::kReplace}}) {
    Declare({.name = name, .cron = "@hourly", .kind = name, .overrun = overrun});
  }
  EXPECT_EQ(TickAt("2026-03-01T01:00:00Z"), 3);
  // The first jobs are unfinished at the next slot.
  EXPECT_EQ(TickAt("2026-03-01T02:00:00Z"), 2);
  EXPECT_EQ(Jobs("skip").size(), 1u);
  EXPECT_EQ(Info("skip").last_slot, T("2026-03-01T02:00:00Z"));  // the slot is gone all the same
  auto queued = Jobs("queue");
  ASSERT_EQ(queued.size(), 2u);
  EXPECT_EQ(queued[0].state, JobState::kAvailable);
  EXPECT_EQ(queued[1].state, JobState::kAvailable);
  auto replaced = Jobs("replace");
  ASSERT_EQ(replaced.size(), 2u);
  EXPECT_EQ(replaced[0].state, JobState::kCancelled);
  EXPECT_EQ(replaced[1].state, JobState::kAvailable);
  EXPECT_EQ(Info("replace").last_job_id, replaced[1].id);
  // Once the previous job finished, skip enqueues again.
  Complete("skip");
  EXPECT_EQ(TickAt("2026-03-01T03:00:00Z"), 3);
  EXPECT_EQ(Jobs("skip").size(), 2u);
}

TEST_P(ScheduleTest, JitterDelaysRunAtWithinBoundsAndKeepsTheSlot) {
  Declare({.name = "j", .cron = "* * * * * *", .kind = "j", .jitter = 30s,
           .overrun = Overrun::kQueue});
  std::set<Millis> delays;
  SysTime now = T("2026-03-01T00:00:00.500Z");
  for (int i = 1; i <= 30; ++i) {
    now += 1s;
    clock_->Advance(1s);
    ASSERT_EQ(scheduler_->Tick(now), 1);
    SysTime slot = std::chrono::floor<std::chrono::seconds>(now);
    EXPECT_EQ(Info("j").last_slot, slot);
    Job job = store_->JobGet(Info("j").last_job_id).value();
    Millis delay = std::chrono::duration_cast<Millis>(job.run_at - slot);
    EXPECT_GE(delay, 0ms);
    EXPECT_LE(delay, 30s);
    delays.insert(delay);
  }
  EXPECT_GT(delays.size(), 1u);  // random: 30 equal draws of 30001 values do not happen
}

TEST_P(ScheduleTest, PauseResumeAndRunNow) {
  Declare({.name = "p", .cron = "@hourly", .kind = "p", .overrun = Overrun::kQueue});
  store_->SchedulePause("p", true);
  store_->SchedulePause("p", true);  // idempotent
  EXPECT_TRUE(Info("p").paused);
  EXPECT_EQ(TickAt("2026-03-01T03:30:00Z"), 0);
  // Run-now enqueues also while paused, due now.
  std::string id = store_->ScheduleRun("p");
  EXPECT_EQ(store_->JobGet(id)->run_at, clock_->Now());
  EXPECT_EQ(Info("p").last_job_id, id);
  // A resume does not catch up the slots that passed while paused.
  store_->SchedulePause("p", false);
  EXPECT_FALSE(Info("p").paused);
  EXPECT_EQ(TickAt("2026-03-01T03:59:00Z"), 0);
  EXPECT_EQ(TickAt("2026-03-01T04:00:00Z"), 1);
  EXPECT_EQ(Jobs("p").size(), 2u);
  for (auto call : {+[](Store& s) { s.SchedulePause("nope", true); },
                    +[](Store& s) { s.ScheduleRun("nope"); }}) {
    try {
      call(*store_);
      ADD_FAILURE() << "an unknown schedule was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kNotFound);
      EXPECT_STREQ(e.what(), "no schedule named 'nope'");
    }
  }
}

TEST_P(ScheduleTest, DeclaringUpdatesKeepsStateAndRemovesOthers) {
  Declare({.name = "a", .cron = "@hourly", .kind = "a"});
  Declare({.name = "b", .cron = "@daily", .kind = "b"});
  store_->SchedulePause("a", true);
  EXPECT_EQ(TickAt("2026-03-01T01:00:00Z"), 0);  // a paused; b not due
  // Declared anew with another definition: paused and last_slot stay.
  SysTime last_slot = Info("a").last_slot;
  store_->ScheduleSync({{.name = "a", .cron = "*/10 * * * *", .zone = "Europe/Berlin",
                         .kind = "a2", .args = {{"v", 2}}, .jitter = 5s,
                         .overrun = Overrun::kReplace, .catch_up = CatchUp::kNone}},
                       /*remove_others=*/true);
  auto all = store_->ScheduleList();
  ASSERT_EQ(all.size(), 1u);  // b removed
  EXPECT_EQ(all[0].schedule.cron, "*/10 * * * *");
  EXPECT_EQ(all[0].schedule.zone, "Europe/Berlin");
  EXPECT_EQ(all[0].schedule.kind, "a2");
  EXPECT_EQ(all[0].schedule.args, (Json{{"v", 2}}));
  EXPECT_EQ(all[0].schedule.jitter, 5s);
  EXPECT_EQ(all[0].schedule.overrun, Overrun::kReplace);
  EXPECT_EQ(all[0].schedule.catch_up, CatchUp::kNone);
  EXPECT_TRUE(all[0].paused);
  EXPECT_EQ(all[0].last_slot, last_slot);
}

TEST_P(ScheduleTest, InvalidSchedulesAreRefusedAndChangeNothing) {
  auto refused = [&](Schedule s) {
    try {
      store_->ScheduleSync({s}, true);
      ADD_FAILURE() << "accepted " << s.ToJson().dump();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      return std::string(e.what());
    }
    return std::string();
  };
  Declare({.name = "kept", .cron = "@hourly", .kind = "k"});
  EXPECT_EQ(refused({.name = "nightly", .cron = "0 25 * * *", .kind = "k"}),
            "schedules.nightly.cron: field 2 (hour) '25' is out of range 0-23");
  EXPECT_EQ(refused({.name = "nightly", .cron = "0 2 * * *", .zone = "Europe/Atlantis",
                     .kind = "k"})
                .find("schedules.nightly.zone: unknown time zone 'Europe/Atlantis'"),
            0u);
  EXPECT_EQ(refused({.name = "nightly", .cron = "@daily", .kind = ""}).find("schedules.nightly: "),
            0u);
  EXPECT_EQ(refused({.name = "bad name", .cron = "@daily", .kind = "k"}).find("schedule name"), 0u);
  EXPECT_EQ(store_->ScheduleList().size(), 1u);
}

auto BackendName = [](const auto& info) { return testing::Name(info.param); };
// A worker that is stopping enqueues no more periodic jobs while it drains its running ones.
TEST_P(ScheduleTest, AStoppingWorkerEnqueuesNothingWhileItDrains) {
  WorkerOptions o;
  o.database_url = db_->url();
  o.queues = {QueueOptions{"default", 1}};
  o.shutdown_grace = 60s;
  o.cluster.heartbeat_interval = 100ms;
  o.cluster.heartbeat_timeout = 10s;
  o.schedules = {{.name = "tick", .cron = "* * * * * *", .kind = "tick",
                  .overrun = Overrun::kQueue}};  // every second, also while one runs
  Worker w(o);
  std::atomic<bool> release{false};
  w.Register("tick", [&](JobContext&) {
    while (!release) std::this_thread::sleep_for(5ms);
    return JobResult::Done();
  });
  w.Start();
  auto client = Client::Open({db_->url()});
  auto running = [&] { return !client->List({.states = {JobState::kRunning}}).empty(); };
  ASSERT_TRUE(testing::WaitUntil(running, 60s));
  SysTime stop_began = std::chrono::system_clock::now();
  std::thread stopper([&] { w.Stop(); });
  // Three slots pass while the running job holds the stop up.
  std::this_thread::sleep_for(3500ms);
  release = true;
  stopper.join();
  // A round under way when the stop began may still end; none begins after it.
  for (const auto& j : client->List({.kind = "tick", .limit = 1000})) {
    EXPECT_LT(j.created_at, stop_began + 1s) << j.id << " at " << core::FormatRfc3339(j.created_at);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ScheduleTest, ::testing::ValuesIn(testing::kAllBackends),
                         BackendName);

}  // namespace
}  // namespace spindle
