// The client: enqueue, inspect and steer jobs. Thread-safe; one per process is enough.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "spindle/clock.h"
#include "spindle/cluster.h"
#include "spindle/job.h"

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
  // Applies pending migrations unless `migrate` is false.
  static std::unique_ptr<Client> Open(const ClientOptions& options, bool migrate = true);
  ~Client();

  // Applies pending migrations; returns the schema version now in place.
  int Migrate();
  int SchemaVersion();

  // Enqueues one job; returns its id. One notification wakes idle workers.
  std::string Enqueue(const JobSpec& spec);
  // Enqueues many jobs with one COPY in one transaction and one notification per queue.
  std::vector<std::string> EnqueueMany(const std::vector<JobSpec>& specs);

  // Throws Error(kNotFound) for an unknown id.
  Job Get(const std::string& id);
  std::vector<Job> List(const JobFilter& filter);
  // The job's timeline of state and step transitions, oldest first: its last 50 entries, an
  // entry that repeats the one before it only moving that one's time. Throws kNotFound.
  std::vector<JobEvent> History(const std::string& id);

  // Cancels a job that has not finished. Throws kIllegalTransition for a finished job.
  Job Cancel(const std::string& id);
  // Makes a completed, failed or cancelled job available again.
  Job Retry(const std::string& id);

  // Job control (docs/jobs.md). Each throws kNotFound or kIllegalTransition and then changes
  // nothing. A running job's worker is told; its handler's cancel token fires.
  // Stops a waiting or running job until Resume.
  Job Stop(const std::string& id);
  Job Resume(const std::string& id);
  // Ends a napping (snoozed) job's nap now; a running job keeps the wake-up for its next nap.
  Job Wake(const std::string& id);
  // No new fetches from a paused queue; running jobs finish. Idempotent.
  void PauseQueue(const std::string& name);
  void ResumeQueue(const std::string& name);
  // Every queue that has jobs, is paused or has a live consumer, by name, with its consumers.
  std::vector<QueueInfo> Queues();
  // The kinds' recorded defaults (docs/jobs.md, "Kind defaults"), by name.
  std::vector<KindInfo> Kinds();
  ClusterState Cluster();
  // Stops the whole cluster: no fetches, running jobs are handed back and run again on resume
  // (jobs stopped one by one stay stopped). Throws kIllegalTransition when already stopped.
  ClusterState StopCluster(const std::string& reason);
  ClusterState ResumeCluster();

  // The workers registered now (live, or silent and not yet evicted), and the version of that
  // membership.
  Membership Members();
  // Which worker holds each running assignment.
  std::vector<ClaimedAssignment> Assignments();

  Store& store() { return *store_; }

 private:
  explicit Client(std::unique_ptr<Store> store);
  std::unique_ptr<Store> store_;
};

}  // namespace spindle
