// The leader's maintenance (docs/architecture.md, "Maintenance"): every worker runs these
// loops, and each does its work only while its worker holds the leader term, so that one
// process in the cluster acts at a time (and the database makes a second one harmless):
//   rescuer    jobs whose lease expired (their worker died or froze) to retryable or failed
//   expirer    waiting jobs past their expires_at, or hopeless in a shedding queue, to expired
//   scheduler  the jobs of periodic schedules, one per slot
//   pruner     finished jobs past their state's age, deleted with their history (retention)
//   counter    the counts of jobs by queue and state: folds what statements appended into them
// The worker starts them once it has joined the cluster and stops them first when it stops,
// so that nothing is enqueued or changed on the cluster's behalf while it drains.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "runtime/service.h"
#include "spindle/clock.h"
#include "spindle/worker.h"
#include "store/store.h"

namespace spindle::maintenance {

class Scheduler;
class Pruner;

struct MaintenanceOptions {
  Millis rescue_interval{5000};
  Millis expire_interval{1000};
  Millis schedule_interval{1000};
  Millis count_interval{1000};
  RetentionOptions retention;
  std::shared_ptr<Clock> clock;  // the scheduler's time
  std::shared_ptr<WorkerObserver> observer;  // told of rescues, expiries and scheduled jobs
  std::string worker_id;  // this worker, named in the cluster's history (rescues)
};

class Maintenance {
 public:
  // `leads` says whether this worker holds the leader term now.
  Maintenance(Store& store, MaintenanceOptions options, std::function<bool()> leads);
  ~Maintenance();

  void Start();
  void Stop();  // idempotent; waits for a round under way to end

 private:
  bool Rescue();
  bool Expire();

  Store& store_;
  MaintenanceOptions options_;
  std::function<bool()> leads_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<Pruner> pruner_;
  std::unique_ptr<runtime::LoopService> rescuer_, expirer_, schedule_loop_, counter_;
  // The limits' recount (Rescue): when it last ran, and whether jobs were rescued since.
  static constexpr std::chrono::seconds kRecountEvery{60};
  std::optional<std::chrono::system_clock::time_point> recounted_;
  bool rescued_ = false;
};

}  // namespace spindle::maintenance
