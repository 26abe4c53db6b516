// The worker runtime. How a job flows through it (see docs/architecture.md):
//
//   listener ──wake──▶ producer(queue) ──JobFetch──▶ ready deque ──▶ executor threads
//                                                                        │ handler / command
//   watchdog (timeouts) ─cancel token─▶ running jobs                     ▼
//   lease renewer, run-time stats                                completer ◀── outcomes (batched JobFinishMany)
//   coordinator: membership, leadership, partition (read by producers), assignments
//   maintenance (src/maintenance/, the leader's): rescuer, expirer, scheduler, pruner
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <unordered_map>

#include <fmt/format.h>
#include "core/log.h"
#include "core/time.h"

#include "core/backoff.h"
#include "core/duration.h"
#include "core/text.h"
#include "runtime/command.h"
#include "runtime/command_controls.h"
#include "runtime/command_fence.h"
#include "runtime/command_protocol.h"
#include "runtime/coordinator.h"
#include "runtime/helper.h"
#include "runtime/job_log.h"
#include "runtime/limits_cache.h"
#include "regulation/slots.h"
#include "runtime/run_stats.h"
#include "maintenance/maintenance.h"
#include "maintenance/pruner.h"
#include "runtime/service.h"
#include "spindle/error.h"
#include "spindle/version.h"
#include "spindle/worker.h"
#include "store/store.h"

namespace spindle {

using runtime::LoopService;
using SteadyTime = std::chrono::steady_clock::time_point;

namespace {

std::string HostName() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return host;
}

// Host and pid name the process for people; 64 random bits keep two ids apart in practice.
std::string DefaultWorkerId() {
  std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{}-{}-{:016x}", HostName(), getpid(), rng());
}

// A fetched job waiting for an executor, and what says whether it may still start: when its
// fetch was sent (its lease runs from then at the latest) and the registration it was fetched
// under (an eviction, which gave it to others, ends that).
struct Fetched {
  Job job;
  SteadyTime sent;
  uint64_t registration = 0;
};

// One attempt of a job between the start of its handler and its outcome. Attempts, not jobs,
// are what a worker tracks: after a stop and a resume, attempt N (still being killed) and
// attempt N + 1 of one job may both be here.
using AttemptKey = std::pair<std::string, int>;
struct RunningJob {
  std::string id;
  int attempt = 0;
  SteadyTime deadline;
  Millis timeout{0};
  CancelToken token;
  std::atomic<bool> timed_out{false};
  std::atomic<bool> overrun{false};  // still running a lease past its deadline
  std::atomic<bool> shutdown{false};
  // The attempt already ended in the database (the job waits for its children): no outcome.
  bool parked = false;
};

}  // namespace

