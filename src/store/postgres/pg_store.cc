#include "store/postgres/pg_store.h"

#include <poll.h>

#include <map>
#include <set>

#include <fmt/format.h>
#include "core/duration.h"
#include "core/log.h"

#include "core/time.h"
#include "core/uuid.h"
#include "regulation/admission.h"
#include "spindle/error.h"
#include "spindle/postgres.h"
#include "store/postgres/sql.h"

namespace spindle::pg {
namespace {

using namespace spindle::pgsql;
using core::FormatTimestamp;
using core::ParseTimestamp;

std::optional<std::string> Opt(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<std::string>(s);
}

// A number as a parameter, NULL when unset.
std::optional<std::string> OptNumber(const std::optional<int>& v) {
  return v ? std::optional(std::to_string(*v)) : std::nullopt;
}
std::optional<std::string> OptNumber(const std::optional<Millis>& v) {
  return v ? std::optional(std::to_string(v->count())) : std::nullopt;
}

// Reads the job columns in the order of job_get.sql, starting at column 0. Never fails on the
// JSON columns: one the worker cannot parse holds its raw text (ReadJobJson), and `problem`, if
// given, says which and why.
Job ReadJob(const Result& r, int row, std::string* problem = nullptr) {
  auto opt_time = [&](int col) -> std::optional<SysTime> {
    if (r.IsNull(row, col)) return std::nullopt;
    return ParseTimestamp(r.Get(row, col));
  };
  Job j;
  j.id = r.Get(row, 0);
  j.kind = r.Get(row, 1);
  j.queue = r.Get(row, 2);
  j.priority = std::stoi(std::string(r.Get(row, 4)));
  j.run_at = ParseTimestamp(r.Get(row, 5));
  j.state = ParseJobState(r.Get(row, 6)).value_or(JobState::kAvailable);
  j.attempt = std::stoi(std::string(r.Get(row, 7)));
  j.max_attempts = std::stoi(std::string(r.Get(row, 8)));
  j.attempts_used = std::stoi(std::string(r.Get(row, 23)));
  if (!r.IsNull(row, 9)) j.timeout = Millis(std::stoll(std::string(r.Get(row, 9))));
  j.created_at = ParseTimestamp(r.Get(row, 11));
  j.started_at = opt_time(12);
  j.finished_at = opt_time(13);
  if (!r.IsNull(row, 14)) j.lease_owner = r.Get(row, 14);
  j.lease_expires_at = opt_time(15);
  if (!r.IsNull(row, 16)) j.step = r.Get(row, 16);
  if (!r.IsNull(row, 18)) j.parent_id = r.Get(row, 18);
  j.children_total = std::stoi(std::string(r.Get(row, 19)));
  j.children_pending = std::stoi(std::string(r.Get(row, 20)));
  if (!r.IsNull(row, 24)) j.serial_key = r.Get(row, 24);
  j.serial_held = r.Get(row, 25) == "t";
  // Deadlines (migration 011) and the unique key (014), by name: only the queries that show
  // them select them.
  if (int c = r.Column("deadline"); c >= 0) j.deadline = opt_time(c);
  if (int c = r.Column("expires_at"); c >= 0) j.expires_at = opt_time(c);
  if (int c = r.Column("unique_key"); c >= 0 && !r.IsNull(row, c)) j.unique_key = r.Get(row, c);
  if (int c = r.Column("gate_wait"); c >= 0 && !r.IsNull(row, c)) j.waits_for = r.Get(row, c);
  if (int c = r.Column("fair_key"); c >= 0 && !r.IsNull(row, c)) j.tenant = r.Get(row, c);
  auto opt_text = [&](int col) -> std::optional<std::string_view> {
    if (r.IsNull(row, col)) return std::nullopt;
    return r.Get(row, col);
  };
  std::string unreadable = ReadJobJson(j, {.args = r.Get(row, 3),
                                           .errors = r.Get(row, 10),
                                           .checkpoint = opt_text(17),
                                           .progress = opt_text(21),
                                           .result = opt_text(22)});
  if (problem) *problem = std::move(unreadable);
  return j;
}

std::vector<Job> ReadJobs(const Result& r) {
  std::vector<Job> jobs;
  jobs.reserve(r.rows());
  for (int i = 0; i < r.rows(); ++i) jobs.push_back(ReadJob(r, i));
  return jobs;
}

// Runs `body` in a transaction on `c`: committed when it returns true, rolled back when it
// returns false or throws.
template <class Body>
void InTransaction(Conn& c, Body body) {
  c.ExecScript("BEGIN");
  try {
    c.ExecScript(body() ? "COMMIT" : "ROLLBACK");
  } catch (...) {
    if (c.ok()) PQclear(PQexec(c.raw(), "ROLLBACK"));
    throw;
  }
}

// A change of a parent or child locks both (the triggers of migration 006), so it can deadlock
// with a batch finishing that job's relatives; PostgreSQL then aborts one side, and it is safe to
// run `fn` again.
template <class Fn>
auto RetryingDeadlocks(Fn fn) {
  for (int tries = 1;; ++tries) {
    try {
      return fn();
    } catch (const Error& e) {
      if (tries == 3 || std::string_view(e.what()).find("deadlock") == std::string_view::npos) {
        throw;
      }
    }
  }
}

// A filter's states as a parameter (NULL: every state).
std::optional<std::string> States(const JobFilter& f) {
  if (f.states.empty()) return std::nullopt;
  std::vector<std::optional<std::string>> names;
  for (JobState s : f.states) names.push_back(std::string(ToString(s)));
  return FormatArray(names);
}

void RequireUuid(const std::string& id) {
  if (!core::IsUuid(id)) {
    throw Error(ErrorCode::kNotFound, "no job with id '" + id + "' (not a UUID)");
  }
}

}  // namespace

namespace {

// A spec's unique states as an array literal (NULL: the default, or no key).
std::optional<std::string> UniqueStates(const JobSpec& s) {
  if (s.unique_states.empty()) return std::nullopt;
  std::vector<std::optional<std::string>> names;
  for (JobState st : s.unique_states) names.push_back(std::string(ToString(st)));
  return FormatArray(names);
}

// One round of InsertJobs: inserts `specs` with fresh ids. Returns their results; a spec whose
// key was taken by a job this statement could not see gets an empty id and its bucket in
// `bucket` (for the look-up).
std::vector<EnqueueResult> InsertRound(Conn& conn, const std::vector<const JobSpec*>& specs,
                                       const std::optional<std::string>& now, bool prepared,
                                       const std::optional<std::string>& parent,
                                       std::vector<std::optional<std::string>>& bucket) {
  std::vector<EnqueueResult> results;
  std::vector<std::optional<std::string>> id, kind, queue, args, priority, run_at, max_attempts,
      timeout, deadline, expires_at, serial_key, unique_key, unique_period, unique_states;
  auto time = [](const std::optional<SysTime>& t) {
    return t ? std::optional(FormatTimestamp(*t)) : std::nullopt;
  };
  bool deadlines = false;  // ordinary batches send none: NULL arrays, which unnest pads
  bool serial = false;     // likewise when no job has a serial key
  for (auto* v : {&id, &kind, &queue, &args, &priority, &run_at, &max_attempts, &timeout,
                  &serial_key, &unique_key, &unique_period, &unique_states}) {
    v->reserve(specs.size());
  }
  results.reserve(specs.size());
  bool keyed = false;
  for (const JobSpec* s : specs) {
    std::string a = ValidatedArgs(*s);
    results.push_back({core::NewUuidV7()});
    id.push_back(results.back().id);
    kind.push_back(s->kind);
    queue.push_back(s->queue);
    args.push_back(std::move(a));
    priority.push_back(OptNumber(s->priority));
    run_at.push_back(time(s->run_at));
    max_attempts.push_back(OptNumber(s->max_attempts));
    timeout.push_back(OptNumber(s->timeout));
    deadline.push_back(time(s->deadline));
    expires_at.push_back(time(s->expires_at));
    deadlines = deadlines || s->deadline || s->expires_at;
    serial_key.push_back(s->serial_key);
    serial = serial || s->serial_key;
    unique_key.push_back(s->unique_key);
    unique_period.push_back(OptNumber(s->unique_period));
    unique_states.push_back(UniqueStates(*s));
    keyed = keyed || s->unique_key;
  }
  Params p{now,
           FormatArray(id),
           FormatArray(kind),
           FormatArray(queue),
           FormatArray(args),
           FormatArray(priority),
           FormatArray(run_at),
           FormatArray(max_attempts),
           FormatArray(timeout),
           parent,
           deadlines ? std::optional(FormatArray(deadline)) : std::nullopt,
           deadlines ? std::optional(FormatArray(expires_at)) : std::nullopt,
           serial ? std::optional(FormatArray(serial_key)) : std::nullopt};
  bucket.assign(specs.size(), std::nullopt);
  // Without unique keys, the statement of before unique jobs: their cost stays what it was.
  if (!keyed) {
    if (prepared) {
      conn.ExecPrepared("job_insert_many", kJobInsertMany, p);
    } else {
      conn.Exec(kJobInsertMany, p);
    }
    return results;
  }
  p.push_back(FormatArray(unique_key));
  p.push_back(FormatArray(unique_period));
  p.push_back(FormatArray(unique_states));
  auto r = prepared ? conn.ExecPrepared("job_insert_unique", kJobInsertUnique, p)
                    : conn.Exec(kJobInsertUnique, p);
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < results.size(); ++i) index[results[i].id] = i;
  for (int row = 0; row < r.rows(); ++row) {
    if (r.IsNull(row, 0)) continue;  // nothing was skipped
    size_t i = index.at(std::string(r.Get(row, 0)));
    results[i].existing = true;
    results[i].id = r.IsNull(row, 2) ? "" : std::string(r.Get(row, 2));
    if (!r.IsNull(row, 1)) bucket[i] = std::string(r.Get(row, 1));
  }
  return results;
}

}  // namespace

