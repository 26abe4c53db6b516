// Which fetched jobs may start under the cluster-wide limits (docs/regulation.md), the same on
// both backends: pure logic, the store supplies the candidates and what runs now.
//
// A limit makes a *gate* of each job it applies to: its name, or `name/value` for a limit with a
// key (one gate per key value). A job starts only when every one of its gates has room; the
// store counts it in each until its lease ends (a resource pool's gate: once per unit). A job
// that cannot start is parked at its first full gate, out of the fetch's index, until a holder
// of that gate lets go.
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

// A gate as recorded now: how many units its holders hold, and its limit's capacity as recorded
// now (nullopt: no such limit is recorded any more, so it holds nothing back). Decisions use the
// recorded capacity, not the one the fetching worker read a while ago: a limit that grew, shrank
// or went applies from the next fetch on.
struct GateState {
  int64_t held = 0;
  std::optional<int64_t> capacity;
};

struct Decision {
  std::vector<std::string> gates;  // every gate of the job, sorted, once per unit it takes
  std::string wait;                // empty: it starts; else the full gate it waits at
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

// What a backend does for one round of a regulated fetch (Fetch below), in its transaction.
struct FetchSteps {
  // Up to `want` due jobs in fetch order, locked for the transaction, not leased.
  std::function<std::vector<Candidate>(int want)> candidates;
  // The state of each of `gates` now.
  std::function<std::map<std::string, GateState>(const std::set<std::string>& gates)> state;
  // Leases `lease` (id, its gates; none: no limit applies) and parks `park` (id, the full gate
  // it waits at); returns how many it leased.
  std::function<int(const std::vector<std::pair<std::string, std::vector<std::string>>>& lease,
                    const std::vector<std::pair<std::string, std::string>>& park)>
      apply;
};

// One regulated fetch of up to `limit` jobs, the same on every backend: rounds of candidates, their
// gates, how many hold them, the decisions. Rounds go on (at most 8) while a round parked jobs and
// the batch is short, so that parked jobs do not make a fetch look like an empty queue.
void Fetch(const std::vector<Limit>& limits, int limit, const FetchSteps& steps);

// A pool's units as the stores record them (a JSON object; nullopt: not a pool), and back.
std::optional<std::string> UnitsText(const Limit& limit);
std::map<std::string, int> UnitsOf(const std::optional<std::string>& text);

// The limits that may apply to jobs of `queue` with one of `kinds`: what a worker's fetch of that
// queue passes to the store (JobFetchParams::limits).
std::vector<Limit> LimitsFor(const std::vector<Limit>& limits, const std::string& queue,
                             const std::vector<std::string>& kinds);

}  // namespace spindle::regulation
