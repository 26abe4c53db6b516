// Which fetched jobs may start under the cluster-wide limits (docs/regulation.md), the same on
// both backends: pure logic, the store supplies the candidates and what runs now.
//
// A limit makes a *gate* of each job it applies to: its name, or `name/value` for a limit with a
// key (one gate per key value). A job starts only when every one of its gates has room; the
// store counts it in each until its lease ends (a resource pool's gate: once per unit). A job
// that cannot start is parked at its first full gate, out of the fetch's index, until a holder
// of that gate lets go. A rate limit's gate is not held: a job that starts is written in its log
// of recent starts (RateLog), and jobs parked there are let go when the oldest start leaves the
// window (OpenRateGates).
#pragma once

#include <functional>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spindle/limit.h"

namespace spindle::regulation {

// The gate `limit` makes of a job, or nullopt when it does not apply to the job (another queue
// or kind, or no value at its key). A key's value is its text for a JSON string, else its JSON.
std::optional<std::string> GateOf(const Limit& limit, std::string_view kind,
                                  std::string_view queue, const Json& args);

// The limit a gate belongs to: its name up to the first '/'.
std::string_view LimitOfGate(std::string_view gate);

struct Candidate {
  std::string id;
  std::string kind;
  std::string queue;
  Json args;
};

// A rate gate's starts within its window (docs/regulation.md, "Rate limits"): (time in ms since
// the epoch, how many started then), oldest first, stored as JSON text in the gate's row. A start
// is logged at its time rounded up to a multiple of per/200, and the starts of one such step
// share an entry, so a log has at most about 200 entries whatever the rate; a start then leaves
// the window up to per/200 late, never early.
class RateLog {
 public:
  static RateLog Parse(std::string_view text);  // "" or invalid: empty
  std::string Text() const;
  // Forgets the starts that have left the window of length `per` ending at `now`.
  void Expire(int64_t now, int64_t per);
  int64_t Used() const;
  void Add(int64_t now, int64_t n, int64_t per);
  // When the oldest start leaves the window (nullopt: none in it).
  std::optional<int64_t> NextFree(int64_t per) const;
  // When the newest leaves it: after that the log holds nothing (nullopt: none in it).
  std::optional<int64_t> Idle(int64_t per) const;

 private:
  std::vector<std::pair<int64_t, int64_t>> starts_;
};

// A gate as recorded now: how many units its holders hold, and its limit's capacity as recorded
// now (nullopt: no such limit is recorded any more, so it holds nothing back). Decisions use the
// recorded capacity, not the one the fetching worker read a while ago: a limit that grew, shrank
// or went applies from the next fetch on. A rate limit's gate (`per` set): `held` counts the
// starts in its window (Fetch sets it from `log`).
struct GateState {
  int64_t held = 0;
  std::optional<int64_t> capacity;
  std::optional<int64_t> per;  // ms
  RateLog log;
};

struct GateStates {
  int64_t now = 0;  // ms since the epoch, by the store's clock
  std::map<std::string, GateState> gates;
};

struct Decision {
  std::vector<std::string> gates;  // every gate of the job, sorted, once per unit it takes
  std::string wait;                // empty: it starts; else the full gate it waits at
};

// A rate gate whose parked jobs may go now (RateSteps::due).
struct RateGate {
  std::string gate;
  int64_t capacity = 0;
  int64_t per = 0;  // ms
  RateLog log;
};

// What a backend does to let go of jobs parked at rate gates (OpenRateGates), under the same
// lock as a fetch's decisions.
struct RateSteps {
  // The time now (ms since the epoch) and the rate gates due to open: those whose recorded
  // opening time has come, and with `all` every rate gate with parked jobs.
  std::function<std::pair<int64_t, std::vector<RateGate>>(bool all)> due;
  // Lets go of up to `n` of `gate`'s parked jobs, in line, and wakes their queues. If jobs stay
  // parked there, the gate opens next at `next` (ms); else it has no opening time. Returns how
  // many it let go and whether any stay.
  std::function<std::pair<int64_t, bool>(const std::string& gate, int64_t n, int64_t next)> open;
};

// A rate gate's changes from one round of a fetch: its log with the starts it let through (at the
// time of their leases, so that the log and the jobs' started_at agree), and,
// when it parked jobs, when the oldest start leaves the window and they may go (`opens_at`;
// nullopt: keep the recorded one). The row may be forgotten after `idle_at` (all ms).
struct RateUpdate {
  std::string gate;
  std::string log;
  std::optional<int64_t> opens_at;
  int64_t idle_at = 0;
};

class Admission {
 public:
  explicit Admission(std::vector<Limit> limits);