std::vector<EnqueueResult> InsertJobs(Conn& conn, const std::vector<JobSpec>& specs,
                                      const std::optional<std::string>& now, bool prepared,
                                      const std::optional<std::string>& parent) {
  if (specs.empty()) return {};
  if (parent) CheckChildren(specs);
  std::vector<const JobSpec*> round;
  for (const auto& s : specs) round.push_back(&s);
  std::vector<EnqueueResult> results;
  std::vector<size_t> at(specs.size());  // where each spec of this round goes in `results`
  for (size_t i = 0; i < at.size(); ++i) at[i] = i;
  for (int n = 1; !round.empty(); ++n) {
    std::vector<std::optional<std::string>> bucket;
    auto got = InsertRound(conn, round, now, prepared, parent, bucket);
    if (results.empty()) results = got;
    std::vector<const JobSpec*> again;
    std::vector<size_t> again_at;
    for (size_t i = 0; i < got.size(); ++i) {
      if (!got[i].existing || !got[i].id.empty()) {
        results[at[i]] = got[i];
        continue;
      }
      // The holder committed after this statement's snapshot was taken: a new statement sees
      // it, unless it let go of the key meanwhile; then the spec is inserted again.
      auto r = prepared ? conn.ExecPrepared("job_unique_holder", kJobUniqueHolder,
                                            {round[i]->unique_key, bucket[i]})
                        : conn.Exec(kJobUniqueHolder, {round[i]->unique_key, bucket[i]});
      if (r.rows() == 1) {
        results[at[i]] = {std::string(r.Get(0, 0)), true};
      } else {
        again.push_back(round[i]);
        again_at.push_back(at[i]);
      }
    }
    if (!again.empty() && n == kUniqueInsertRounds) {
      throw Error(ErrorCode::kUnavailable,
                  fmt::format("unique key '{}' kept changing hands; try again",
                              *again.front()->unique_key));
    }
    round = std::move(again);
    at = std::move(again_at);
  }
  return results;
}

std::vector<std::string> Enqueue(PGconn* conn, const std::vector<JobSpec>& specs) {
  std::vector<std::string> ids;
  for (auto& r : Insert(conn, specs)) ids.push_back(std::move(r.id));
  return ids;
}

std::vector<EnqueueResult> Insert(PGconn* conn, const std::vector<JobSpec>& specs) {
  Conn borrowed = Conn::Borrow(conn);
  return InsertJobs(borrowed, specs, std::nullopt, /*prepared=*/false, std::nullopt);
}

PgStore::PgStore(const StoreOptions& options)
    : clock_(options.clock ? options.clock : std::make_shared<SystemClock>()),
      pool_(options.url, options.pool_size) {
  pool_.Acquire();  // fail fast on a bad URL or an unreachable server
}

std::optional<std::string> PgStore::Now() const {
  auto pinned = clock_->Pinned();
  if (!pinned) return std::nullopt;
  return FormatTimestamp(*pinned);
}

int PgStore::LatestVersion() const { return std::end(kMigrations)[-1].version; }

int PgStore::SchemaVersion() {
  auto c = pool_.Acquire();
  if (c->Exec(kSchemaExists).Get(0, 0) != "t") return 0;
  return std::stoi(std::string(c->Exec(kSchemaVersion).Get(0, 0)));
}

int PgStore::Migrate() {
  // Up to date (the common case): no lock, no DDL, so a role without CREATE rights can start.
  int current = SchemaVersion();
  if (current == LatestVersion()) return current;
  auto c = pool_.Acquire();
  InTransaction(*c, [&] {
    c->ExecScript(kSchemaBootstrap);
    current = std::stoi(std::string(c->Exec(kSchemaVersion).Get(0, 0)));
    if (current > LatestVersion()) {
      ThrowSchemaTooNew(current, LatestVersion());
    }
    for (const auto& m : kMigrations) {
      if (m.version <= current) continue;
      core::Log().info("event=migrate version={} name={}", m.version, m.name);
      c->ExecScript(m.sql);
      c->Exec(kSchemaVersionRecord, {std::to_string(m.version), std::string(m.name)});
      current = m.version;
    }
    return true;
  });
  return current;
}

std::vector<EnqueueResult> PgStore::JobInsert(const std::vector<JobSpec>& specs) {
  auto c = pool_.Acquire();
  return InsertJobs(*c, specs, Now(), /*prepared=*/true, std::nullopt);
}

std::optional<Job> PgStore::JobGet(const std::string& id) {
  if (!core::IsUuid(id)) return std::nullopt;
  auto c = pool_.Acquire();
  auto r = c->ExecPrepared("job_get", kJobGet, {id});
  if (r.rows() == 0) return std::nullopt;
  return ReadJob(r, 0);
}

std::vector<JobEvent> PgStore::JobEvents(const std::string& id) {
  RequireUuid(id);
  auto c = pool_.Acquire();
  auto r = c->ExecPrepared("job_events", kJobEvents, {id});
  std::vector<JobEvent> out;
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back({ParseTimestamp(r.Get(i, 0)), std::string(r.Get(i, 1)), std::string(r.Get(i, 2))});
  }
  return out;
}

// The parameters of fragments/job_filter.sql, then $15: `limit`.
Params PgStore::FilterParams(const JobFilter& f, int limit) const {
  auto time = [](const std::optional<SysTime>& t) {
    return t ? std::optional(FormatTimestamp(*t)) : std::nullopt;
  };
  return {States(f),           Opt(f.queue),           Opt(f.kind),
          Opt(f.parent_id),    Opt(f.after_id),        f.at_risk ? "true" : "false",
          Now(),               Opt(f.serial_key),      ArgsParam(f),
          OptNumber(f.priority), time(f.created_after),  time(f.created_before),
          time(f.finished_after), time(f.finished_before), std::to_string(limit)};
}

