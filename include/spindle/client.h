// The client: enqueue, inspect and steer jobs. Thread-safe; one per process is enough.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "spindle/clock.h"
#include "spindle/cluster.h"
#include "spindle/job.h"
#include "spindle/limit.h"
#include "spindle/schedule.h"

namespace spindle {

class Store;

struct ClientOptions {
  // "postgresql://..." (or "postgres://...") or "sqlite:PATH". Required.
  std::string database_url;
  // Connections kept open. Default: 4.
  int pool_size = 4;
  // Default: the system clock (the database decides the time).
  std::shared_ptr<Clock> clock;
};

class Client {
 public:
  // Connects. Throws Error(kInvalidArgument) for a bad URL, Error(kUnavailable) when the
  // database cannot be reached, Error(kSchemaTooNew) for a database of a newer Spindle.
  // Applies pending migrations unless `migrate` is false; then a database without the current
  // schema (none, or an older one) is Error(kNotFound).
  static std::unique_ptr<Client> Open(const ClientOptions& options, bool migrate = true);
  ~Client();

  // This library's version, "0.1.0".
  static std::string Version();
  // The newest schema version this library knows (the backends share the numbering).
  static int KnownSchemaVersion();
  // The file an embedded database URL (sqlite:PATH) names; nullopt for a server's URL. Throws
  // Error(kInvalidArgument) for "sqlite:" without a path.
  static std::optional<std::string> DatabaseFile(const std::string& database_url);

  // Whether new jobs wake other processes' workers by notification (PostgreSQL); without it
  // (SQLite) they find them by polling.
  bool NotifiesOtherProcesses() const;

  // Applies pending migrations; returns the schema version now in place.
  int Migrate();
  int SchemaVersion();

  // Enqueues one job; returns its id. One notification wakes idle workers. For a spec whose
  // unique key a job holds (docs/jobs.md, "Unique jobs"), nothing is inserted and the id is
  // that job's; Insert says which happened.
  std::string Enqueue(const JobSpec& spec);
  // Enqueues many jobs in one statement and transaction and one notification per queue; the
  // ids, as Enqueue's.
  std::vector<std::string> EnqueueMany(const std::vector<JobSpec>& specs);
  // Enqueue and EnqueueMany, saying for each spec whether a job already held its unique key.
  EnqueueResult Insert(const JobSpec& spec);
  std::vector<EnqueueResult> InsertMany(const std::vector<JobSpec>& specs);

  // Throws Error(kNotFound) for an unknown id.
  Job Get(const std::string& id);
  std::vector<Job> List(const JobFilter& filter);
  // The job's timeline of state and step transitions, oldest first: its last 50 entries, an
  // entry that repeats the one before it only moving that one's time. Throws kNotFound.
  std::vector<JobEvent> History(const std::string& id);

  // A job as `spindle jobs show --json` and the API's GET /jobs/{id} show it (docs/api.md): its
  // fields (Job::ToJson), its history, its kind's run-time estimate ("estimate_ms"), "at_risk",
  // the timeout it runs with ("effective_timeout_ms", null: the worker's default), and its
  // first 100 children, newest first ("children": id, kind, state). Throws kNotFound.
  Json Detail(const std::string& id);

  // How many jobs match `filter`, whatever its limit.
  int64_t Count(const JobFilter& filter);
  // The same for big tables: exact while at most `cap` jobs match; beyond, an estimate
  // (`estimate` set): PostgreSQL's planner's, never below cap; SQLite's is cap itself, a lower
  // bound.
  JobTally CountUpTo(const JobFilter& filter, int64_t cap);

  // Cancels a job that has not finished. Throws kIllegalTransition for a finished job.
  Job Cancel(const std::string& id);
  // Makes a completed, failed or cancelled job available again.
  Job Retry(const std::string& id);
  // Deletes a completed, failed or cancelled job and its history; returns it as it was. A job
  // with unfinished children, or whose parent has not finished (it may still read its
  // children), is refused with kIllegalTransition.
  Job Delete(const std::string& id);

