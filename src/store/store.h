// The storage seam. Every backend (PostgreSQL now, SQLite next) implements this interface and
// passes the same conformance suite (tests/store_test.cc). The runtime talks only to it.
//
// Methods are named entity-first (JobFetch, JobRescue) and take one params struct where they
// need more than an id. Time: every method that reads "now" uses the store's clock: the
// database's own clock unless a test pinned one (see spindle/clock.h).
//
// Thread-safe: implementations keep a pool of connections.
#pragma once

#include <chrono>
#include <compare>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "spindle/clock.h"
#include "spindle/cluster.h"
#include "spindle/error.h"
#include "spindle/job.h"
#include "spindle/limit.h"
#include "spindle/schedule.h"

namespace spindle {

struct StoreCapabilities {
  // "New jobs in queue Q" notifications reach other processes (PostgreSQL LISTEN/NOTIFY).
  // Without it, Listen() hears only this process's own enqueues, and workers learn of other
  // processes' jobs by polling. (It does hear, within a fraction of a second, that another
  // process took a running job from its worker: Notices::taken_elsewhere.)
  bool notifies_other_processes = false;
};

// One slot of a schedule, as the scheduler takes it (Store::ScheduleFire).
struct ScheduleFireParams {
  std::string name;
  SysTime slot;
  SysTime run_at;       // the slot's job's run_at: the slot plus its jitter
  bool enqueue = true;  // false: the slot is passed over (missed, under CatchUp::kNone)
};

// What became of a slot.
struct ScheduleFired {
  bool taken = false;   // false: paused, unknown, or the slot was taken already (by anyone)
  std::string job_id;   // the job enqueued ("" for none)
  std::string skipped;  // why none was: "missed", "overrun" (the previous job is unfinished)
  std::string replaced; // Overrun::kReplace: the previous job, cancelled
};

struct JobFetchParams {
  std::string queue;
  int limit = 1;
  std::string worker_id;
  Millis lease{30000};
  // Only jobs of these kinds (the ones the worker has handlers for).
  std::vector<std::string> kinds;
  // Partitioned dispatch: only jobs whose id hashes into one of `partitions` (0-based indexes)
  // of `partition_count`; partition_count 0 = every job. See PartitionOf.
  int partition_count = 0;
  std::vector<int> partitions;
  // Only jobs due at least this long ago (the partitioned workers' fallback scan).
  Millis overdue{0};
  // kDeadline: earliest deadline first within each priority, jobs without one after
  // (job_fetch_deadline.sql); kFifo: job_fetch.sql, untouched by deadlines.
  QueueOrder order = QueueOrder::kFifo;
  // A fair queue (QueueSettings::fair_key): by the jobs' virtual start times within each
  // priority (job_fetch_fair.sql), then, for what is left of `limit`, in `order` (jobs without
  // a time: enqueued before the queue was declared fair).
  bool fair = false;
  // The cluster-wide limits that may apply to these jobs (regulation::LimitsFor). Empty: the
  // plain fetch. Else a job starts only within them and one that cannot waits, parked
  // (docs/regulation.md); the fetch is then in priority order even in a deadline-ordered queue.
  std::vector<Limit> limits;
  // Out, when set: how long until a rate limit lets go of jobs this fetch left parked (nullopt:
  // none), so that the worker fetches again then rather than at its next poll.
  std::optional<Millis>* rate_wait = nullptr;
};

// What one worker measured of a kind's runs since its last flush (Store::KindStatsFlush): the
// 90th percentile of its recent run times (nullopt: no runs), how many runs, and how many of the
// kind's jobs finished after their deadline.
struct KindRunSample {
  std::optional<Millis> estimate;
  int64_t samples = 0;
  int64_t missed = 0;
};

// The partition (0-based, of `count`) of a job id: its last 16 bits, which are random in a
// UUIDv7 (the leading bits are a timestamp), scaled to `count`. Backends compute the same in SQL.
int PartitionOf(std::string_view job_id, int count);


// One attempt of a job, as a worker holds it.
struct JobRef {
  std::string id;
  int attempt = 0;