std::vector<Job> PgStore::JobList(const JobFilter& f) {
  auto c = pool_.Acquire();
  Params p = FilterParams(f, f.limit);
  return ReadJobs(f.parent_id.empty() ? c->ExecPrepared("job_list", kJobList, p)
                                      : c->ExecPrepared("job_children", kJobChildren, p));
}

int64_t PgStore::JobCount(const JobFilter& f) {
  auto c = pool_.Acquire();
  Params p = FilterParams(f, 0);
  p.pop_back();  // no limit
  auto r = c->ExecPrepared("job_count", kJobCount, p);
  return std::stoll(std::string(r.Get(0, 0)));
}

JobTally PgStore::JobCountUpTo(const JobFilter& f, int64_t cap) {
  auto c = pool_.Acquire();
  Params p = FilterParams(f, 0);
  p.back() = std::to_string(cap + 1);
  auto r = c->ExecPrepared("job_count_up_to", kJobCountUpTo, p);
  int64_t counted = std::stoll(std::string(r.Get(0, 0)));
  if (counted <= cap) return {counted};
  p.pop_back();
  // An EXPLAIN cannot be prepared: sent with its parameters each time.
  Json plan = Json::parse(std::string(c->Exec(kJobCountPlan, p).Get(0, 0)), nullptr, false);
  int64_t rows = 0;
  if (plan.is_array() && !plan.empty()) rows = plan[0]["Plan"].value("Plan Rows", int64_t{0});
  return {std::max(rows, cap), true};
}

std::vector<Job> PgStore::JobFetch(const JobFetchParams& p) {
  std::vector<std::optional<std::string>> kinds(p.kinds.begin(), p.kinds.end());
  std::vector<std::optional<std::string>> partitions;
  for (int index : p.partitions) partitions.push_back(std::to_string(index));
  std::vector<std::pair<Job, std::string>> fetched;
  if (!p.limits.empty()) {
    auto c = pool_.Acquire();
    std::optional<Millis> wait;
    InTransaction(*c, [&] {
      fetched.clear();
      wait = FetchRegulated(*c, p, kinds, partitions, fetched);
      return true;
    });
    if (p.rate_wait) *p.rate_wait = wait;
  } else {
    auto c = pool_.Acquire();
    auto fetch = [&](const char* name, std::string_view sql, int limit) {
      auto r = c->ExecPrepared(
          name, sql,
          {Now(), p.queue, std::to_string(limit), p.worker_id, std::to_string(p.lease.count()),
           FormatArray(kinds), std::to_string(p.partition_count), FormatArray(partitions),
           std::to_string(p.overdue.count())});
      for (int i = 0; i < r.rows(); ++i) {
        std::string problem;
        Job j = ReadJob(r, i, &problem);
        fetched.emplace_back(std::move(j), std::move(problem));
      }
    };
    int limit = p.limit;
    if (p.fair) {
      fetch("job_fetch_fair", kJobFetchFair, limit);
      // The rest, if any: jobs the fair fetch does not see (enqueued before the queue was fair).
      limit -= static_cast<int>(fetched.size());
    }
    if (limit > 0) {
      bool edf = p.order == QueueOrder::kDeadline;
      fetch(edf ? "job_fetch_deadline" : "job_fetch", edf ? kJobFetchDeadline : kJobFetch, limit);
    }
  }
  return RunnableJobs(*this, p.worker_id, std::move(fetched));
}

// The regulated fetch (docs/regulation.md, regulation::Fetch), in the caller's transaction. It
// takes the advisory lock that every decision and release takes before it locks any row: a
// SELECT ... FOR UPDATE can keep the lock of a row it then skips (one that a commit changed under
// it, so that it no longer matches), and a release that holds the advisory lock may want that row
// (a job it finishes, a parked job it lets go), so rows first would deadlock. Under the lock the
// fetch waits for nothing: SKIP LOCKED, and only rows it locked itself are changed.
std::optional<Millis> PgStore::FetchRegulated(
    Conn& c, const JobFetchParams& p, const std::vector<std::optional<std::string>>& kinds,
    const std::vector<std::optional<std::string>>& partitions,
    std::vector<std::pair<Job, std::string>>& fetched) {
  c.ExecScript(kRegulationLock);
  if (FetchWithin(c, p, kinds, partitions, fetched)) return std::nullopt;
  return regulation::Fetch(
      p.limits, p.limit,
      {.candidates =
           [&](int want) {
             std::vector<std::optional<std::string>> params = {
                 Now(), p.queue, std::to_string(want), p.worker_id,
                 std::to_string(p.lease.count()), FormatArray(kinds),
                 std::to_string(p.partition_count), FormatArray(partitions),
                 std::to_string(p.overdue.count())};
             std::optional<Result> fair;
             if (p.fair) {
               fair.emplace(c.ExecPrepared("job_fetch_candidates_fair",
                                           kJobFetchCandidatesFair, params));
             }
             Result r = fair && fair->rows() > 0
                            ? std::move(*fair)
                            : c.ExecPrepared("job_fetch_candidates", kJobFetchCandidates, params);
             std::vector<regulation::Candidate> out;
             for (int i = 0; i < r.rows(); ++i) {
               out.push_back({std::string(r.Get(i, 0)), std::string(r.Get(i, 1)), p.queue,
                              Json::parse(r.Get(i, 2), nullptr, false)});
             }
             return out;
           },
       .state =
           [&](const std::set<std::string>& gates) {
             regulation::GateStates state;
             if (gates.empty()) return state;
             auto r = c.ExecPrepared("gate_held", kGateHeld,
                                     {FormatArray({gates.begin(), gates.end()}), Now()});
             auto opt = [&](int i, int col) {
               return r.IsNull(i, col) ? std::nullopt
                                       : std::optional<int64_t>(std::stoll(std::string(r.Get(i, col))));
             };
             for (int i = 0; i < r.rows(); ++i) {
               state.now = std::stoll(std::string(r.Get(i, 5)));
               state.gates[std::string(r.Get(i, 0))] = {std::stoll(std::string(r.Get(i, 1))),
                                                        opt(i, 2), opt(i, 3),
                                                        regulation::RateLog::Parse(r.Get(i, 4))};
             }
             return state;
           },
       .apply =
           [&](const auto& lease, const auto& park) {
             std::vector<std::optional<std::string>> lease_ids, lease_gates, park_ids, park_gates;
             for (const auto& [id, gates] : lease) {
               lease_ids.push_back(id);
               lease_gates.push_back(gates.empty() ? std::nullopt
                                                   : std::optional(Json(gates).dump()));
             }
             for (const auto& [id, gate] : park) {
               park_ids.push_back(id);
               park_gates.push_back(gate);
             }
             auto r = c.ExecPrepared("job_lease", kJobLease,
                                     {Now(), FormatArray(lease_ids), FormatArray(lease_gates),
                                      p.worker_id, std::to_string(p.lease.count()),
                                      FormatArray(park_ids), FormatArray(park_gates)});
             int64_t at = 0;
             for (int i = 0; i < r.rows(); ++i) {
               std::string problem;
               Job j = ReadJob(r, i, &problem);
               if (j.started_at) at = std::max(at, regulation::EpochMillisUp(*j.started_at));
               fetched.emplace_back(std::move(j), std::move(problem));
             }
             return std::pair(r.rows(), at);
           },
       .record =
           [&](const auto& rates) {
             std::vector<std::optional<std::string>> gates, logs, opens, idle;
             for (const auto& u : rates) {
               gates.push_back(u.gate);
               logs.push_back(u.log);
               opens.push_back(u.opens_at ? std::optional(std::to_string(*u.opens_at))
                                          : std::nullopt);
               idle.push_back(std::to_string(u.idle_at));
             }
             c.ExecPrepared("gate_rate_record", kGateRateRecord,
                            {FormatArray(gates), FormatArray(logs), FormatArray(opens),
                             FormatArray(idle)});
           },
       .rates = RateSteps(c)});
}

