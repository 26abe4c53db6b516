// The storage conformance suite for job control (docs/jobs.md): stopping and resuming jobs,
// pausing queues and stopping the cluster, and how a running job's worker learns of it (a
// notice, its next lease renewal, its late outcome refused), run against every backend.
// Time is a FakeClock, so every stored time is exact.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "core/uuid.h"
#include "store/store.h"
#include "testing.h"

namespace spindle {

// Names an attempt in GoogleTest's messages.
void PrintTo(const JobRef& ref, std::ostream* os) { *os << ref.id << "#" << ref.attempt; }

namespace {

using namespace std::chrono_literals;
using testing::BackendKind;
using testing::TestBackend;
using Refs = std::vector<JobRef>;

constexpr JobState kEveryState[] = {
    JobState::kScheduled, JobState::kAvailable, JobState::kRunning,   JobState::kRetryable,
    JobState::kCompleted, JobState::kFailed,    JobState::kCancelled, JobState::kStopped,
    JobState::kExpired,   JobState::kWaiting};

// Checks that `fn` throws Error(code) whose message contains every one of `parts`.
template <typename Fn>
void ExpectError(Fn fn, ErrorCode code, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const auto& part : parts) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "'" << e.what() << "' does not mention '" << part << "'";
    }
  }
}

class ControlStoreTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    store_ = Open();
    store_->Migrate();
  }

  std::unique_ptr<Store> Open() { return OpenStore({db_->url(), 4, clock_}); }

  std::string Insert(JobSpec spec) { return store_->JobInsertMany({spec}).front(); }
  Job Get(const std::string& id) { return store_->JobGet(id).value(); }
  // Leases up to `limit` due jobs of kind "k" of `queue` to `worker` for an hour.
  std::vector<Job> Fetch(const std::string& worker, const std::string& queue = "default",
                         int limit = 10) {
    return store_->JobFetch(
        {.queue = queue, .limit = limit, .worker_id = worker, .lease = 1h, .kinds = {"k"}});
  }
  std::vector<std::string> Ids(const std::vector<Job>& jobs) {
    std::vector<std::string> ids;
    for (const auto& j : jobs) ids.push_back(j.id);
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  Store::LeaseRenewal Renew(const std::string& worker, const std::vector<JobRef>& held) {
    auto r = store_->JobLeaseRenew(worker, held, 1h);
    std::sort(r.give_up.begin(), r.give_up.end());
    return r;
  }

  // A job in `state`, reached as workers and people would reach it (expired, which only the
  // engine's deadline sweep sets, by SQL). Each in a queue of its own, so fetches are exact.
  std::string Make(JobState state) {
    std::string queue = "q" + std::to_string(++made_);
    // Fetched by "maker", then finished with `outcome` unless none.
    auto run = [&](std::optional<JobOutcome::Kind> outcome, Millis delay = 0ms) {
      std::string id = Insert({.kind = "k", .queue = queue});
      EXPECT_EQ(Fetch("maker", queue).size(), 1u);
      if (outcome) {
        EXPECT_EQ(store_->JobFinishMany("maker", {{id, 1, *outcome, "boom", delay}}).size(), 1u);
      }
      return id;
    };
    std::string id;
    switch (state) {
      case JobState::kScheduled:
        id = Insert({.kind = "k", .queue = queue, .run_at = clock_->Now() + 1h});
        break;
      case JobState::kAvailable: id = Insert({.kind = "k", .queue = queue}); break;
      case JobState::kRunning: id = run(std::nullopt); break;
      case JobState::kRetryable: id = run(JobOutcome::Kind::kError, 1h); break;
      case JobState::kCompleted: id = run(JobOutcome::Kind::kCompleted); break;
      case JobState::kFailed: id = run(JobOutcome::Kind::kDiscard); break;
      case JobState::kCancelled:
        id = Insert({.kind = "k", .queue = queue});
        store_->JobCancel(id);
        break;
      case JobState::kStopped:
        id = Insert({.kind = "k", .queue = queue});
        store_->JobStop(id);
        break;
      case JobState::kExpired:
        id = Insert({.kind = "k", .queue = queue});
        db_->Query("UPDATE {jobs} SET state = 'expired' WHERE id = '" + id + "'");
        break;
      case JobState::kWaiting:  // for a child, in a queue of its own
        id = run(std::nullopt);
        EXPECT_TRUE(store_->JobSave("maker", {id, 1},
                                    {.children = {{.kind = "child", .queue = queue + "-c"}}}));
        break;
    }
    EXPECT_EQ(Get(id).state, state) << "Make could not reach " << ToString(state);
    return id;
  }

  // Tries `action` (named `verb` in its errors) on a job in every state. From a state in
  // `legal` it must succeed, and `check(from, before, after)` checks the job it returned; from
  // any other it must be refused as illegal and change nothing.
  void FromEveryState(const std::string& verb, const std::set<JobState>& legal,
                      const std::function<Job(const std::string&)>& action,
                      const std::function<void(JobState, const Job&, const Job&)>& check) {
    for (JobState from : kEveryState) {
      SCOPED_TRACE(ToString(from));
      std::string id = Make(from);
      Job before = Get(id);
      clock_->Advance(1s);  // a wrongly written time would differ
      if (!legal.count(from)) {
        ExpectError([&] { action(id); }, ErrorCode::kIllegalTransition,
                    {"cannot " + verb, id, "it is " + std::string(ToString(from))});
        EXPECT_EQ(Get(id).ToJson(), before.ToJson()) << "a refused " << verb << " changed the job";
        continue;
      }
      check(from, before, action(id));
    }
  }

  // What a listener hears: waits up to `first` for a first notice, then collects until none
  // arrives for 300 ms.
  struct Heard {
    std::multiset<std::string> queues, workers;
  };
  Heard Hear(StoreListener& l, Millis first = 10s) {
    Heard heard;
    for (Millis wait = first;; wait = 300ms) {
      Notices n = l.Wait(wait);
      if (n.queues.empty() && n.workers.empty() && !n.members) return heard;
      heard.queues.insert(n.queues.begin(), n.queues.end());
      heard.workers.insert(n.workers.begin(), n.workers.end());
    }
  }
  // A listener on another store of the database, as another worker's would be, connected.
  std::unique_ptr<StoreListener> Listener() {
    listening_store_ = Open();
    auto l = listening_store_->Listen();
    Hear(*l, 10ms);
    return l;
  }

  SysTime Now() const {
    return std::chrono::time_point_cast<std::chrono::microseconds>(clock_->Now());
  }
  // Marks the cluster stopped without the store: what a fetch racing a ClusterStop sees after
  // it leased a job.
  void MarkClusterStopped() {
    db_->Query(GetParam() == BackendKind::kPostgres
                   ? "UPDATE spindle.cluster SET stopped_at = now(), stop_reason = 'race'"
                   : "UPDATE spindle_cluster SET stopped_at = 1, stop_reason = 'race'");
  }

  std::unique_ptr<TestBackend> db_ = TestBackend::Make(GetParam());
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::unique_ptr<Store> store_;
  std::unique_ptr<Store> listening_store_;
  int made_ = 0;
};