  auto operator<=>(const JobRef&) const = default;
};

// A finished attempt, as reported by a worker. Fenced: it applies only while the job is still
// running under (worker_id, attempt).
struct JobOutcome {
  enum class Kind { kCompleted, kError, kDiscard, kRelease };

  std::string id;
  int attempt = 0;
  Kind kind = Kind::kCompleted;
  std::string message;  // kError, kDiscard: recorded in the job's error list
  // kError: back-off before the next attempt. kRelease: when to run again; the attempt does
  // not count: max_attempts grows by one (snooze, hand-back at shutdown).
  Millis delay{0};
  Json result;  // kCompleted: the job's result (null: none)
  // The job's parent (Job::parent_id; empty: none), which a backend may lock first.
  std::string parent_id;
};

// What a running attempt saves (Store::JobSave).
struct JobSaveParams {
  std::optional<std::string> step;  // the step to run next (unset: keep)
  std::optional<Json> checkpoint;   // (unset: keep)
  std::optional<Json> progress;     // (unset: keep)
  // Enqueued as this job's children. When there are any, the job waits for them: its attempt
  // ends (without counting, as a nap's), and the last child to finish makes it available.
  std::vector<JobSpec> children;
};

// Whether `e` says the database was locked by another connection past the busy timeout (SQLite's
// one writer at a time): a wait, not a fault of the database.
bool StillLocked(const Error& e);
inline constexpr std::string_view kStillLocked = "still locked by another connection";

// JobFilter::args as the backends' list and count queries take it: a JSON array of [path, value]
// pairs; nullopt when the filter has none.
std::optional<std::string> ArgsParam(const JobFilter& filter);

// The name of an outcome kind in the backends' SQL: completed, error, discard, release.
std::string_view ToString(JobOutcome::Kind kind);

// What a listener heard.
struct Notices {
  std::vector<std::string> queues;   // "new jobs in queue Q"
  // For the notices of new jobs that say when they were sent (PostgreSQL's, from the statements
  // of this library: "QUEUE\x1fMICROSECONDS"): how long after the sending transaction began each
  // arrived, by this host's clock.
  std::vector<Millis> lags;
  bool members = false;              // the membership changed
  std::vector<std::string> workers;  // "worker W: a job you run was stopped or cancelled"
  // A running job was taken from its worker, which one unknown (SQLite, another process).
  bool taken_elsewhere = false;
};

// Receives notifications. One per listening thread.
class StoreListener {
 public:
  virtual ~StoreListener() = default;
  // Waits up to `timeout` for notifications; returns those that arrived (possibly none). Throws
  // Error(kUnavailable) when the connection is lost; the next call reconnects.
  virtual Notices Wait(Millis timeout) = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual StoreCapabilities capabilities() const = 0;

  // Applies pending migrations; safe when several processes do it at once. Returns the version
  // now in place. Throws Error(kSchemaTooNew) when the database is newer than this binary.
  virtual int Migrate() = 0;
  // The database's schema version (0 when not migrated).
  virtual int SchemaVersion() = 0;
  // The newest schema version this binary knows.
  virtual int LatestVersion() const = 0;

  // Inserts jobs in one statement and transaction, notifying once per queue with due jobs. What
  // a spec leaves unset comes from its kind's recorded defaults (KindRegister), else the
  // built-in ones. A spec whose unique key a job holds (also one earlier in the same batch) is
  // not inserted: its result is that job's id, `existing`. A batch without unique keys costs
  // what it did before unique jobs existed.
  virtual std::vector<EnqueueResult> JobInsert(const std::vector<JobSpec>& specs) = 0;
  // JobInsert's ids.
  std::vector<std::string> JobInsertMany(const std::vector<JobSpec>& specs);
  virtual std::optional<Job> JobGet(const std::string& id) = 0;
  // The history entries the backend stored for a job, oldest first: the last kHistoryLimit. The
  // whole timeline is JobTimeline of these and the job.
  virtual std::vector<JobEvent> JobEvents(const std::string& id) = 0;
  // The jobs that match `filter`, newest first, at most filter.limit.
  virtual std::vector<Job> JobList(const JobFilter& filter) = 0;
  // How many jobs match `filter` (all of them, whatever its limit).
  virtual int64_t JobCount(const JobFilter& filter) = 0;
  // The same, counted no further than `cap`; past it, an estimate (Client::CountUpTo).
  virtual JobTally JobCountUpTo(const JobFilter& filter, int64_t cap) = 0;

