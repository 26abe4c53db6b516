// Children, results and progress through real workers on both backends: a fan-out of 100 and its
// fan-in with a failing child, cancelling a parent, progress, and the external-command protocol
// (docs/jobs.md), run with the shell example the docs show.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "testing.h"

namespace spindle {
namespace {

using namespace std::chrono_literals;
using testing::BackendKind;
using testing::ReadFile;
using testing::TestBackend;
using testing::WaitUntil;

class ChildrenTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override { client_ = Client::Open({db_->url()}); }

  WorkerOptions Options() {
    WorkerOptions o;
    o.database_url = db_->url();
    o.queues = {QueueOptions{"default", 8}};
    o.rescue_interval = 200ms;
    o.shutdown_grace = 5s;
    return o;
  }
  JobState StateOf(const std::string& id) { return client_->Get(id).state; }
  std::vector<Job> ChildrenOf(const std::string& id) {
    return client_->List({.parent_id = id, .limit = 1000});
  }

  std::unique_ptr<TestBackend> db_ = TestBackend::Make(GetParam());
  std::unique_ptr<Client> client_;
};

TEST_P(ChildrenTest, AHundredChildrenFanOutAndTheParentSeesEachOutcome) {
  std::atomic<int> split_runs{0}, gather_runs{0};
  std::atomic<bool> parent_ran_early{false}, children_in_order{true};
  Worker w(Options());
  w.Register("square", [](JobContext& ctx) {
    int n = ctx.job.args["n"];
    if (n == 37) return JobResult::Discard("37 is unlucky");
    return JobResult::Done({{"square", n * n}});
  });
  w.RegisterSteps(
      "sum",
      {{"split",
        [&](StepContext& ctx) {
          ++split_runs;
          for (int n = 0; n < 100; ++n) {
            ctx.enqueue.push_back({.kind = "square", .args = {{"n", n}}, .max_attempts = 1});
          }
          ctx.checkpoint = {{"parts", 100}};
          return JobResult::Done();
        }},
       {"gather", [&](StepContext& ctx) {
          ++gather_runs;
          int64_t sum = 0;
          std::vector<int> failed;
          auto children = ctx.Children();
          for (size_t i = 0; i < children.size(); ++i) {
            if (children[i].args["n"] != static_cast<int>(i)) children_in_order = false;
          }
          for (const auto& c : children) {
            if (!IsFinal(c.state)) parent_ran_early = true;
            if (c.state == JobState::kCompleted) sum += c.result["square"].get<int64_t>();
            if (c.state == JobState::kFailed) failed.push_back(c.args["n"]);
          }
          return JobResult::Done({{"sum", sum},
                                  {"children", children.size()},
                                  {"failed", failed},
                                  {"parts", ctx.checkpoint["parts"]}});
        }}});
  w.Start();
  std::string id = client_->Enqueue({.kind = "sum"});
  ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kCompleted; }, 120s))
      << "the parent is " << ToString(StateOf(id));

  int64_t expected = 0;
  for (int n = 0; n < 100; ++n) expected += n == 37 ? 0 : n * n;
  Job parent = client_->Get(id);
  EXPECT_EQ(parent.result, (Json{{"sum", expected}, {"children", 100}, {"failed", {37}},
                                 {"parts", 100}}));
  EXPECT_EQ(parent.children_total, 100);
  EXPECT_EQ(parent.children_pending, 0);
  EXPECT_EQ(split_runs, 1) << "the step that enqueued the children ran again";
  EXPECT_EQ(gather_runs, 1) << "the parent was woken more than once";
  EXPECT_FALSE(parent_ran_early) << "the parent ran before its last child finished";
  EXPECT_TRUE(children_in_order) << "Children() is not oldest first";
  EXPECT_EQ(parent.attempt, 2) << "one attempt per step";
  EXPECT_EQ(parent.max_attempts, 25) << "max_attempts changed";
  EXPECT_EQ(parent.attempts_used, 1) << "waiting for children counted as an attempt";
  auto children = ChildrenOf(id);
  ASSERT_EQ(children.size(), 100u);
  for (const auto& c : children) {
    EXPECT_EQ(c.parent_id, id);
    EXPECT_EQ(c.state, c.args["n"] == 37 ? JobState::kFailed : JobState::kCompleted);
  }
}