// --- stop and resume a job ----------------------------------------------------------------

TEST_P(ControlStoreTest, StopFromEveryState) {
  FromEveryState(
      "stop",
      {JobState::kScheduled, JobState::kAvailable, JobState::kRunning, JobState::kRetryable,
       JobState::kWaiting},
      [&](const std::string& id) { return store_->JobStop(id); },
      [&](JobState from, const Job& before, const Job& stopped) {
        EXPECT_EQ(stopped.ToJson(), Get(stopped.id).ToJson()) << "returned another row";
        EXPECT_EQ(stopped.state, JobState::kStopped);
        // A running job's attempt does not count; a waiting job's attempts are as they were.
        // max_attempts stays as enqueued.
        EXPECT_EQ(stopped.max_attempts, before.max_attempts);
        EXPECT_EQ(stopped.attempts_used,
                  before.attempts_used - (from == JobState::kRunning ? 1 : 0));
        EXPECT_EQ(stopped.attempt, before.attempt);
        EXPECT_EQ(stopped.run_at, before.run_at);
        EXPECT_EQ(stopped.errors.size(), before.errors.size());
        // A running job keeps its attempt's lease (its process may still be alive).
        EXPECT_EQ(stopped.lease_owner, before.lease_owner);
        EXPECT_EQ(stopped.lease_expires_at, before.lease_expires_at);
        EXPECT_EQ(stopped.finished_at, std::nullopt);
      });
}

TEST_P(ControlStoreTest, ResumeFromEveryState) {
  FromEveryState(
      "resume", {JobState::kStopped}, [&](const std::string& id) { return store_->JobResume(id); },
      [&](JobState, const Job& before, const Job& resumed) {
        EXPECT_EQ(resumed.ToJson(), Get(resumed.id).ToJson()) << "returned another row";
        EXPECT_EQ(resumed.state, JobState::kAvailable);
        EXPECT_EQ(resumed.run_at, Now()) << "a resumed job is due at once";
        EXPECT_EQ(resumed.max_attempts, before.max_attempts);
        EXPECT_EQ(resumed.attempt, before.attempt);
      });
}

TEST_P(ControlStoreTest, CancelFromEveryState) {
  FromEveryState(
      "cancel",
      {JobState::kScheduled, JobState::kAvailable, JobState::kRunning, JobState::kRetryable,
       JobState::kStopped, JobState::kWaiting},
      [&](const std::string& id) { return store_->JobCancel(id); },
      [&](JobState from, const Job& before, const Job& cancelled) {
        // As it stored it, but for a waiting job's children_pending: the row is returned before
        // its cancelled child is counted (by a trigger).
        if (from != JobState::kWaiting) {
          EXPECT_EQ(cancelled.ToJson(), Get(cancelled.id).ToJson()) << "returned another row";
        }
        EXPECT_EQ(cancelled.state, JobState::kCancelled);
        EXPECT_EQ(cancelled.finished_at, Now());
        EXPECT_EQ(cancelled.max_attempts, before.max_attempts);
        EXPECT_EQ(cancelled.attempt, before.attempt);
        EXPECT_EQ(cancelled.lease_owner, before.lease_owner);
        EXPECT_EQ(cancelled.lease_expires_at, before.lease_expires_at);
      });
}

TEST_P(ControlStoreTest, RetryFromEveryState) {
  FromEveryState(
      "retry", {JobState::kCompleted, JobState::kFailed, JobState::kCancelled},
      [&](const std::string& id) { return store_->JobRetry(id); },
      [&](JobState, const Job& before, const Job& retried) {
        EXPECT_EQ(retried.ToJson(), Get(retried.id).ToJson()) << "returned another row";
        EXPECT_EQ(retried.state, JobState::kAvailable);
        EXPECT_EQ(retried.run_at, Now()) << "a retried job is due at once";
        EXPECT_EQ(retried.finished_at, std::nullopt);
        EXPECT_EQ(retried.attempt, before.attempt);
        EXPECT_GE(retried.max_attempts, retried.attempts_used + 1) << "no attempt left";
        EXPECT_EQ(retried.attempts_used, before.attempts_used);
        EXPECT_EQ(retried.errors.size(), before.errors.size()) << "the error list was lost";
      });
}

TEST_P(ControlStoreTest, WakeFromEveryState) {
  FromEveryState(
      "wake",
      {JobState::kScheduled, JobState::kAvailable, JobState::kRunning, JobState::kRetryable,
       JobState::kWaiting},
      [&](const std::string& id) { return store_->JobWake(id); },
      [&](JobState from, const Job& before, const Job& woken) {
        EXPECT_EQ(woken.ToJson(), Get(woken.id).ToJson()) << "returned another row";
        // A running job keeps the wake-up for its next nap; every other one is due now.
        bool due_now = from == JobState::kScheduled || from == JobState::kRetryable ||
                       from == JobState::kWaiting;
        EXPECT_EQ(woken.state,
                  from == JobState::kRunning ? JobState::kRunning : JobState::kAvailable);
        EXPECT_EQ(woken.run_at, due_now ? Now() : before.run_at);
        EXPECT_EQ(woken.max_attempts, before.max_attempts);
        EXPECT_EQ(woken.attempt, before.attempt);
        EXPECT_EQ(woken.children_pending, before.children_pending);
      });
}