  // Leases up to `limit` due jobs of a queue to a worker, in priority, run_at, id order.
  // SKIP LOCKED: concurrent fetchers never get the same job. Returned jobs carry no errors.
  // A job that still carries an unexpired lease is not fetched, whatever its state: it was taken
  // from a running worker (stopped, cancelled, the cluster stopped) whose attempt may still be
  // alive; it becomes fetchable once that attempt's outcome arrives or its lease expires.
  // A fetched row with a JSON column the worker cannot read (ReadJobJson) fails alone: it ends
  // `failed` ("unreadable args: ...", fenced to this worker and attempt) and is not returned.
  virtual std::vector<Job> JobFetch(const JobFetchParams& params) = 0;
  // Applies finished attempts (batched). Returns the ids that were applied; the others had lost
  // their lease (rescued, cancelled) and were left alone. An outcome refused because its job was
  // taken from the worker (no longer running) ends the lease that worker and attempt still hold,
  // so the job is fetchable at once. Results are stored as StorableJson makes them.
  virtual std::vector<std::string> JobFinishMany(const std::string& worker_id,
                                                 const std::vector<JobOutcome>& outcomes) = 0;
  // Extends the leases of the given attempts that the worker still holds unexpired, whatever
  // the job's state: a job taken from the worker (stopped, cancelled, the cluster stopped) keeps
  // its attempt's lease while the attempt's process lives. An expired lease is never renewed.
  // Also says which of them the worker must give up: those no longer running under it at that
  // attempt (cancelled, stopped, rescued) and, while the cluster is stopped, all of them.
  struct LeaseRenewal {
    int renewed = 0;
    std::vector<JobRef> give_up;
  };
  virtual LeaseRenewal JobLeaseRenew(const std::string& worker_id,
                                     const std::vector<JobRef>& held, Millis lease) = 0;
  // Saves what a running attempt reports, in one transaction, while it still runs under the
  // worker (fenced). False: the worker lost the job, and nothing changed. JSON is stored as
  // StorableJson makes it.
  virtual bool JobSave(const std::string& worker_id, const JobRef& job,
                       const JobSaveParams& save) = 0;
  // Returns running jobs whose lease expired to be retried (or fails them when out of
  // attempts). Returns how many.
  virtual int JobRescue(int limit) = 0;
  // Makes up to `limit` waiting jobs (scheduled, available, retryable) `expired`, at the store's
  // now: those whose expires_at passed, and in queues that shed, those that can no longer meet
  // their deadline (deadline < now + their kind's estimate). Their history says why; their
  // kinds' expired counts grow. Returns how many (docs/jobs.md, "Deadlines").
  virtual int JobExpire(int limit) = 0;

  // Job control (docs/jobs.md). Each throws kNotFound / kIllegalTransition and then changes
  // nothing. A running job's worker is told (a notification, and its next lease renewal) and
  // its late outcome is refused; the job keeps that attempt's lease (see JobFetch).
  // Cancels a job that has not finished.
  virtual Job JobCancel(const std::string& id) = 0;
  // Stops a job that waits or runs; it stays stopped until resumed. A running job's attempt does
  // not count.
  virtual Job JobStop(const std::string& id) = 0;
  // Makes a stopped job available again.
  virtual Job JobResume(const std::string& id) = 0;
  // Ends a job's nap (scheduled or retryable: due now). A running job keeps the wake-up: if it
  // naps next, the nap ends at once. Finished and stopped jobs cannot be woken.
  virtual Job JobWake(const std::string& id) = 0;

