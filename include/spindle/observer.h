// What a worker tells an observer as it works: fetches, attempts, rescues, leases, membership.
// `spindle serve --http` observes its worker to publish /metrics (docs/metrics.md); a program
// that embeds a Worker may set WorkerOptions::observer to feed its own metrics.
//
// Calls come from the worker's threads, several at once; each must be quick, must not block on
// the database and must not throw. Every default does nothing.
#pragma once

#include <string>

#include "spindle/job.h"

namespace spindle {

class WorkerObserver {
 public:
  // How an attempt ended, as this worker saw it (the database may still refuse the outcome, when
  // the job was taken from the worker meanwhile).
  enum class Outcome {
    kCompleted,
    kRetry,      // failed, with attempts left: retried after a back-off
    kFailed,     // failed, with no attempt left
    kDiscarded,  // failed for good by the handler (JobResult::Discard)
    kSnoozed,    // rescheduled without counting (a nap)
    kWaiting,    // waits for its children
    kReleased,   // handed back: the worker stops, or the job was stopped or cancelled
  };
  // Where jobs enqueued by the worker came from.
  enum class Source { kSchedule, kChildren };

  virtual ~WorkerObserver() = default;

  // A fetch from `queue` took `took` and leased `jobs` jobs (0: none were due).
  virtual void Fetched(const std::string& /*queue*/, Millis /*took*/, int /*jobs*/) {}
  // An attempt of `job` starts, `waited` after the job was due.
  virtual void Started(const Job& /*job*/, Millis /*waited*/) {}
  // That attempt ended after `ran`. `final`: the job reached completed or failed; `late`: it
  // did so after its deadline.
  virtual void Ended(const Job& /*job*/, Outcome /*outcome*/, Millis /*ran*/, bool /*final*/,
                     bool /*late*/) {}
  // The worker enqueued `jobs` jobs.
  virtual void Enqueued(Source /*source*/, int /*jobs*/) {}
  // The leader rescued `jobs` running jobs: their lease expired, or their worker was evicted.
  virtual void Rescued(bool /*evicted*/, int /*jobs*/) {}
  // The leader expired `jobs` waiting jobs (past expires_at, or hopeless in a shedding queue).
  virtual void Expired(int /*jobs*/) {}
  // A lease renewal round kept `renewed` leases and found `taken` ones taken from the worker
  // (stopped, cancelled, or rescued once their lease expired): it gives those attempts up.
  virtual void LeasesRenewed(int /*renewed*/, int /*taken*/) {}
  // A notification of new jobs arrived `lag` after the transaction that sent it began (by this
  // host's clock against the database's; PostgreSQL only).
  virtual void Notified(Millis /*lag*/) {}
  // The cluster's membership changed (a worker joined, left or was evicted).
  virtual void MembershipChanged() {}
  // This worker was elected leader.
  virtual void Elected() {}
  // This worker now fetches from `partitions` partitions (0: unpartitioned).
  virtual void PartitionsOwned(int /*partitions*/) {}
};

// Names for the metrics' labels: "completed", "retry", ...; "schedule", "children".
const char* ToString(WorkerObserver::Outcome outcome);
const char* ToString(WorkerObserver::Source source);

}  // namespace spindle