class Worker::Impl {
 public:
  explicit Impl(WorkerOptions o) : opts(std::move(o)) {
    if (opts.database_url.empty()) {
      throw Error(ErrorCode::kInvalidArgument, "worker needs a database URL");
    }
    if (opts.id.empty()) opts.id = DefaultWorkerId();
    if (!opts.clock) opts.clock = std::make_shared<SystemClock>();
    if (!opts.observer) opts.observer = std::make_shared<WorkerObserver>();
    if (opts.queues.empty()) throw Error(ErrorCode::kInvalidArgument, "worker needs a queue");
    for (const auto& q : opts.queues) {
      if (q.name.empty() || q.concurrency < 1) {
        throw Error(ErrorCode::kInvalidArgument,
                    fmt::format("queue '{}' needs a name and a concurrency of at least 1", q.name));
      }
    }
    for (const auto& q : opts.queues) {
      if (q.concurrency > kMaxConcurrency) {
        throw Error(ErrorCode::kInvalidArgument,
                    fmt::format("queue '{}': concurrency {} is more than {}", q.name,
                                q.concurrency, kMaxConcurrency));
      }
      q.Settings().Validate(q.name);
    }
    for (const auto& [kind, d] : opts.kinds) d.Validate(kind);
    std::set<std::string> limit_names;
    for (const auto& l : opts.limits) {
      l.Validate();
      if (!limit_names.insert(l.name).second) {
        throw Error(ErrorCode::kInvalidArgument, fmt::format("limit '{}' is declared twice", l.name));
      }
    }
    if (opts.schedules) ScheduleRows(*opts.schedules);  // validates them
    if (opts.lease < Millis(100) || opts.poll_interval < Millis(1) ||
        opts.poll_interval_no_notify < Millis(1) ||
        opts.rescue_interval < Millis(100) || opts.default_timeout < Millis(1) ||
        opts.expire_interval < Millis(1) || opts.stats_interval < Millis(1) ||
        opts.shutdown_grace < Millis(0) || opts.fetch_batch_max < 1) {
      throw Error(ErrorCode::kInvalidArgument,
                  "worker options: lease and rescue_interval must be at least 100ms; "
                  "poll intervals, default_timeout, expire_interval, stats_interval and fetch_batch_max "
                  "must be positive");
    }
    runtime::CheckClusterOptions(opts.cluster);
    maintenance::Pruner::Validate(opts.retention);
    int queue_count = static_cast<int>(opts.queues.size());
    if (opts.slots != 0 && (opts.slots < queue_count || opts.slots > kMaxConcurrency)) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("slots is {}; it must be 0 (off) or {} (one per queue) to {}",
                              opts.slots, queue_count, kMaxConcurrency));
    }
    if (opts.share_interval < Millis(10) || opts.share_interval > Millis(60000)) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("share_interval is {}; it must be 10ms to 1m",
                              core::FormatDuration(opts.share_interval)));
    }
    for (const auto& q : opts.queues) {
      if (q.weight < 1 || q.weight > 1000) {
        throw Error(ErrorCode::kInvalidArgument,
                    fmt::format("queue '{}': weight {} is not 1 to 1000", q.name, q.weight));
      }
    }
  }

  static constexpr int kMaxConcurrency = 10000;
  // The longest stdout line of a command that can be a protocol line (docs/jobs.md).
  static constexpr size_t kCommandLineLimit = 8 << 20;
  // Timeouts longer than this are treated as this (a steady_clock deadline must not overflow).
  static constexpr Millis kMaxTimeout{10LL * 365 * 24 * 3600 * 1000};

  struct Queue {
    QueueOptions opts;
    std::mutex mu;
    std::condition_variable ready_cv;   // executors wait for ready jobs
    std::condition_variable idle_cv;    // Stop waits for in_flight == 0
    std::deque<Fetched> ready;          // fetched, not started
    int in_flight = 0;                  // fetched and not yet finished
    uint64_t wakeups = 0;               // notifications seen; bumped by the listener
    bool more = false;                  // more jobs are likely waiting
    bool stopping = false;              // no more fetching
    bool executors_exit = false;
    std::vector<std::thread> executors;
    std::unique_ptr<LoopService> producer;
    // Partitioned dispatch: the fallback scan for overdue jobs of any partition.
    SteadyTime next_fallback;
    double dispatch_delay_ms = 0;  // moving average of this worker's own dispatch delay

    // Free slots that justify a fetch round trip when jobs are known to be waiting.
    int Threshold() const { return std::max(1, std::min(opts.concurrency / 4, 100)); }
  };

  // --- producer --------------------------------------------------------------------------

  bool Produce(Queue& q) {
    int limit;
    uint64_t seen;
    {
      std::lock_guard lock(q.mu);
      if (q.stopping || kinds.empty() || fenced) return false;
      limit = std::min(q.opts.concurrency - q.in_flight, opts.fetch_batch_max);
      // Adaptive concurrency: only into the slots the budget gives this queue now.
      if (budget && limit > 0) limit = budget->Take(q.opts.name, limit);
      seen = q.wakeups;
      if (limit <= 0) {
        q.more = true;
        return false;
      }
    }
    auto sent = std::chrono::steady_clock::now();
    uint64_t registration = coordinator->registrations();
    std::vector<Job> jobs;
    try {
      jobs = Fetch(q, limit);
    } catch (...) {
      if (budget) budget->Backlog(q.opts.name, std::nullopt, limit);
      Freed(q, limit);
      throw;
    }
    int n = static_cast<int>(jobs.size());
    fetched += n;
    opts.observer->Fetched(q.opts.name, Since(sent), n);
    if (budget) {
      auto now = opts.clock->Now();
      for (const auto& j : jobs) budget->Waited(q.opts.name, Since(j.run_at, j.started_at.value_or(now)));
      // All it asked for: its work begins to wait, share again.
      if (budget->Backlog(q.opts.name, n == limit, limit)) sharer->Wake();
      Freed(q, limit - n);
    }
    {
      std::lock_guard lock(q.mu);
      q.more = n == limit || q.wakeups != seen;
      if (q.stopping || fenced) {
        for (auto& j : jobs) Finish(Release(j));
        Freed(q, n);
        return false;
      }
      q.in_flight += n;
      for (auto& j : jobs) q.ready.push_back({std::move(j), sent, registration});
    }
    // Wake one executor per job; waking all of them for every batch would stampede.
    for (int i = 0; i < std::min(n, q.opts.concurrency); ++i) q.ready_cv.notify_one();
    // A full batch smaller than the free slots: fetch the rest at once.
    return n == limit && limit == opts.fetch_batch_max;
  }

  // Fetches from this worker's partitions (its own and the orphans it adopted), and when
  // partitioned, also jobs of any partition that are overdue: a safety net for the moments
  // when workers disagree about who is alive. "Overdue" adapts to how long this worker's own
  // jobs wait: three times its average dispatch delay, between 1 s and 1 min.
  std::vector<Job> Fetch(Queue& q, int limit) {
    auto part = coordinator->partition();
    JobFetchParams p{q.opts.name, limit, opts.id, opts.lease, kinds, part.count, part.indexes};
    p.order = q.opts.order;
    p.fair = q.opts.fair_key.has_value();
    p.limits = limits.For(q.opts.name, kinds);
    // A rate limit holds jobs back until a time it knows: fetch again then.
    std::optional<Millis> rate_wait;
    p.rate_wait = &rate_wait;
    auto fetch = [&] {
      rate_wait.reset();
      auto got = store->JobFetch(p);
      if (rate_wait) q.producer->WakeIn(*rate_wait);
      return got;
    };
    auto jobs = fetch();
    if (part.count == 0) return jobs;
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(q.mu);
    for (const auto& j : jobs) {
      if (!j.started_at) continue;
      double delay = std::chrono::duration<double, std::milli>(*j.started_at - j.run_at).count();
      q.dispatch_delay_ms = 0.9 * q.dispatch_delay_ms + 0.1 * std::max(0.0, delay);
    }
    if (now < q.next_fallback || static_cast<int>(jobs.size()) >= limit) return jobs;
    auto overdue = std::clamp(Millis(static_cast<int64_t>(3 * q.dispatch_delay_ms)), Millis(1000),
                              Millis(60000));
    q.next_fallback = now + overdue;
    p.limit = limit - static_cast<int>(jobs.size());
    p.partition_count = 0;
    p.overdue = overdue;
    std::vector<Job> more;
    try {
      more = fetch();
    } catch (const std::exception& e) {
      // The first batch is leased to this worker already: run it, whatever became of this one.
      core::Log().warn("event=fallback_fetch_failed queue={} error={}", q.opts.name,
                       core::LogValue(e.what()));
      return jobs;
    }
    if (!more.empty()) core::Log().info("event=fallback_fetch queue={} jobs={}", q.opts.name, more.size());
    jobs.insert(jobs.end(), std::make_move_iterator(more.begin()),
                std::make_move_iterator(more.end()));
    return jobs;
  }

  // --- adaptive concurrency (regulation::SlotBudget) ---------------------------------------

  static Millis Since(SysTime from, SysTime to) {
    return std::chrono::duration_cast<Millis>(to - from);
  }
  static Millis Since(SteadyTime from) {
    return std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - from);
  }

  // `n` of the queue's slots are free again: wakes the queues that wait for slots. Never throws
  // (HandBack holds a queue's lock; a producer's wake-up takes only the loop's own).
  void Freed(Queue& q, int n) {
    if (!budget || n <= 0) return;
    for (const auto& name : budget->Give(q.opts.name, n)) {
      for (auto& other : queues) {
        if (other->opts.name == name) other->producer->Wake();
      }
    }
  }

  // Shares the slots again, says what changed, and wakes the queues that got more.
  bool Share() {
    for (const auto& d : budget->Share()) {
      if (d.slots == d.before) continue;
      core::Log().info(
          "event=slots_shared worker={} queue={} slots={} was={} of={} backlog={} wait_ms={:.0f} "
          "run_ms={:.0f} pressure={:.2f}",
          opts.id, d.queue, d.slots, d.before, budget->slots(), d.backlog, d.wait_ms, d.run_ms,
          d.pressure);
      if (d.slots > d.before) {
        for (auto& q : queues) {
          if (q->opts.name == d.queue) q->producer->Wake();
        }
      }
    }
    return false;
  }

  // --- executor --------------------------------------------------------------------------

  void Execute(Queue& q) {
    while (true) {
      Fetched f;
      {
        std::unique_lock lock(q.mu);
        q.ready_cv.wait(lock, [&] { return !q.ready.empty() || q.executors_exit; });
        if (q.ready.empty()) return;
        f = std::move(q.ready.front());
        q.ready.pop_front();
      }
      if (!MayStart(f)) {
        Finish(Release(f.job));  // refused by fencing where the job moved on
      } else if (auto outcome = Run(f.job)) {
        Finish(std::move(*outcome));
      }
      bool wake, idle;
      {
        std::lock_guard lock(q.mu);
        --q.in_flight;
        wake = q.more && q.opts.concurrency - q.in_flight >= q.Threshold();
        idle = q.in_flight == 0;
      }
      Freed(q, 1);  // before the wake-up below: a fetch it starts finds the slot free
      if (idle) q.idle_cv.notify_all();
      if (wake) q.producer->Wake();
    }
  }

  std::optional<JobOutcome> Run(const Job& job) {
    runtime::LogJobStarted(job);
    auto began = std::chrono::steady_clock::now();
    opts.observer->Started(job, Since(job.run_at, job.started_at.value_or(opts.clock->Now())));
    auto rj = std::make_shared<RunningJob>();
    auto outcome = Outcome(job, rj);
    auto took = Since(began);
    runtime::LogJobEnded(job, outcome, rj->shutdown, took);
    Measure(job, outcome, rj->shutdown, took);
    if (budget) budget->Ran(job.queue, took);
    return outcome;
  }

  // Deadlines (docs/jobs.md): a completed run's time feeds its kind's estimate, and a job that
  // ends after its deadline counts as missed. In memory; flushed by run_stats_flusher. And the
  // observer hears how the attempt ended.
  void Measure(const Job& job, const std::optional<JobOutcome>& o, bool shutdown, Millis took) {
    using K = JobOutcome::Kind;
    using O = WorkerObserver::Outcome;
    O seen = O::kWaiting;  // no outcome: it waits for its children
    if (o) {
      bool retry = job.attempts_used < job.max_attempts;
      switch (o->kind) {
        case K::kCompleted: seen = O::kCompleted; break;
        case K::kError: seen = retry ? O::kRetry : O::kFailed; break;
        case K::kDiscard: seen = O::kDiscarded; break;
        case K::kRelease: seen = shutdown || o->delay == Millis(0) ? O::kReleased : O::kSnoozed;
      }
    }
    bool ends = seen == O::kCompleted || seen == O::kFailed || seen == O::kDiscarded;
    bool missed = ends && job.deadline && opts.clock->Now() > *job.deadline;
    opts.observer->Ended(job, seen, took, ends, missed);
    if (seen != O::kCompleted && !missed) return;
    run_stats.Record(job.kind, seen == O::kCompleted ? std::optional(took) : std::nullopt,
                     missed);
  }

  std::optional<JobOutcome> Outcome(const Job& job, const std::shared_ptr<RunningJob>& rj) {
    rj->id = job.id;
    rj->attempt = job.attempt;
    const CommandOptions* cmd = nullptr;
    if (auto it = commands.find(job.kind); it != commands.end()) cmd = &it->second;
    // A job enqueued before its kind's defaults were recorded has no timeout of its own.
    std::optional<Millis> kind_timeout = cmd ? cmd->timeout : std::nullopt;
    if (auto k = opts.kinds.find(job.kind); k != opts.kinds.end() && k->second.timeout) {
      kind_timeout = k->second.timeout;
    }
    rj->timeout = job.timeout.value_or(kind_timeout.value_or(opts.default_timeout));
    rj->deadline = std::chrono::steady_clock::now() + std::min(rj->timeout, kMaxTimeout);
    {
      std::lock_guard lock(running_mu);
      running[{job.id, job.attempt}] = rj;
    }
    ++running_count;

    JobResult result;
    try {
      if (cmd) {
        result = RunCommand(job, *cmd, *rj);
      } else if (auto s = step_kinds.find(job.kind); s != step_kinds.end()) {
        result = RunSteps(job, s->second, *rj);
      } else if (auto h = handlers.find(job.kind); h != handlers.end()) {
        JobContext ctx{job, rj->token, ProgressReporter(job)};
        result = h->second(ctx);
      } else {
        result = JobResult::Error(
            fmt::format("no handler for kind '{}' on worker {}", job.kind, opts.id));
      }
    } catch (const std::exception& e) {
      result = JobResult::Error(fmt::format("handler threw: {}", e.what()));
    } catch (...) {
      result = JobResult::Error("handler threw a non-standard exception");
    }

    {
      std::lock_guard lock(running_mu);
      running.erase({job.id, job.attempt});
    }
    --running_count;

    if (rj->parked) return std::nullopt;
    bool done = result.kind == JobResult::Kind::kDone;
    if (rj->shutdown && !done) return Release(job);
    if (rj->timed_out && !done) {
      result.kind = JobResult::Kind::kError;
      result.message = fmt::format("timed out after {}{}", core::FormatDuration(rj->timeout),
                                   result.message.empty() ? "" : "; " + result.message);
    }
    JobOutcome o{job.id,    job.attempt,
                 JobOutcome::Kind::kCompleted,
                 core::CleanText(result.message),
                 Millis(0), std::move(result.result),
                 job.parent_id};
    switch (result.kind) {
      case JobResult::Kind::kDone:
        break;
      case JobResult::Kind::kError:
        o.kind = JobOutcome::Kind::kError;
        o.delay = core::BackoffDelay(opts.backoff, job.attempts_used);
        break;
      case JobResult::Kind::kDiscard:
        o.kind = JobOutcome::Kind::kDiscard;
        break;
      case JobResult::Kind::kSnooze:
        o.kind = JobOutcome::Kind::kRelease;
        o.delay = result.delay;
        break;
    }
    return o;
  }

  // A save refused by fencing: the job was stopped, cancelled or rescued meanwhile. (Its outcome
  // will be refused too; this one only ends the attempt.)
  static JobResult Taken() { return JobResult::Error("the job was taken from this worker"); }

  // Saves what a running attempt reports (fenced). False: the worker lost the job.
  bool Save(const Job& job, const JobSaveParams& save) {
    return store->JobSave(opts.id, {job.id, job.attempt}, save);
  }

  // Progress is best effort: a failed write is logged, never thrown into the handler.
  std::function<void(double, std::string_view)> ProgressReporter(const Job& job) {
    return [this, &job](double fraction, std::string_view message) {
      try {
        Save(job, {.progress = runtime::ProgressJson(fraction, core::CleanText(message))});
      } catch (const std::exception& e) {
        core::Log().warn("event=progress_failed job={} error={}", job.id, core::LogValue(e.what()));
      }
    };
  }

  // Oldest first, as enqueued.
  std::vector<Job> Children(const Job& job) {
    auto children = store->JobList({.parent_id = job.id, .limit = std::max(1, job.children_total)});
    std::reverse(children.begin(), children.end());
    return children;
  }

  // Saves a step's children with the step to run next and its checkpoint; the job then waits
  // for them, and this attempt ends without an outcome.
  JobResult Wait(const Job& job, JobSaveParams save, RunningJob& rj) {
    if (!Save(job, save)) return Taken();
    rj.parked = true;
    core::Log().info("event=job_waits job={} children={}", job.id, save.children.size());
    opts.observer->Enqueued(WorkerObserver::Source::kChildren,
                            static_cast<int>(save.children.size()));
    return JobResult::Done();
  }

  // Runs a multi-step job from its saved step, saving the next step and the checkpoint after
  // each step (fenced by the lease, like an outcome).
  JobResult RunSteps(const Job& job, const std::vector<Step>& steps, RunningJob& rj) {
    auto index = [&](const std::string& name) -> std::optional<size_t> {
      for (size_t i = 0; i < steps.size(); ++i) {
        if (steps[i].name == name) return i;
      }
      return std::nullopt;
    };
    auto at = job.step.empty() ? std::optional<size_t>(0) : index(job.step);
    if (!at) return JobResult::Discard(fmt::format("kind '{}' has no step '{}'", job.kind, job.step));
    size_t i = *at;
    Json checkpoint = job.checkpoint;
    while (true) {
      StepContext sc{{job, rj.token, ProgressReporter(job)}, steps[i].name, checkpoint,
                     std::nullopt, {}, [this, &job] { return Children(job); }};
      JobResult r = steps[i].run(sc);
      if (r.kind == JobResult::Kind::kSnooze) {
        // A nap: this step runs again when it ends, with the checkpoint it left.
        if (!Save(job, {.step = steps[i].name, .checkpoint = sc.checkpoint})) return Taken();
        return r;
      }
      if (r.kind != JobResult::Kind::kDone) return r;
      std::optional<size_t> next = sc.next ? index(*sc.next) : std::optional<size_t>(i + 1);
      if (!next) {
        return JobResult::Discard(
            fmt::format("step '{}' jumped to '{}', which kind '{}' does not have",
                        steps[i].name, *sc.next, job.kind));
      }
      if (*next == steps.size()) {
        if (sc.enqueue.empty()) return r;
        return JobResult::Discard(fmt::format(
            "step '{}' enqueued children but no step follows it to see them", steps[i].name));
      }
      checkpoint = std::move(sc.checkpoint);
      JobSaveParams save{.step = steps[*next].name, .checkpoint = checkpoint,
                         .children = std::move(sc.enqueue)};
      if (!save.children.empty()) return Wait(job, std::move(save), rj);
      if (!Save(job, save)) return Taken();
      // Stopped, cancelled or shutting down between steps: end here, at the checkpoint.
      if (rj.token.cancelled()) return JobResult::Error("cancelled between steps");
      i = *next;
    }
  }

  // What a command reads on stdin: the job, its step and checkpoint, and its children's
  // outcomes once it has children.
  Json CommandInput(const Job& job) {
    Json input{{"id", job.id},
               {"kind", job.kind},
               {"queue", job.queue},
               {"args", job.args},
               {"attempt", job.attempt},
               {"started_at", job.started_at ? Json(core::FormatRfc3339(*job.started_at)) : Json()},
               {"max_attempts", job.max_attempts},
               {"attempts_used", job.attempts_used},
               {"step", job.step.empty() ? Json() : Json(job.step)},
               {"checkpoint", job.checkpoint}};
    if (job.children_total > 0) {
      Json children = Json::array();
      for (const auto& c : Children(job)) {
        children.push_back({{"id", c.id},
                            {"kind", c.kind},
                            {"state", ToString(c.state)},
                            {"result", c.result},
                            {"error", c.errors.empty() ? Json() : Json(c.errors.back().message)}});
      }
      input["children"] = std::move(children);
    }
    return input;
  }

  // Runs an external command: the job as JSON on stdin, with its step, checkpoint and children;
  // exit 0 = done, 75 = retry, else error. Protocol lines on stdout (runtime/command_protocol.h)
  // save checkpoints and progress at once, and enqueue children or nap at a clean exit.
  // How a kind's command runs, the same for every job (a helper's, for all its jobs).
  runtime::CommandRun CommandBase(const CommandOptions& cmd) {
    runtime::CommandRun run;
    run.argv = cmd.argv;
    run.kill_grace = cmd.kill_grace;
    run.fence = &command_fence;
    run.output_limit = kCommandLineLimit;  // also the longest protocol line
    runtime::ApplyCommandControls(cmd, &run);
    return run;
  }

  JobResult RunCommand(const Job& job, const CommandOptions& cmd, RunningJob& rj) {
    using runtime::LineUse;
    runtime::CommandRun run = CommandBase(cmd);
    const std::string input = CommandInput(job).dump() + "\n";
    runtime::CommandLine at_exit;  // children and a nap, with the checkpoint they belong to
    Json result;
    std::optional<int> status;  // a helper's end of the job
    std::string status_error;
    std::string bad_status;  // why a helper's line with a "status" was not obeyed
    std::string save_error;
    auto progress = ProgressReporter(job);
    runtime::IgnoredLines ignored(job.id, job.attempt);
    std::function<void(size_t)> overlong = [&](size_t bytes) {
      ignored.TooLong(bytes, run.output_limit);
    };
    auto on_line = [&](std::string_view text) -> LineUse {
      std::string why;
      auto line = runtime::ParseCommandLine(text, &why);
      if (!why.empty()) ignored.NotObeyed(why);
      if (!line && cmd.helper && !why.empty() &&
          Json::parse(text, nullptr, false).contains("status")) {
        // Meant to end the job: waiting on for another would only end it at its timeout.
        bad_status = why;
        return LineUse::kEndsJob;
      }
      if (!line) return LineUse::kOutput;
      if (line->status && !cmd.helper) {
        ignored.NotObeyed("'status' ends a job only in a long-lived helper (helper = true)");
        return LineUse::kOutput;
      }
      if (line->result) result = *line->result;
      if (line->progress) {
        progress((*line->progress)["fraction"], (*line->progress)["message"].get<std::string>());
      }
      const LineUse use = line->status ? LineUse::kEndsJob : LineUse::kObeyed;
      if (line->status) {
        status = line->status;
        status_error = line->error.value_or("");
      }
      if (line->AtExit()) {  // saved at a clean exit, with the children it belongs to
        if (line->checkpoint) at_exit.checkpoint = line->checkpoint;
        if (line->next) at_exit.next = line->next;
        if (line->nap) at_exit.nap = line->nap;
        for (auto& c : line->enqueue) at_exit.enqueue.push_back(std::move(c));
        return use;
      }
      if (!line->checkpoint && !line->next) return use;
      // The newest checkpoint wins, also over one an earlier at-exit line left.
      if (line->checkpoint) at_exit.checkpoint.reset();
      if (line->next) at_exit.next.reset();
      try {
        if (!Save(job, {.step = line->next, .checkpoint = line->checkpoint})) {
          save_error = Taken().message;
        }
      } catch (const std::exception& e) {
        save_error = fmt::format("could not save the command's checkpoint: {}", e.what());
      }
      if (!save_error.empty()) rj.token.Cancel();
      return use;
    };
    runtime::CommandResult r;
    if (cmd.helper) {
      auto h = helpers.at(job.kind)->Run(input, rj.deadline, &rj.token, on_line, overlong);
      r = h.process;
      if (h.ended) {
        r.started = true;
        r.exit_code = status.value_or(255);
      } else if (r.timed_out) {
        rj.timed_out = true;
      }
      if (!h.ended && save_error.empty()) return JobResult::Error(h.Describe());
    } else {
      run.stdin_data = input;
      run.deadline = rj.deadline;
      run.cancel = &rj.token;
      run.on_stdout_line = [&](std::string_view t) { return on_line(t) != LineUse::kOutput; };
      run.on_overlong_line = overlong;
      r = runtime::RunCommand(run);
      if (r.timed_out) rj.timed_out = true;
    }
    if (!save_error.empty()) return JobResult::Error(save_error);
    if (!bad_status.empty()) {
      return JobResult::Error("the helper ended the job with a status line that is not obeyed: " +
                              bad_status);
    }
    if (status && *status != 0) {
      return JobResult::Error(fmt::format("the helper ended the job with status {}{}", *status,
                                          status_error.empty() ? "" : ": " + status_error));
    }
    if (r.started && !r.timed_out && !r.cancelled && r.exit_code == 0) {
      JobSaveParams save{.step = at_exit.next, .checkpoint = at_exit.checkpoint,
                         .children = std::move(at_exit.enqueue)};
      if (!save.children.empty()) return Wait(job, std::move(save), rj);
      if (!at_exit.nap) return JobResult::Done(std::move(result));
      if ((save.step || save.checkpoint) && !Save(job, save)) return Taken();
      return JobResult::Snooze(*at_exit.nap);
    }
    if (r.started && r.exit_code == 75) {
      return JobResult::Error("command asked to be retried (exit 75)" +
                              (r.stderr_tail.empty() ? "" : "; stderr: " + r.stderr_tail));
    }
    return JobResult::Error(r.Describe());
  }

  static JobOutcome Release(const Job& job) {
    return {job.id, job.attempt, JobOutcome::Kind::kRelease, "", Millis(0)};
  }

  // --- completer -------------------------------------------------------------------------

  void Finish(JobOutcome o) {
    {
      std::lock_guard lock(done_mu);
      done.push_back(std::move(o));
    }
    if (completer) completer->Wake();
  }

  bool Complete() {
    std::vector<JobOutcome> batch;
    {
      std::lock_guard lock(done_mu);
      batch.swap(done);
      writing = batch;  // their leases are still renewed while they are written
    }
    struct Written {
      Impl* self;
      ~Written() {
        std::lock_guard lock(self->done_mu);
        self->writing.clear();
      }
    } written{this};
    if (batch.empty()) return false;
    // One outcome per attempt: a hand-back at shutdown may race the handler's late result.
    std::unordered_map<std::string, bool> seen;
    std::erase_if(batch, [&](const JobOutcome& o) {
      return !seen.emplace(fmt::format("{}/{}", o.id, o.attempt), true).second;
    });
    constexpr size_t kChunk = 5000;
    for (size_t start = 0; start < batch.size(); start += kChunk) {
      std::vector<JobOutcome> chunk(batch.begin() + start,
                                    batch.begin() + std::min(batch.size(), start + kChunk));
      std::vector<std::string> applied;
      try {
        applied = FinishChunk(chunk);
      } catch (const Error&) {
        // Unavailable: keep what was not written; completion is fenced, so writing an outcome
        // again is safe (it is refused where the first write went through).
        std::lock_guard lock(done_mu);
        done.insert(done.begin(), batch.begin() + start, batch.end());
        throw;
      }
      std::unordered_map<std::string_view, bool> ok;
      for (const auto& id : applied) ok[id] = true;
      for (const auto& o : chunk) {
        bool told;
        {
          std::lock_guard lock(done_mu);
          told = told_to_give_up.erase({o.id, o.attempt}) > 0;
        }
        if (!ok.count(o.id)) {
          ++lost;
          // Expected when this worker was told to give the attempt up (a person's stop or
          // cancel, a cluster stop): said at info then, when it was told.
          core::Log().log(told ? spdlog::level::debug : spdlog::level::warn,
                          "event=lease_lost job={} attempt={} outcome_dropped=true", o.id,
                          o.attempt);
        } else if (o.kind == JobOutcome::Kind::kCompleted) {
          ++completed;
        } else if (o.kind != JobOutcome::Kind::kRelease) {
          ++errored;
        }
      }
    }
    return false;
  }

  static bool Unavailable(const std::exception& e) {
    auto* error = dynamic_cast<const Error*>(&e);
    return error && error->code() == ErrorCode::kUnavailable;
  }

  // Writes a chunk of outcomes in one batch. When the database refuses the batch itself (or
  // one outcome cannot even be sent), writes them one by one, so that one bad outcome cannot
  // hold back the others. Throws Error(kUnavailable) when the database is gone.
  std::vector<std::string> FinishChunk(const std::vector<JobOutcome>& chunk) {
    try {
      return store->JobFinishMany(opts.id, chunk);
    } catch (const std::exception& e) {
      if (Unavailable(e)) throw;
      return FinishOneByOne(chunk, e.what());
    }
  }

  // Writes outcomes one at a time. One the database refuses is written again without what it
  // reported (its message and result), so that an attempt that ran always ends: a completed
  // job stays completed. Throws Error(kUnavailable) when the database is gone.
  std::vector<std::string> FinishOneByOne(const std::vector<JobOutcome>& chunk,
                                          std::string_view why) {
    core::Log().error("event=finish_batch_refused outcomes={} error={}", chunk.size(),
                      core::LogValue(why));
    std::vector<std::string> applied;
    for (auto o : chunk) {
      for (int tries = 0; tries < 2; ++tries) {
        try {
          auto one = store->JobFinishMany(opts.id, {o});
          applied.insert(applied.end(), one.begin(), one.end());
          break;
        } catch (const std::exception& one_error) {
          if (Unavailable(one_error)) throw;
          core::Log().error("event=finish_refused job={} error={}", o.id,
                            core::LogValue(one_error.what()));
        }
        o.message = "(the outcome's message could not be stored)";
        o.result = Json();
      }
    }
    return applied;
  }

  // --- maintenance -----------------------------------------------------------------------

  // Cancels handlers whose deadline passed, and fences this worker: touches no database, so it
  // runs however the database fares.
  bool Watch() {
    auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard lock(running_mu);
      for (auto& [key, rj] : running) {
        if (now >= rj->deadline && !rj->timed_out.exchange(true)) rj->token.Cancel();
        // A C++ handler can only be asked to stop; one that ignores its timeout keeps its
        // lease (its job must not run twice at once) and is named once.
        if (now >= rj->deadline + opts.lease && !rj->overrun.exchange(true)) {
          core::Log().error("event=handler_ignores_timeout job={} attempt={}", rj->id,
                            rj->attempt);
        }
      }
    }
    CheckFence(now);
    return false;
  }

  // Whether a fetched job may start now. Not when this worker is fenced, nor when the job may
  // have been given to others meanwhile: this worker was evicted (and registered again) since
  // the fetch, or the fetch's lease could have run out. That happens to a worker that was
  // frozen (SIGSTOP, a long pause) between fetching a job and starting it.
  bool MayStart(const Fetched& f) {
    auto now = std::chrono::steady_clock::now();
    CheckFence(now);
    return !fenced && f.registration == coordinator->registrations() &&
           now < std::max(f.sent, last_renewal.load()) + opts.lease - fence_margin;
  }

  // Self-fencing (docs/coordination.md, "Guarantees"). Peers may rescue this worker's jobs once
  // the database has not heard from it for its heartbeat timeout (eviction), or once a lease
  // ran out. Both clocks start when the last accepted heartbeat or renewal was *sent*, so they
  // start no later than the database's. A fence margin before the first of them, this worker
  // stops fetching and stops its running attempts (a command is SIGTERMed, SIGKILLed after its
  // kill_grace), so that nothing it runs is alive when a peer may start it again.
  void CheckFence(SteadyTime now) {
    SteadyTime contact = std::min(coordinator->last_heartbeat() + opts.cluster.heartbeat_timeout,
                                  last_renewal.load() + opts.lease);
    // The backstop, for when this worker cannot act: supervisors kill its commands by then.
    command_fence.Set(contact - runtime::kFenceSlack);
    bool cut_off = now > contact - fence_margin;
    if (cut_off && !fenced.exchange(true)) {
      core::Log().warn("event=fenced worker={} (the database has not heard from this worker; "
                       "stopping its jobs before peers may rescue them)",
                       opts.id);
      GiveUp(nullptr);
    } else if (!cut_off && fenced.exchange(false)) {
      core::Log().info("event=unfenced worker={}", opts.id);
      for (auto& q : queues) q->producer->Wake();
    }
  }

  // Renews the leases of the attempts this worker holds: fetched and waiting, running (for as
  // long as their handler or command runs, also past its timeout and after the job was stopped
  // or cancelled: nobody may run the job again while its process is alive), and finished with
  // the outcome not yet written.
  bool RenewLeases() {
    auto sent = std::chrono::steady_clock::now();
    std::vector<JobRef> held;
    for (auto& q : queues) {
      std::lock_guard lock(q->mu);
      for (const auto& f : q->ready) held.push_back({f.job.id, f.job.attempt});
    }
    {
      std::lock_guard lock(running_mu);
      for (const auto& [key, rj] : running) held.push_back({rj->id, rj->attempt});
    }
    {
      std::lock_guard lock(done_mu);
      for (const auto* outcomes : {&done, &writing}) {
        for (const auto& o : *outcomes) held.push_back({o.id, o.attempt});
      }
    }
    auto renewal = store->JobLeaseRenew(opts.id, held, opts.lease);
    last_renewal = sent;
    opts.observer->LeasesRenewed(renewal.renewed, static_cast<int>(renewal.give_up.size()));
    if (!renewal.give_up.empty()) GiveUp(&renewal.give_up);
    return false;
  }

  bool Listen() {
    Notices notices;
    try {
      notices = store_listener->Wait(Millis(200));
    } catch (const Error&) {
      listener_broken = true;
      throw;
    }
    for (Millis lag : notices.lags) opts.observer->Notified(lag);
    bool all = listener_broken.exchange(false);  // notifications may have been missed
    if (all || notices.members) coordinator->Wake();
    // A job this worker runs was stopped or cancelled: the renewal says which.
    if (all || notices.taken_elsewhere ||
        std::find(notices.workers.begin(), notices.workers.end(), opts.id) !=
            notices.workers.end()) {
      renewer->Wake();
    }
    const auto& names = notices.queues;
    for (auto& q : queues) {
      bool hit = all || std::find(names.begin(), names.end(), q->opts.name) != names.end();
      if (!hit) continue;
      {
        std::lock_guard lock(q->mu);
        ++q->wakeups;
        q->more = true;
      }
      q->producer->Wake();
    }
    return false;
  }

  int InFlight() {
    int n = 0;
    for (auto& q : queues) {
      std::lock_guard lock(q->mu);
      n += q->in_flight;
    }
    return n;
  }

  // --- lifecycle -------------------------------------------------------------------------

  void Start() {
    if (started) return;
    if (handlers.empty() && commands.empty() && step_kinds.empty() && assignments.empty()) {
      throw Error(ErrorCode::kInvalidArgument,
                  "the worker has no handlers: register a C++ handler or configure a command "
                  "([kinds.NAME] command = [...]) for at least one kind, or an assignment");
    }
    // The longest a running attempt takes to die once told to: a command's kill_grace (a C++
    // handler is only told; see Watch). It must fit before peers may rescue the job.
    Millis longest_stop{0};
    std::string slowest = "a job";
    for (const auto& [kind, c] : commands) {
      if (c.kill_grace > longest_stop) {
        longest_stop = c.kill_grace;
        slowest = fmt::format("a job of kind '{}' (kill_grace)", kind);
      }
    }
    runtime::CheckFenceMargin(opts.cluster, opts.lease, longest_stop, slowest);
    fence_margin = runtime::FenceMargin(longest_stop);
    for (const auto& [kind, h] : handlers) kinds.push_back(kind);
    for (const auto& [kind, c] : commands) {
      kinds.push_back(kind);
      if (c.helper) helpers[kind] = std::make_unique<runtime::HelperPool>(CommandBase(c),
                                                                          c.max_jobs_per_process);
    }
    for (const auto& [kind, st] : step_kinds) kinds.push_back(kind);
    try {
      StartServices();
    } catch (...) {
      started = true;
      Stop();  // whatever did start is stopped again
      throw;
    }
    started = true;
    core::Log().info("event=worker_started worker={} queues={} kinds={}", opts.id,
                     opts.queues.size(), kinds.size());
  }

  // Runs a step of the start. A SQLite file another process holds locked past the busy timeout
  // (a worker frozen in the middle of a write) is waited for, up to the heartbeat timeout, as
  // the running loops wait for it; any other error fails the start at once.
  void Patiently(const std::function<void()>& step) {
    auto until = std::chrono::steady_clock::now() + opts.cluster.heartbeat_timeout;
    while (true) {
      try {
        step();
        return;
      } catch (const Error& e) {
        if (!StillLocked(e) || std::chrono::steady_clock::now() >= until) throw;
        core::Log().warn("event=start_waits worker={} error={}", opts.id,
                         core::LogValue(e.what()));
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
  }

  // Migrates, and records what this worker declares (all of it idempotent).
  void RecordDeclarations() {
    store->Migrate();
    // Recorded before the worker joins: whoever sees it serve a kind sees its defaults too.
    std::map<std::string, KindDefaults> defaults;
    for (const auto& kind : kinds) {
      if (auto it = opts.kinds.find(kind); it != opts.kinds.end() && !it->second.empty()) {
        defaults.insert(*it);
      }
    }
    store->KindRegister(opts.id, defaults);
    if (opts.schedules) store->ScheduleSync(*opts.schedules, /*remove_others=*/true);
    std::map<std::string, QueueSettings> queue_settings;
    for (const auto& q : opts.queues) queue_settings[q.name] = q.Settings();
    store->QueueRegister(queue_settings);
    store->LimitRegister(opts.limits);
    limits.Read(*store);
  }

  void StartServices() {
    StoreOptions so{opts.database_url, static_cast<int>(opts.queues.size()) + 4, opts.clock};
    store = OpenStore(so);
    Patiently([&] { RecordDeclarations(); });
    std::vector<std::string> queue_names;
    for (const auto& q : opts.queues) queue_names.push_back(q.name);
    limits.WarnOfUndeclared(opts.limits, queue_names, kinds);
    MemberInfo me{.id = opts.id, .host = HostName(), .pid = getpid(), .version = SPINDLE_VERSION};
    me.incarnation = fmt::format("{:016x}", std::mt19937_64{std::random_device{}()}());
    for (const auto& q : opts.queues) {
      me.queues.push_back(q.name);
      me.concurrency[q.name] = q.concurrency;
    }
    me.kinds = kinds;
    std::sort(me.kinds.begin(), me.kinds.end());
    coordinator = std::make_unique<runtime::Coordinator>(*store, me, opts.cluster);
    if (opts.slots > 0) {
      std::vector<regulation::QueueShare> shares;
      for (const auto& q : opts.queues) shares.push_back({q.name, q.weight, q.concurrency});
      budget = std::make_unique<regulation::SlotBudget>(opts.slots, std::move(shares));
      std::string start;
      for (const auto& [name, n] : budget->Targets()) {
        start += fmt::format("{}{}={}", start.empty() ? "" : ",", name, n);
      }
      core::Log().info("event=slots_start worker={} slots={} shares={}", opts.id, opts.slots,
                       core::LogValue(start));
      sharer = std::make_unique<LoopService>("slots", opts.share_interval, [this] { return Share(); });
      // Each heartbeat records the queues' slots now, which `spindle workers list` shows.
      coordinator->concurrency_now = [this] { return budget->Targets(); };
    }
    for (auto& [name, role, handler] : assignments) coordinator->AddAssignment(name, role, handler);
    coordinator->on_evicted = [this] { GiveUp(nullptr); };
    coordinator->observer = opts.observer;
    Patiently([&] { coordinator->Start(); });
    last_renewal = std::chrono::steady_clock::now();
    completer = std::make_unique<LoopService>("completer", Millis(1000), [this] { return Complete(); });
    watchdog = std::make_unique<LoopService>("watchdog", Millis(50), [this] { return Watch(); });
    // Three renewals fit in what the fence leaves of a lease: a slow one or two do not fence.
    renewer = std::make_unique<LoopService>("lease_renewer", (opts.lease - fence_margin) / 3,
                                            [this] { return RenewLeases(); });
    maintenance = std::make_unique<maintenance::Maintenance>(
        *store,
        maintenance::MaintenanceOptions{.rescue_interval = opts.rescue_interval,
                                        .expire_interval = opts.expire_interval,
                                        .retention = opts.retention,
                                        .clock = opts.clock,
                                        .observer = opts.observer,
                                        .worker_id = opts.id},
        [this] { return coordinator->leader(); });
    run_stats_flusher = std::make_unique<LoopService>("run_stats", opts.stats_interval, [this] {
      store->KindStatsFlush(run_stats.Take());
      return false;
    });
    limits_reader = std::make_unique<LoopService>("limits", opts.cluster.heartbeat_interval, [this] {
      limits.Read(*store);
      return false;
    });
    Millis poll = store->capabilities().notifies_other_processes ? opts.poll_interval
                                                                 : opts.poll_interval_no_notify;
    for (const auto& qo : opts.queues) {
      auto q = std::make_unique<Queue>();
      q->opts = qo;
      Queue* raw = q.get();
      q->producer = std::make_unique<LoopService>("producer:" + qo.name, poll,
                                                  [this, raw] { return Produce(*raw); });
      queues.push_back(std::move(q));
    }
    store_listener = store->Listen();
    store_listener->Wait(Millis(0));  // listening before the first fetch: no wake-up is missed
    listener = std::make_unique<LoopService>("listener", Millis(0), [this] { return Listen(); });
    completer->Start();
    watchdog->Start();
    renewer->Start();
    maintenance->Start();
    run_stats_flusher->Start();
    limits_reader->Start();
    if (sharer) sharer->Start();
    for (auto& q : queues) {
      for (int i = 0; i < q->opts.concurrency; ++i) {
        q->executors.emplace_back([this, raw = q.get()] { Execute(*raw); });
      }
      q->producer->Start();
      q->producer->Wake();
    }
    if (listener) listener->Start();
  }

  // Hands back the fetched, not yet started jobs that `which` selects. Called with q.mu held.
  template <typename Pred>
  int HandBack(Queue& q, Pred which) {
    auto keep = std::stable_partition(q.ready.begin(), q.ready.end(),
                                      [&](const Fetched& f) { return !which(f.job); });
    int n = static_cast<int>(q.ready.end() - keep);
    for (auto it = keep; it != q.ready.end(); ++it) Finish(Release(it->job));
    q.ready.erase(keep, q.ready.end());
    q.in_flight -= n;
    if (q.in_flight == 0) q.idle_cv.notify_all();
    Freed(q, n);
    return n;
  }

  // Stops working on attempts that are no longer this worker's (`refs`, or all of them when
  // null): they were stopped, cancelled, handed back by a cluster stop, given to others when
  // this worker was evicted, or this worker fenced itself. Waiting ones are handed back, running
  // handlers are cancelled; the outcomes are hand-backs, which fencing refuses where the job
  // moved on (and which then free the lease the attempt still held).
  void GiveUp(const std::vector<JobRef>* refs) {
    std::set<AttemptKey> which;
    if (refs) {
      for (const auto& r : *refs) which.emplace(r.id, r.attempt);
      std::lock_guard lock(done_mu);
      told_to_give_up.insert(which.begin(), which.end());
    }
    auto mine = [&](const std::string& id, int attempt) {
      return !refs || which.count({id, attempt}) > 0;
    };
    int n = 0;
    for (auto& q : queues) {
      std::lock_guard lock(q->mu);
      n += HandBack(*q, [&](const Job& j) { return mine(j.id, j.attempt); });
    }
    std::lock_guard lock(running_mu);
    for (auto& [key, rj] : running) {
      if (!mine(key.first, key.second) || rj->shutdown.exchange(true)) continue;
      rj->token.Cancel();
      ++n;
      // Not a failure: a person stopped or cancelled it, or the cluster was stopped (or, rarely,
      // a peer rescued it).
      if (refs) {
        core::Log().info("event=job_given_up job={} attempt={} worker={} (stopped, cancelled or "
                         "handed back elsewhere)",
                         key.first, key.second, opts.id);
      }
    }
    if (n) core::Log().info("event=jobs_given_up worker={} jobs={}", opts.id, n);
  }

  void Stop() {
    if (!started || stopped) return;
    stopped = true;
    core::Log().info("event=worker_stopping worker={} grace_ms={}", opts.id,
                 opts.shutdown_grace.count());
    if (coordinator) coordinator->StopAssignments();
    // 0. Nothing more on the cluster's behalf: no scheduled jobs enqueued, none rescued or expired
    // by a worker on its way out.
    if (maintenance) maintenance->Stop();
    // 1. Stop fetching; hand back what was fetched but not started.
    if (listener) listener->Stop();
    for (auto& q : queues) {
      {
        std::lock_guard lock(q->mu);
        q->stopping = true;
      }
      if (q->producer) q->producer->Stop();
      std::lock_guard lock(q->mu);
      HandBack(*q, [](const Job&) { return true; });
    }
    // 2. Let running jobs finish within the grace period.
    auto deadline = std::chrono::steady_clock::now() + opts.shutdown_grace;
    WaitIdle(deadline);
    // 3. Cancel the rest; they hand themselves back when their handlers return. Commands are
    // SIGKILLed after their kill_grace. A C++ handler that ignores its token is waited for: its
    // job is not handed back while it runs (it would run twice), and its lease is renewed
    // meanwhile. It is named every 10 s.
    GiveUp(nullptr);
    while (!WaitIdle(std::chrono::steady_clock::now() + Millis(10000))) {
      std::lock_guard lock(running_mu);
      for (auto& [key, rj] : running) {
        core::Log().warn("event=stop_waits_for_handler job={} attempt={}", rj->id, rj->attempt);
      }
    }
    for (auto& q : queues) {
      {
        std::lock_guard lock(q->mu);
        q->executors_exit = true;
      }
      q->ready_cv.notify_all();
      for (auto& t : q->executors) t.join();
    }
    helpers.clear();  // nothing runs on them any more: they are told to exit
    // 4. Write every outcome, then stop maintenance and leave the cluster.
    if (!completer) {  // Start failed before anything ran
      if (coordinator) coordinator->Stop();
      return;
    }
    completer->Stop();
    for (int i = 0; i < 20; ++i) {
      try {
        completer->RunOnce();
        break;
      } catch (const std::exception& e) {
        core::Log().warn("event=final_flush_failed error={}", core::LogValue(e.what()));
        std::this_thread::sleep_for(Millis(250));
      }
    }
    for (auto* s : {watchdog.get(), renewer.get(), run_stats_flusher.get(), limits_reader.get(),
                    sharer.get()}) {
      if (s) s->Stop();
    }
    try {
      if (run_stats_flusher) run_stats_flusher->RunOnce();  // what this worker measured last
    } catch (const std::exception& e) {
      core::Log().warn("event=run_stats_flush_failed error={}", core::LogValue(e.what()));
    }
    if (coordinator) coordinator->Stop();
    core::Log().info("event=worker_stopped worker={}", opts.id);
  }

  bool WaitIdle(SteadyTime deadline) {
    for (auto& q : queues) {
      std::unique_lock lock(q->mu);
      if (!q->idle_cv.wait_until(lock, deadline, [&] { return q->in_flight == 0; })) return false;
    }
    return true;
  }

  WorkerOptions opts;
  std::unordered_map<std::string, Handler> handlers;
  std::unordered_map<std::string, CommandOptions> commands;
  std::unordered_map<std::string, std::vector<Step>> step_kinds;
  struct DeclaredAssignment {
    std::string name, role;
    AssignmentHandler handler;
  };
  std::vector<DeclaredAssignment> assignments;
  std::vector<std::string> kinds;  // every kind with a handler: the only ones fetched
  std::unique_ptr<Store> store;
  std::unique_ptr<runtime::Coordinator> coordinator;  // uses store: destroyed before it
  std::unique_ptr<StoreListener> store_listener;
  std::vector<std::unique_ptr<Queue>> queues;

  std::mutex running_mu;
  std::map<AttemptKey, std::shared_ptr<RunningJob>> running;
  std::atomic<int> running_count{0};
  // Self-fencing: when the last renewal the database accepted was sent, and whether this worker
  // is fenced now (fetches nothing, starts nothing).
  std::atomic<SteadyTime> last_renewal{std::chrono::steady_clock::now()};
  std::atomic<bool> fenced{false};
  Millis fence_margin{0};
  runtime::CommandFence command_fence;
  // Long-lived helpers by kind (runtime/helper.h); they use command_fence.
  std::unordered_map<std::string, std::unique_ptr<runtime::HelperPool>> helpers;

  std::mutex done_mu;
  std::vector<JobOutcome> done;     // outcomes waiting for the completer
  // Attempts a renewal or notice told this worker to give up: their refused outcomes are expected.
  std::set<AttemptKey> told_to_give_up;
  std::vector<JobOutcome> writing;  // outcomes the completer is writing now

  runtime::RunStats run_stats;
  runtime::LimitsCache limits;
  std::unique_ptr<regulation::SlotBudget> budget;  // adaptive concurrency; null: off
  std::unique_ptr<LoopService> completer, watchdog, renewer, listener, run_stats_flusher,
      limits_reader, sharer;
  // The leader's loops (rescuer, expirer, scheduler); uses store and coordinator.
  std::unique_ptr<maintenance::Maintenance> maintenance;
  std::atomic<bool> listener_broken{false};
  std::atomic<int64_t> fetched{0}, completed{0}, errored{0}, lost{0};
  bool started = false;
  bool stopped = false;
};

Worker::Worker(WorkerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Worker::~Worker() { Stop(); }

void Worker::Register(const std::string& kind, Handler handler) {
  impl_->handlers[kind] = std::move(handler);
}

void Worker::RegisterSteps(const std::string& kind, std::vector<Step> steps) {
  std::set<std::string> names;
  for (const auto& st : steps) {
    if (st.name.empty() || !st.run || !names.insert(st.name).second) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("steps of kind '{}' need distinct, non-empty names and functions",
                              kind));
    }
  }
  if (steps.empty()) {
    throw Error(ErrorCode::kInvalidArgument, fmt::format("kind '{}' has no steps", kind));
  }
  impl_->step_kinds[kind] = std::move(steps);
}