  // Pauses (no new fetches) or resumes a queue; idempotent. Any name may be paused, also one
  // without jobs yet.
  virtual void QueuePause(const std::string& name, bool paused) = 0;
  // Every queue that has jobs or is paused, by name. Its counts by state are kept as jobs change
  // (migration 024), not counted by a scan.
  virtual std::vector<QueueInfo> QueueList() = 0;
  // The leader's upkeep of those counts (Maintenance): on PostgreSQL, folds the changes that
  // statements appended into the counts and removes the counts that reached zero; on SQLite,
  // whose triggers keep the counts themselves, nothing.
  virtual void JobCountsFold() = 0;
  // Forgets a queue without jobs: its pause (its row) goes. Returns how many jobs it still has:
  // when that is not 0, nothing changed.
  virtual int64_t QueueRemove(const std::string& name) = 0;

  virtual ClusterState ClusterGet() = 0;
  // Stops the cluster: nothing is fetched, running jobs are handed back (their attempt does not
  // count, their lease is kept: see JobFetch) and their workers told. Throws kIllegalTransition
  // when already stopped.
  virtual ClusterState ClusterStop(const std::string& reason) = 0;
  // Throws kIllegalTransition when not stopped.
  virtual ClusterState ClusterResume() = 0;
  // Makes a completed, failed or cancelled job available again.
  virtual Job JobRetry(const std::string& id) = 0;
  // Deletes a completed, failed or cancelled job and its history, unless it has unfinished
  // children or an unfinished parent (which may still read it). Returns it as it was.
  virtual Job JobDelete(const std::string& id) = 0;

  // Bulk changes (Client::ChangeAll), one page at a time so that no lock is held long: each takes
  // the page JobList(filter) would list (filter.states required; a backend may take fewer than
  // filter.limit: SQLite takes at most 200, and then pauses as long as it held the lock), and in
  // one short transaction changes those of its jobs that are then still in one of
  // filter.states, exactly as the single-job method above would (a cancelled running job's
  // worker is told and keeps its lease; a job that cannot be deleted is left). Jobs that moved
  // on meanwhile are skipped. Returns how many changed and the page's last id, the next page's
  // filter.after_id ("" when the page was empty: done).
  struct JobPage {
    int64_t changed = 0;
    std::string last_id;
  };
  virtual JobPage JobCancelPage(const JobFilter& filter) = 0;
  virtual JobPage JobRetryPage(const JobFilter& filter) = 0;
  virtual JobPage JobDeletePage(const JobFilter& filter) = 0;

  // Retention (docs/jobs.md, "Retention"): deletes up to `limit` jobs that finished (completed,
  // failed, cancelled, expired) longer ago than their state's age (0: kept), with their
  // history, a short transaction per state (JobPruneState); never a job with unfinished
  // children or an unfinished parent (which may still read it). Returns how many.
  struct PruneAges {
    Millis completed{0}, failed{0}, cancelled{0}, expired{0};
  };
  int64_t JobPrune(const PruneAges& ages, int limit);
  // One state's part of it: up to `limit` jobs in final state `state` that finished more than
  // `age` (> 0) ago, in one transaction.
  virtual int64_t JobPruneState(JobState state, Millis age, int limit) = 0;

  // --- kinds (docs/jobs.md, "Kind defaults") ---

