// Retention (docs/jobs.md, "Retention"): the leader deletes finished jobs, with their history,
// once they are older than their state's age, in batches of short transactions with a pause
// between them, so that no lock is held long and the table stays bounded.
#pragma once

#include <functional>
#include <memory>

#include "runtime/service.h"
#include "spindle/worker.h"
#include "store/store.h"

namespace spindle::maintenance {

class Pruner {
 public:
  // `leads` says whether this worker holds the leader term now: only the leader prunes.
  Pruner(Store& store, const RetentionOptions& options, std::function<bool()> leads);

  // Deletes one batch (at most options.batch jobs, one transaction) of jobs past their age, and
  // one of audit entries, at the store's time. Returns the larger count. What the loop runs; tests call it directly.
  int64_t RunOnce();

  // The loop: every options.interval while leading, batch after batch (options.pause between
  // them) until one comes back short. Idempotent; does nothing when every age is 0.
  void Start();
  void Stop();

  // Throws Error(kInvalidArgument) naming the option for values that cannot work.
  static void Validate(const RetentionOptions& options);

 private:
  Store& store_;
  RetentionOptions options_;
  std::function<bool()> leads_;
  std::unique_ptr<runtime::LoopService> loop_;
};

}  // namespace spindle::maintenance