// The regulated fetch in one statement (job_fetch_within.sql), under the advisory lock, when the
// kind alone decides which gates a job takes (no key, no rate) and the fetch is in plain order:
// true when it leased jobs. When it leased none, the fetch decides job by job.
bool PgStore::FetchWithin(Conn& c, const JobFetchParams& p,
                          const std::vector<std::optional<std::string>>& kinds,
                          const std::vector<std::optional<std::string>>& partitions,
                          std::vector<std::pair<Job, std::string>>& fetched) {
  if (p.fair || p.order != QueueOrder::kFifo) return false;
  auto by_kind = regulation::KindGates(p.limits, p.queue, p.kinds);
  if (!by_kind) return false;
  std::vector<std::optional<std::string>> gates;
  for (const auto& kind : p.kinds) {
    const auto& g = (*by_kind)[kind];
    gates.push_back(g.empty() ? std::nullopt : std::optional(Json(g).dump()));
  }
  auto r = c.ExecPrepared(
      "job_fetch_within", kJobFetchWithin,
      {Now(), p.queue, std::to_string(p.limit), p.worker_id, std::to_string(p.lease.count()),
       FormatArray(kinds), std::to_string(p.partition_count), FormatArray(partitions),
       std::to_string(p.overdue.count()), FormatArray(gates)});
  for (int i = 0; i < r.rows(); ++i) {
    std::string problem;
    Job j = ReadJob(r, i, &problem);
    fetched.emplace_back(std::move(j), std::move(problem));
  }
  return r.rows() > 0;
}

// regulation::RateSteps on `c`, in the caller's transaction, which holds the advisory lock.
regulation::RateSteps PgStore::RateSteps(Conn& c) {
  return {.due =
              [this, &c](bool all) {
                auto r = c.ExecPrepared("gate_rate_due", kGateRateDue,
                                        {Now(), all ? "true" : "false"});
                std::pair<int64_t, std::vector<regulation::RateGate>> due;
                for (int i = 0; i < r.rows(); ++i) {
                  due.first = std::stoll(std::string(r.Get(i, 4)));
                  due.second.push_back({std::string(r.Get(i, 0)), std::stoll(std::string(r.Get(i, 2))),
                                        std::stoll(std::string(r.Get(i, 3))),
                                        regulation::RateLog::Parse(r.Get(i, 1))});
                }
                return due;
              },
          .open =
              [&c](const std::string& gate, int64_t n, int64_t next) {
                auto r = c.ExecPrepared("gate_rate_open", kGateRateOpen,
                                        {gate, std::to_string(n), std::to_string(next)});
                return std::pair<int64_t, bool>(std::stoll(std::string(r.Get(0, 0))),
                                                r.Get(0, 1) == "t");
              }};
}

void PgStore::LimitRegister(const std::vector<Limit>& limits) {
  std::vector<std::optional<std::string>> name, capacity, queue, kind, key, units, per;
  for (const auto& l : limits) {
    l.Validate();
    name.push_back(l.name);
    capacity.push_back(std::to_string(l.capacity));
    queue.push_back(l.queue);
    kind.push_back(l.kind);
    key.push_back(l.key);
    units.push_back(regulation::UnitsText(l));
    per.push_back(l.per ? std::optional(std::to_string(l.per->count())) : std::nullopt);
  }
  if (limits.empty()) return;
  auto c = pool_.Acquire();
  InTransaction(*c, [&] {
    c->ExecPrepared("limit_register", kLimitRegister,
                    {FormatArray(name), FormatArray(capacity), FormatArray(queue),
                     FormatArray(kind), FormatArray(key), Now(), FormatArray(units),
                     FormatArray(per)});
    OpenGates(*c);
    return true;
  });
}

void PgStore::LimitRemove(const std::string& name) {
  auto c = pool_.Acquire();
  InTransaction(*c, [&] {
    if (c->ExecPrepared("limit_remove", kLimitRemove, {name}).rows() == 0) {
      throw Error(ErrorCode::kNotFound, fmt::format("no limit named '{}'", name));
    }
    OpenGates(*c);
    return true;
  });
}

std::vector<LimitInfo> PgStore::LimitList(bool usage) {
  auto c = pool_.Acquire();
  auto r = c->ExecPrepared("limit_list", kLimitList, {usage ? "true" : "false"});
  std::vector<LimitInfo> out;
  for (int i = 0; i < r.rows(); ++i) {
    LimitInfo info;
    auto opt = [&](int col) {
      return r.IsNull(i, col) ? std::nullopt : std::optional<std::string>(r.Get(i, col));
    };
    info.limit = {std::string(r.Get(i, 0)), std::stoi(std::string(r.Get(i, 1))), opt(2), opt(3),
                  opt(4), regulation::UnitsOf(opt(8))};
    if (auto per = opt(9)) info.limit.per = Millis(std::stoll(*per));
    info.running = std::stoll(std::string(r.Get(i, 5))) +
                   regulation::StartsWithin(opt(10), info.limit.per, regulation::EpochMillis(clock_->Now()));
    info.waiting = std::stoll(std::string(r.Get(i, 6)));
    info.keys = std::stoll(std::string(r.Get(i, 7)));
    out.push_back(std::move(info));
  }
  return out;
}

// The sweep (gates_sweep, which takes the advisory lock; with `recount`, the gates' counters
// recounted from the leases first), then every rate gate with parked jobs, in the caller's
// transaction. Returns how many jobs it let go.
int64_t PgStore::OpenGates(Conn& c, bool recount) {
  int64_t opened = std::stoll(std::string(
      c.Exec(recount ? "SELECT spindle.gates_sweep(true)" : "SELECT spindle.gates_sweep(false)")
          .Get(0, 0)));
  return opened + regulation::OpenRateGates(RateSteps(c), true).opened;
}

int64_t PgStore::LimitSweep(bool recount) {
  auto c = pool_.Acquire();
  int64_t opened = 0;
  InTransaction(*c, [&] {
    opened = OpenGates(*c, recount);
    return true;
  });
  return opened;
}

std::vector<std::string> PgStore::JobFinishMany(const std::string& worker_id,
                                                const std::vector<JobOutcome>& outcomes) {
  if (outcomes.empty()) return {};
  std::vector<std::optional<std::string>> id, attempt, kind, message, delay, result;
  std::set<std::optional<std::string>> parents;
  for (const auto& o : outcomes) {
    id.push_back(o.id);
    attempt.push_back(std::to_string(o.attempt));
    kind.push_back(std::string(ToString(o.kind)));
    message.push_back(StorableText(o.message));
    delay.push_back(std::to_string(o.delay.count()));
    result.push_back(o.result.is_null() ? std::nullopt : std::optional(StorableJson(o.result)));
    if (!o.parent_id.empty()) parents.insert(o.parent_id);
  }
  auto c = pool_.Acquire();
  auto r = c->ExecPrepared("job_finish_many", kJobFinishMany,
                           {Now(), worker_id, FormatArray(id), FormatArray(attempt),
                            FormatArray(kind), FormatArray(message), FormatArray(delay),
                            FormatArray(result), FormatArray({parents.begin(), parents.end()})});
  std::vector<std::string> applied;
  applied.reserve(r.rows());
  std::optional<std::string> returned;
  for (int i = 0; i < r.rows(); ++i) {
    if (r.IsNull(i, 0)) {
      returned = r.Get(i, 1);
    } else {
      applied.emplace_back(r.Get(i, 0));
    }
  }
  if (returned) {
    // The outcomes are recorded; places that could not be given back are only counted too long,
    // until the leader's sweep recounts them (gates_give_back.sql), so that is no failed finish.
    try {
      c->ExecPrepared("gates_give_back", kGatesGiveBack, {returned});
    } catch (const Error& e) {
      core::Log().warn("event=give_back_failed error={}", core::LogValue(e.what()));
    }
  }
  return applied;
}