  // Records the defaults of kinds that worker `worker_id` declares, each replacing what was
  // recorded for its kind (the last worker to start wins). Enqueues apply them from then on
  // (JobInsertMany, and every other entrance, through the same SQL).
  virtual void KindRegister(const std::string& worker_id,
                            const std::map<std::string, KindDefaults>& kinds) = 0;
  // Every kind with recorded defaults, by name.
  virtual std::vector<KindInfo> KindList() = 0;
  // Merges what a worker measured into each kind's record: the estimate moves toward the
  // worker's in proportion to its runs (the record weighs as at most 1000 runs), counts add up.
  virtual void KindStatsFlush(const std::map<std::string, KindRunSample>& samples) = 0;
  // Every kind with a record, by name.
  virtual std::vector<KindRunStats> KindStatsList() = 0;
  // The audit trail: appends an entry (at: the store's now when unset); lists up to `limit`
  // entries older than entry `before` (nullopt: from the newest), newest first.
  virtual void AuditAppend(const AuditEntry& entry) = 0;
  virtual std::vector<AuditEntry> AuditList(std::optional<int64_t> before, int limit) = 0;
  // Retention: deletes up to `limit` entries older than `age`, oldest first, in one
  // transaction. Returns how many.
  virtual int64_t AuditPrune(Millis age, int limit) = 0;
  // The cluster's history: appends an event at the store's now (its id and at are ignored) and
  // forgets all but the newest 1,000; lists the newest `limit`, newest first.
  virtual void ClusterEventAppend(const ClusterEvent& event) = 0;
  virtual std::vector<ClusterEvent> ClusterEventList(int limit) = 0;
  // ClusterEventAppend for the workers that act: a failure is logged, not thrown, as the history
  // must never stop the work it tells of.
  void ClusterEventRecord(std::string kind, std::string worker, std::string detail) noexcept;
  // Records the dispatch settings of the queues a worker serves (the last worker to start wins);
  // a queue's pause is kept.
  virtual void QueueRegister(const std::map<std::string, QueueSettings>& queues) = 0;

  // --- limits (docs/regulation.md) ---

  // Records the limits a worker declares, each replacing the recorded one of its name (the last
  // worker to start wins); others stay. Jobs waiting for a limit that grew are let go.
  virtual void LimitRegister(const std::vector<Limit>& limits) = 0;
  // Removes a recorded limit and lets the jobs waiting for it go. Throws kNotFound when no limit
  // has that name.
  virtual void LimitRemove(const std::string& name) = 0;
  // Every recorded limit, by name; with `usage`, also what runs under it and waits for it.
  virtual std::vector<LimitInfo> LimitList(bool usage) = 0;
  // Lets go the jobs waiting at gates that have room: the safety net for a waiting job that no
  // release let go (its gate's holders ended meanwhile, say). The leader runs it now and then.
  // With `recount`, first recounts every gate's counter from the leases that hold it (a place
  // whose give-back was lost counts until then; PostgreSQL also recounts when it finds one, and
  // SQLite at every sweep). Returns how many jobs it let go.
  virtual int64_t LimitSweep(bool recount = true) = 0;

  // --- schedules (docs/jobs.md, "Periodic jobs") ---

  // Declares schedules (validated): new ones are added with last_slot = now, existing ones take
  // the new definition and keep their state (paused, last_slot, last job). With
  // `remove_others`, the schedules not among them are removed, all in one transaction.
  virtual void ScheduleSync(const std::vector<Schedule>& schedules, bool remove_others) = 0;
  // Every schedule, by name.
  virtual std::vector<ScheduleInfo> ScheduleList() = 0;
  // Pauses or resumes a schedule; idempotent. A resume moves last_slot to now (the slots that
  // passed while paused do not run). Throws kNotFound for an unknown name.
  virtual void SchedulePause(const std::string& name, bool paused) = 0;
  // Takes a slot, in one transaction: moves the schedule's last_slot forward to it (nothing
  // when it is paused or last_slot is at or past the slot already: taken, by anyone), applies
  // the overrun policy to the previous job when that is unfinished (skip: no job; replace:
  // cancel it) and enqueues the slot's job. So each slot enqueues at most once, whoever races.
  virtual ScheduleFired ScheduleFire(const ScheduleFireParams& params) = 0;
  // Enqueues schedule `name`'s job now (run-now: whatever its pause, slots and overrun policy)
  // and records it as the schedule's latest. Throws kNotFound for an unknown name.
  virtual std::string ScheduleRun(const std::string& name) = 0;

