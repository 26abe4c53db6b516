// The scheduler: enqueues the jobs of periodic schedules (docs/jobs.md, "Periodic jobs"). A
// leader-only background loop; the database makes each slot enqueue once even when two
// schedulers race (Store::ScheduleFire), so a leader change mid-slot is harmless.
#pragma once

#include <map>
#include <mutex>
#include <random>
#include <string>

#include "store/store.h"

namespace spindle::maintenance {

class Scheduler {
 public:
  explicit Scheduler(Store& store);

  // One round at `now`: for every schedule not paused whose next slot after last_slot has
  // come, takes the latest slot at or before `now` (the earlier ones are passed over), or
  // passes it over too when the schedule catches up none and the slot is more than
  // kScheduleLateLimit old. Returns how many jobs it enqueued. A schedule whose expression or
  // zone this binary cannot read is logged and left alone.
  int Tick(SysTime now);

 private:
  Millis Jitter(Millis max);

  Store& store_;
  std::mutex mu_;
  std::mt19937_64 random_;
};

// The latest slot of `schedule` in (after, now], or nullopt when none is due. For the
// scheduler and its tests.
std::optional<SysTime> LatestSlot(const Schedule& schedule, SysTime after, SysTime now);

}  // namespace spindle::maintenance