  // Bulk changes: every job matching a filter (states, queue, kind, parent; not its limit or
  // after_id), as Cancel, Retry and Delete change one.
  enum class BulkAction { kCancel, kRetry, kDelete };
  // The filter a bulk change works on: `filter` with no states meaning every state `action`
  // applies to (cancel: unfinished; delete: completed, failed, cancelled, expired), except a
  // retry, which takes failed jobs only unless completed or cancelled are asked for. A state it
  // does not apply to is kInvalidArgument. Count() of it says how many jobs it would touch.
  static JobFilter BulkFilter(BulkAction action, JobFilter filter);
  // Changes every job of BulkFilter(action, filter), in pages of `page_size` newest first, each
  // page its own short transaction, so that no lock is held long, also over millions of jobs. A
  // job that moved to another state meanwhile is skipped; so is one Delete would refuse.
  // Returns how many changed. `progress`, when set, is called after each page with how many changed
  // so far.
  int64_t ChangeAll(BulkAction action, const JobFilter& filter, int page_size = 1000,
                    const std::function<void(int64_t changed)>& progress = {});

  // Job control (docs/jobs.md). Each throws kNotFound or kIllegalTransition and then changes
  // nothing. A running job's worker is told; its handler's cancel token fires.
  // Stops a waiting or running job until Resume.
  Job Stop(const std::string& id);
  Job Resume(const std::string& id);
  // Ends a napping (snoozed) job's nap now; a running job keeps the wake-up for its next nap.
  Job Wake(const std::string& id);
  // No new fetches from a paused queue; running jobs finish. Idempotent. A queue nobody knows
  // (see KnownQueues) is kNotFound, and nothing changes.
  void PauseQueue(const std::string& name);
  void ResumeQueue(const std::string& name);
  // Every queue that has jobs, is paused or has a live consumer, by name, with its consumers.
  std::vector<QueueInfo> Queues();
  // The queues that exist, by name: those with jobs or paused (Queues()), and those a
  // registered worker serves.
  std::vector<std::string> KnownQueues();
  // Forgets a queue without jobs, and its pause. kNotFound for a queue nobody knows,
  // kIllegalTransition (saying how many) while it has jobs.
  void RemoveQueue(const std::string& name);
  // The kinds' recorded defaults (docs/jobs.md, "Kind defaults"), by name.
  std::vector<KindInfo> Kinds();
  // Every recorded cluster-wide limit, with what runs under it and waits for it now
  // (docs/regulation.md).
  std::vector<LimitInfo> Limits();
  // Removes a recorded limit; the jobs waiting for it may start. Error(kNotFound) for an unknown
  // name. A worker that declares it records it again when it starts.
  void RemoveLimit(const std::string& name);
  // Periodic jobs (docs/jobs.md, "Periodic jobs"), declared by workers
  // (WorkerOptions::schedules, `spindle serve`'s [schedules.NAME]). Every schedule, by name.
  std::vector<ScheduleInfo> Schedules();
  // Pause and resume are idempotent; a resume does not catch up the slots that passed while
  // paused. kNotFound for an unknown name.
  void PauseSchedule(const std::string& name);
  void ResumeSchedule(const std::string& name);
  // Enqueues the schedule's job now, whatever its pause, slots and overrun policy; returns the
  // job's id. kNotFound for an unknown name.
  std::string RunSchedule(const std::string& name);
  // Each kind's measured run time (the estimate that makes a waiting job at risk), and how many
  // of its jobs missed their deadline or expired (docs/jobs.md, "Deadlines").
  std::vector<KindRunStats> KindStats();
  ClusterState Cluster();
  // The audit trail (docs/api.md, "Audit"): Audit appends an entry (its id and, unless set, its
  // time are the database's); AuditList returns up to `limit` entries older than entry `before`
  // (nullopt: from the newest), newest first.
  void Audit(const AuditEntry& entry);
  std::vector<AuditEntry> AuditList(std::optional<int64_t> before, int limit);
  // Stops the whole cluster: no fetches, running jobs are handed back and run again on resume
  // (jobs stopped one by one stay stopped). Throws kIllegalTransition when already stopped.
  ClusterState StopCluster(const std::string& reason);
  ClusterState ResumeCluster();

  // The workers registered now (live, or silent and not yet evicted), and the version of that
  // membership.
  Membership Members();
  // The cluster's history (docs/coordination.md, "History"): the newest `limit` events, newest
  // first.
  std::vector<ClusterEvent> ClusterEvents(int limit);
  // Which worker holds each running assignment.
  std::vector<ClaimedAssignment> Assignments();

  Store& store() { return *store_; }

 private:
  explicit Client(std::unique_ptr<Store> store);
  std::unique_ptr<Store> store_;
};

}  // namespace spindle