TEST_P(ChildrenTest, CancellingAWaitingParentCancelsItsChildren) {
  std::atomic<int> started{0}, cancelled{0};
  Worker w(Options());
  w.Register("slow", [&](JobContext& ctx) {
    ++started;
    if (ctx.cancel.WaitFor(120s)) {
      ++cancelled;
      return JobResult::Error("cancelled");
    }
    return JobResult::Done();
  });
  w.RegisterSteps("parent", {{"spawn",
                              [](StepContext& ctx) {
                                for (int i = 0; i < 20; ++i) ctx.enqueue.push_back({.kind = "slow"});
                                return JobResult::Done();
                              }},
                             {"after", [](StepContext&) { return JobResult::Done(); }}});
  w.Start();
  std::string id = client_->Enqueue({.kind = "parent"});
  ASSERT_TRUE(WaitUntil([&] { return started == 8; }, 60s)) << "the children did not start";
  EXPECT_EQ(StateOf(id), JobState::kWaiting);
  client_->Cancel(id);
  for (const auto& c : ChildrenOf(id)) EXPECT_EQ(c.state, JobState::kCancelled);
  // The running children's handlers are told (at once on PostgreSQL; on SQLite from another
  // store, by the next lease renewal).
  ASSERT_TRUE(WaitUntil([&] { return cancelled == 8; }, 60s)) << cancelled;
  EXPECT_EQ(started, 8) << "a cancelled child was fetched";
  EXPECT_EQ(StateOf(id), JobState::kCancelled);
}

TEST_P(ChildrenTest, ProgressIsShownWhileTheJobRunsAndClearedWhenItCompletes) {
  std::atomic<bool> release{false};
  Worker w(Options());
  w.Register("long", [&](JobContext& ctx) {
    ctx.Progress(0.25, "a quarter");
    ctx.Progress(1.5, "half");  // clamped
    while (!release) std::this_thread::sleep_for(10ms);
    return JobResult::Done();
  });
  w.Start();
  std::string id = client_->Enqueue({.kind = "long"});
  ASSERT_TRUE(WaitUntil([&] {
    Json p = client_->Get(id).progress;
    return p.is_object() && p["message"] == "half";
  }));
  EXPECT_EQ(client_->Get(id).progress, (Json{{"fraction", 1.0}, {"message", "half"}}));
  release = true;
  ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kCompleted; }));
  EXPECT_TRUE(client_->Get(id).progress.is_null());
}

// The shell example in docs/jobs.md, run as it is there.
TEST_P(ChildrenTest, TheDocumentedShellExampleFansOutAndIn) {
  std::string script = std::string(SOURCE_DIR) + "/examples/fan_out.sh";
  EXPECT_NE(ReadFile(std::string(SOURCE_DIR) + "/docs/jobs.md").find(ReadFile(script)),
            std::string::npos)
      << "docs/jobs.md does not show examples/fan_out.sh as it is";
  Worker w(Options());
  w.RegisterCommand("sum_squares", {.argv = {"/bin/sh", script}});
  w.RegisterCommand("square", {.argv = {"/bin/sh", script}});
  w.Start();
  std::string id = client_->Enqueue({.kind = "sum_squares", .args = {{"numbers", {1, 2, -3, 4}}}});
  ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kCompleted; }, 120s))
      << "the parent is " << ToString(StateOf(id));
  Job parent = client_->Get(id);
  EXPECT_EQ(parent.result, (Json{{"sum", 21}, {"failed", 1}}));
  EXPECT_EQ(parent.step, "sum");
  EXPECT_EQ(parent.checkpoint, (Json{{"parts", 4}}));
  auto children = ChildrenOf(id);
  ASSERT_EQ(children.size(), 4u);
  for (const auto& c : children) {
    if (c.args["n"] == -3) {
      EXPECT_EQ(c.state, JobState::kFailed);
      ASSERT_EQ(c.errors.size(), 1u);
      EXPECT_NE(c.errors[0].message.find("cannot square -3"), std::string::npos);
    } else {
      EXPECT_EQ(c.state, JobState::kCompleted);
      EXPECT_EQ(c.result["square"], c.args["n"].get<int>() * c.args["n"].get<int>());
    }
  }
}