  // --- cluster (docs/coordination.md) ---

  // Registers a worker, or registers it again after an eviction, and announces the change.
  // Returns it as stored, its partition number resolved. A member of the same id but another
  // incarnation (another process) is refused with kIllegalTransition while it is live (heard
  // from within its heartbeat timeout), and changes nothing; when silent past its timeout it is
  // dead: it is removed as an eviction removes it, and the new one registered, in one
  // transaction.
  virtual Member MemberRegister(const MemberInfo& info) = 0;
  // Records a heartbeat and the partition count the worker sees, and when given, each queue's
  // concurrency now (adaptive concurrency: the slots it has). False: the worker is no longer a
  // member (it was evicted) and must register again.
  virtual bool MemberHeartbeat(const std::string& id, int partition_count,
                               const std::map<std::string, int>* concurrency = nullptr) = 0;
  // Removes members: `id` (clean shutdown), or when `expired_only`, those silent past their
  // heartbeat timeout (`id` nullopt: all of them). The leases a removed member holds expire (in
  // every state: its running jobs become rescuable at once, the jobs taken from it fetchable),
  // its assignment claims and leadership are freed, and the change is announced. Returns the ids
  // removed.
  virtual std::vector<std::string> MemberRemove(const std::optional<std::string>& id,
                                                bool expired_only) = 0;
  virtual Membership MemberList() = 0;

  // Takes the leader term when it is free or expired, or extends it when `worker_id` holds it.
  // Only members can lead. Returns the term when `worker_id` leads until now + ttl.
  virtual std::optional<int64_t> LeaderAcquire(const std::string& worker_id, Millis ttl) = 0;

  // Claims an assignment for a member when nobody holds it (or its holder is no longer a
  // member). True when `worker_id` holds it now.
  virtual bool AssignmentClaim(const std::string& name, const std::string& worker_id) = 0;
  virtual void AssignmentRelease(const std::string& name, const std::string& worker_id) = 0;
  virtual std::vector<ClaimedAssignment> AssignmentList() = 0;