void Worker::RegisterCommand(const std::string& kind, CommandOptions command) {
  if (command.argv.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "command for kind '" + kind + "' is empty");
  }
  runtime::ValidateCommandControls(kind, command);
  impl_->commands[kind] = std::move(command);
}

void Worker::RegisterAssignment(const std::string& name, const std::string& role,
                                AssignmentHandler handler) {
  impl_->assignments.push_back({name, role, std::move(handler)});
}

void Worker::RegisterAssignmentCommand(const std::string& name, const std::string& role,
                                       CommandOptions command) {
  if (command.argv.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "command for assignment '" + name + "' is empty");
  }
  RegisterAssignment(name, role,
                     runtime::CommandAssignment(role, impl_->opts.id, command,
                                                &impl_->command_fence));
}

std::vector<std::string> Worker::assignments() const {
  return impl_->coordinator ? impl_->coordinator->running() : std::vector<std::string>{};
}

void Worker::Start() { impl_->Start(); }
void Worker::KillCommands() { runtime::KillAllCommandGroups(); }
void Worker::Stop() { impl_->Stop(); }
const std::string& Worker::id() const { return impl_->opts.id; }

Worker::Stats Worker::stats() const {
  return {impl_->fetched.load(), impl_->completed.load(), impl_->errored.load(),
          impl_->lost.load()};
}

}  // namespace spindle