TEST_P(ControlStoreTest, AJobStoppedBeforeItsTimeIsResumedToItsTime) {
  SysTime later = Now() + 1h;
  std::string id = Insert({.kind = "k", .run_at = later});
  store_->JobStop(id);
  Job resumed = store_->JobResume(id);
  EXPECT_EQ(resumed.state, JobState::kScheduled) << "a job resumed before its time ran early";
  EXPECT_EQ(resumed.run_at, later);
  EXPECT_TRUE(Fetch("w").empty());
  clock_->Advance(1h);
  EXPECT_EQ(Ids(Fetch("w")), Ids({Get(id)}));

  // Its time passed while it was stopped: due at once.
  std::string passed = Insert({.kind = "k", .run_at = Now() + 1min});
  store_->JobStop(passed);
  clock_->Advance(2min);
  resumed = store_->JobResume(passed);
  EXPECT_EQ(resumed.state, JobState::kAvailable);
  EXPECT_EQ(resumed.run_at, Now());
}

// Every attempt once, in order, also one that was rescued and one that ended in a hand-back
// (which the row forgets at the next fetch).
TEST_P(ControlStoreTest, HistoryTellsEveryAttemptOfARescuedAndHandedBackJob) {
  std::string id = Insert({.kind = "k"});
  ASSERT_EQ(store_->JobFetch({.queue = "default", .limit = 1, .worker_id = "w1", .lease = 1s,
                              .kinds = {"k"}})
                .size(),
            1u);
  // Hours apart: the history's own entries are stamped by the database's clock (never before
  // the attempt the row holds), the row's by this fake one.
  clock_->Advance(1h);
  ASSERT_EQ(store_->JobRescue(10), 1);
  clock_->Advance(1h);
  ASSERT_EQ(Fetch("w2").size(), 1u);
  store_->JobFinishMany("w2", {{id, 2, JobOutcome::Kind::kRelease}});
  clock_->Advance(1h);
  ASSERT_EQ(Fetch("w2").size(), 1u);
  store_->JobFinishMany("w2", {{id, 3}});
  std::vector<std::string> entries;
  for (const auto& e : JobTimeline(Get(id), store_->JobEvents(id))) {
    entries.push_back(e.type + (e.detail.empty() ? "" : ": " + e.detail));
  }
  EXPECT_EQ(entries, (std::vector<std::string>{
                         "enqueued: queue default", "running: attempt 1 on w1",
                         "retryable: lease expired: worker w1 stopped renewing it",
                         "running: attempt 2 on w2", "available: released", "running: attempt 3",
                         "completed"}));
  Job j = Get(id);
  EXPECT_EQ(j.attempts_used, 2) << "the rescued attempt counts, the handed-back one not";
  EXPECT_EQ(j.max_attempts, 25);
}

TEST_P(ControlStoreTest, AStoppedParentResumesToWaitingWhileItHasUnfinishedChildren) {
  auto listener = Listener();
  std::string id = Make(JobState::kWaiting);
  std::string queue = Get(id).queue;
  Job child = store_->JobList({.parent_id = id}).at(0);
  store_->JobStop(id);
  Job resumed = store_->JobResume(id);
  EXPECT_EQ(resumed.state, JobState::kWaiting);
  EXPECT_EQ(resumed.children_pending, 1);
  EXPECT_EQ(resumed.ToJson(), Get(id).ToJson());

  // Its last child finishes while it is stopped: it stays stopped, and resumes available.
  store_->JobStop(id);
  ASSERT_EQ(store_->JobFetch({child.queue, 1, "w", 1h, {child.kind}}).size(), 1u);
  Hear(*listener, 300ms);
  ASSERT_EQ(store_->JobFinishMany("w", {{child.id, 1}}).size(), 1u);
  EXPECT_EQ(Get(id).state, JobState::kStopped);
  EXPECT_EQ(Get(id).children_pending, 0);
  EXPECT_EQ(Hear(*listener, 300ms).queues.count(queue), 0u) << "woke a stopped parent's queue";
  EXPECT_EQ(store_->JobResume(id).state, JobState::kAvailable);
  EXPECT_EQ(Hear(*listener).queues, std::multiset<std::string>{queue});
  EXPECT_EQ(Ids(Fetch("w", queue)), std::vector<std::string>{id});
}

TEST_P(ControlStoreTest, CancellingAParentCancelsItsUnfinishedDescendantsAndTellsTheirWorkers) {
  auto listener = Listener();
  auto kid = [](const std::string& queue) { return JobSpec{.kind = "k", .queue = queue}; };
  auto by_queue = [&](const std::string& parent) {
    std::map<std::string, std::string> ids;
    for (const auto& j : store_->JobList({.parent_id = parent})) ids[j.queue] = j.id;
    return ids;
  };
  // The parent waits for: a, which waits for its own g1 (running under w4) and g2; b, running
  // under w2; c, completed; d, stopped.
  std::string parent = Insert({.kind = "k", .queue = "p"});
  ASSERT_EQ(Fetch("maker", "p").size(), 1u);
  ASSERT_TRUE(store_->JobSave("maker", {parent, 1},
                              {.children = {kid("a"), kid("b"), kid("c"), kid("d")}}));
  auto kids = by_queue(parent);
  ASSERT_EQ(Fetch("w1", "a").size(), 1u);
  ASSERT_TRUE(store_->JobSave("w1", {kids["a"], 1}, {.children = {kid("g1"), kid("g2")}}));
  auto grandkids = by_queue(kids["a"]);
  ASSERT_EQ(Fetch("w4", "g1").size(), 1u);
  ASSERT_EQ(Fetch("w2", "b").size(), 1u);
  ASSERT_EQ(Fetch("w3", "c").size(), 1u);
  ASSERT_EQ(store_->JobFinishMany("w3", {{kids["c"], 1}}).size(), 1u);
  store_->JobStop(kids["d"]);
  Hear(*listener, 300ms);

  clock_->Advance(1s);
  EXPECT_EQ(store_->JobCancel(parent).state, JobState::kCancelled);
  for (const std::string& id : {kids["a"], kids["b"], kids["d"], grandkids["g1"], grandkids["g2"]}) {
    Job j = Get(id);
    EXPECT_EQ(j.state, JobState::kCancelled) << j.queue;
    EXPECT_EQ(j.finished_at, Now()) << j.queue;
    // The running ones keep their attempts' leases.
    EXPECT_EQ(j.lease_owner, j.queue == "b" ? "w2" : j.queue == "g1" ? "w4" : "") << j.queue;
  }
  EXPECT_EQ(Get(kids["c"]).state, JobState::kCompleted);
  EXPECT_EQ(Get(kids["c"]).finished_at, Now() - 1s) << "a finished child was touched";
  EXPECT_EQ(Get(parent).children_pending, 0);
  EXPECT_EQ(Get(kids["a"]).children_pending, 0);
  EXPECT_EQ(Get(parent).state, JobState::kCancelled) << "its last child made it available";

  // The workers of the running ones are told; they learn it at their next renewal too, and their
  // late outcomes are refused.
  EXPECT_EQ(Hear(*listener).workers, (std::multiset<std::string>{"w2", "w4"}));
  EXPECT_EQ(Renew("w2", {{kids["b"], 1}}).give_up, (Refs{{kids["b"], 1}}));
  EXPECT_EQ(Renew("w4", {{grandkids["g1"], 1}}).give_up, (Refs{{grandkids["g1"], 1}}));
  EXPECT_TRUE(store_->JobFinishMany("w2", {{kids["b"], 1}}).empty());
}