TEST_P(ChildrenTest, CommandProtocolSavesCheckpointsAtOnceAndIgnoresInvalidLines) {
  // Attempt 1 saves a checkpoint, reports progress, writes lines that are not protocol lines,
  // then fails; attempt 2 sees the step and checkpoint on stdin and naps; after the nap it
  // completes with a result.
  std::string seen = ::testing::TempDir() + "spindle_protocol_" + testing::Name(GetParam());
  std::remove(seen.c_str());
  const char* body = R"(
    job=$(cat); echo "$job" >> "$1"  # keys in sorted order: args, attempt, checkpoint, ...
    case "$job" in
      *'"attempt":1,'*)
        echo '{"next": "copy", "checkpoint": {"rows": 10}}'
        echo '{"progress": 0.5, "message": "copying"}'
        echo '{"checkpoint": {"rows": 99}, "unknown": 1}'
        echo '{"next": 7}'
        echo 'plain output'
        exit 3 ;;
      *'"attempt":2,"attempts_used":2,"checkpoint":{"rows":10}'*'"step":"copy"'*)
        echo '{"checkpoint": {"rows": 20}, "nap": "1h"}'
        exit 0 ;;
      *'"checkpoint":{"rows":20}'*)
        echo '{"result": {"rows": 20}}'
        exit 0 ;;
    esac
    exit 9)";
  WorkerOptions o = Options();
  o.backoff = {.base = 10ms, .max = 50ms, .jitter = 0.1};
  Worker w(o);
  w.RegisterCommand("copy", {.argv = {"/bin/sh", "-c", body, "sh", seen}});
  w.Start();
  std::string id = client_->Enqueue({.kind = "copy"});
  ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kScheduled; }, 60s))
      << "no nap: " << ReadFile(seen);
  Job napping = client_->Get(id);
  EXPECT_EQ(napping.step, "copy");
  EXPECT_EQ(napping.checkpoint, (Json{{"rows", 20}}));
  EXPECT_EQ(napping.progress, (Json{{"fraction", 0.5}, {"message", "copying"}}));
  ASSERT_EQ(napping.errors.size(), 1u);
  EXPECT_NE(napping.errors[0].message.find("status 3"), std::string::npos);
  client_->Wake(id);
  ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kCompleted; }, 60s))
      << ReadFile(seen);
  EXPECT_EQ(client_->Get(id).result, (Json{{"rows", 20}}));
  std::remove(seen.c_str());
}

// --- history --------------------------------------------------------------------------------

std::vector<std::string> Entries(const std::vector<JobEvent>& history) {
  std::vector<std::string> out;
  for (const auto& e : history) out.push_back(e.type + (e.detail.empty() ? "" : ": " + e.detail));
  return out;
}

TEST_P(ChildrenTest, HistoryTellsEachTransitionWithoutWritingOnTheHotPath) {
  WorkerOptions o = Options();
  o.id = "w1";
  o.backoff = {.base = 10ms, .max = 50ms, .jitter = 0.1};
  Worker w(o);
  w.Register("flaky", [](JobContext& ctx) {
    return ctx.job.attempt == 1 ? JobResult::Error("boom") : JobResult::Done();
  });
  w.Register("plain", [](JobContext&) { return JobResult::Done(); });
  w.RegisterSteps("fan", {{"split",
                           [](StepContext& ctx) {
                             ctx.enqueue = {{.kind = "plain"}, {.kind = "plain"}};
                             return JobResult::Done();
                           }},
                          {"gather", [](StepContext&) { return JobResult::Done(); }}});
  w.Start();
  std::string flaky = client_->Enqueue({.kind = "flaky"});
  std::string fan = client_->Enqueue({.kind = "fan"});
  std::string plain = client_->Enqueue({.kind = "plain"});
  for (const auto& id : {flaky, fan, plain}) {
    ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kCompleted; }, 60s));
  }
  using V = std::vector<std::string>;
  EXPECT_EQ(Entries(client_->History(flaky)),
            (V{"enqueued: queue default", "running: attempt 1 on w1", "retryable: boom",
               "running: attempt 2", "completed"}));
  EXPECT_EQ(Entries(client_->History(fan)),
            (V{"enqueued: queue default", "running: attempt 1 on w1",
               "waiting: 2 children, then step gather", "available: children finished",
               "running: attempt 2", "completed"}));
  // A job that ran once and completed stored nothing: its row tells it all.
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM {job_events} WHERE job_id = '" + plain + "'"), 0);
  EXPECT_EQ(Entries(client_->History(plain)),
            (V{"enqueued: queue default", "running: attempt 1", "completed"}));
  auto history = client_->History(flaky);
  for (size_t i = 1; i < history.size(); ++i) EXPECT_LE(history[i - 1].at, history[i].at);

  // People's changes, and a retry of a completed job, which keeps the completed attempt.
  std::string later = client_->Enqueue({.kind = "plain", .run_at = std::chrono::system_clock::now() + 1h});
  client_->Stop(later);
  // Resumed before its time, it waits for it again.
  EXPECT_EQ(client_->Resume(later).state, JobState::kScheduled);
  client_->Wake(later);
  ASSERT_TRUE(WaitUntil([&] { return StateOf(later) == JobState::kCompleted; }, 60s));
  client_->Retry(later);
  ASSERT_TRUE(WaitUntil([&] { return StateOf(later) == JobState::kCompleted; }, 60s));
  EXPECT_EQ(Entries(client_->History(later)),
            (V{"enqueued: queue default", "stopped", "scheduled: resumed", "available: woken",
               "running: attempt 1", "completed", "available: retried", "running: attempt 2",
               "completed"}));
}

