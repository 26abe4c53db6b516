// Cluster-wide concurrency limits, rate limits and resource pools (docs/regulation.md): at most
// `capacity` jobs (or units) run at once, or start within any `per`, across every worker, per
// queue, per kind, or per value of a key in the job's arguments.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "spindle/job.h"

namespace spindle {

// The longest window a rate limit may have.
inline constexpr Millis kMaxRatePer{30LL * 24 * 3600 * 1000};

struct Limit {
  // Letters, digits, '_', '-', '.' and ':'; at most 100 bytes. `queue:NAME` and `kind:NAME` are
  // the names the configuration gives a queue's and a kind's `limit`.
  std::string name;
  // At most this many jobs the limit applies to run at once (per key value, with `key`), >= 1.
  int capacity = 1;
  // Which jobs it applies to: of this queue, of this kind (unset: any). Both set: both must match.
  std::optional<std::string> queue;
  std::optional<std::string> kind;
  // A path into the job's args, dot-separated ("customer_id", "account.id"): the limit applies
  // to each value there on its own (a job without one is not limited). Unset: one limit for all.
  std::optional<std::string> key;
  // A resource pool: `capacity` units, and each job of a kind named here takes that many of them
  // while it runs (1 to `capacity`); the limit applies to jobs of these kinds only (`kind` unset).
  // Empty: each job the limit applies to takes one.
  std::map<std::string, int> units;
  // A rate limit: at most `capacity` of the jobs it applies to *start* within any span of this
  // length (1 ms to 30 days), however long they run. Unset: at most `capacity` run at once.
  std::optional<Millis> per;

  // The units a job of `kind` takes of this limit (1 unless `units` names the kind).
  int UnitsOf(std::string_view kind) const;

  // Throws spindle::Error(kInvalidArgument) naming the limit and what is wrong.
  void Validate() const;
  Json ToJson() const;
  bool operator==(const Limit&) const = default;
};

// A limit as recorded, with how it is used right now (Client::Limits).
struct LimitInfo {
  Limit limit;
  // Jobs (a pool: units) running under it, all its key values together; a rate limit: jobs that
  // started within the last `per`.
  int64_t running = 0;
  int64_t waiting = 0;  // jobs due that wait for it
  int64_t keys = 0;     // key values with a running or waiting job (a limit without key: 0 or 1)

  Json ToJson() const;
};

}  // namespace spindle