  virtual std::unique_ptr<StoreListener> Listen() = 0;
};

struct StoreOptions {
  std::string url;
  int pool_size = 4;
  std::shared_ptr<Clock> clock;  // default: SystemClock
};

// Opens the backend named by the URL scheme: postgresql:// (or postgres://) and sqlite:PATH.
// Throws kInvalidArgument for an unknown scheme.
std::unique_ptr<Store> OpenStore(const StoreOptions& options);

// The newest schema version this binary knows: every backend's LatestVersion().
int LatestSchemaVersion();

// The file a sqlite:PATH URL names; nullopt for other URLs. Throws kInvalidArgument for
// "sqlite:" without a path.
std::optional<std::string> SqliteFileOf(const std::string& url);

// For backends: schedules (validated, names unique) as the JSON array schedule_sync.sql reads,
// and their names as another.
std::pair<std::string, std::string> ScheduleRows(const std::vector<Schedule>& schedules);

// For backends: whether a previous job in `state` (nullopt: none, or deleted) is unfinished.
bool ScheduleOverruns(const std::optional<std::string>& state);

// For backends: a job's timeline from the entries its backend stored (oldest first) and what its
// row still says: when it was enqueued, and its latest attempt's start and completion, which the
// backends do not store while the row holds them (docs/jobs.md, "History").
std::vector<JobEvent> JobTimeline(const Job& job, std::vector<JobEvent> stored);

// For backends: validates a spec and returns its args as JSON text (StorableJson). Throws
// kInvalidArgument for an invalid spec or args larger than kMaxArgsBytes.
std::string ValidatedArgs(const JobSpec& spec);

// For backends: text that every backend stores, whole: valid UTF-8 (invalid sequences become
// U+FFFD) without NUL bytes. For outcome messages, which the worker bounds (keeping what matters,
// such as the tail of a command's stderr): this never cuts.
std::string StorableText(std::string_view text);

// For backends: JSON text that every backend stores and every worker reads back, for whatever
// a worker reports (results, checkpoints, progress, children's args). Strings, keys and values,
// have NUL replaced by U+FFFD (PostgreSQL's jsonb refuses \u0000) and invalid UTF-8 replaced
// by U+FFFD (on which json::dump would throw). Never throws.
std::string StorableJson(const Json& json);

// For backends: the JSON columns of a job row as text (nullopt: NULL).
struct JobJsonText {
  std::string_view args;
  std::string_view errors;
  std::optional<std::string_view> checkpoint, progress, result;
};
// For backends: sets a job's JSON fields from its row. Reading never fails as a whole: a column
// the worker cannot parse (a number beyond a double's range, which PostgreSQL accepts, or text
// SQLite took as it came) becomes a JSON string holding the raw text (errors: one entry holding
// it). Returns "" or the first such column's problem, "unreadable <column>: <why>".
std::string ReadJobJson(Job& job, const JobJsonText& text);

// For backends: what JobFetch returns of the rows it leased, each with ReadJobJson's problem.
// A row with a problem fails alone: it is discarded with the problem as its error (through
// JobFinishMany, so fenced to `worker_id` and its attempt) and left out. If that write fails,
// the row is still left out (its lease expires and the rescuer takes it); the others are
// returned all the same.
std::vector<Job> RunnableJobs(Store& store, const std::string& worker_id,
                              std::vector<std::pair<Job, std::string>> fetched);

// For backends: a queue's settings from its row's columns (queue_list.sql). `fair_weights` is
// the JSON object the row keeps (nullopt: NULL).
QueueSettings ReadQueueSettings(std::string_view order, bool shed,
                                std::optional<std::string_view> fair_key,
                                std::optional<std::string_view> fair_weights);
// For backends: `fair_weights` as the JSON object a queue's row keeps (nullopt: none).
std::optional<std::string> FairWeightsJson(const QueueSettings& q);

// The database was migrated by a newer Spindle: throws kSchemaTooNew naming both versions.
[[noreturn]] void ThrowSchemaTooNew(int database_version, int binary_version);

// For backends: a state change of job `id` matched no row. Throws kNotFound when the job does
// not exist, else kIllegalTransition naming its state.
[[noreturn]] void ThrowChangeRefused(Store& store, const std::string& id, std::string_view action);
// For backends: a delete of job `id` matched no row. Throws kNotFound, or kIllegalTransition
// saying why it stays (its state, its unfinished children, its unfinished parent).
[[noreturn]] void ThrowDeleteRefused(Store& store, const std::string& id);
// For backends: a registration found worker id `id` held by a live member of another
// incarnation, on `host` as process `pid`. Throws kIllegalTransition.
[[noreturn]] void ThrowWorkerIdInUse(std::string_view id, std::string_view host, int pid);
// For backends: a person's change of job `id` (retry, resume) would have put it in a state in
// which it holds its unique key `key`, which job `holder` (in state `holder_state`) holds. Throws
// kIllegalTransition.
[[noreturn]] void ThrowUniqueKeyTaken(std::string_view id, std::string_view action,
                                      std::string_view key, std::string_view holder,
                                      std::string_view holder_state);
// For backends: children are enqueued without unique keys (a child that turned out to be another
// job could not be waited for). Throws kInvalidArgument when one has one.
void CheckChildren(const std::vector<JobSpec>& children);
// For backends: the ids of the specs of JobInsert whose unique key was taken at insert but whose
// holder could not be found afterwards (it finished or was deleted meanwhile) are inserted again,
// at most this many rounds.
inline constexpr int kUniqueInsertRounds = 5;

// For backends: a cluster stop or resume matched nothing. Throws kIllegalTransition.
[[noreturn]] void ThrowClusterChangeRefused(const ClusterState& now, std::string_view action);

}  // namespace spindle
