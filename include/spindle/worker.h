// The worker runtime: fetches jobs from the database and runs their handlers.
//
// A Worker owns its threads and database connections. Register handlers, then Start(); Stop()
// (or the destructor) shuts down gracefully. Register*/Start/Stop are called from one thread;
// everything else is internal.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "spindle/clock.h"
#include "spindle/cluster.h"
#include "spindle/handler.h"
#include "spindle/job.h"
#include "spindle/limit.h"
#include "spindle/observer.h"
#include "spindle/schedule.h"

namespace spindle {

struct QueueOptions {
  std::string name = "default";
  // Jobs of this queue run at once in this worker. Default: 10.
  int concurrency = 10;
  // Fetch order and shedding (docs/jobs.md, "Deadlines"). Start() records them in the database
  // (the last worker to start wins); each worker fetches in the order it declares.
  QueueOrder order = QueueOrder::kFifo;
  bool shed = false;
  // Fair shares between tenants (QueueSettings::fair_key, docs/regulation.md), recorded the same
  // way.
  std::optional<std::string> fair_key;
  std::map<std::string, double> fair_weights;
  // Adaptive concurrency (WorkerOptions::slots): the queue's weight in the worker's slot budget,
  // 1 to 1000. Default: 1.
  int weight = 1;

  // What Start() records of it.
  QueueSettings Settings() const {
    return {.order = order, .shed = shed, .fair_key = fair_key, .fair_weights = fair_weights};
  }
};

struct BackoffOptions {
  Millis base{1000};     // delay before attempt 2. Default: 1 s
  Millis max{3600000};   // cap. Default: 1 h
  double jitter = 0.2;   // +/- fraction. Default: 0.2
};

// Resource limits of an external command (setrlimit), set on the command's process only, not on
// the supervisor that kills it. A process the command starts inherits them and has its own count.
// A value above the worker's own hard limit is capped at it. Unset: the worker's limits.
struct CommandLimits {
  // CPU time (RLIMIT_CPU): SIGXCPU at this much, SIGKILL a second later. Whole seconds, >= 1 s.
  std::optional<std::chrono::seconds> cpu;
  // Address space in bytes (RLIMIT_AS): allocations beyond it fail inside the command.
  std::optional<uint64_t> memory;
  // Open files (RLIMIT_NOFILE): opening more fails with EMFILE inside the command.
  std::optional<uint64_t> files;
};

// The environment of a kind's command when its env_allow is unset: names passed through from
// the worker's environment (a trailing '*' matches a prefix). Nothing else of the worker's
// (database URLs, SPINDLE_*, PGPASSWORD, ...) is passed on unless allowed.
inline const std::vector<std::string> kDefaultCommandEnv = {"PATH", "HOME",   "LANG", "LC_*",
                                                           "TZ",   "TMPDIR", "USER"};

// An external command run as a job handler (any language).
struct CommandOptions {
  std::vector<std::string> argv;  // exactly as executed, no shell
  // How long the command may run. Default: the worker's default_timeout.
  std::optional<Millis> timeout;
  // After SIGTERM (on timeout, cancel, stop or fencing), wait this long before SIGKILL.
  // A worker must be able to kill a command before its peers may rescue the job, so
  // kill_grace + 1 s must fit in the cluster's heartbeat_timeout (beside two heartbeat
  // intervals) and in half the lease; Start() refuses options that break this. Default: 5 s.
  Millis kill_grace{5000};
  // Controls of a kind's command (docs/jobs.md, "Commands under control"); an assignment's
  // command uses only argv and kill_grace. The niceness (0..19) the command runs at; below the
  // worker's own it fails the attempt unless the worker may lower it. Unset: the worker's.
  std::optional<int> nice;
  CommandLimits rlimits;
  // The working directory; a missing one fails the attempt. Empty: the worker's.
  std::string cwd;
  // The command's environment: these names from the worker's (unset: kDefaultCommandEnv), then
  // `env`, which wins.
  std::optional<std::vector<std::string>> env_allow;
  std::map<std::string, std::string> env;
  // A long-lived helper (docs/jobs.md, "Long-lived helpers"): one process runs many jobs, one
  // at a time, each a line on its stdin and ended by a {"status": N} line on its stdout. The
  // worker keeps one per job of the kind it runs at once. rlimits apply to the process as a
  // whole, across its jobs.
  bool helper = false;
  // A helper is recycled after this many jobs (its stdin is closed, then it is killed if it has
  // not exited after kill_grace); 0: never. Only with `helper`.
  int max_jobs_per_process = 0;
};

// Cluster coordination: membership, leader election, partitioned dispatch and assignments
// (docs/coordination.md). Every worker is a member; the rest is opt-in.
struct ClusterOptions {
  // Roles this worker takes: it runs its share of the assignments of these roles.
  std::vector<std::string> roles;
  // Partitioned dispatch: this worker's number (1-based), kAutoPartition for the lowest number
  // no member holds, or nullopt (the default) to fetch every job.
  std::optional<int> partition;
  // How often the worker heartbeats (which also announces its partition number). Default: 2 s.
  Millis heartbeat_interval{2000};
  // The worker promises to heartbeat this often; silent longer, its peers evict it and its
  // running jobs are retried at once. At least 2 heartbeat intervals. Default: 10 s.
  Millis heartbeat_timeout{10000};
  // A partition number not heard from this long no longer counts. Default: 4 s.
  Millis partition_timeout{4000};
  // A leader term lasts this long unless renewed (every heartbeat). Default: 10 s.
  Millis leader_ttl{10000};
  // An assignment moves to a new owner only after the membership was stable this long.
  // Default: 5 s.
  Millis stability_period{5000};
};

// A long-running singleton: runs on exactly one live worker of its role at a time.
struct AssignmentHandler {
  // Starts the assignment's work (on threads or processes of its own) and returns.
  std::function<void(const std::string& name)> start;
  // Stops that work and returns once it has stopped; only then may another worker start it.
  // Stops of different assignments may run in parallel.
  std::function<void(const std::string& name)> stop;
  // The longest `stop` may take to end the work. A worker cut off from the database stops its
  // assignments this much (and a second) before its peers may evict it and start them
  // elsewhere; a stop that overruns it breaks the one-instance guarantee. Default: 5 s.
  Millis stop_timeout{5000};
};

// Retention (docs/jobs.md, "Retention"): the leader deletes finished jobs, with their history,
// once they finished this long ago, by state, and the audit trail's old entries. 0: kept until deleted by hand. Defaults as River's:
// completed, cancelled and expired a day, failed a week.
struct RetentionOptions {
  Millis completed{24 * 3600 * 1000};
  Millis failed{7 * 24 * 3600 * 1000};
  Millis cancelled{24 * 3600 * 1000};
  Millis expired{24 * 3600 * 1000};
  // The HTTP API's audit trail (docs/api.md, "Audit"): entries older than this. Default: 90 days.
  Millis audit{90LL * 24 * 3600 * 1000};
  // How often the leader looks for jobs to delete. Default: 1 min.
  Millis interval{60000};
  // Jobs deleted per transaction, and the pause between two such batches (one batch takes some
  // tens of ms; the pause lets other writers in, and the pruner still keeps up with thousands of
  // jobs a second). Defaults: 1000, 10 ms.
  int batch = 1000;
  Millis pause{10};
};

struct WorkerOptions {
  std::string database_url;  // required: "postgresql://..." or "sqlite:PATH"
  // A unique name for this worker. Default: host-pid-random.
  std::string id;
  // Default: one queue "default" with concurrency 10.
  std::vector<QueueOptions> queues{QueueOptions{}};
  // Defaults for the jobs of kinds this worker handles: their queue, priority, max_attempts and
  // timeout. Start() records them in the database (the last worker to start that declares
  // defaults for a kind wins), and every enqueue of such a job applies them to what it leaves
  // unset, on whichever process or entrance (docs/jobs.md, "Kind defaults"). Entries for kinds
  // this worker has no handler for are not recorded.
  std::map<std::string, KindDefaults> kinds;
  // Periodic jobs (docs/jobs.md, "Periodic jobs"). Set: Start() makes the database's schedules
  // these (new ones added, existing ones updated keeping their state, the others removed).
  // Unset: the schedules in the database are left as they are. The leader enqueues their jobs.
  std::optional<std::vector<Schedule>> schedules;
  // Cluster-wide concurrency limits (docs/regulation.md). Start() records them (the last worker
  // to start that declares a limit of a name wins); limits it does not declare stay recorded
  // (Client::RemoveLimit removes one). Every worker fetches within all the recorded limits, which
  // it reads again every heartbeat interval.
  std::vector<Limit> limits;
  // A running job's lease; renewed three times per (lease - fence margin) while the attempt's
  // handler or command runs (docs/coordination.md, "Guarantees"). Default: 30 s.
  Millis lease{30000};
  // How often to look for jobs that no notification announced. Default: 1 s.
  Millis poll_interval{1000};
  // Used instead of poll_interval when the database cannot notify other processes (SQLite):
  // jobs enqueued by other processes are found only by polling. Default: 200 ms.
  Millis poll_interval_no_notify{200};
  // How often to rescue jobs whose lease expired. Default: 5 s.
  Millis rescue_interval{5000};
  // How often the leader expires waiting jobs whose expires_at passed (and, in queues that shed,
  // those that can no longer meet their deadline), and how often a worker records the run times
  // it measured. Default: 1 s and 10 s.
  Millis expire_interval{1000};
  Millis stats_interval{10000};
  // Timeout of a job that declares none. Default: 30 min.
  Millis default_timeout{30 * 60 * 1000};
  // On Stop(): how long running jobs may take to finish before they are cancelled and handed
  // back. Default: 30 s.
  Millis shutdown_grace{30000};
  // Most jobs fetched in one round trip. Default: 1000.
  int fetch_batch_max = 1000;
  // Adaptive concurrency (docs/regulation.md, "Adaptive concurrency"). 0 (default): each queue
  // runs up to its concurrency, whatever the others do. N > 0: this worker runs at most N jobs
  // at once across all its queues, shared among them by QueueOptions::weight and shared again
  // every `share_interval` (and when a queue's work begins to wait) from how long each queue's
  // jobs wait and run; each queue's concurrency is then the most it may get. Default: 1 s.
  int slots = 0;
  Millis share_interval{1000};
  BackoffOptions backoff;
  ClusterOptions cluster;
  RetentionOptions retention;
  // Default: the system clock.
  std::shared_ptr<Clock> clock;
  // Told what the worker does, for metrics (spindle/observer.h). Default: none.
  std::shared_ptr<WorkerObserver> observer;
};

class Worker {
 public:
  // Throws Error(kInvalidArgument) for invalid options.
  explicit Worker(WorkerOptions options);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void Register(const std::string& kind, Handler handler);
  void RegisterCommand(const std::string& kind, CommandOptions command);
  // A kind that is an ordered list of named steps with a checkpoint after each (see Step).
  // Throws kInvalidArgument for no steps, or empty or repeated names.
  void RegisterSteps(const std::string& kind, std::vector<Step> steps);
  // Declares an assignment of `role`. Every worker of that role declares the same ones.
  void RegisterAssignment(const std::string& name, const std::string& role,
                          AssignmentHandler handler);
  // An external command as an assignment: started with {"assignment", "role", "worker"} as JSON
  // on stdin, stopped with SIGTERM (SIGKILL after kill_grace), restarted if it exits by itself.
  void RegisterAssignmentCommand(const std::string& name, const std::string& role,
                                 CommandOptions command);

  // Connects, migrates, and starts fetching. Throws Error(kUnavailable) when the database
  // cannot be reached at all.
  void Start();
  // Stops fetching, lets running jobs finish within shutdown_grace, cancels and hands back the
  // rest, writes pending completions. Idempotent.
  void Stop();

  const std::string& id() const;

  // SIGKILLs, at once, every process of every command this process runs (jobs and
  // assignments), for a program about to exit without stopping (a second Ctrl-C).
  static void KillCommands();

  // Counters, for tests and the bench.
  struct Stats {
    int64_t fetched = 0;
    int64_t completed = 0;  // completion writes accepted by the database
    int64_t errored = 0;
    int64_t lost = 0;       // outcomes refused because the lease was lost (fenced)
  };
  Stats stats() const;
  // The assignments this worker runs now, by name.
  std::vector<std::string> assignments() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace spindle
