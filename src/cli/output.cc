#include "cli/output.h"

#include <algorithm>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/bulk.h"
#include "cli/kinds.h"
#include "core/duration.h"
#include "core/time.h"

namespace spindle::cli {
namespace {

// A time for people ("-": none).
std::string Time(const std::optional<SysTime>& t) { return t ? core::FormatHumanTime(*t) : "-"; }

// An error message for a table: its last `keep` lines (0: all), indented, without the trailing
// newlines a command's stderr ends with, and a line saying what was left out.
std::string ErrorLines(const std::string& message, size_t keep) {
  std::vector<std::string> lines;
  std::string text = message.substr(0, message.find_last_not_of(" \t\r\n") + 1);
  for (size_t at = 0; at <= text.size();) {
    size_t end = std::min(text.find('\n', at), text.size());
    lines.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  std::string out;
  size_t first = keep > 0 && lines.size() > keep ? lines.size() - keep : 0;
  if (first > 0) out += fmt::format("    ... {} earlier line(s); --full shows them\n", first);
  for (size_t i = first; i < lines.size(); ++i) out += "    " + lines[i] + "\n";
  return out;
}

// "3 of 25 used (run 5)": the attempts that count toward max_attempts, and the runs when naps,
// stops, hand-backs or waits for children made more (docs/jobs.md, "Attempts").
std::string Attempts(const Job& j) {
  std::string s = fmt::format("{} of {} used", j.attempts_used, j.max_attempts);
  if (j.attempt != j.attempts_used) s += fmt::format(" (run {})", j.attempt);
  return s;
}

// Where a job with a serial key stands in its key's line (docs/jobs.md, "Serial keys").
std::string SerialText(const Job& j) {
  if (IsFinal(j.state)) return "";
  if (j.serial_held) {
    return fmt::format(" (held: waits behind the key's unfinished job; "
                       "spindle jobs list --serial-key {})", j.serial_key);
  }
  return " (the head of its key)";
}

}  // namespace

void PrintJob(const Job& j, bool json, bool full, const std::vector<KindInfo>* kinds) {
  if (json) {
    std::cout << j.ToJson().dump() << "\n";
    return;
  }
  std::cout << fmt::format(
      "id:           {}\nkind:         {}\nqueue:        {}\nstate:        {}\n"
      "priority:     {}\nattempts:     {}\nargs:         {}\nrun_at:       {}\n"
      "timeout:      {}\ncreated_at:   {}\nstarted_at:   {}\nfinished_at:  {}\n"
      "lease_owner:  {}\nlease_until:  {}\n",
      j.id, j.kind, j.queue, ToString(j.state), j.priority, Attempts(j),
      j.args.dump(), Time(j.run_at), TimeoutText(j, kinds),
      Time(j.created_at), Time(j.started_at), Time(j.finished_at),
      j.lease_owner.empty() ? "-" : j.lease_owner, Time(j.lease_expires_at));
  if (!j.step.empty()) std::cout << fmt::format("step:         {}\n", j.step);
  if (!j.step.empty() || !j.checkpoint.is_null()) {
    std::cout << fmt::format("checkpoint:   {}\n", j.checkpoint.dump());
  }
  if (j.progress.is_object()) {
    std::cout << fmt::format("progress:     {:.0f}% {}\n",
                             100 * j.progress.value("fraction", 0.0),
                             j.progress.value("message", ""));
  }
  if (!j.parent_id.empty()) std::cout << fmt::format("parent:       {}\n", j.parent_id);
  if (!j.serial_key.empty()) {
    std::cout << fmt::format("serial_key:   {}{}\n", j.serial_key, SerialText(j));
  }
  if (!j.unique_key.empty()) std::cout << fmt::format("unique_key:   {}\n", j.unique_key);
  if (j.tenant) {
    std::cout << fmt::format("tenant:       {}\n", j.tenant->empty() ? "\"\" (its args lack the queue's fair_key)" : *j.tenant);
  }
  if (!j.waits_for.empty()) {
    std::cout << fmt::format("waits_for:    limit {} (full; starts when it has room: when a job "
                             "under it ends, or under a rate limit when an earlier start leaves "
                             "the window)\n",
                             j.waits_for);
  }
  if (j.children_total > 0) {
    std::cout << fmt::format("children:     {} ({} unfinished; spindle jobs list --parent {})\n",
                             j.children_total, j.children_pending, j.id);
  }
  if (!j.result.is_null()) std::cout << fmt::format("result:       {}\n", j.result.dump());
  if (!j.errors.empty()) {
    std::cout << "errors:\n";
    for (const auto& e : j.errors) {
      std::cout << fmt::format("  attempt {} at {}:\n{}", e.attempt, Time(e.at),
                               ErrorLines(e.message, full ? 0 : 5));
    }
  }
}

void PrintDeadlines(const Job& j, std::optional<Millis> estimate) {
  if (j.deadline) {
    std::string how;
    if (auto late = j.MissedBy()) {
      how = " (missed by " + core::FormatElapsed(*late) + ")";
    } else if (j.AtRisk(estimate, std::chrono::system_clock::now())) {
      how = estimate ? " (at risk: its kind takes " + core::FormatElapsed(*estimate) + ")"
                     : " (at risk)";
    }
    std::cout << fmt::format("deadline:     {}{}\n", Time(j.deadline), how);
  }
  if (j.expires_at) std::cout << fmt::format("expires_at:   {}\n", Time(j.expires_at));
}

void PrintJobs(const std::vector<Job>& jobs, int64_t total, bool json, bool at_risk) {
  bool cut = total > static_cast<int64_t>(jobs.size());
  Json next = cut ? Json(jobs.back().id) : Json(nullptr);
  if (json) {
    Json arr = Json::array();
    for (const auto& j : jobs) {
      arr.push_back(j.ToJson());
      if (at_risk) arr.back()["at_risk"] = true;
    }
    std::cout << Json{{"jobs", arr}, {"total", total}, {"next_after", next}}.dump() << "\n";
    return;
  }
  // WHEN: the next run of a job waiting to run, a running job's start, a finished job's end.
  // Jobs at risk show their deadline instead of the error they cannot have yet.
  std::cout << fmt::format("{:<36}  {:<20}  {:<12}  {:<10}  {:>8}  {:>8}  {:<20}  {}\n", "ID",
                           "KIND", "QUEUE", "STATE", "ATTEMPTS", "PRIORITY", "WHEN",
                           at_risk ? "DEADLINE" : "ERROR");
  for (const auto& j : jobs) {
    std::string line = fmt::format(
        "{:<36}  {:<20}  {:<12}  {:<10}  {:>8}  {:>8}  {:<20}  {}", j.id, j.kind, j.queue,
        ToString(j.state), fmt::format("{}/{}", j.attempts_used, j.max_attempts), j.priority,
        j.serial_held ? std::string("held (serial key)") : Time(RelevantTime(j)),
        at_risk ? Time(j.deadline) : ErrorLine(j, 60));
    std::cout << line.substr(0, line.find_last_not_of(' ') + 1) << "\n";
  }
  if (cut) {
    std::cerr << fmt::format("showing {} of {}; next page: --after {}\n", jobs.size(), total,
                             jobs.back().id);
  }
}

void PrintMembers(const Membership& ms, bool json) {
  if (json) {
    Json arr = Json::array();
    for (const auto& m : ms.members) arr.push_back(ToJson(m));
    std::cout << Json{{"version", ms.version}, {"workers", arr}}.dump() << "\n";
    return;
  }
  auto now = std::chrono::system_clock::now();
  auto ago = [](Millis d) { return core::FormatElapsed(d); };
  std::cout << fmt::format("{:<32}  {:<16}  {:>7}  {:>8}  {:>9}  {:<9}  {:<24}  {:<16}  {}\n",
                           "ID", "HOST", "PID", "AGE", "HEARTBEAT", "PARTITION", "QUEUES",
                           "ROLES", "LEADER");
  for (const auto& m : ms.members) {
    auto age = std::chrono::duration_cast<Millis>(now - m.started_at);
    std::string partition =
        m.info.partition ? fmt::format("{}/{}", *m.info.partition, m.partition_count) : "-";
    std::cout << fmt::format("{:<32}  {:<16}  {:>7}  {:>8}  {:>9}  {:<9}  {:<24}  {:<16}  {}\n",
                             m.info.id, m.info.host, m.info.pid, ago(age),
                             ago(m.silent_for) + " ago", partition, QueuesText(m.info),
                             m.info.roles.empty() ? "-" : fmt::format("{}", fmt::join(m.info.roles, ",")),
                             m.leader ? "yes" : "");
  }
  std::cout << fmt::format("{} worker(s), membership version {}\n", ms.members.size(),
                           ms.version);
}

void PrintLimits(const std::vector<LimitInfo>& limits, bool json) {
  if (json) {
    Json arr = Json::array();
    for (const auto& l : limits) arr.push_back(l.ToJson());
    std::cout << arr.dump() << "\n";
    return;
  }
  if (limits.empty()) {
    std::cout << "no limits recorded (docs/regulation.md says how to declare them)\n";
    return;
  }
  // APPLIES TO: which jobs; KEY: the args path each value of which is limited on its own.
  // RUNNING: the jobs that hold it now; for a pool, the units they hold; for a rate limit
  // (CAPACITY "N/DURATION"), the jobs that started within the last DURATION.
  struct Row {
    std::string name, capacity, scope, key;
    const LimitInfo* info;
  };
  std::vector<Row> rows;
  size_t name_w = 24, scope_w = 28, key_w = 16;  // at least; wider for longer values
  for (const auto& info : limits) {
    const Limit& l = info.limit;
    std::string scope;
    if (l.queue) scope = "queue " + *l.queue;
    if (l.kind) scope += (scope.empty() ? "" : ", ") + ("kind " + *l.kind);
    // A pool: the kinds that use it and how many units a job of each takes.
    std::string uses;
    for (const auto& [kind, n] : l.units) {
      uses += (uses.empty() ? "" : " ") + kind + (n > 1 ? fmt::format("({})", n) : "");
    }
    if (!uses.empty()) scope += (scope.empty() ? "" : ", ") + ("kinds " + uses);
    if (scope.empty()) scope = "every job";
    std::string capacity = std::to_string(l.capacity);
    if (l.per) capacity += "/" + core::FormatDuration(*l.per);
    rows.push_back({l.name, capacity, scope, l.key.value_or("-"), &info});
    name_w = std::max(name_w, l.name.size());
    scope_w = std::max(scope_w, scope.size());
    key_w = std::max(key_w, rows.back().key.size());
  }
  auto line = [&](const std::string& name, const std::string& capacity, const std::string& scope,
                  const std::string& key, const std::string& running, const std::string& waiting,
                  const std::string& keys) {
    std::cout << fmt::format("{:<{}}  {:>8}  {:<{}}  {:<{}}  {:>7}  {:>7}  {:>6}\n", name, name_w,
                             capacity, scope, scope_w, key, key_w, running, waiting, keys);
  };
  line("LIMIT", "CAPACITY", "APPLIES TO", "KEY", "RUNNING", "WAITING", "KEYS");
  for (const auto& r : rows) {
    const LimitInfo& info = *r.info;
    line(r.name, r.capacity, r.scope, r.key, std::to_string(info.running),
         std::to_string(info.waiting), info.limit.key ? std::to_string(info.keys) : "-");
  }
}

void PrintQueues(const std::vector<QueueInfo>& queues, bool json) {
  static const char* kStates[] = {"available", "scheduled", "running", "retryable", "waiting",
                                  "completed", "failed",    "cancelled", "stopped", "expired"};
  // ORDER: the fetch order within each priority ("fair(KEY)": tenants take turns), "+shed" when
  // late work expires.
  auto order = [](const QueueInfo& q) {
    std::string o = q.settings.fair_key ? "fair(" + *q.settings.fair_key + ")"
                                        : std::string(ToString(q.settings.order));
    return o + (q.settings.shed ? "+shed" : "");
  };
  size_t order_width = 13;
  for (const auto& q : queues) order_width = std::max(order_width, order(q).size());
  if (json) {
    Json arr = Json::array();
    for (const auto& q : queues) arr.push_back(ToJson(q));
    std::cout << arr.dump() << "\n";
    return;
  }
  // CONSUMERS: live workers fetching from the queue, and their concurrency in all.
  std::cout << fmt::format("{:<24}  {:<6}  {:<{}}  {:<9}", "QUEUE", "PAUSED", "ORDER",
                           order_width, "CONSUMERS");
  for (const char* st : kStates) std::cout << fmt::format("  {:>9}", st);
  std::cout << "\n";
  for (const auto& q : queues) {
    std::cout << fmt::format("{:<24}  {:<6}  {:<{}}  {:<9}", q.name, q.paused_at ? "yes" : "no",
                             order(q), order_width,
                             q.consumers ? fmt::format("{} ({})", q.consumers, q.concurrency)
                                         : "0");
    for (const char* st : kStates) {
      auto it = q.jobs.find(st);
      std::cout << fmt::format("  {:>9}", it == q.jobs.end() ? 0 : it->second);
    }
    std::cout << (q.unserved() ? "  NO CONSUMER" : "") << "\n";
  }
}

void PrintCluster(const ClusterState& c, const Membership& ms, bool json) {
  std::string leader = ms.Leader() ? ms.Leader()->info.id : "";
  if (json) {
    std::cout << ToJson(c, ms).dump() << "\n";
    return;
  }
  if (c.stopped_at) {
    std::cout << fmt::format("stopped since {}: {}\n", Time(c.stopped_at),
                             c.stop_reason.empty() ? "(no reason given)" : c.stop_reason);
  } else {
    std::cout << "running\n";
  }
  std::cout << fmt::format("{} worker(s), leader: {}\n", ms.members.size(),
                           leader.empty() ? "none" : leader);
}

}  // namespace spindle::cli