TEST_P(ControlStoreTest, UnknownJobsAreNotFound) {
  for (const std::string& id : {core::NewUuidV7(), std::string("not-a-uuid")}) {
    ExpectError([&] { store_->JobStop(id); }, ErrorCode::kNotFound, {id});
    ExpectError([&] { store_->JobResume(id); }, ErrorCode::kNotFound, {id});
  }
}

TEST_P(ControlStoreTest, StoppingARunningJobHandsItBackAndTellsItsWorker) {
  auto listener = Listener();
  std::string id = Insert({.kind = "k", .max_attempts = 3});
  std::string other = Insert({.kind = "k"});
  ASSERT_EQ(Ids(Fetch("w1")), Ids({Get(id), Get(other)}));

  EXPECT_EQ(Get(id).attempts_used, 1);
  Job stopped = store_->JobStop(id);
  EXPECT_EQ(stopped.max_attempts, 3) << "max_attempts changed";
  EXPECT_EQ(stopped.attempts_used, 0) << "the stopped attempt counted";
  EXPECT_EQ(Hear(*listener).workers, std::multiset<std::string>{"w1"});

  // The worker learns it at its next renewal too (its other job it keeps), and its late
  // outcome is refused (and ends the lease the stopped attempt kept while it ran).
  auto renewal = Renew("w1", {{id, 1}, {other, 1}});
  EXPECT_EQ(renewal.give_up, (Refs{{id, 1}}));
  EXPECT_EQ(renewal.renewed, 2);
  EXPECT_TRUE(store_->JobFinishMany("w1", {{id, 1}}).empty()) << "a stopped job's outcome applied";
  EXPECT_EQ(Get(id).state, JobState::kStopped);
  EXPECT_EQ(Get(id).lease_owner, "");
  EXPECT_TRUE(Fetch("w2").empty()) << "a stopped job was fetched";

  // Resumed, it runs again: a new attempt, the handed-back one not counted.
  store_->JobResume(id);
  EXPECT_EQ(Hear(*listener).queues, std::multiset<std::string>{"default"})
      << "a resumed job's queue was not woken";
  auto again = Fetch("w2");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, id);
  EXPECT_EQ(again[0].attempt, 2);
  EXPECT_EQ(again[0].attempts_used, 1);
  EXPECT_EQ(again[0].max_attempts, 3);
}

TEST_P(ControlStoreTest, CancellingARunningJobTellsItsWorker) {
  auto listener = Listener();
  std::string id = Insert({.kind = "k"});
  ASSERT_EQ(Fetch("w1").size(), 1u);
  EXPECT_EQ(store_->JobCancel(id).state, JobState::kCancelled);
  EXPECT_EQ(Hear(*listener).workers, std::multiset<std::string>{"w1"});
  auto renewal = Renew("w1", {{id, 1}});
  EXPECT_EQ(renewal.give_up, (Refs{{id, 1}}));
  EXPECT_EQ(renewal.renewed, 1) << "the cancelled attempt's lease lapsed while it may still run";
  EXPECT_TRUE(store_->JobFinishMany("w1", {{id, 1}}).empty());
  EXPECT_EQ(Get(id).lease_owner, "") << "the refused outcome did not end the lease";
}

// --- a job taken from a running worker runs again only once its old attempt is gone ---------

TEST_P(ControlStoreTest, AStoppedRunningJobRunsAgainOnlyWhenItsOldAttemptsOutcomeArrives) {
  auto listener = Listener();
  std::string id = Insert({.kind = "k"});
  ASSERT_EQ(Fetch("w1").size(), 1u);
  SysTime leased_until = Now() + 1h;
  store_->JobStop(id);
  store_->JobResume(id);
  Hear(*listener, 300ms);
  EXPECT_TRUE(Fetch("w2").empty()) << "ran beside its stopped attempt, which may still be alive";

  // While its process lives, the old attempt's worker renews the lease, and is told to give up.
  clock_->Advance(50min);
  auto renewal = Renew("w1", {{id, 1}});
  EXPECT_EQ(renewal.renewed, 1);
  EXPECT_EQ(renewal.give_up, (Refs{{id, 1}}));
  EXPECT_EQ(Get(id).lease_expires_at, Now() + 1h);
  EXPECT_EQ(Get(id).state, JobState::kAvailable) << "a renewal changed more than the lease";
  clock_->Advance(50min);  // past the first lease, not the renewed one
  ASSERT_GT(Now(), leased_until);
  EXPECT_TRUE(Fetch("w2").empty()) << "ran beside its stopped attempt, whose lease was renewed";

  // Outcomes of other workers or attempts leave the lease alone.
  EXPECT_TRUE(store_->JobFinishMany("w2", {{id, 1}}).empty());
  EXPECT_TRUE(store_->JobFinishMany("w1", {{id, 2}}).empty());
  EXPECT_EQ(Get(id).lease_owner, "w1");
  EXPECT_TRUE(Fetch("w2").empty());

  // The old attempt ends: its outcome is refused, ends the lease and wakes the queue.
  EXPECT_TRUE(store_->JobFinishMany("w1", {{id, 1, JobOutcome::Kind::kError, "killed"}}).empty());
  Job released = Get(id);
  EXPECT_EQ(released.state, JobState::kAvailable);
  EXPECT_EQ(released.lease_owner, "");
  EXPECT_EQ(released.lease_expires_at, std::nullopt);
  EXPECT_TRUE(released.errors.empty()) << "the refused outcome was recorded";
  EXPECT_EQ(Hear(*listener).queues, std::multiset<std::string>{"default"});
  auto again = Fetch("w2");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt, 2);
  EXPECT_EQ(Get(id).lease_owner, "w2");
  // The old attempt's worker can no longer renew the new attempt's lease, nor end it.
  EXPECT_EQ(Renew("w1", {{id, 1}}).renewed, 0);
  EXPECT_TRUE(store_->JobFinishMany("w1", {{id, 1}}).empty());
  EXPECT_EQ(Get(id).lease_owner, "w2");
  EXPECT_EQ(Get(id).lease_expires_at, Now() + 1h);
}

