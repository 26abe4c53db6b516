// The expirer (docs/jobs.md, "Deadlines"): leader-only maintenance that makes waiting jobs
// `expired` once their expires_at passed, and in queues that shed, once they can no longer meet
// their deadline. The fetch never takes an expired job itself, so this only makes it visible and
// final, in small batches, even while every worker is busy.
#pragma once

#include <functional>
#include <memory>

#include "runtime/service.h"
#include "store/store.h"

namespace spindle::maintenance {

// A loop that, every `interval` while `leader()` says so, runs Store::JobExpire in batches.
std::unique_ptr<runtime::LoopService> NewExpirer(Store& store, std::function<bool()> leader,
                                                 Millis interval);

}  // namespace spindle::maintenance