Store::LeaseRenewal PgStore::JobLeaseRenew(const std::string& worker_id,
                                           const std::vector<JobRef>& held, Millis lease) {
  if (held.empty()) return {};
  std::vector<std::optional<std::string>> ids, attempts;
  for (const auto& h : held) {
    ids.push_back(h.id);
    attempts.push_back(std::to_string(h.attempt));
  }
  auto c = pool_.Acquire();
  auto r = c->ExecPrepared("job_lease_renew", kJobLeaseRenew,
                           {Now(), worker_id, std::to_string(lease.count()), FormatArray(ids),
                            FormatArray(attempts)});
  LeaseRenewal out;
  for (int i = 0; i < r.rows(); ++i) {
    if (r.IsNull(i, 0)) {
      out.renewed = std::stoi(std::string(r.Get(i, 1)));
    } else {
      out.give_up.push_back({std::string(r.Get(i, 0)), std::stoi(std::string(r.Get(i, 1)))});
    }
  }
  return out;
}

int PgStore::JobRescue(int limit) {
  auto c = pool_.Acquire();
  auto r = c->ExecPrepared("job_rescue", kJobRescue, {Now(), std::to_string(limit)});
  c->ExecPrepared("job_lease_lapse", kJobLeaseLapse, {Now()});
  return std::stoi(std::string(r.Get(0, 0)));
}

int PgStore::JobExpire(int limit) {
  auto c = pool_.Acquire();
  int n = 0;
  InTransaction(*c, [&] {
    auto r = c->ExecPrepared("job_expire", kJobExpire, {Now(), std::to_string(limit)});
    n = r.rows();
    if (n == 0) return true;
    std::vector<std::optional<std::string>> ids, why;
    for (int i = 0; i < n; ++i) {
      ids.emplace_back(r.Get(i, 0));
      why.emplace_back(r.Get(i, 1));
    }
    c->ExecPrepared("job_expire_detail", kJobExpireDetail, {FormatArray(ids), FormatArray(why)});
    return true;
  });
  return n;
}

Job PgStore::ChangeOne(const char* name, std::string_view sql, const std::string& id,
                       std::string_view action) {
  RequireUuid(id);
  auto changed = RetryingDeadlocks([&]() -> std::optional<Job> {
    auto c = pool_.Acquire();
    try {
      auto r = c->ExecPrepared(name, sql, {Now(), id});
      if (r.rows() == 1) return ReadJob(r, 0);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kIllegalTransition) throw;
      // A retry or resume would have given the job its unique key, which another job holds.
      auto held = c->ExecPrepared("job_unique_conflict", kJobUniqueConflict, {id});
      if (held.rows() == 0) throw;
      ThrowUniqueKeyTaken(id, action, held.Get(0, 0), held.Get(0, 1), held.Get(0, 2));
    }
    return std::nullopt;
  });
  if (!changed) ThrowChangeRefused(*this, id, action);
  return *changed;
}

Job PgStore::JobDelete(const std::string& id) {
  RequireUuid(id);
  auto deleted = RetryingDeadlocks([&]() -> std::optional<Job> {
    auto c = pool_.Acquire();
    auto r = c->ExecPrepared("job_delete", kJobDelete, {id});
    if (r.rows() == 1) return ReadJob(r, 0);
    return std::nullopt;
  });
  if (!deleted) ThrowDeleteRefused(*this, id);
  return *deleted;
}

Store::JobPage PgStore::ChangePage(const char* name, std::string_view sql, const JobFilter& f,
                                   bool with_now) {
  if (f.states.empty()) throw Error(ErrorCode::kInvalidArgument, "a bulk change needs states");
  Params p{States(f), Opt(f.queue), Opt(f.kind), Opt(f.parent_id), Opt(f.after_id),
           std::to_string(f.limit)};
  if (with_now) p.insert(p.begin(), Now());
  return RetryingDeadlocks([&] {
    auto c = pool_.Acquire();
    // A retry skips jobs whose unique key another job holds; one that an enqueue took while the
    // page ran (kIllegalTransition) is seen, and skipped, when the page runs again.
    auto r = [&] {
      for (int tries = 1;; ++tries) {
        try {
          return c->ExecPrepared(name, sql, p);
        } catch (const Error& e) {
          if (tries == 3 || e.code() != ErrorCode::kIllegalTransition) throw;
        }
      }
    }();
    JobPage page;
    if (!r.IsNull(0, 0)) page.last_id = r.Get(0, 0);
    page.changed = std::stoll(std::string(r.Get(0, 1)));
    return page;
  });
}

Store::JobPage PgStore::JobCancelPage(const JobFilter& f) {
  return ChangePage("job_cancel_page", kJobCancelPage, f, true);
}

Store::JobPage PgStore::JobRetryPage(const JobFilter& f) {
  return ChangePage("job_retry_page", kJobRetryPage, f, true);
}

Store::JobPage PgStore::JobDeletePage(const JobFilter& f) {
  return ChangePage("job_delete_page", kJobDeletePage, f, false);
}

Job PgStore::JobCancel(const std::string& id) {
  return ChangeOne("job_cancel", kJobCancel, id, "cancel");
}

Job PgStore::JobRetry(const std::string& id) {
  return ChangeOne("job_retry", kJobRetry, id, "retry");
}

int64_t PgStore::JobPruneState(JobState state, Millis age, int limit) {
  auto c = pool_.Acquire();
  auto r = c->ExecPrepared("job_prune", kJobPrune,
                           {Now(), std::string(ToString(state)), std::to_string(age.count()),
                            std::to_string(limit)});
  return std::stoll(std::string(r.Get(0, 0)));
}

bool PgStore::JobSave(const std::string& worker_id, const JobRef& job,
                      const JobSaveParams& save) {
  auto dump = [](const std::optional<Json>& j) {
    return j ? std::optional(StorableJson(*j)) : std::nullopt;
  };
  Params p{Now(), worker_id, job.id, std::to_string(job.attempt), save.step,
           dump(save.checkpoint), dump(save.progress), std::to_string(save.children.size())};
  auto c = pool_.Acquire();
  if (save.children.empty()) return c->ExecPrepared("job_save", kJobSave, p).rows() == 1;
  // The children and the checkpoint they belong to commit together, or neither does.
  bool held = false;
  InTransaction(*c, [&] {
    held = c->ExecPrepared("job_save", kJobSave, p).rows() == 1;
    if (held) InsertJobs(*c, save.children, Now(), /*prepared=*/true, job.id);
    return held;
  });
  return held;
}

Job PgStore::JobStop(const std::string& id) {
  return ChangeOne("job_stop", kJobStop, id, "stop");
}

Job PgStore::JobResume(const std::string& id) {
  return ChangeOne("job_resume", kJobResume, id, "resume");
}

Job PgStore::JobWake(const std::string& id) {
  return ChangeOne("job_wake", kJobWake, id, "wake");
}

void PgStore::QueuePause(const std::string& name, bool paused) {
  if (name.empty()) throw Error(ErrorCode::kInvalidArgument, "a queue needs a name");
  auto c = pool_.Acquire();
  c->ExecPrepared("queue_pause", kQueuePause, {Now(), name, paused ? "true" : "false"});
}

