// Periodic jobs (docs/jobs.md, "Periodic jobs"): a schedule enqueues one job per slot of its
// cron expression, once across the whole cluster.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spindle/job.h"

namespace spindle {

// What a slot does while the job of the schedule's previous slot (or run-now) is unfinished.
enum class Overrun {
  kSkip,     // enqueue nothing for this slot (the default)
  kQueue,    // enqueue anyway
  kReplace,  // cancel the previous job, then enqueue
};
// Which missed slots run when the scheduler comes back after downtime (or a pause ended).
enum class CatchUp {
  kLatest,  // the latest missed slot, once (the default)
  kNone,    // none: only a slot at most kScheduleLateLimit late runs
};

std::string_view ToString(Overrun o);
std::string_view ToString(CatchUp c);
std::optional<Overrun> ParseOverrun(std::string_view name);
std::optional<CatchUp> ParseCatchUp(std::string_view name);

// How late a slot may be found and still run under CatchUp::kNone.
inline constexpr Millis kScheduleLateLimit{60000};

struct Schedule {
  std::string name;  // 1 to 255 characters: [A-Za-z0-9_.-]
  // 5 fields (minute hour day-of-month month day-of-week), 6 (second first), a macro
  // (@hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually) or @every DURATION.
  std::string cron;
  std::string zone = "UTC";  // an IANA time zone: the wall clock `cron` is read in
  // The job each slot enqueues. Unset fields take the kind's defaults, as any enqueue.
  std::string kind;
  Json args = Json::object();
  std::optional<std::string> queue;
  std::optional<int> priority;
  std::optional<int> max_attempts;
  std::optional<Millis> timeout;
  // Each slot's job runs a random delay of up to this after the slot (its run_at); the slot
  // stays the slot.
  Millis jitter{0};
  Overrun overrun = Overrun::kSkip;
  CatchUp catch_up = CatchUp::kLatest;

  // Throws Error(kInvalidArgument) naming the field: "schedules.NAME.cron: field 2 (hour) '25'
  // is out of range 0-23".
  void Validate() const;
  // The next `count` fire times after `after` (fewer for an expression that stops firing).
  // Throws as Validate for an invalid expression or zone.
  std::vector<SysTime> NextFireTimes(SysTime after, int count) const;
  Json ToJson() const;
};

// A schedule as stored (Client::Schedules).
struct ScheduleInfo {
  Schedule schedule;
  bool paused = false;
  // Slots up to this time are taken (enqueued or passed over); the next slot after it is due
  // next. Set to the time of declaration and of a resume, so no slot before either fires.
  SysTime last_slot;
  std::string last_job_id;  // the latest job it enqueued (a slot's or run-now's); "" for none
  std::optional<SysTime> last_enqueued_at;
  SysTime created_at;

  // Its next kNextShown fire times after now (or after last_slot, if later); none while paused,
  // as a paused schedule fires at none of them.
  static constexpr int kNextShown = 3;
  std::vector<SysTime> Next() const;
  Json ToJson() const;  // with "next"
};

}  // namespace spindle