TEST_P(ControlStoreTest, AStoppedRunningJobRunsAgainWhenItsOldLeaseExpiresWhichNoRenewalRevives) {
  std::string id = Insert({.kind = "k"});
  ASSERT_EQ(store_->JobFetch({"default", 1, "w1", 10s, {"k"}}).size(), 1u);
  store_->JobStop(id);
  store_->JobResume(id);
  clock_->Advance(9s);
  EXPECT_TRUE(Fetch("w2").empty());
  clock_->Advance(1s);  // the lease ends now
  auto renewal = Renew("w1", {{id, 1}});
  EXPECT_EQ(renewal.renewed, 0) << "an expired lease was renewed";
  EXPECT_EQ(renewal.give_up, (Refs{{id, 1}}));
  EXPECT_EQ(Get(id).lease_expires_at, Now()) << "an expired lease moved";
  auto again = Fetch("w2");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt, 2);
}

TEST_P(ControlStoreTest, ACancelledRunningJobKeepsItsAttemptsLeaseUntilTheAttemptEnds) {
  std::string id = Insert({.kind = "k"});
  ASSERT_EQ(Fetch("w1").size(), 1u);
  store_->JobCancel(id);
  clock_->Advance(30min);
  auto renewal = Renew("w1", {{id, 1}});
  EXPECT_EQ(renewal.renewed, 1);
  EXPECT_EQ(renewal.give_up, (Refs{{id, 1}}));
  EXPECT_EQ(Get(id).lease_expires_at, Now() + 1h);
  // Retried while the cancelled attempt still runs: not beside it.
  store_->JobRetry(id);
  EXPECT_TRUE(Fetch("w2").empty()) << "ran beside its cancelled attempt";
  EXPECT_TRUE(store_->JobFinishMany("w1", {{id, 1}}).empty());
  EXPECT_EQ(Get(id).lease_owner, "");
  EXPECT_EQ(Ids(Fetch("w2")), std::vector<std::string>{id});
  EXPECT_EQ(Get(id).attempt, 2);

  // A cancelled job's attempt that ends leaves a final job without a lease.
  std::string other = Insert({.kind = "k"});
  ASSERT_EQ(Fetch("w1").size(), 1u);
  store_->JobCancel(other);
  EXPECT_TRUE(store_->JobFinishMany("w1", {{other, 1}}).empty());
  Job j = Get(other);
  EXPECT_EQ(j.state, JobState::kCancelled);
  EXPECT_EQ(j.lease_owner, "");
  EXPECT_EQ(j.lease_expires_at, std::nullopt);
}

TEST_P(ControlStoreTest, StoppingOrCancellingAWaitingJobTellsNoWorker) {
  auto listener = Listener();
  store_->JobStop(Insert({.kind = "k", .run_at = clock_->Now() + 1h}));
  store_->JobCancel(Insert({.kind = "k", .run_at = clock_->Now() + 1h}));
  Heard heard = Hear(*listener, 300ms);
  EXPECT_TRUE(heard.workers.empty()) << "told worker '" << *heard.workers.begin() << "'";
}

TEST_P(ControlStoreTest, RenewalSaysWhichHeldJobsToGiveUp) {
  std::string mine = Insert({.kind = "k", .priority = 0});
  std::string theirs = Insert({.kind = "k", .priority = 1});
  std::string done = Insert({.kind = "k", .priority = 2});
  std::string lapsed = Insert({.kind = "k", .queue = "short"});
  ASSERT_EQ(Fetch("w1", "default", 1).at(0).id, mine);
  ASSERT_EQ(Fetch("w2", "default", 1).at(0).id, theirs);
  ASSERT_EQ(Fetch("w1", "default", 1).at(0).id, done);
  ASSERT_EQ(store_->JobFinishMany("w1", {{done, 1}}).size(), 1u);
  ASSERT_EQ(store_->JobFetch({"short", 1, "w1", 1s, {"k"}}).size(), 1u);
  std::string missing = core::NewUuidV7();
  clock_->Advance(2s);  // lapsed's lease expired; it is still running under w1

  auto r = Renew("w1", {{mine, 1}, {theirs, 1}, {done, 1}, {missing, 1}, {lapsed, 1}});
  Refs want{{theirs, 1}, {done, 1}, {missing, 1}};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(r.give_up, want);
  EXPECT_EQ(r.renewed, 1);
  EXPECT_EQ(Get(mine).lease_expires_at, Now() + 1h);

  r = Renew("w1", {{mine, 2}});
  EXPECT_EQ(r.give_up, (Refs{{mine, 2}})) << "another attempt was not given up";
  EXPECT_EQ(r.renewed, 0);
  EXPECT_EQ(Renew("w1", {}).give_up, Refs{});
}

// --- queues -------------------------------------------------------------------------------

TEST_P(ControlStoreTest, PausedQueueIsNotFetchedUntilResumed) {
  std::string running = Insert({.kind = "k", .queue = "a"});
  ASSERT_EQ(Fetch("w", "a").size(), 1u);
  Insert({.kind = "k", .queue = "a"});
  Insert({.kind = "k", .queue = "a"});
  Insert({.kind = "k", .queue = "b"});

  store_->QueuePause("a", true);
  EXPECT_TRUE(Fetch("w", "a").empty()) << "fetched from a paused queue";
  EXPECT_EQ(Fetch("w", "b").size(), 1u) << "pausing a paused another queue";
  // Running jobs of a paused queue finish and keep their leases.
  EXPECT_TRUE(Renew("w", {{running, 1}}).give_up.empty());
  EXPECT_EQ(store_->JobFinishMany("w", {{running, 1}}).size(), 1u);

  store_->QueuePause("a", true);
  EXPECT_TRUE(Fetch("w", "a").empty()) << "pausing again resumed it";
  store_->QueuePause("a", false);
  EXPECT_EQ(Fetch("w", "a", 1).size(), 1u) << "a resumed queue was not fetched";
  store_->QueuePause("a", false);
  EXPECT_EQ(Fetch("w", "a", 1).size(), 1u) << "resuming again paused it";
  ExpectError([&] { store_->QueuePause("", true); }, ErrorCode::kInvalidArgument, {});
  ExpectError([&] { store_->QueuePause("", false); }, ErrorCode::kInvalidArgument, {});
}