std::vector<QueueInfo> PgStore::QueueList() {
  auto c = pool_.Acquire();
  auto r = c->ExecPrepared("queue_list", kQueueList);
  std::vector<QueueInfo> out;
  for (int i = 0; i < r.rows(); ++i) {
    std::string name(r.Get(i, 0));
    if (out.empty() || out.back().name != name) {
      out.push_back({name});
      if (!r.IsNull(i, 1)) out.back().paused_at = ParseTimestamp(r.Get(i, 1));
    }
    if (!r.IsNull(i, 2)) out.back().jobs[std::string(r.Get(i, 2))] = std::stoll(std::string(r.Get(i, 3)));
    if (r.Get(i, 2) == "available" && !r.IsNull(i, 8)) {
      out.back().oldest_available = ParseTimestamp(r.Get(i, 8));
    }
    auto opt = [&](int col) {
      return r.IsNull(i, col) ? std::nullopt : std::optional(r.Get(i, col));
    };
    out.back().settings = ReadQueueSettings(r.Get(i, 4), r.Get(i, 5) == "t", opt(6), opt(7));
  }
  return out;
}

void PgStore::JobCountsFold() {
  auto c = pool_.Acquire();
  InTransaction(*c, [&] {
    c->ExecPrepared("job_counts_fold", kJobCountsFold);
    c->ExecPrepared("job_counts_drop_zero", kJobCountsDropZero);
    return true;
  });
}

void PgStore::QueueRegister(const std::map<std::string, QueueSettings>& queues) {
  if (queues.empty()) return;
  std::vector<std::optional<std::string>> name, order, shed, fair_key, fair_weights, fair;
  for (const auto& [n, q] : queues) {
    name.push_back(n);
    order.push_back(std::string(ToString(q.order)));
    shed.push_back(q.shed ? "true" : "false");
    fair_key.push_back(q.fair_key);
    fair_weights.push_back(FairWeightsJson(q));
    if (q.fair_key) fair.push_back(n);
  }
  auto c = pool_.Acquire();
  c->ExecPrepared("queue_register", kQueueRegister,
                  {FormatArray(name), FormatArray(order), FormatArray(shed), FormatArray(fair_key),
                   FormatArray(fair_weights)});
  // After the settings are committed: from then on every insert stamps its jobs. Workers that
  // start together stamp the same rows in no set order, so one may be ended as a deadlock; the
  // stamp only fills what is still empty, so it is run again.
  if (fair.empty()) return;
  RetryingDeadlocks(
      [&] { c->ExecPrepared("queue_fair_stamp", kQueueFairStamp, {FormatArray(fair)}); });
}

int64_t PgStore::QueueRemove(const std::string& name) {
  auto c = pool_.Acquire();
  return std::stoll(std::string(c->ExecPrepared("queue_remove", kQueueRemove, {name}).Get(0, 0)));
}

namespace {

ClusterState ReadCluster(const Result& r) {
  ClusterState cs;
  if (!r.IsNull(0, 0)) cs.stopped_at = ParseTimestamp(r.Get(0, 0));
  cs.stop_reason = r.Get(0, 1);
  return cs;
}

}  // namespace

ClusterState PgStore::ClusterGet() {
  auto c = pool_.Acquire();
  return ReadCluster(c->ExecPrepared("cluster_get", kClusterGet));
}

ClusterState PgStore::ClusterStop(const std::string& reason) {
  {
    auto c = pool_.Acquire();
    auto r = c->ExecPrepared("cluster_stop", kClusterStop, {Now(), reason});
    if (r.rows() == 1) return ReadCluster(r);
  }
  ThrowClusterChangeRefused(ClusterGet(), "stop");
}

ClusterState PgStore::ClusterResume() {
  {
    auto c = pool_.Acquire();
    auto r = c->ExecPrepared("cluster_resume", kClusterResume, {Now()});
    if (r.rows() == 1) return ReadCluster(r);
  }
  ThrowClusterChangeRefused(ClusterGet(), "resume");
}

void PgStore::KindRegister(const std::string& worker_id,
                           const std::map<std::string, KindDefaults>& kinds) {
  if (kinds.empty()) return;
  std::vector<std::optional<std::string>> kind, queue, priority, max_attempts, timeout, serial;
  for (const auto& [name, d] : kinds) {
    d.Validate(name);
    kind.push_back(name);
    queue.push_back(d.queue);
    priority.push_back(OptNumber(d.priority));
    max_attempts.push_back(OptNumber(d.max_attempts));
    timeout.push_back(OptNumber(d.timeout));
    serial.push_back(d.serial ? std::optional(std::string(ToString(*d.serial))) : std::nullopt);
  }
  auto c = pool_.Acquire();
  c->ExecPrepared("kind_register", kKindRegister,
                  {Now(), worker_id, FormatArray(kind), FormatArray(queue), FormatArray(priority),
                   FormatArray(max_attempts), FormatArray(timeout), FormatArray(serial)});
}

std::vector<KindInfo> PgStore::KindList() {
  auto c = pool_.Acquire();
  auto r = c->ExecPrepared("kind_list", kKindList);
  std::vector<KindInfo> out;
  for (int i = 0; i < r.rows(); ++i) {
    KindInfo k{.kind = std::string(r.Get(i, 0)), .worker = std::string(r.Get(i, 5))};
    if (!r.IsNull(i, 1)) k.defaults.queue = std::string(r.Get(i, 1));
    if (!r.IsNull(i, 2)) k.defaults.priority = std::stoi(std::string(r.Get(i, 2)));
    if (!r.IsNull(i, 3)) k.defaults.max_attempts = std::stoi(std::string(r.Get(i, 3)));
    if (!r.IsNull(i, 4)) k.defaults.timeout = Millis(std::stoll(std::string(r.Get(i, 4))));
    if (!r.IsNull(i, 7)) k.defaults.serial = ParseSerialPolicy(r.Get(i, 7));
    k.registered_at = ParseTimestamp(r.Get(i, 6));
    out.push_back(std::move(k));
  }
  return out;
}

namespace {

// The job of a schedule, from columns kind, args, queue, priority, max_attempts, timeout_ms at
// `col` (schedule_claim.sql, schedule_get.sql).
JobSpec ScheduleJob(const Result& r, int col, std::optional<SysTime> run_at) {
  JobSpec spec{.kind = std::string(r.Get(0, col)), .args = Json::parse(r.Get(0, col + 1)),
               .run_at = run_at};
  if (!r.IsNull(0, col + 2)) spec.queue = std::string(r.Get(0, col + 2));
  if (!r.IsNull(0, col + 3)) spec.priority = std::stoi(std::string(r.Get(0, col + 3)));
  if (!r.IsNull(0, col + 4)) spec.max_attempts = std::stoi(std::string(r.Get(0, col + 4)));
  if (!r.IsNull(0, col + 5)) spec.timeout = Millis(std::stoll(std::string(r.Get(0, col + 5))));
  return spec;
}

}  // namespace

void PgStore::ScheduleSync(const std::vector<Schedule>& schedules, bool remove_others) {
  auto [rows, names] = ScheduleRows(schedules);
  auto c = pool_.Acquire();
  InTransaction(*c, [&] {
    c->ExecPrepared("schedule_sync", kScheduleSync, {Now(), rows});
    if (remove_others) c->ExecPrepared("schedule_remove_others", kScheduleRemoveOthers, {names});
    return true;
  });
}

