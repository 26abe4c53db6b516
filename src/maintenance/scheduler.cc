#include "maintenance/scheduler.h"

#include "core/log.h"
#include "core/time.h"
#include "schedule/cron.h"

namespace spindle::maintenance {

std::optional<SysTime> LatestSlot(const Schedule& schedule, SysTime after, SysTime now) {
  auto cron = schedule::Cron::Parse(schedule.cron);
  auto* zone = schedule::LocateZone(schedule.zone);
  auto first = cron.Next(after, zone);
  if (!first || *first > now) return std::nullopt;
  SysTime slot = *first;
  // After long downtime, start near `now` instead of walking every missed slot.
  using namespace std::chrono;
  for (Millis window : {Millis(minutes(1)), Millis(hours(1)), Millis(hours(24)),
                        Millis(hours(24 * 32)), Millis(hours(24 * 366))}) {
    if (now - window <= slot) break;
    if (auto near = cron.Next(now - window, zone); near && *near <= now) {
      slot = *near;
      break;
    }
  }
  while (true) {
    auto next = cron.Next(slot, zone);
    if (!next || *next > now) return slot;
    slot = *next;
  }
}

Scheduler::Scheduler(Store& store) : store_(store), random_(std::random_device{}()) {}

Millis Scheduler::Jitter(Millis max) {
  if (max <= Millis(0)) return Millis(0);
  std::lock_guard lock(mu_);
  return Millis(std::uniform_int_distribution<int64_t>(0, max.count())(random_));
}

int Scheduler::Tick(SysTime now) {
  int enqueued = 0;
  for (const auto& info : store_.ScheduleList()) {
    if (info.paused) continue;
    const Schedule& s = info.schedule;
    std::optional<SysTime> slot;
    try {
      slot = LatestSlot(s, info.last_slot, now);
    } catch (const std::exception& e) {
      core::Log().warn("event=schedule_unreadable schedule={} error={}", core::LogValue(s.name),
                       core::LogValue(e.what()));
      continue;
    }
    if (!slot) continue;
    bool missed = s.catch_up == CatchUp::kNone && now - *slot > kScheduleLateLimit;
    auto fired = store_.ScheduleFire({.name = s.name,
                                      .slot = *slot,
                                      .run_at = *slot + Jitter(s.jitter),
                                      .enqueue = !missed});
    if (!fired.taken) continue;  // paused meanwhile, or another scheduler took it
    if (!fired.job_id.empty()) ++enqueued;
    core::Log().info("event=schedule_slot schedule={} slot={} job={} skipped={} replaced={}",
                     core::LogValue(s.name), core::FormatRfc3339(*slot),
                     core::LogValue(fired.job_id), core::LogValue(fired.skipped),
                     core::LogValue(fired.replaced));
  }
  return enqueued;
}

}  // namespace spindle::maintenance