  // The job's gates, sorted; a gate appears once per unit the job takes of it (a pool's units).
  std::vector<std::string> Gates(const Candidate& c) const;
  // Decides, in order, for candidates whose gates are `gates` (from Gates), given each gate's
  // state (a gate not in `state`: nobody holds it, and its capacity is its limit's). A candidate
  // starts when each of its gates has room, counting the candidates started before it; all or
  // nothing, so a job never holds some gates while it waits for another.
  std::vector<Decision> Decide(std::vector<std::vector<std::string>> gates,
                               std::map<std::string, GateState> state) const;

 private:
  std::vector<Limit> limits_;
  std::map<std::string, int, std::less<>> capacity_;
};

struct RateOpened {
  int64_t now = 0;               // ms since the epoch, by the store's clock
  int64_t opened = 0;            // jobs let go
  std::optional<int64_t> next;   // the earliest opening of a gate that still holds parked jobs
};

// Lets go of the jobs parked at rate gates as far as each has starts to spare now (RateSteps).
RateOpened OpenRateGates(const RateSteps& steps, bool all);

// What a backend does for one round of a regulated fetch (Fetch below), in its transaction.
struct FetchSteps {
  // Up to `want` due jobs in fetch order, locked for the transaction, not leased.
  std::function<std::vector<Candidate>(int want)> candidates;
  // The state of each of `gates` now.
  std::function<GateStates(const std::set<std::string>& gates)> state;
  // Leases `lease` (id, the gates it holds while it runs; none: no such limit applies) and parks
  // `park` (id, the full gate it waits at); returns how many it leased, and when (ms, rounded up:
  // the latest of their leases' starts; 0 if none).
  std::function<std::pair<int, int64_t>(
      const std::vector<std::pair<std::string, std::vector<std::string>>>& lease,
      const std::vector<std::pair<std::string, std::string>>& park)>
      apply;
  // Records rate gates' logs and opening times, after `apply`.
  std::function<void(const std::vector<RateUpdate>& rates)> record;
  // Used when a rate limit is among the limits.
  RateSteps rates;
};

// The gates a job of each of `kinds` takes in `queue` (a gate once per unit), when the kind alone
// decides them: no limit has a key or a rate. Else nullopt: the fetch decides job by job. The
// stores then lease a whole batch in one statement when every gate has room for all of it.
std::optional<std::map<std::string, std::vector<std::string>>> KindGates(
    const std::vector<Limit>& limits, const std::string& queue,
    const std::vector<std::string>& kinds);

// One regulated fetch of up to `limit` jobs, the same on every backend: first the rate gates
// whose time has come let their parked jobs go, then rounds of candidates, their gates, how many
// hold them, the decisions. Rounds go on (at most 8) while a round parked jobs and the batch is
// short, so that parked jobs do not make a fetch look like an empty queue. Returns how long until
// the first rate gate that holds parked jobs back opens (nullopt: none), for the worker to fetch
// again then.
std::optional<Millis> Fetch(const std::vector<Limit>& limits, int limit, const FetchSteps& steps);

// A pool's units as the stores record them (a JSON object; nullopt: not a pool), and back.
std::optional<std::string> UnitsText(const Limit& limit);
std::map<std::string, int> UnitsOf(const std::optional<std::string>& text);

// How many jobs started within the last `per` before `now` (ms) by the logs in `logs` (a JSON
// array of RateLog texts; nullopt or no `per`: 0): a rate limit's use, for Client::Limits.
int64_t StartsWithin(const std::optional<std::string>& logs, std::optional<Millis> per, int64_t now);
int64_t EpochMillis(SysTime t);
int64_t EpochMillisUp(SysTime t);  // rounded up

// The limits that may apply to jobs of `queue` with one of `kinds`: what a worker's fetch of that
// queue passes to the store (JobFetchParams::limits).
std::vector<Limit> LimitsFor(const std::vector<Limit>& limits, const std::string& queue,
                             const std::vector<std::string>& kinds);

}  // namespace spindle::regulation