TEST_P(ControlStoreTest, QueueListShowsPausesAndJobsByState) {
  for (int i = 0; i < 3; ++i) Insert({.kind = "k", .queue = "a"});
  Insert({.kind = "k", .queue = "a", .run_at = clock_->Now() + 1h});
  ASSERT_EQ(Fetch("w", "a", 1).size(), 1u);
  store_->JobCancel(Insert({.kind = "k", .queue = "b"}));
  Insert({.kind = "k", .queue = "Z"});  // byte order: before lower case

  store_->QueuePause("empty", true);
  auto paused_at = Now();
  clock_->Advance(1s);
  store_->QueuePause("a", true);
  clock_->Advance(1s);
  store_->QueuePause("a", true);  // keeps the first pause time
  store_->QueuePause("empty", true);
  store_->QueuePause("gone", true);
  store_->QueuePause("gone", false);  // no jobs, no longer paused: not listed
  store_->QueuePause("never", false);

  auto list = store_->QueueList();
  std::vector<std::string> names;
  for (const auto& q : list) names.push_back(q.name);
  ASSERT_EQ(names, (std::vector<std::string>{"Z", "a", "b", "empty"}));
  EXPECT_EQ(list[0].paused_at, std::nullopt);
  EXPECT_EQ(list[0].jobs, (std::map<std::string, int64_t>{{"available", 1}}));
  EXPECT_EQ(list[1].paused_at, paused_at + 1s);
  EXPECT_EQ(list[1].jobs,
            (std::map<std::string, int64_t>{{"available", 2}, {"running", 1}, {"scheduled", 1}}));
  EXPECT_EQ(list[2].paused_at, std::nullopt);
  EXPECT_EQ(list[2].jobs, (std::map<std::string, int64_t>{{"cancelled", 1}}));
  EXPECT_EQ(list[3].paused_at, paused_at);
  EXPECT_TRUE(list[3].jobs.empty());

  store_->QueuePause("a", false);
  EXPECT_EQ(store_->QueueList()[1].paused_at, std::nullopt);
}

// --- bulk changes, page by page ----------------------------------------------------------

// Runs a bulk change page by page, as Client::ChangeAll does; returns how many changed.
int64_t AllPages(const std::function<Store::JobPage(const JobFilter&)>& page_fn, JobFilter f,
                 int page_size, int* pages = nullptr) {
  f.limit = page_size;
  int64_t changed = 0;
  for (;;) {
    auto page = page_fn(f);
    if (page.last_id.empty()) return changed;
    if (pages) ++*pages;
    changed += page.changed;
    f.after_id = page.last_id;
  }
}

TEST_P(ControlStoreTest, BulkChangesApplyOnlyLegalTransitionsAsTheSingleJobOnesDo) {
  std::map<JobState, std::string> ids;
  for (JobState s : kEveryState) ids[s] = Make(s);
  clock_->Advance(1s);
  auto unfinished = JobFilter{.states = {JobState::kScheduled, JobState::kAvailable,
                                         JobState::kRunning, JobState::kRetryable,
                                         JobState::kStopped, JobState::kWaiting}};
  auto finished =
      JobFilter{.states = {JobState::kCompleted, JobState::kFailed, JobState::kCancelled}};
  // Even when asked for every state, each change touches only the states it applies to.
  JobFilter every;
  for (JobState s : kEveryState) every.states.push_back(s);

  EXPECT_EQ(AllPages([&](const JobFilter& f) { return store_->JobRetryPage(f); }, every, 3), 3);
  for (JobState s : {JobState::kCompleted, JobState::kFailed, JobState::kCancelled}) {
    Job j = Get(ids[s]);
    EXPECT_EQ(j.state, JobState::kAvailable) << ToString(s);
    EXPECT_EQ(j.run_at, Now());
    EXPECT_GE(j.max_attempts, j.attempt + 1);
  }
  EXPECT_EQ(Get(ids[JobState::kExpired]).state, JobState::kExpired);

  auto listener = Listener();
  int64_t cancelled =
      AllPages([&](const JobFilter& f) { return store_->JobCancelPage(f); }, unfinished, 2);
  // Every unfinished job (the retried ones too), and the waiting job's child is cancelled with
  // its parent, by one or the other.
  EXPECT_GE(cancelled, 9);
  for (const auto& [s, id] : ids) {
    if (s == JobState::kExpired) continue;
    EXPECT_EQ(Get(id).state, JobState::kCancelled) << ToString(s);
  }
  // The running job's worker is told and keeps its lease, as with JobCancel.
  EXPECT_EQ(Hear(*listener).workers.count("maker"), 1u);
  Job running = Get(ids[JobState::kRunning]);
  EXPECT_EQ(running.lease_owner, "maker");
  EXPECT_EQ(running.finished_at, Now());
  EXPECT_EQ(Renew("maker", {{running.id, 1}}).give_up, (Refs{{running.id, 1}}));

  int64_t to_delete = store_->JobCount(finished);
  EXPECT_EQ(AllPages([&](const JobFilter& f) { return store_->JobDeletePage(f); }, finished, 4),
            to_delete);
  EXPECT_EQ(store_->JobCount({}), 1) << "only the expired job stays";
}

