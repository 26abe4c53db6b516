// Jobs as the engine stores them, and the parameters for creating them.
//
// Plain value types: copyable, no I/O, safe to share between threads once built.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace spindle {

using Json = nlohmann::json;
using SysTime = std::chrono::system_clock::time_point;
using Millis = std::chrono::milliseconds;

// The lifecycle of a job. See docs/architecture.md for the diagram.
enum class JobState {
  kScheduled,  // run_at in the future at enqueue time
  kAvailable,  // ready to be fetched
  kRunning,    // leased to one worker
  kRetryable,  // failed an attempt; waits for run_at (back-off) to run again
  kCompleted,
  kFailed,     // attempts exhausted or discarded
  kCancelled,
  kStopped,    // stopped by a person; stays so until resumed
  kWaiting,    // waits for its children to finish (docs/jobs.md)
  kExpired,    // firm deadline missed, never run
};

std::string_view ToString(JobState s);
// Parses a state name ("available", ...). Returns nullopt for an unknown name.
std::optional<JobState> ParseJobState(std::string_view name);
// True when the state is final: the job will not run again unless a person retries it.
bool IsFinal(JobState s);

// One recorded failure of an attempt.
struct JobError {
  int attempt = 0;
  SysTime at;
  std::string message;
  Json ToJson() const;
};

// A job as stored.
struct Job {
  std::string id;  // UUIDv7, text form
  std::string kind;
  std::string queue;
  Json args = Json::object();
  int priority = 0;  // lower runs first
  SysTime run_at;
  JobState state = JobState::kAvailable;
  // Every run: the number of times it has been fetched. It only grows, which makes (id, attempt)
  // the fencing token of a run.
  int attempt = 0;
  int max_attempts = 0;  // as enqueued (a person's retry of a job that used them all adds one)
  // The attempts that count toward max_attempts, the running one included: a nap, a hand-back,
  // a person's stop, a wait for children and a cluster stop do not count.
  int attempts_used = 0;
  std::optional<Millis> timeout;  // nullopt: the worker's (a command's timeout, else default_timeout)
  std::vector<JobError> errors;
  SysTime created_at;
  std::optional<SysTime> started_at;
  std::optional<SysTime> finished_at;
  std::string lease_owner;  // empty when not leased
  std::optional<SysTime> lease_expires_at;
  // Multi-step kinds (Worker::RegisterSteps): the step to run next, and the checkpoint saved
  // with the last finished step. Empty and null before the first.
  std::string step;
  Json checkpoint;
  // Children (docs/jobs.md): the job that enqueued this one (empty: none); how many children
  // this job enqueued, and how many of them have not finished.
  std::string parent_id;
  int children_total = 0;
  int children_pending = 0;
  // The latest progress its handler reported ({"fraction": 0..1, "message": "..."}; null: none),
  // cleared when it completes; and the result it completed with (null: none).
  Json progress;
  Json result;
  // Deadlines (docs/jobs.md, "Deadlines"): when it should be finished (soft: it runs all the
  // same, and is counted as missed if it finishes later), and when it must have started by
  // (firm: a job still waiting then becomes `expired` and never runs). Unset: none.
  std::optional<SysTime> deadline;
  std::optional<SysTime> expires_at;
  // Serial keys (docs/jobs.md, "Serial keys"): the job's key (empty: none), and whether it waits
  // behind another unfinished job of its key (held: not fetched until that one is done).
  std::string serial_key;
  bool serial_held = false;
  // Unique jobs (docs/jobs.md, "Unique jobs"): the key it was enqueued with (empty: none). Read
  // by `Client::Get` (jobs show), not in lists.
  std::string unique_key;
  // Cluster-wide limits (docs/regulation.md): the limit (`name`, or `name/value` for a key's
  // value) this due job waits for room at (empty: none). Read by `Client::Get`, not in lists.
  std::string waits_for;
  // Fair shares (docs/regulation.md): in a fair queue, the job's tenant (its fair_key's value in
  // the args; "" when they lack it). Unset: not in a fair queue.
  std::optional<std::string> tenant;