std::vector<ScheduleInfo> PgStore::ScheduleList() {
  auto c = pool_.Acquire();
  auto r = c->ExecPrepared("schedule_list", kScheduleList);
  std::vector<ScheduleInfo> out;
  for (int i = 0; i < r.rows(); ++i) {
    ScheduleInfo info;
    Schedule& s = info.schedule;
    s.name = r.Get(i, 0);
    s.cron = r.Get(i, 1);
    s.zone = r.Get(i, 2);
    s.kind = r.Get(i, 3);
    s.args = Json::parse(r.Get(i, 4));
    if (!r.IsNull(i, 5)) s.queue = std::string(r.Get(i, 5));
    if (!r.IsNull(i, 6)) s.priority = std::stoi(std::string(r.Get(i, 6)));
    if (!r.IsNull(i, 7)) s.max_attempts = std::stoi(std::string(r.Get(i, 7)));
    if (!r.IsNull(i, 8)) s.timeout = Millis(std::stoll(std::string(r.Get(i, 8))));
    s.jitter = Millis(std::stoll(std::string(r.Get(i, 9))));
    s.overrun = ParseOverrun(r.Get(i, 10)).value_or(Overrun::kSkip);
    s.catch_up = ParseCatchUp(r.Get(i, 11)).value_or(CatchUp::kLatest);
    info.paused = r.Get(i, 12) == "t";
    info.last_slot = ParseTimestamp(r.Get(i, 13));
    if (!r.IsNull(i, 14)) info.last_job_id = r.Get(i, 14);
    if (!r.IsNull(i, 15)) info.last_enqueued_at = ParseTimestamp(r.Get(i, 15));
    info.created_at = ParseTimestamp(r.Get(i, 16));
    out.push_back(std::move(info));
  }
  return out;
}

void PgStore::SchedulePause(const std::string& name, bool paused) {
  auto c = pool_.Acquire();
  auto r = c->ExecPrepared("schedule_pause", kSchedulePause,
                           {Now(), name, paused ? "true" : "false"});
  if (r.rows() == 0) throw Error(ErrorCode::kNotFound, "no schedule named '" + name + "'");
}

ScheduleFired PgStore::ScheduleFire(const ScheduleFireParams& p) {
  ScheduleFired fired;
  auto c = pool_.Acquire();
  InTransaction(*c, [&] {
    fired = {};
    auto r = c->ExecPrepared("schedule_claim", kScheduleClaim,
                             {p.name, FormatTimestamp(p.slot)});
    if (r.rows() == 0) return false;
    fired.taken = true;
    if (!p.enqueue) {
      fired.skipped = "missed";
      return true;
    }
    std::optional<std::string> previous_state;
    if (!r.IsNull(0, 8)) previous_state = std::string(r.Get(0, 8));
    if (ScheduleOverruns(previous_state)) {
      auto overrun = ParseOverrun(r.Get(0, 6)).value_or(Overrun::kSkip);
      if (overrun == Overrun::kSkip) {
        fired.skipped = "overrun";
        return true;
      }
      if (overrun == Overrun::kReplace) {
        fired.replaced = r.Get(0, 7);
        c->ExecPrepared("job_cancel", kJobCancel, {Now(), fired.replaced});
      }
    }
    fired.job_id = InsertJobs(*c, {ScheduleJob(r, 0, p.run_at)}, Now(), true, std::nullopt)[0].id;
    c->ExecPrepared("schedule_enqueued", kScheduleEnqueued, {Now(), p.name, fired.job_id});
    return true;
  });
  return fired;
}

std::string PgStore::ScheduleRun(const std::string& name) {
  std::string id;
  auto c = pool_.Acquire();
  InTransaction(*c, [&] {
    auto r = c->ExecPrepared("schedule_get", kScheduleGet, {name});
    if (r.rows() == 0) throw Error(ErrorCode::kNotFound, "no schedule named '" + name + "'");
    id = InsertJobs(*c, {ScheduleJob(r, 0, std::nullopt)}, Now(), true, std::nullopt)[0].id;
    c->ExecPrepared("schedule_enqueued", kScheduleEnqueued, {Now(), name, id});
    return true;
  });
  return id;
}

void PgStore::KindStatsFlush(const std::map<std::string, KindRunSample>& samples) {
  if (samples.empty()) return;
  std::vector<std::optional<std::string>> kind, estimate, runs, missed;
  for (const auto& [k, s] : samples) {
    kind.push_back(k);
    estimate.push_back(OptNumber(s.estimate));
    runs.push_back(std::to_string(s.samples));
    missed.push_back(std::to_string(s.missed));
  }
  auto c = pool_.Acquire();
  c->ExecPrepared("kind_stats_flush", kKindStatsFlush,
                  {Now(), FormatArray(kind), FormatArray(estimate), FormatArray(runs),
                   FormatArray(missed)});
}

std::vector<KindRunStats> PgStore::KindStatsList() {
  auto c = pool_.Acquire();
  auto r = c->ExecPrepared("kind_stats_list", kKindStatsList);
  std::vector<KindRunStats> out;
  for (int i = 0; i < r.rows(); ++i) {
    KindRunStats k{.kind = std::string(r.Get(i, 0))};
    if (!r.IsNull(i, 1)) k.estimate = Millis(std::stoll(std::string(r.Get(i, 1))));
    k.samples = std::stoll(std::string(r.Get(i, 2)));
    k.missed = std::stoll(std::string(r.Get(i, 3)));
    k.expired = std::stoll(std::string(r.Get(i, 4)));
    k.updated_at = ParseTimestamp(r.Get(i, 5));
    out.push_back(std::move(k));
  }
  return out;
}

void PgStore::AuditAppend(const AuditEntry& e) {
  std::optional<std::string> error;
  if (!e.error.empty()) error = e.error;
  auto c = pool_.Acquire();
  c->ExecPrepared("audit_append", kAuditAppend,
                  {e.at ? std::optional(FormatTimestamp(*e.at)) : Now(), e.who, e.method, e.path,
                   std::to_string(e.status), error});
}

int64_t PgStore::AuditPrune(Millis age, int limit) {
  auto c = pool_.Acquire();
  auto r = c->ExecPrepared("audit_prune", kAuditPrune,
                           {Now(), std::to_string(age.count()), std::to_string(limit)});
  return std::stoll(std::string(r.Get(0, 0)));
}

void PgStore::ClusterEventAppend(const ClusterEvent& e) {
  auto c = pool_.Acquire();
  c->ExecPrepared("cluster_event_append", kClusterEventAppend, {Now(), e.kind, e.worker, e.detail});
}

std::vector<ClusterEvent> PgStore::ClusterEventList(int limit) {
  auto c = pool_.Acquire();
  auto r = c->ExecPrepared("cluster_event_list", kClusterEventList, {std::to_string(limit)});
  std::vector<ClusterEvent> out;
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back({.id = std::stoll(std::string(r.Get(i, 0))),
                   .at = ParseTimestamp(r.Get(i, 1)),
                   .kind = std::string(r.Get(i, 2)),
                   .worker = std::string(r.Get(i, 3)),
                   .detail = std::string(r.Get(i, 4))});
  }
  return out;
}

std::vector<AuditEntry> PgStore::AuditList(std::optional<int64_t> before, int limit) {
  std::optional<std::string> from;
  if (before) from = std::to_string(*before);
  auto c = pool_.Acquire();
  auto r = c->ExecPrepared("audit_list", kAuditList, {from, std::to_string(limit)});
  std::vector<AuditEntry> out;
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back({.id = std::stoll(std::string(r.Get(i, 0))),
                   .at = ParseTimestamp(r.Get(i, 1)),
                   .who = std::string(r.Get(i, 2)),
                   .method = std::string(r.Get(i, 3)),
                   .path = std::string(r.Get(i, 4)),
                   .status = std::stoi(std::string(r.Get(i, 5))),
                   .error = r.IsNull(i, 6) ? "" : std::string(r.Get(i, 6))});
  }
  return out;
}

