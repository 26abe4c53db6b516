// Adaptive concurrency (docs/regulation.md, "Adaptive concurrency"): regulation::SlotBudget
// driven directly (no clock, no threads), then a real worker with a slot budget on every backend.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <thread>

#include "regulation/slots.h"
#include "spindle/spindle.h"
#include "testing.h"

namespace spindle {
namespace {

using namespace std::chrono_literals;
using regulation::SlotBudget;
using testing::BackendKind;
using testing::TestBackend;
using testing::WaitUntil;

std::map<std::string, int> Slots(const std::vector<regulation::SlotDecision>& ds) {
  std::map<std::string, int> out;
  for (const auto& d : ds) out[d.queue] = d.slots;
  return out;
}

TEST(SlotBudgetTest, StartsWithSharesByWeight) {
  SlotBudget b(10, {{"a", 1, 10}, {"b", 4, 10}});
  // One each, then the other eight 1:4 (1.6 and 6.4, the larger remainder rounding up).
  EXPECT_EQ(b.Targets(), (std::map<std::string, int>{{"a", 3}, {"b", 7}}));
}

TEST(SlotBudgetTest, AQueueTakesWithinItsTargetAndTheBudget) {
  SlotBudget b(10, {{"a", 1, 10}, {"b", 4, 10}});
  EXPECT_EQ(b.Take("a", 5), 3);  // its target
  b.Backlog("a", true, 3);       // its fetch found the three it asked for
  EXPECT_EQ(b.Take("a", 1), 0);
  EXPECT_EQ(b.Take("b", 100), 7);
  b.Backlog("b", false, 7);  // found fewer
  EXPECT_EQ(b.Busy(), 10);
  // A freed slot wakes whoever has room under its target and work waiting: not b, which found
  // fewer than it asked for, and not a, at its target; then a.
  EXPECT_EQ(b.Give("b", 1), (std::vector<std::string>{}));
  EXPECT_EQ(b.Give("a", 1), (std::vector<std::string>{"a"}));
  EXPECT_EQ(b.Take("a", 1), 1);
  EXPECT_EQ(b.Busy(), 9);
  // a's jobs wait far longer than they run (pressure 4 x weight 1, against b's 1 x 4): shared
  // again 5 and 5, b runs more than its share, and a, refused for want of a free slot, is woken
  // as soon as b frees one.
  b.Backlog("b", true);
  EXPECT_EQ(b.Take("b", 1), 1);
  b.Waited("a", 100ms);
  b.Ran("a", 10ms);
  b.Ran("b", 10ms);
  EXPECT_EQ(Slots(b.Share()), (std::map<std::string, int>{{"a", 5}, {"b", 5}}));
  EXPECT_EQ(b.Take("a", 2), 0);
  EXPECT_EQ(b.Give("b", 1), (std::vector<std::string>{"a"}));
  EXPECT_EQ(b.Take("a", 2), 1);
  EXPECT_EQ(b.Busy(), 10);
}

TEST(SlotBudgetTest, AnIdleQueueGivesItsSlotsAway) {
  SlotBudget b(10, {{"a", 1, 10}, {"b", 4, 10}});
  EXPECT_TRUE(b.Backlog("a", true));
  EXPECT_FALSE(b.Backlog("a", true));  // no news
  EXPECT_FALSE(b.Backlog("b", false));
  b.Backlog("b", false);
  EXPECT_EQ(Slots(b.Share()), (std::map<std::string, int>{{"a", 9}, {"b", 1}}));
  // b keeps what it runs, and one more.
  EXPECT_EQ(b.Take("b", 1), 1);
  b.Backlog("b", false, 1);  // its job runs; no more waits
  EXPECT_EQ(Slots(b.Share()), (std::map<std::string, int>{{"a", 8}, {"b", 2}}));
}

TEST(SlotBudgetTest, AnIdleQueueKeepsNoSlotsForAFetchUnderWay) {
  // The slots a fetch took hold no job yet: an idle queue whose fetch is under way when the
  // slots are shared again keeps one, not all it looked for (it kept them share after share).
  SlotBudget b(8, {{"bulk", 1, 8}, {"interactive", 3, 8}});
  b.Backlog("bulk", true);
  EXPECT_EQ(b.Take("interactive", 8), 5);  // its first share, by weight
  EXPECT_EQ(Slots(b.Share()), (std::map<std::string, int>{{"bulk", 7}, {"interactive", 1}}));
  b.Backlog("interactive", false, 5);                                       // it found nothing
  EXPECT_EQ(b.Give("interactive", 5), (std::vector<std::string>{"bulk"}));  // bulk may use them
  EXPECT_EQ(Slots(b.Share()), (std::map<std::string, int>{{"bulk", 7}, {"interactive", 1}}));
}

TEST(SlotBudgetTest, AFailedFetchGivesItsSlotsBackAndLeavesTheBacklogAsItWas) {
  SlotBudget b(10, {{"a", 1, 10}, {"b", 1, 10}});
  b.Backlog("a", true);
  EXPECT_EQ(b.Take("a", 5), 5);
  EXPECT_FALSE(b.Backlog("a", std::nullopt, 5));               // it failed: a's work still waits
  EXPECT_EQ(b.Give("a", 5), (std::vector<std::string>{"a"}));  // so a is woken to try again
  EXPECT_EQ(b.Busy(), 0);
}

TEST(SlotBudgetTest, QueuesWhoseJobsWaitGetMore) {
  SlotBudget b(10, {{"a", 1, 10}, {"b", 1, 10}});
  b.Backlog("a", true);
  b.Backlog("b", true);
  EXPECT_EQ(Slots(b.Share()), (std::map<std::string, int>{{"a", 5}, {"b", 5}}));
  // a's jobs wait as long as they run (pressure 2), b's do not wait (1): 2 to 1.
  b.Waited("a", 100ms);
  b.Ran("a", 100ms);
  b.Waited("b", 0ms);
  b.Ran("b", 100ms);
  auto ds = b.Share();
  EXPECT_DOUBLE_EQ(ds[0].pressure, 1.5);  // the wait's average starts from 0: half of 100 ms
  EXPECT_DOUBLE_EQ(ds[1].pressure, 1);
  EXPECT_EQ(Slots(ds), (std::map<std::string, int>{{"a", 6}, {"b", 4}}));
  // a's work no longer waits: the slots are shared again at once, and its wait fades.
  EXPECT_TRUE(b.Backlog("a", false));
  ds = b.Share();
  EXPECT_DOUBLE_EQ(ds[0].wait_ms, 25);
  EXPECT_EQ(Slots(ds), (std::map<std::string, int>{{"a", 1}, {"b", 9}}));
}

// A flooded queue's jobs wait without end, but its pressure is bounded: a queue of four times
// its weight keeps at least half of the slots.
TEST(SlotBudgetTest, AFloodedQueueCannotCrowdOutAHeavierOne) {
  SlotBudget b(10, {{"flood", 1, 10}, {"urgent", 4, 10}});
  b.Backlog("flood", true);
  b.Backlog("urgent", true);
  for (int i = 0; i < 10; ++i) {
    b.Waited("flood", 3600s);
    b.Ran("flood", 10ms);
    b.Waited("urgent", 0ms);
    b.Ran("urgent", 10ms);
    b.Share();
  }
  EXPECT_EQ(b.Targets(), (std::map<std::string, int>{{"flood", 5}, {"urgent", 5}}));
}

TEST(SlotBudgetTest, EveryQueueHasOneNoneMoreThanItsCapAndTheyAddUpToTheSlots) {
  SlotBudget b(10, {{"a", 1, 2}, {"b", 1, 100}, {"c", 1000, 100}});
  EXPECT_EQ(b.Targets(), (std::map<std::string, int>{{"a", 1}, {"b", 1}, {"c", 8}}));
  for (const char* q : {"a", "b", "c"}) b.Backlog(q, true);
  SlotBudget capped(10, {{"a", 5, 2}, {"b", 1, 100}});
  capped.Backlog("a", true);
  capped.Backlog("b", true);
  EXPECT_EQ(Slots(capped.Share()), (std::map<std::string, int>{{"a", 2}, {"b", 8}}));
  // However full the others are, each queue can take its own slot.
  EXPECT_EQ(b.Take("c", 100), 8);
  EXPECT_EQ(b.Take("a", 5), 1);
  EXPECT_EQ(b.Take("b", 5), 1);
  EXPECT_EQ(b.Busy(), 10);
  // Idle queues keep one spare slot each, but those with work waiting get one first.
  SlotBudget few(3, {{"a", 1, 3}, {"b", 1, 3}, {"c", 1, 3}});
  EXPECT_EQ(few.Take("a", 1), 1);
  EXPECT_EQ(few.Take("b", 1), 1);
  few.Backlog("a", false);
  few.Backlog("b", true);
  few.Backlog("c", true);
  EXPECT_EQ(Slots(few.Share()), (std::map<std::string, int>{{"a", 1}, {"b", 1}, {"c", 1}}));
}

class SlotsWorkerTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  std::unique_ptr<TestBackend> db_ = TestBackend::Make(GetParam());
};

// A real worker with 4 slots for two queues: a flooded one of weight 1 takes what the idle one
// does not use, the other (weight 3) gets slots back when its work comes, and the worker never
// runs more than 4 jobs at once; the heartbeat records the slots, as `workers list` shows them.
TEST_P(SlotsWorkerTest, TheBudgetIsSharedAndNeverExceeded) {
  WorkerOptions o{.database_url = db_->url(),
                  .queues = {QueueOptions{.name = "flood", .concurrency = 4, .weight = 1},
                             QueueOptions{.name = "urgent", .concurrency = 4, .weight = 3}}};
  o.slots = 4;
  o.share_interval = 50ms;
  o.cluster.heartbeat_interval = 100ms;
  std::atomic<int> total{0}, most_total{0}, most_flood{0}, most_urgent{0}, done_urgent{0};
  std::map<std::string, std::atomic<int>> running;
  running["flood"];
  running["urgent"];
  auto high = [](std::atomic<int>& most, int now) {
    for (int m = most; now > m && !most.compare_exchange_weak(m, now);) {}
  };
  Worker w(o);
  w.Register("job", [&](JobContext& ctx) {
    const std::string& q = ctx.job.queue;
    high(most_total, ++total);
    high(q == "flood" ? most_flood : most_urgent, ++running[q]);
    std::this_thread::sleep_for(100ms);
    --running[q];
    --total;
    if (q == "urgent") ++done_urgent;
    return JobResult::Done();
  });
  auto client = Client::Open({db_->url()});
  client->EnqueueMany(std::vector<JobSpec>(400, JobSpec{.kind = "job", .queue = "flood"}));
  w.Start();
  // Idle, urgent keeps one slot and gives two away: flood runs 3 at once, not its share of 1.
  ASSERT_TRUE(WaitUntil([&] { return most_flood >= 3; }, 60s));
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (const auto& m : client->Members().members) {
          if (m.info.concurrency.count("flood") && m.info.concurrency.at("flood") == 3) return true;
        }
        return false;
      },
      60s));
  client->EnqueueMany(std::vector<JobSpec>(40, JobSpec{.kind = "job", .queue = "urgent"}));
  ASSERT_TRUE(WaitUntil([&] { return done_urgent == 40; }, 120s));
  w.Stop();
  EXPECT_LE(most_total, 4);
  EXPECT_GE(most_urgent, 2);
  // Fewer slots than queues would leave a queue none.
  o.slots = 1;
  EXPECT_THROW(Worker{o}, Error);
}

