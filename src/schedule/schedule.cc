// Schedule's validation and fire times (include/spindle/schedule.h).
#include "spindle/schedule.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/time.h"
#include "schedule/cron.h"
#include "spindle/error.h"

namespace spindle {

std::string_view ToString(Overrun o) {
  switch (o) {
    case Overrun::kSkip: return "skip";
    case Overrun::kQueue: return "queue";
    case Overrun::kReplace: return "replace";
  }
  return "skip";
}

std::string_view ToString(CatchUp c) { return c == CatchUp::kNone ? "none" : "latest"; }

std::optional<Overrun> ParseOverrun(std::string_view name) {
  for (auto o : {Overrun::kSkip, Overrun::kQueue, Overrun::kReplace}) {
    if (ToString(o) == name) return o;
  }
  return std::nullopt;
}

std::optional<CatchUp> ParseCatchUp(std::string_view name) {
  for (auto c : {CatchUp::kLatest, CatchUp::kNone}) {
    if (ToString(c) == name) return c;
  }
  return std::nullopt;
}

void Schedule::Validate() const {
  auto fail = [&](std::string_view field, const std::string& why) {
    throw Error(ErrorCode::kInvalidArgument, fmt::format("schedules.{}.{}: {}", name, field, why));
  };
  if (name.empty() || name.size() > 255 ||
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
          std::string::npos) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("schedule name '{}' must be 1 to 255 of A-Z a-z 0-9 _ . -", name));
  }
  try {
    schedule::Cron::Parse(cron);
  } catch (const Error& e) {
    fail("cron", e.what());
  }
  try {
    schedule::LocateZone(zone);
  } catch (const Error& e) {
    fail("zone", e.what());
  }
  if (jitter < Millis(0)) fail("jitter", "must not be negative");
  try {
    JobSpec{.kind = kind, .args = args, .queue = queue, .priority = priority,
            .max_attempts = max_attempts, .timeout = timeout}
        .Validate();
  } catch (const Error& e) {
    throw Error(ErrorCode::kInvalidArgument, fmt::format("schedules.{}: {}", name, e.what()));
  }
}

std::vector<SysTime> Schedule::NextFireTimes(SysTime after, int count) const {
  Validate();
  auto expr = schedule::Cron::Parse(cron);
  auto* tz = schedule::LocateZone(zone);
  std::vector<SysTime> out;
  for (int i = 0; i < count; ++i) {
    auto next = expr.Next(after, tz);
    if (!next) break;
    out.push_back(*next);
    after = *next;
  }
  return out;
}

Json Schedule::ToJson() const {
  auto opt = [](const auto& v) { return v ? Json(*v) : Json(nullptr); };
  return {{"name", name},
          {"cron", cron},
          {"zone", zone},
          {"kind", kind},
          {"args", args},
          {"queue", opt(queue)},
          {"priority", opt(priority)},
          {"max_attempts", opt(max_attempts)},
          {"timeout_ms", timeout ? Json(timeout->count()) : Json(nullptr)},
          {"jitter_ms", jitter.count()},
          {"overrun", ToString(overrun)},
          {"catch_up", ToString(catch_up)}};
}

std::vector<SysTime> ScheduleInfo::Next() const {
  if (paused) return {};
  try {
    return schedule.NextFireTimes(std::max(std::chrono::system_clock::now(), last_slot),
                                  kNextShown);
  } catch (const Error&) {
    return {};  // written by a binary that reads more than this one: nothing to show
  }
}

Json ScheduleInfo::ToJson() const {
  Json j = schedule.ToJson();
  j["next"] = Json::array();
  for (SysTime t : Next()) j["next"].push_back(core::FormatRfc3339(t));
  j["paused"] = paused;
  j["last_slot"] = core::FormatRfc3339(last_slot);
  j["last_job_id"] = last_job_id.empty() ? Json(nullptr) : Json(last_job_id);
  j["last_enqueued_at"] =
      last_enqueued_at ? Json(core::FormatRfc3339(*last_enqueued_at)) : Json(nullptr);
  j["created_at"] = core::FormatRfc3339(created_at);
  return j;
}

}  // namespace spindle