TEST_P(ChildrenTest, HistoryTellsEveryAttemptOfAWokenJobAndOfAStoppedAndResumedOne) {
  WorkerOptions o = Options();
  o.id = "w1";
  Worker w(o);
  w.Register("sleeper", [](JobContext& ctx) {
    return ctx.job.attempt <= 3 ? JobResult::Snooze(1h) : JobResult::Done();
  });
  w.Register("long", [](JobContext& ctx) {
    if (ctx.job.attempt == 1 && ctx.cancel.WaitFor(10min)) return JobResult::Error("stopped");
    return JobResult::Done();
  });
  w.Start();
  std::string sleeper = client_->Enqueue({.kind = "sleeper"});
  for (int run = 1; run <= 3; ++run) {
    ASSERT_TRUE(WaitUntil([&] {
      Job j = client_->Get(sleeper);
      return j.state == JobState::kScheduled && j.attempt == run;
    }, 60s));
    client_->Wake(sleeper);
  }
  std::string stopped = client_->Enqueue({.kind = "long"});
  ASSERT_TRUE(WaitUntil([&] { return StateOf(stopped) == JobState::kRunning; }, 60s));
  client_->Stop(stopped);
  client_->Resume(stopped);
  for (const auto& id : {sleeper, stopped}) {
    ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kCompleted; }, 60s));
  }
  using V = std::vector<std::string>;
  EXPECT_EQ(Entries(client_->History(sleeper)),
            (V{"enqueued: queue default", "running: attempt 1 on w1", "scheduled: nap",
               "available: woken", "running: attempt 2 on w1", "scheduled: nap",
               "available: woken", "running: attempt 3 on w1", "scheduled: nap",
               "available: woken", "running: attempt 4", "completed"}));
  EXPECT_EQ(Entries(client_->History(stopped)),
            (V{"enqueued: queue default", "running: attempt 1 on w1", "stopped",
               "available: resumed", "running: attempt 2", "completed"}));
  // The naps and the stop did not count.
  Job j = client_->Get(sleeper);
  EXPECT_EQ(j.attempts_used, 1);
  EXPECT_EQ(j.max_attempts, 25);
  EXPECT_EQ(client_->Get(stopped).attempts_used, 1);
}

TEST_P(ChildrenTest, HistoryCollapsesRepeatsAndKeepsTheLastFifty) {
  WorkerOptions o = Options();
  o.id = "w1";
  Worker w(o);
  // Naps five times in the same step: each run and its nap told once. (The first nap saves the
  // step, which is an entry of its own.)
  w.RegisterSteps("poll", {{"poll", [](StepContext& ctx) {
                              int n = ctx.checkpoint.is_null() ? 0 : ctx.checkpoint.get<int>();
                              ctx.checkpoint = n + 1;
                              return n < 5 ? JobResult::Snooze(1ms) : JobResult::Done();
                            }}});
  // Jumps between two steps 60 times in one attempt: 60 step entries, the first 10 dropped.
  auto bounce = [](StepContext& ctx) {
    int n = ctx.checkpoint.is_null() ? 0 : ctx.checkpoint.get<int>();
    ctx.checkpoint = n + 1;
    if (n + 1 < 60) ctx.next = ctx.step == "a" ? "b" : "a";
    else if (ctx.step == "a") ctx.next = "end";
    return JobResult::Done();
  };
  w.RegisterSteps("bounce", {{"a", bounce}, {"b", bounce}, {"end", [](StepContext&) {
                               return JobResult::Done();
                             }}});
  w.Start();
  std::string poll = client_->Enqueue({.kind = "poll"});
  std::string bouncer = client_->Enqueue({.kind = "bounce"});
  for (const auto& id : {poll, bouncer}) {
    ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kCompleted; }, 60s));
  }
  using V = std::vector<std::string>;
  V expected{"enqueued: queue default", "running: attempt 1 on w1", "step: poll",
             "scheduled: nap in step poll"};
  for (int run = 2; run <= 5; ++run) {
    expected.push_back("running: attempt " + std::to_string(run) + " on w1");
    expected.push_back("scheduled: nap in step poll");
  }
  expected.push_back("running: attempt 6");
  expected.push_back("completed");
  EXPECT_EQ(Entries(client_->History(poll)), expected);
  auto history = client_->History(bouncer);
  ASSERT_EQ(history.size(), kHistoryLimit);
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM {job_events} WHERE job_id = '" + bouncer + "'"),
            static_cast<int64_t>(kHistoryLimit));
  EXPECT_EQ(Entries({history.back()}), V{"completed"});
  EXPECT_EQ(Entries({history[history.size() - 2]}), V{"step: end"});
}

INSTANTIATE_TEST_SUITE_P(Backends, ChildrenTest, ::testing::ValuesIn(testing::kAllBackends),
                         [](const auto& info) { return testing::Name(info.param); });

}  // namespace
}  // namespace spindle
