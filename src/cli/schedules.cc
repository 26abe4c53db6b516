#include "cli/schedules.h"

#include <algorithm>
#include <iostream>

#include <fmt/format.h>

#include "core/time.h"

namespace spindle::cli {
namespace {

void Print(const std::vector<ScheduleInfo>& schedules, bool json) {
  if (json) {
    Json arr = Json::array();
    for (const auto& s : schedules) {
      arr.push_back(s.ToJson());
    }
    std::cout << arr.dump() << "\n";
    return;
  }
  std::cout << fmt::format("{:<20}  {:<18}  {:<16}  {:<6}  {:<20}  {:<20}  {}\n", "SCHEDULE",
                           "CRON", "ZONE", "PAUSED", "NEXT", "LAST RUN", "KIND");
  for (const auto& s : schedules) {
    auto next = s.Next();
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