// The configuration: slots, share_interval and weights, and bad ones refused before anything runs.
TEST_P(SlotsWorkerTest, CommandLine) {
  std::string path = ::testing::TempDir() + "/slots-" + testing::Name(GetParam()) + ".toml";
  auto refuses = [&](const std::string& toml, const std::string& want) {
    return testing::ServeRefuses(db_->url(), path, toml, want);
  };
  EXPECT_TRUE(refuses("[worker]\nslots = -1\n",
                      "worker.slots"));
  EXPECT_TRUE(refuses("[queues.default]\nweight = 0\n",
                      "queues.default.weight"));
  EXPECT_TRUE(refuses("[worker]\nslots = 4\nshare_interval = \"1ms\"\n[kinds.a]\n"
                        "command = [\"true\"]\n",
                      "'worker.share_interval' must be 10ms to 1m, got 1ms"));
  EXPECT_TRUE(refuses("[worker]\nslots = 1\n[queues.a]\n[queues.b]\n",
                      "'worker.slots' is 1, fewer than the 2 queues this worker serves (a, b;"));
  EXPECT_TRUE(refuses("[worker]\nshare_interval = \"2s\"\n",
                      "'worker.share_interval' applies only with [worker] slots"));
  EXPECT_TRUE(refuses("[queues.a]\nweight = 3\n",
                      "'queues.a.weight' applies only with [worker] slots"));
}

INSTANTIATE_TEST_SUITE_P(Backends, SlotsWorkerTest, ::testing::ValuesIn(testing::kAllBackends),
                         [](const auto& info) { return testing::Name(info.param); });

}  // namespace
}  // namespace spindle