Member PgStore::MemberRegister(const MemberInfo& info) {
  std::vector<std::optional<std::string>> queues(info.queues.begin(), info.queues.end());
  std::vector<std::optional<std::string>> roles(info.roles.begin(), info.roles.end());
  std::vector<std::optional<std::string>> kinds(info.kinds.begin(), info.kinds.end());
  std::optional<std::string> partition;
  if (info.partition) partition = std::to_string(*info.partition);
  auto c = pool_.Acquire();
  Member m{.info = info};
  InTransaction(*c, [&] {
    c->ExecPrepared("membership_bump", kMembershipBump);
    auto holder = c->ExecPrepared("member_holder", kMemberHolder, {Now(), info.id});
    if (holder.rows() == 1 && holder.Get(0, 0) != info.incarnation) {
      if (holder.Get(0, 3) != "t") {
        ThrowWorkerIdInUse(info.id, holder.Get(0, 1), std::stoi(std::string(holder.Get(0, 2))));
      }
      // Another process of this id, dead: evicted as MemberRemove evicts, in this transaction.
      c->ExecPrepared("member_remove", kMemberRemove, {Now(), info.id, "true"});
    }
    auto r = c->ExecPrepared("member_register", kMemberRegister,
                             {Now(), info.id, info.host, std::to_string(info.pid), info.version,
                              FormatArray(queues), FormatArray(roles), partition,
                              std::to_string(info.heartbeat_timeout.count()), info.incarnation,
                              FormatArray(kinds), Json(info.concurrency).dump()});
    if (!r.IsNull(0, 0)) m.info.partition = std::stoi(std::string(r.Get(0, 0)));
    m.started_at = ParseTimestamp(r.Get(0, 1));
    m.heartbeat_at = ParseTimestamp(r.Get(0, 2));
    return true;
  });
  return m;
}

bool PgStore::MemberHeartbeat(const std::string& id, int partition_count,
                              const std::map<std::string, int>* concurrency) {
  auto c = pool_.Acquire();
  return c->ExecPrepared("member_heartbeat", kMemberHeartbeat,
                         {Now(), id, std::to_string(partition_count),
                          concurrency ? std::optional(Json(*concurrency).dump()) : std::nullopt})
             .rows() == 1;
}

std::vector<std::string> PgStore::MemberRemove(const std::optional<std::string>& id,
                                               bool expired_only) {
  auto c = pool_.Acquire();
  auto r = c->ExecPrepared("member_remove", kMemberRemove,
                           {Now(), id, expired_only ? "true" : "false"});
  std::vector<std::string> ids;
  for (int i = 0; i < r.rows(); ++i) ids.emplace_back(r.Get(i, 0));
  return ids;
}

Membership PgStore::MemberList() {
  auto c = pool_.Acquire();
  auto r = c->ExecPrepared("member_list", kMemberList, {Now()});
  Membership ms;
  auto strings = [](std::string_view json) {
    return Json::parse(json).get<std::vector<std::string>>();
  };
  for (int i = 0; i < r.rows(); ++i) {
    ms.version = std::stoll(std::string(r.Get(i, 0)));
    if (r.IsNull(i, 1)) continue;
    Member m;
    m.info.id = r.Get(i, 1);
    m.info.host = r.Get(i, 2);
    m.info.pid = std::stoi(std::string(r.Get(i, 3)));
    m.info.version = r.Get(i, 4);
    m.info.queues = strings(r.Get(i, 5));
    m.info.roles = strings(r.Get(i, 6));
    if (!r.IsNull(i, 7)) m.info.partition = std::stoi(std::string(r.Get(i, 7)));
    m.partition_count = std::stoi(std::string(r.Get(i, 8)));
    m.info.heartbeat_timeout = Millis(std::stoll(std::string(r.Get(i, 9))));
    m.started_at = ParseTimestamp(r.Get(i, 10));
    m.heartbeat_at = ParseTimestamp(r.Get(i, 11));
    m.silent_for = Millis(std::stoll(std::string(r.Get(i, 12))));
    m.leader = r.Get(i, 13) == "t";
    m.info.incarnation = r.Get(i, 14);
    m.info.kinds = strings(r.Get(i, 15));
    m.info.concurrency = Json::parse(r.Get(i, 16)).get<std::map<std::string, int>>();
    ms.members.push_back(std::move(m));
  }
  return ms;
}

std::optional<int64_t> PgStore::LeaderAcquire(const std::string& worker_id, Millis ttl) {
  auto c = pool_.Acquire();
  auto r = c->ExecPrepared("leader_acquire", kLeaderAcquire,
                           {Now(), worker_id, std::to_string(ttl.count())});
  if (r.rows() == 0) return std::nullopt;
  return std::stoll(std::string(r.Get(0, 0)));
}

bool PgStore::AssignmentClaim(const std::string& name, const std::string& worker_id) {
  auto c = pool_.Acquire();
  return c->ExecPrepared("assignment_claim", kAssignmentClaim, {Now(), name, worker_id}).rows() ==
         1;
}

void PgStore::AssignmentRelease(const std::string& name, const std::string& worker_id) {
  auto c = pool_.Acquire();
  c->ExecPrepared("assignment_release", kAssignmentRelease, {name, worker_id});
}

std::vector<ClaimedAssignment> PgStore::AssignmentList() {
  auto c = pool_.Acquire();
  auto r = c->ExecPrepared("assignment_list", kAssignmentList);
  std::vector<ClaimedAssignment> out;
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back({std::string(r.Get(i, 0)), std::string(r.Get(i, 1)),
                   ParseTimestamp(r.Get(i, 2))});
  }
  return out;
}

namespace {

class PgListener final : public StoreListener {
 public:
  explicit PgListener(std::string url) : url_(std::move(url)) {}

  Notices Wait(Millis timeout) override {
    if (!conn_ || !conn_->ok()) {
      conn_.reset();
      conn_ = Conn::Connect(url_);
      conn_->ExecScript("LISTEN spindle_jobs; LISTEN spindle_members; LISTEN spindle_control");
    }
    Notices notices;
    Drain(notices);
    if (!notices.queues.empty() || notices.members || !notices.workers.empty()) return notices;
    pollfd pfd{PQsocket(conn_->raw()), POLLIN, 0};
    int rc = poll(&pfd, 1, static_cast<int>(timeout.count()));
    if (rc > 0) {
      if (!PQconsumeInput(conn_->raw())) {
        std::string msg = PQerrorMessage(conn_->raw());
        conn_.reset();
        throw Error(ErrorCode::kUnavailable, "listener connection lost: " + msg);
      }
      Drain(notices);
    }
    return notices;
  }

 private:
  void Drain(Notices& notices) {
    while (PGnotify* n = PQnotifies(conn_->raw())) {
      if (std::string_view(n->relname) == "spindle_members") {
        notices.members = true;
      } else if (std::string_view(n->relname) == "spindle_control") {
        notices.workers.emplace_back(n->extra);
      } else {
        std::string_view extra = n->extra;
        size_t sep = extra.rfind('\x1f');
        notices.queues.emplace_back(extra.substr(0, sep));
        if (sep != std::string_view::npos) {
          if (auto us = core::ParseInteger(extra.substr(sep + 1), 0, INT64_MAX)) {
            auto sent = SysTime(std::chrono::microseconds(*us));
            notices.lags.push_back(
                std::chrono::duration_cast<Millis>(std::chrono::system_clock::now() - sent));
          }
        }
      }
      PQfreemem(n);
    }
  }

  std::string url_;
  std::unique_ptr<Conn> conn_;
};

}  // namespace

std::unique_ptr<StoreListener> PgStore::Listen() {
  return std::make_unique<PgListener>(pool_.target());
}

}  // namespace spindle::pg