  // How late it finished: finished_at - deadline, when it finished after its deadline (not
  // for an expired job, which never ran).
  std::optional<Millis> MissedBy() const;
  // At risk of missing its deadline: it still waits (scheduled, available, retryable) and its
  // kind's run-time estimate (nullopt: none yet, taken as 0) no longer fits before the deadline.
  bool AtRisk(std::optional<Millis> estimate, SysTime now) const;
  Json ToJson() const;
};

// One entry of a job's history (Client::History): a state it entered, or "step" (a running job
// moved to the step named in `detail`), or "enqueued".
struct JobEvent {
  SysTime at;
  std::string type;
  std::string detail;  // why: the error, "nap in step S", "resumed", "children finished", ...

  Json ToJson() const;
};

// How many entries a job's history keeps (the newest).
inline constexpr size_t kHistoryLimit = 50;

// The largest args accepted, as serialized JSON.
inline constexpr size_t kMaxArgsBytes = 1 << 20;

// The built-in defaults of a job, for what neither its enqueuer nor its kind says (KindDefaults).
// The backends' SQL applies the same (job_insert*.sql, spindle.enqueue).
inline constexpr const char* kDefaultQueue = "default";
inline constexpr int kDefaultPriority = 0;
inline constexpr int kDefaultMaxAttempts = 25;  // as Oban and River

// What a failing head does to the jobs behind it on its serial key (docs/jobs.md, "Serial keys").
enum class SerialPolicy {
  kBlock,     // it stays the head and blocks its key until it succeeds, fails for good or is cancelled
  kContinue,  // it goes to the end of its key's line and retries after the others
};
std::string_view ToString(SerialPolicy p);
// "block" or "continue"; nullopt for anything else.
std::optional<SerialPolicy> ParseSerialPolicy(std::string_view name);

// A kind's defaults for its jobs (docs/jobs.md, "Kind defaults"): what a worker declares for a
// kind it handles (WorkerOptions::kinds), recorded in the database when it starts and applied
// wherever a job of the kind is enqueued without saying. Unset: the built-in default.
struct KindDefaults {
  std::optional<std::string> queue;
  std::optional<int> priority;
  std::optional<int> max_attempts;
  std::optional<Millis> timeout;
  std::optional<SerialPolicy> serial;  // unset: block

  bool empty() const { return !queue && !priority && !max_attempts && !timeout && !serial; }
  // Throws spindle::Error(kInvalidArgument) naming the kind and the field.
  void Validate(const std::string& kind) const;
  Json ToJson() const;
};

// A kind's defaults as recorded (Client::Kinds): by the last worker that started declaring them.
struct KindInfo {
  std::string kind;
  KindDefaults defaults;
  std::string worker;  // the worker that recorded them
  SysTime registered_at;

  Json ToJson() const;
};

// What to enqueue. Unset fields take the kind's recorded defaults (KindDefaults), else the
// built-in ones: queue "default", priority 0, max_attempts 25, no timeout (the worker's).
struct JobSpec {
  std::string kind;               // required
  Json args = Json::object();     // must be a JSON object
  std::optional<std::string> queue;
  std::optional<int> priority;    // lower runs first
  // Default: now. A time in the future makes the job `scheduled`.
  std::optional<SysTime> run_at;
  std::optional<int> max_attempts;
  std::optional<Millis> timeout;  // none anywhere: the worker's (see Job::timeout)
  // See Job::deadline and Job::expires_at. expires_at must be after run_at when both are set.
  std::optional<SysTime> deadline;
  std::optional<SysTime> expires_at;
  // Jobs that share a serial key run one at a time, in enqueue order (docs/jobs.md).
  std::optional<std::string> serial_key;
  // Unique jobs (docs/jobs.md, "Unique jobs"): while a job with this key is in one of its
  // unique_states, enqueueing another returns that job's id instead of inserting one
  // (EnqueueResult::existing). The database enforces it, also between processes. Keys are one
  // namespace for every kind and queue. Unset: no uniqueness.
  std::optional<std::string> unique_key;
  // The key is unique within each period of this length, counted from the Unix epoch (1h: each
  // UTC hour), that the job's run_at (now when not scheduled) falls in. Unset: for all time.
  std::optional<Millis> unique_period;
  // The states in which a job holds its key; they must include kRequiredUniqueStates. Empty:
  // kDefaultUniqueStates.
  std::vector<JobState> unique_states;