TEST_P(ControlStoreTest, BulkDeleteKeepsJobsWithUnfinishedChildrenOrParents) {
  // A parent woken early completes while its child still runs.
  std::string parent = Insert({.kind = "k", .queue = "p"});
  ASSERT_EQ(Fetch("w", "p").size(), 1u);
  ASSERT_TRUE(store_->JobSave("w", {parent, 1}, {.children = {{.kind = "k", .queue = "c"},
                                                              {.kind = "k", .queue = "c"}}}));
  auto children = store_->JobList({.parent_id = parent});
  ASSERT_EQ(children.size(), 2u);
  store_->JobWake(parent);
  ASSERT_EQ(Fetch("w", "p").size(), 1u);
  ASSERT_EQ(store_->JobFinishMany("w", {{parent, 2}}).size(), 1u);
  ASSERT_EQ(Get(parent).state, JobState::kCompleted);
  store_->JobCancel(children[0].id);  // finished; its sibling is unfinished
  std::string lone = Make(JobState::kFailed);

  JobFilter finished{.states = {JobState::kCompleted, JobState::kFailed, JobState::kCancelled}};
  EXPECT_EQ(AllPages([&](const JobFilter& f) { return store_->JobDeletePage(f); }, finished, 10),
            2) << "the parent with an unfinished child was deleted";
  EXPECT_TRUE(store_->JobGet(parent).has_value());
  EXPECT_FALSE(store_->JobGet(lone).has_value());
  EXPECT_FALSE(store_->JobGet(children[0].id).has_value()) << "its parent had finished";
  EXPECT_TRUE(store_->JobEvents(lone).empty()) << "the history stayed";
  ExpectError([&] { store_->JobDelete(parent); }, ErrorCode::kIllegalTransition,
              {"cannot delete job", "1 unfinished children"});
  ExpectError([&] { store_->JobDelete(children[1].id); }, ErrorCode::kIllegalTransition,
              {"it is available"});
  ExpectError([&] { store_->JobDelete(core::NewUuidV7()); }, ErrorCode::kNotFound, {"no job"});
  Job deleted = store_->JobDelete(Make(JobState::kCancelled));
  EXPECT_FALSE(store_->JobGet(deleted.id).has_value());
  EXPECT_EQ(deleted.state, JobState::kCancelled);
}

TEST_P(ControlStoreTest, BulkChangesCrossManyPagesAndSkipJobsThatMovedOn) {
  constexpr int kJobs = 5000;
  std::vector<JobSpec> specs(kJobs, JobSpec{.kind = "k", .queue = "bulk"});
  auto inserted = store_->JobInsertMany(specs);
  Insert({.kind = "k", .queue = "other"});
  Insert({.kind = "other", .queue = "bulk"});
  JobFilter cancel{.states = {JobState::kAvailable}, .queue = "bulk", .kind = "k"};
  EXPECT_EQ(store_->JobCount(cancel), kJobs);

  // A job that moves on between pages is skipped: a page takes the newest first, so the oldest
  // is fetched by a worker after the first page.
  int pages = 0;
  bool moved = false;
  int64_t cancelled = AllPages(
      [&](const JobFilter& f) {
        if (!moved && !f.after_id.empty()) {
          moved = true;
          EXPECT_EQ(Fetch("w", "bulk", 1).at(0).id, inserted.front());
        }
        return store_->JobCancelPage(f);
      },
      cancel, 1000, &pages);
  // SQLite, which has one writer at a time, takes pages of at most 200.
  EXPECT_EQ(pages, GetParam() == testing::BackendKind::kSqlite ? 25 : 5);
  EXPECT_EQ(cancelled, kJobs - 1);
  EXPECT_EQ(Get(inserted.front()).state, JobState::kRunning);
  EXPECT_EQ(store_->JobCount({.states = {JobState::kCancelled}}), kJobs - 1);
  EXPECT_EQ(store_->JobCount({.states = {JobState::kAvailable}}), 2) << "outside the filter";

  JobFilter retry{.states = {JobState::kCancelled}, .queue = "bulk"};
  EXPECT_EQ(AllPages([&](const JobFilter& f) { return store_->JobRetryPage(f); }, retry, 1000),
            kJobs - 1);
  EXPECT_EQ(store_->JobCount({.states = {JobState::kAvailable}, .queue = "bulk"}), kJobs);
  AllPages([&](const JobFilter& f) { return store_->JobCancelPage(f); },
           {.states = {JobState::kAvailable}}, 100000);
  JobFilter del{.states = {JobState::kCancelled}, .kind = "k"};
  EXPECT_EQ(AllPages([&](const JobFilter& f) { return store_->JobDeletePage(f); }, del, 1000),
            kJobs);
  EXPECT_EQ(store_->JobCount({}), 2);
}

TEST_P(ControlStoreTest, ListPagesByKeysetAndSeveralStates) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Insert({.kind = "k"}));
  std::string failed = Make(JobState::kFailed);
  std::string retryable = Make(JobState::kRetryable);
  auto two = store_->JobList({.states = {JobState::kFailed, JobState::kRetryable}});
  EXPECT_EQ(Ids(two), (std::vector<std::string>{std::min(failed, retryable),
                                                std::max(failed, retryable)}));
  auto first = store_->JobList({.queue = "default", .limit = 3});
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0].id, ids[4]) << "newest first";
  EXPECT_EQ(store_->JobCount({.queue = "default"}), 5);
  auto next = store_->JobList({.queue = "default", .after_id = first.back().id, .limit = 3});
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[0].id, ids[1]);
  EXPECT_EQ(next[1].id, ids[0]);
  EXPECT_EQ(store_->JobCount({.queue = "default", .after_id = first.back().id}), 2);
}

TEST_P(ControlStoreTest, QueueRemoveForgetsOnlyAQueueWithoutJobs) {
  Insert({.kind = "k", .queue = "busy"});
  store_->QueuePause("busy", true);
  store_->QueuePause("empty", true);
  EXPECT_EQ(store_->QueueRemove("busy"), 1);
  EXPECT_EQ(store_->QueueRemove("empty"), 0);
  EXPECT_EQ(store_->QueueRemove("never"), 0);
  auto list = store_->QueueList();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].name, "busy");
  EXPECT_TRUE(list[0].paused_at.has_value()) << "a refused remove changed the queue";
}

// --- the cluster --------------------------------------------------------------------------

