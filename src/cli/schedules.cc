#include "cli/schedules.h"

#include <algorithm>
#include <iostream>

#include <fmt/format.h>

#include "core/time.h"

namespace spindle::cli {
namespace {

// The fire times listed: the next three after now (or after the last slot taken, if later);
// none while paused, as a paused schedule fires at none of them.
constexpr int kNextShown = 3;

std::vector<SysTime> Next(const ScheduleInfo& s) {
  if (s.paused) return {};
  try {
    return s.schedule.NextFireTimes(std::max(std::chrono::system_clock::now(), s.last_slot),
                                    kNextShown);
  } catch (const Error&) {
    return {};  // written by a binary that reads more than this one: nothing to show
  }
}

void Print(const std::vector<ScheduleInfo>& schedules, bool json) {
  if (json) {
    Json arr = Json::array();
    for (const auto& s : schedules) {
      Json j = s.ToJson();
      j["next"] = Json::array();
      for (SysTime t : Next(s)) j["next"].push_back(core::FormatRfc3339(t));
      arr.push_back(std::move(j));
    }
    std::cout << arr.dump() << "\n";
    return;
  }
  std::cout << fmt::format("{:<20}  {:<18}  {:<16}  {:<6}  {:<20}  {:<20}  {}\n", "SCHEDULE",
                           "CRON", "ZONE", "PAUSED", "NEXT", "LAST RUN", "KIND");
  for (const auto& s : schedules) {
    auto next = Next(s);
    std::cout << fmt::format(
        "{:<20}  {:<18}  {:<16}  {:<6}  {:<20}  {:<20}  {}\n", s.schedule.name, s.schedule.cron,
        s.schedule.zone, s.paused ? "yes" : "no",
        next.empty() ? "-" : core::FormatHumanTime(next[0]),
        s.last_enqueued_at ? core::FormatHumanTime(*s.last_enqueued_at) : "-", s.schedule.kind);
  }
}

}  // namespace

void AddScheduleCommands(CLI::App& app, ScheduleCommands& c) {
  auto* schedules = app.add_subcommand("schedules", "Periodic jobs: list, pause, resume, run now");
  schedules->require_subcommand(1);
  schedules->fallthrough();
  c.list = schedules->add_subcommand(
      "list", "Every schedule: its expression, zone, next fire times and last run");
  c.pause = schedules->add_subcommand("pause", "Enqueue nothing for its slots until resumed");
  c.pause->add_option("name", c.name)->required();
  c.resume = schedules->add_subcommand(
      "resume", "Enqueue for its slots again (the slots that passed while paused do not run)");
  c.resume->add_option("name", c.name)->required();
  c.run = schedules->add_subcommand("run", "Enqueue its job now; prints the job's id");
  c.run->add_option("name", c.name)->required();
}

bool RunScheduleCommands(const ScheduleCommands& c,
                         const std::function<std::unique_ptr<Client>()>& open, bool json) {
  if (c.list->parsed()) {
    Print(open()->Schedules(), json);
    return true;
  }
  if (c.pause->parsed() || c.resume->parsed()) {
    auto client = open();
    if (c.pause->parsed()) {
      client->PauseSchedule(c.name);
    } else {
      client->ResumeSchedule(c.name);
    }
    auto all = client->Schedules();
    std::erase_if(all, [&](const ScheduleInfo& s) { return s.schedule.name != c.name; });
    Print(all, json);
    return true;
  }
  if (c.run->parsed()) {
    std::string id = open()->RunSchedule(c.name);
    std::cout << (json ? Json{{"id", id}, {"schedule", c.name}}.dump() : id) << "\n";
    return true;
  }
  return false;
}

}  // namespace spindle::cli