  // Checks the spec; throws spindle::Error(kInvalidArgument) with a clear message.
  void Validate() const;
};

// What an enqueue did with one spec.
struct EnqueueResult {
  std::string id;         // the new job's; for a unique key already taken, the job holding it
  bool existing = false;  // a job held the spec's unique key: nothing was inserted
};

// The states in which a unique job holds its key unless its spec says: every unfinished one.
inline constexpr JobState kDefaultUniqueStates[] = {
    JobState::kScheduled, JobState::kAvailable, JobState::kRunning,
    JobState::kRetryable, JobState::kWaiting,   JobState::kStopped};
// The states every unique_states must include: the ones a job moves between on its own, so that
// no worker's change can ever collide with another job's key (only a person's retry or resume
// can, and is refused).
inline constexpr JobState kRequiredUniqueStates[] = {
    JobState::kScheduled, JobState::kAvailable, JobState::kRunning, JobState::kRetryable,
    JobState::kWaiting};
// The longest unique key, in bytes.
inline constexpr size_t kMaxUniqueKeyBytes = 1000;

// Filters for listing jobs, newest first, and for changing them in bulk. Empty fields do not
// filter.
struct JobFilter {
  std::vector<JobState> states;  // jobs in any of these states
  std::string queue;
  std::string kind;
  std::string parent_id;  // the children of this job
  std::string serial_key;  // jobs with this serial key (listing only; bulk changes refuse it)
  // Jobs whose args hold each value at its dotted path ({"customer.id", 42}: args.customer.id
  // is 42; a string never equals a number). Listing and counting only; bulk changes refuse it.
  std::vector<std::pair<std::string, Json>> args;
  std::optional<int> priority;  // jobs of this priority
  // Jobs created (enqueued) or finished between these times, each bound exclusive and optional.
  // Listing and counting only; bulk changes refuse them.
  std::optional<SysTime> created_after, created_before, finished_after, finished_before;
  // Keyset paging: only jobs older than this one (listed after it, newest first): the last id
  // of one page gives the next.
  std::string after_id;
  // Only jobs at risk of missing their deadline: still waiting (scheduled, available,
  // retryable) and deadline - their kind's run-time estimate <= now (docs/jobs.md, "Deadlines").
  bool at_risk = false;
  int limit = 100;  // Default: 100
};

// How many jobs match a filter (Client::CountUpTo): exact, or an estimate once past the cap.
struct JobTally {
  int64_t count = 0;
  bool estimate = false;
};

// The timeout a job runs with when the worker's default does not: its own, else its kind's
// recorded one (Client::Kinds).
std::optional<Millis> EffectiveTimeout(const Job& job, const std::vector<KindInfo>& kinds);

// How a kind's jobs run (Client::KindStats): the 90th percentile of its run time as its workers
// measured it (nullopt: never measured), from how many runs, and how many of its jobs finished
// after their deadline or expired.
struct KindRunStats {
  std::string kind;
  std::optional<Millis> estimate;
  int64_t samples = 0;
  int64_t missed = 0;
  int64_t expired = 0;
  SysTime updated_at;

  Json ToJson() const;
};

// One change asked of the HTTP API (Client::Audit): who asked (a token's name), what (method and
// path), when, and how it ended (the status, and the error's name when it failed).
struct AuditEntry {
  int64_t id = 0;
  std::optional<SysTime> at;
  std::string who;
  std::string method;
  std::string path;
  int status = 0;
  std::string error;

  Json ToJson() const;
};

}  // namespace spindle