TEST_P(ControlStoreTest, ClusterStopHandsBackRunningJobsUntilResumed) {
  auto listener = Listener();
  std::string a = Insert({.kind = "k", .priority = 0, .max_attempts = 5});
  std::string b = Insert({.kind = "k", .priority = 1, .max_attempts = 5});
  std::string waiting = Insert({.kind = "k", .priority = 2});
  std::string elsewhere = Insert({.kind = "k", .queue = "other"});
  Insert({.kind = "k", .queue = "later", .run_at = clock_->Now() + 1h});
  ASSERT_EQ(Fetch("w1", "default", 1).at(0).id, a);
  ASSERT_EQ(Fetch("w2", "default", 1).at(0).id, b);
  Hear(*listener, 300ms);  // the enqueues
  EXPECT_EQ(store_->ClusterGet().stopped_at, std::nullopt);

  clock_->Advance(1s);
  ClusterState stopped = store_->ClusterStop("deploy");
  EXPECT_EQ(stopped.stopped_at, Now());
  EXPECT_EQ(stopped.stop_reason, "deploy");
  ClusterState got = store_->ClusterGet();
  EXPECT_EQ(got.stopped_at, Now());
  EXPECT_EQ(got.stop_reason, "deploy");
  EXPECT_EQ(Hear(*listener).workers, (std::multiset<std::string>{"w1", "w2"}));

  for (const std::string& id : {a, b}) {
    Job j = Get(id);
    EXPECT_EQ(j.state, JobState::kAvailable);
    EXPECT_EQ(j.max_attempts, 5) << "max_attempts changed";
    EXPECT_EQ(j.attempts_used, 0) << "the handed-back attempt counted";
    EXPECT_EQ(j.attempt, 1);
    EXPECT_EQ(j.run_at, Now());
    // Each keeps its attempt's lease while the attempt's process may be alive.
    EXPECT_EQ(j.lease_owner, id == a ? "w1" : "w2");
    EXPECT_EQ(j.lease_expires_at, Now() - 1s + 1h);
  }
  EXPECT_EQ(Get(waiting).max_attempts, 25) << "a waiting job's attempts changed";
  EXPECT_EQ(Get(waiting).attempts_used, 0) << "a waiting job's attempts changed";
  // a's attempt ends: its outcome is refused and ends the lease. b's worker is still stopping it.
  EXPECT_TRUE(store_->JobFinishMany("w1", {{a, 1}}).empty()) << "a handed-back outcome applied";
  EXPECT_EQ(Get(a).lease_owner, "");
  EXPECT_EQ(Renew("w1", {{a, 1}}).give_up, (Refs{{a, 1}}));
  Hear(*listener, 300ms);  // a's ended lease woke its queue
  EXPECT_TRUE(Fetch("w3").empty()) << "fetched while the cluster is stopped";
  EXPECT_TRUE(Fetch("w3", "other").empty()) << "fetched while the cluster is stopped";

  clock_->Advance(1s);
  ExpectError([&] { store_->ClusterStop("again"); }, ErrorCode::kIllegalTransition,
              {"cannot stop", "deploy"});
  got = store_->ClusterGet();
  EXPECT_EQ(got.stopped_at, Now() - 1s) << "a refused stop changed the stop time";
  EXPECT_EQ(got.stop_reason, "deploy");

  ClusterState resumed = store_->ClusterResume();
  EXPECT_EQ(resumed.stopped_at, std::nullopt);
  EXPECT_EQ(resumed.stop_reason, "");
  EXPECT_EQ(store_->ClusterGet().stopped_at, std::nullopt);
  // The queues with due jobs are woken, not the one whose job waits an hour.
  EXPECT_EQ(Hear(*listener).queues, (std::multiset<std::string>{"default", "other"}));
  EXPECT_EQ(Ids(Fetch("w3")), Ids({Get(a), Get(waiting)})) << "b ran beside its old attempt";
  EXPECT_EQ(Get(a).attempt, 2);
  EXPECT_EQ(Fetch("w3", "other").at(0).id, elsewhere);
  ExpectError([&] { store_->ClusterResume(); }, ErrorCode::kIllegalTransition,
              {"cannot resume", "running"});

  // b's old attempt lives on for a while (its worker renews it), then never reports: b runs
  // again once its lease expires.
  clock_->Advance(50min);
  EXPECT_EQ(Renew("w2", {{b, 1}}).renewed, 1);
  clock_->Advance(50min);
  EXPECT_TRUE(Fetch("w3").empty()) << "b ran beside its old attempt, whose lease was renewed";
  clock_->Advance(10min);
  EXPECT_EQ(Ids(Fetch("w3")), std::vector<std::string>{b});
  EXPECT_EQ(Get(b).attempt, 2);
}

TEST_P(ControlStoreTest, RenewalGivesUpEverythingWhileTheClusterIsStopped) {
  std::string id = Insert({.kind = "k"});
  ASSERT_EQ(Fetch("w").size(), 1u);
  EXPECT_TRUE(Renew("w", {{id, 1}}).give_up.empty());
  MarkClusterStopped();  // as if the fetch had raced the stop
  EXPECT_EQ(Renew("w", {{id, 1}}).give_up, (Refs{{id, 1}}));
  EXPECT_EQ(store_->ClusterGet().stop_reason, "race");
}

TEST_P(ControlStoreTest, AStoppedJobStaysStoppedAcrossAClusterStop) {
  std::string running = Insert({.kind = "k", .priority = 0});
  std::string waiting = Insert({.kind = "k", .priority = 1});
  ASSERT_EQ(Fetch("w", "default", 1).at(0).id, running);
  store_->JobStop(running);
  store_->JobStop(waiting);
  Job before = Get(running);
  store_->ClusterStop("");
  ExpectError([&] { store_->ClusterStop("x"); }, ErrorCode::kIllegalTransition,
              {"no reason given"});
  store_->ClusterResume();
  EXPECT_EQ(Get(running).ToJson(), before.ToJson()) << "the cluster stop touched a stopped job";
  EXPECT_EQ(Get(waiting).state, JobState::kStopped);
  EXPECT_TRUE(Fetch("w").empty());
  EXPECT_TRUE(store_->JobFinishMany("w", {{running, 1}}).empty());  // its stopped attempt ended
  store_->JobResume(running);
  EXPECT_EQ(Ids(Fetch("w")), std::vector<std::string>{running});
}

auto BackendName = [](const auto& info) { return testing::Name(info.param); };

INSTANTIATE_TEST_SUITE_P(Backends, ControlStoreTest, ::testing::ValuesIn(testing::kAllBackends),
                         BackendName);

}  // namespace
}  // namespace spindle
