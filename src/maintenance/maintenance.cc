#include "maintenance/maintenance.h"

#include <fmt/format.h>

#include "core/log.h"
#include "core/text.h"
#include "maintenance/pruner.h"
#include "maintenance/scheduler.h"

namespace spindle::maintenance {

Maintenance::Maintenance(Store& store, MaintenanceOptions options, std::function<bool()> leads)
    : store_(store),
      options_(std::move(options)),
      leads_(std::move(leads)),
      scheduler_(std::make_unique<Scheduler>(store)),
      pruner_(std::make_unique<Pruner>(store, options_.retention, leads_)) {
  rescuer_ = std::make_unique<runtime::LoopService>("rescuer", options_.rescue_interval,
                                                    [this] { return Rescue(); });
  expirer_ = std::make_unique<runtime::LoopService>("expirer", options_.expire_interval,
                                                    [this] { return Expire(); });
  schedule_loop_ =
      std::make_unique<runtime::LoopService>("scheduler", options_.schedule_interval, [this] {
        if (!leads_()) return false;
        if (int n = scheduler_->Tick(options_.clock->Now())) {
          options_.observer->Enqueued(WorkerObserver::Source::kSchedule, n);
        }
        return false;
      });
  counter_ = std::make_unique<runtime::LoopService>("counter", options_.count_interval, [this] {
    if (leads_()) store_.JobCountsFold();
    return false;
  });
}

Maintenance::~Maintenance() { Stop(); }

void Maintenance::Start() {
  rescuer_->Start();
  expirer_->Start();
  schedule_loop_->Start();
  counter_->Start();
  pruner_->Start();
}

void Maintenance::Stop() {
  pruner_->Stop();
  for (auto* loop : {counter_.get(), schedule_loop_.get(), expirer_.get(), rescuer_.get()}) {
    loop->Stop();
  }
}

// Each round in small batches: short transactions, and the next one at once while more are due.
bool Maintenance::Rescue() {
  if (!leads_()) return false;
  constexpr int kBatch = 1000;
  int n = store_.JobRescue(kBatch);
  if (n) {
    core::Log().info("event=rescued jobs={}", n);
    store_.ClusterEventRecord("rescued", options_.worker_id,
                              fmt::format("{} whose lease expired", core::Counted(n, "job")));
    options_.observer->Rescued(false, n);
  }
  rescued_ = rescued_ || n > 0;
  if (n == kBatch) return true;
  // With the rescues done, the limits' safety net: parked jobs no release let go. Without limits
  // there is nothing to recount (removing the last one let its jobs go). The recount reads every
  // lease: after a rescue (a worker died, maybe between a finish and its give-back), and else
  // once in kRecountEvery (or when the clock stepped back). The store also recounts when it sees
  // a give-back that was lost.
  if (store_.LimitList(false).empty()) return false;
  auto now = options_.clock->Now();
  bool recount = rescued_ || !recounted_ || now < *recounted_ || now - *recounted_ >= kRecountEvery;
  if (int64_t opened = store_.LimitSweep(recount)) {
    core::Log().info("event=limits_swept jobs={}", opened);
  }
  if (recount) {
    recounted_ = now;
    rescued_ = false;
  }
  return false;
}

bool Maintenance::Expire() {
  if (!leads_()) return false;
  constexpr int kBatch = 500;
  int n = store_.JobExpire(kBatch);
  if (n) {
    core::Log().info("event=expired jobs={}", n);
    options_.observer->Expired(n);
  }
  return n == kBatch;
}

}  // namespace spindle::maintenance
