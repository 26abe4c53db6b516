#include "store/sqlite/sqlite_store.h"

#include <algorithm>
#include <thread>
#include <filesystem>
#include <set>

#include <fmt/format.h>

#include "core/log.h"
#include "core/time.h"
#include "core/uuid.h"
#include "regulation/admission.h"
#include "spindle/error.h"
#include "spindle/sqlite.h"
#include "store/sqlite/sql.h"

namespace spindle::sqlite {
namespace {

using namespace spindle::sqlitesql;

int64_t Micros(SysTime t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}
SysTime FromMicros(int64_t us) { return SysTime(std::chrono::microseconds(us)); }

// Reads the job columns in the order of job_get.sql. Never fails on the JSON columns: one the
// worker cannot parse holds its raw text (ReadJobJson), and `problem`, if given, says which and
// why.
Job ReadJob(const Statement& st, std::string* problem = nullptr) {
  auto opt_time = [&](int col) -> std::optional<SysTime> {
    if (st.IsNull(col)) return std::nullopt;
    return FromMicros(st.Int(col));
  };
  Job j;
  j.id = st.Text(0);
  j.kind = st.Text(1);
  j.queue = st.Text(2);
  j.priority = static_cast<int>(st.Int(4));
  j.run_at = FromMicros(st.Int(5));
  j.state = ParseJobState(st.Text(6)).value_or(JobState::kAvailable);
  j.attempt = static_cast<int>(st.Int(7));
  j.max_attempts = static_cast<int>(st.Int(8));
  j.attempts_used = static_cast<int>(st.Int(23));
  if (!st.IsNull(9)) j.timeout = Millis(st.Int(9));
  j.created_at = FromMicros(st.Int(11));
  j.started_at = opt_time(12);
  j.finished_at = opt_time(13);
  if (!st.IsNull(14)) j.lease_owner = st.Text(14);
  j.lease_expires_at = opt_time(15);
  if (!st.IsNull(16)) j.step = st.Text(16);
  if (!st.IsNull(18)) j.parent_id = st.Text(18);
  j.children_total = static_cast<int>(st.Int(19));
  j.children_pending = static_cast<int>(st.Int(20));
  if (!st.IsNull(24)) j.serial_key = st.Text(24);
  j.serial_held = st.Int(25) != 0;
  // Deadlines (migration 011) and the unique key (014), by name: only the queries that show
  // them select them.
  if (int c = st.Column("deadline"); c >= 0) j.deadline = opt_time(c);
  if (int c = st.Column("expires_at"); c >= 0) j.expires_at = opt_time(c);
  if (int c = st.Column("unique_key"); c >= 0 && !st.IsNull(c)) j.unique_key = st.Text(c);
  if (int c = st.Column("gate_wait"); c >= 0 && !st.IsNull(c)) j.waits_for = st.Text(c);
  if (int c = st.Column("fair_key"); c >= 0 && !st.IsNull(c)) j.tenant = st.Text(c);
  auto opt_text = [&](int col) -> std::optional<std::string> {
    if (st.IsNull(col)) return std::nullopt;
    return st.Text(col);
  };
  std::string args = st.Text(3), errors = st.Text(10);
  auto checkpoint = opt_text(17), progress = opt_text(21), result = opt_text(22);
  std::string unreadable = ReadJobJson(j, {.args = args,
                                           .errors = errors,
                                           .checkpoint = checkpoint,
                                           .progress = progress,
                                           .result = result});
  if (problem) *problem = std::move(unreadable);
  return j;
}

// A filter's states as a JSON array (NULL: every state).
std::optional<std::string> States(const JobFilter& f) {
  if (f.states.empty()) return std::nullopt;
  Json names = Json::array();
  for (JobState s : f.states) names.push_back(ToString(s));
  return names.dump();
}

std::optional<std::string> Opt(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<std::string>(s);
}

std::optional<std::string> Dump(const std::optional<Json>& j) {
  return j ? std::optional(StorableJson(*j)) : std::nullopt;
}

// A write transaction (BEGIN IMMEDIATE) and the time it writes with, read once the write lock
// is held. A time read before BEGIN could be older than a change that committed while this
// transaction waited for the lock, and a write based on it could undo that change: a renewal
// would revive the leases an eviction had just expired.
class Write {
 public:
  Write(Conn& c, const Clock& clock) : tx_(c), now_(Micros(clock.Now())) {}
  int64_t now() const { return now_; }
  void Commit() { tx_.Commit(); }

 private:
  Conn::Tx tx_;
  int64_t now_;
};

ClusterState ReadCluster(const Statement& st) {
  ClusterState cs;
  if (!st.IsNull(0)) cs.stopped_at = FromMicros(st.Int(0));
  cs.stop_reason = st.Text(1);
  return cs;
}

// A number as a parameter, NULL when unset.
std::optional<int64_t> OptInt(const std::optional<int>& v) {
  return v ? std::optional<int64_t>(*v) : std::nullopt;
}
std::optional<int64_t> OptInt(const std::optional<Millis>& v) {
  return v ? std::optional<int64_t>(v->count()) : std::nullopt;
}

// A spec's unique states as the column holds them (',a,b,'), the default when it names none.
std::string UniqueStates(const JobSpec& s) {
  std::string text = ",";
  auto add = [&](JobState st) { text += std::string(ToString(st)) + ","; };
  if (s.unique_states.empty()) {
    for (JobState st : kDefaultUniqueStates) add(st);
  } else {
    for (JobState st : s.unique_states) add(st);
  }
  return text;
}

// Inserts jobs on `conn` (the caller owns the transaction), children of `parent` if set. Returns
// their results (a spec whose unique key a job holds, also one earlier in the batch, gets that
// job's id); adds the queues that received due jobs to `due`. The transaction holds the file's
// write lock, so a key's holder cannot change between the insert and its look-up.
std::vector<EnqueueResult> InsertJobs(Conn& conn, const std::vector<JobSpec>& specs, int64_t now,
                                      const std::optional<std::string>& parent,
                                      std::set<std::string>& due) {
  if (parent) CheckChildren(specs);
  std::vector<std::string> args;
  args.reserve(specs.size());
  for (const auto& s : specs) args.push_back(ValidatedArgs(s));
  std::vector<EnqueueResult> results;
  results.reserve(specs.size());
  // Fair shares (migration 018): jobs of fair queues get their turn as they are inserted.
  std::set<std::string> fair;
  for (auto st = conn.Prepare("queue_fair_list", kQueueFairList); st.Step();) fair.insert(st.Text(0));
  std::vector<std::string> stamp;  // in batch order
  for (size_t i = 0; i < specs.size(); ++i) {
    const auto& s = specs[i];
    results.push_back({core::NewUuidV7()});
    auto time = [](const std::optional<SysTime>& t) {
      return t ? std::optional(Micros(*t)) : std::nullopt;
    };
    // Keyless jobs: the statement of before unique jobs, at its cost.
    auto st = s.unique_key ? conn.Prepare("job_insert_unique", kJobInsertUnique)
                           : conn.Prepare("job_insert", kJobInsert);
    st.Bind(1, std::string_view(results.back().id))
        .Bind(2, std::string_view(s.kind))
        .Bind(3, s.queue)
        .Bind(4, std::string_view(args[i]))
        .Bind(5, OptInt(s.priority))
        .Bind(6, time(s.run_at))
        .Bind(7, OptInt(s.max_attempts))
        .Bind(8, OptInt(s.timeout))
        .Bind(9, parent)
        .Bind(10, now)
        .Bind(11, time(s.deadline))
        .Bind(12, time(s.expires_at))
        .Bind(13, s.serial_key);
    std::optional<int64_t> period;
    std::string states;
    if (s.unique_key) {
      if (s.unique_period) period = int64_t{s.unique_period->count()} * 1000;
      states = UniqueStates(s);
      st.Bind(14, std::string_view(*s.unique_key)).Bind(15, period).Bind(16, std::string_view(states));
    }
    if (st.Step()) {  // the queue the job got (the kind's default when unset) and its state
      std::string queue = st.Text(0);
      if (st.Text(1) == "available") due.insert(queue);
      if (fair.count(queue)) stamp.push_back(results.back().id);
      continue;
    }
    auto holder = conn.Prepare("job_unique_holder", kJobUniqueHolder);
    holder.Bind(1, std::string_view(*s.unique_key))
        .Bind(2, time(s.run_at).value_or(now))
        .Bind(3, period);
    if (!holder.Step()) {
      throw Error(ErrorCode::kInternal,
                  fmt::format("unique key '{}' is taken, but no job holds it", *s.unique_key));
    }
    results.back() = {holder.Text(0), true};
  }
  for (const auto& id : stamp) {
    conn.Prepare("job_fair_stamp", kJobFairStamp).Bind(1, std::string_view(id)).Step();
  }
  return results;
}

// A fair fetch leased `fetched`: the clocks of their queue and priorities move up to their
// virtual start times (migration 018).
void AdvanceFairClock(Conn& conn, const std::vector<std::pair<Job, std::string>>& fetched) {
  if (fetched.empty()) return;
  Json ids = Json::array();
  for (const auto& [job, problem] : fetched) ids.push_back(job.id);
  conn.Prepare("queue_fair_clock", kQueueFairClock).Bind(1, std::string_view(ids.dump())).Step();
}

// Takes the notices that the triggers of the transaction on `conn` left (migration 006): adds
// the queues to wake to `queues` and the workers to tell to `workers`, for the caller to hand to
// the hub after the commit.
void TakeNotices(Conn& conn, std::set<std::string>& queues, std::vector<std::string>& workers) {
  // Gates that releases left with waiting jobs (migration 016) let them go as far as they have
  // room; the jobs let go leave notices for their queues (015's trigger).
  std::vector<std::string> wakes;
  {
    auto st = conn.Prepare("gate_wakes_take", kGateWakesTake);
    while (st.Step()) wakes.push_back(st.Text(0));
  }
  for (const auto& gate : wakes) {
    auto st = conn.Prepare("gate_open", kGateOpen);
    st.Bind(1, std::string_view(gate));
    while (st.Step()) {
    }
  }
  auto st = conn.Prepare("notices_take", kNoticesTake);
  while (st.Step()) {
    if (!st.IsNull(0)) queues.insert(st.Text(0));
    if (!st.IsNull(1)) workers.push_back(st.Text(1));
  }
}

// Removes members (MemberRemove) on `conn`, in the caller's transaction, at `now`, and frees what
// they held. Returns the removed ids.
std::vector<std::string> RemoveMembers(Conn& conn, int64_t now, const std::optional<std::string>& id,
                                       bool expired_only) {
  std::vector<std::string> removed;
  {
    auto st = conn.Prepare("member_remove", kMemberRemove);
    st.Bind(1, now).Bind(2, id).Bind(3, int64_t{expired_only});
    while (st.Step()) removed.push_back(st.Text(0));
  }
  if (removed.empty()) return removed;
  std::string ids = Json(removed).dump();
  conn.Prepare("member_remove_leases", kMemberRemoveLeases)
      .Bind(1, now)
      .Bind(2, std::string_view(ids))
      .Step();
  conn.Prepare("member_remove_claims", kMemberRemoveClaims).Bind(1, std::string_view(ids)).Step();
  conn.Prepare("member_remove_bump", kMemberRemoveBump).Bind(1, std::string_view(ids)).Step();
  return removed;
}

}  // namespace

std::vector<std::string> Enqueue(sqlite3* db, const std::vector<JobSpec>& specs) {
  std::vector<std::string> ids;
  for (auto& r : Insert(db, specs)) ids.push_back(std::move(r.id));
  return ids;
}

std::vector<EnqueueResult> Insert(sqlite3* db, const std::vector<JobSpec>& specs) {
  auto conn = Conn::Borrow(db);
  std::set<std::string> due;
  return InsertJobs(*conn, specs, Micros(std::chrono::system_clock::now()), std::nullopt, due);
}

std::string SqliteStore::PathOf(const std::string& url) {
  std::string path = url.substr(std::string_view("sqlite:").size());
  if (path.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "database URL 'sqlite:' names no file: use sqlite:PATH");
  }
  return path;
}

SqliteStore::SqliteStore(const StoreOptions& options)
    : clock_(options.clock ? options.clock : std::make_shared<SystemClock>()),
      pool_(PathOf(options.url), options.pool_size) {
  pool_.Acquire();  // fail fast: cannot open, not a database
  std::error_code ec;
  auto canonical = std::filesystem::weakly_canonical(pool_.target(), ec);
  hub_ = LocalHub::For(ec ? pool_.target() : canonical.string());
}

int64_t SqliteStore::NowMicros() const { return Micros(clock_->Now()); }

int SqliteStore::Latest() { return std::end(kMigrations)[-1].version; }
int SqliteStore::LatestVersion() const { return Latest(); }

int SqliteStore::SchemaVersion() {
  auto c = pool_.Acquire();
  {
    auto st = c->Prepare("schema_exists", kSchemaExists);
    st.Step();
    if (st.Int(0) == 0) return 0;
  }
  auto st = c->Prepare("schema_version", kSchemaVersion);
  st.Step();
  return static_cast<int>(st.Int(0));
}

int SqliteStore::Migrate() {
  int current = SchemaVersion();
  if (current == LatestVersion()) return current;
  auto c = pool_.Acquire();
  Write w(*c, *clock_);
  c->Exec(kSchemaBootstrap);
  {
    auto st = c->Prepare("schema_version", kSchemaVersion);
    st.Step();
    current = static_cast<int>(st.Int(0));
  }
  if (current > LatestVersion()) {
    ThrowSchemaTooNew(current, LatestVersion());
  }
  for (const auto& m : kMigrations) {
    if (m.version <= current) continue;
    core::Log().info("event=migrate version={} name={}", m.version, m.name);
    c->Exec(m.sql);
    auto st = c->Prepare("schema_version_record", kSchemaVersionRecord);
    st.Bind(1, int64_t{m.version}).Bind(2, m.name).Bind(3, w.now());
    st.Step();
    current = m.version;
  }
  w.Commit();
  return current;
}

std::vector<EnqueueResult> SqliteStore::JobInsert(const std::vector<JobSpec>& specs) {
  if (specs.empty()) return {};
  std::set<std::string> due;
  std::vector<EnqueueResult> ids;
  {
    auto c = pool_.Acquire();
    Write w(*c, *clock_);
    ids = InsertJobs(*c, specs, w.now(), std::nullopt, due);
    w.Commit();
  }
  hub_->Notify({.queues = {due.begin(), due.end()}});
  return ids;
}

std::optional<Job> SqliteStore::JobGet(const std::string& id) {
  auto c = pool_.Acquire();
  auto st = c->Prepare("job_get", kJobGet);
  st.Bind(1, std::string_view(id));
  if (!st.Step()) return std::nullopt;
  return ReadJob(st);
}

std::vector<JobEvent> SqliteStore::JobEvents(const std::string& id) {
  auto c = pool_.Acquire();
  auto st = c->Prepare("job_events", kJobEvents);
  st.Bind(1, std::string_view(id));
  std::vector<JobEvent> out;
  while (st.Step()) out.push_back({FromMicros(st.Int(0)), st.Text(1), st.Text(2)});
  return out;
}

// Binds the parameters of fragments/job_filter.sql.
void SqliteStore::BindFilter(Statement& st, const JobFilter& f) const {
  auto time = [](const std::optional<SysTime>& t) {
    return t ? std::optional<int64_t>(Micros(*t)) : std::nullopt;
  };
  st.Bind(1, States(f))
      .Bind(2, Opt(f.queue))
      .Bind(3, Opt(f.kind))
      .Bind(4, Opt(f.parent_id))
      .Bind(5, Opt(f.after_id))
      .Bind(6, int64_t{f.at_risk})
      .Bind(7, NowMicros())
      .Bind(8, Opt(f.serial_key))
      .Bind(9, ArgsParam(f))
      .Bind(10, f.priority ? std::optional<int64_t>(*f.priority) : std::nullopt)
      .Bind(11, time(f.created_after))
      .Bind(12, time(f.created_before))
      .Bind(13, time(f.finished_after))
      .Bind(14, time(f.finished_before));
}

std::vector<Job> SqliteStore::JobList(const JobFilter& f) {
  auto c = pool_.Acquire();
  auto st = f.parent_id.empty() ? c->Prepare("job_list", kJobList)
                                : c->Prepare("job_children", kJobChildren);
  BindFilter(st, f);
  st.Bind(15, int64_t{f.limit});
  std::vector<Job> jobs;
  while (st.Step()) jobs.push_back(ReadJob(st));
  return jobs;
}

int64_t SqliteStore::JobCount(const JobFilter& f) {
  auto c = pool_.Acquire();
  auto st = c->Prepare("job_count", kJobCount);
  BindFilter(st, f);
  st.Step();
  return st.Int(0);
}

JobTally SqliteStore::JobCountUpTo(const JobFilter& f, int64_t cap) {
  auto c = pool_.Acquire();
  auto st = c->Prepare("job_count_up_to", kJobCountUpTo);
  BindFilter(st, f);
  st.Bind(15, cap + 1);
  st.Step();
  // SQLite keeps no statistics to estimate from: past the cap, the cap is a lower bound.
  int64_t counted = st.Int(0);
  return {std::min(counted, cap), counted > cap};
}

std::vector<Job> SqliteStore::JobFetch(const JobFetchParams& p) {
  std::vector<std::pair<Job, std::string>> fetched;
  if (!p.limits.empty()) {
    auto c = pool_.Acquire();
    Write w(*c, *clock_);
    auto wait = FetchRegulated(*c, w.now(), p, fetched);
    if (p.fair) AdvanceFairClock(*c, fetched);
    std::set<std::string> due;
    std::vector<std::string> told;
    // The queues of jobs a rate limit let go; nothing else this fetch does leaves notices.
    if (std::any_of(p.limits.begin(), p.limits.end(), [](const Limit& l) { return l.per; })) {
      TakeNotices(*c, due, told);
    }
    w.Commit();
    hub_->Notify({.queues = {due.begin(), due.end()}, .workers = told});
    if (p.rate_wait) *p.rate_wait = wait;
  } else {
    auto c = pool_.Acquire();
    Write w(*c, *clock_);
    std::string kinds = Json(p.kinds).dump(), partitions = Json(p.partitions).dump();
    auto fetch = [&](const char* name, std::string_view sql, int limit) {
      auto st = c->Prepare(name, sql);
      st.Bind(1, w.now())
          .Bind(2, std::string_view(p.queue))
          .Bind(3, int64_t{limit})
          .Bind(4, std::string_view(p.worker_id))
          .Bind(5, int64_t{p.lease.count()})
          .Bind(6, std::string_view(kinds))
          .Bind(7, int64_t{p.partition_count})
          .Bind(8, std::string_view(partitions))
          .Bind(9, int64_t{p.overdue.count()});
      while (st.Step()) {
        std::string problem;
        Job j = ReadJob(st, &problem);
        fetched.emplace_back(std::move(j), std::move(problem));
      }
    };
    int limit = p.limit;
    if (p.fair) {
      fetch("job_fetch_fair", kJobFetchFair, p.limit);
      AdvanceFairClock(*c, fetched);
      // The rest, if any: jobs the fair fetch does not see (enqueued before the queue was fair).
      limit -= static_cast<int>(fetched.size());
    }
    if (limit > 0) {
      if (p.order == QueueOrder::kDeadline) {
        fetch("job_fetch_deadline", kJobFetchDeadline, limit);
      } else {
        fetch("job_fetch", kJobFetch, limit);
      }
    }
    w.Commit();
  }
  std::sort(fetched.begin(), fetched.end(), [&](const auto& a, const auto& b) {
    // Earliest deadline first: no deadline sorts last (SysTime::max()), then fifo.
    auto due = [&](const Job& j) {
      return p.order == QueueOrder::kDeadline ? j.deadline.value_or(SysTime::max()) : SysTime{};
    };
    auto da = due(a.first), db = due(b.first);
    return std::tie(a.first.priority, da, a.first.run_at, a.first.id) <
           std::tie(b.first.priority, db, b.first.run_at, b.first.id);
  });
  return RunnableJobs(*this, p.worker_id, std::move(fetched));
}

namespace {

// regulation::RateSteps on `c`, in the caller's transaction, at `now` (µs).
regulation::RateSteps RateSteps(Conn& c, int64_t now) {
  return {.due =
              [&c, now](bool all) {
                auto st = c.Prepare("gate_rate_due", kGateRateDue);
                st.Bind(1, now).Bind(2, int64_t{all});
                std::pair<int64_t, std::vector<regulation::RateGate>> due{now / 1000, {}};
                while (st.Step()) {
                  due.second.push_back({st.Text(0), st.Int(2), st.Int(3),
                                        regulation::RateLog::Parse(st.Text(1))});
                }
                return due;
              },
          .open =
              [&c](const std::string& gate, int64_t n, int64_t next) {
                int64_t opened = 0;
                {
                  auto st = c.Prepare("gate_open", kGateOpen);
                  st.Bind(1, std::string_view(gate)).Bind(2, n);
                  while (st.Step()) ++opened;
                }
                auto st = c.Prepare("gate_rate_next", kGateRateNext);
                st.Bind(1, std::string_view(gate)).Bind(2, next * 1000);
                st.Step();
                return std::pair<int64_t, bool>(opened, st.Int(0) != 0);
              }};
}

}  // namespace

// The regulated fetch (docs/regulation.md, regulation::Fetch), in the caller's transaction, whose
// write lock keeps every other fetch and release out.
std::optional<Millis> SqliteStore::FetchRegulated(
    Conn& c, int64_t now, const JobFetchParams& p,
    std::vector<std::pair<Job, std::string>>& fetched) {
  std::string kinds = Json(p.kinds).dump(), partitions = Json(p.partitions).dump();
  if (FetchWithin(c, now, p, kinds, partitions, fetched)) return std::nullopt;
  return regulation::Fetch(
      p.limits, p.limit,
      {.candidates =
           [&](int want) {
             std::vector<regulation::Candidate> out;
             auto read = [&](const char* name, std::string_view sql) {
               auto st = c.Prepare(name, sql);
               st.Bind(1, now)
                   .Bind(2, std::string_view(p.queue))
                   .Bind(3, int64_t{want})
                   .Bind(6, std::string_view(kinds))
                   .Bind(7, int64_t{p.partition_count})
                   .Bind(8, std::string_view(partitions))
                   .Bind(9, int64_t{p.overdue.count()});
               while (st.Step()) {
                 out.push_back({st.Text(0), st.Text(1), p.queue,
                                Json::parse(st.Text(2), nullptr, false)});
               }
             };
             if (p.fair) read("job_fetch_candidates_fair", kJobFetchCandidatesFair);
             if (out.empty()) read("job_fetch_candidates", kJobFetchCandidates);
             return out;
           },
       .state =
           [&](const std::set<std::string>& gates) {
             auto st = c.Prepare("gate_held", kGateHeld);
             st.Bind(1, std::string_view(Json(gates).dump()));
             regulation::GateStates state{.now = now / 1000};
             auto opt = [&](int col) {
               return st.IsNull(col) ? std::nullopt : std::optional(st.Int(col));
             };
             while (st.Step()) {
               state.gates[st.Text(0)] = {st.Int(1), opt(2), opt(3),
                                          regulation::RateLog::Parse(st.Text(4))};
             }
             return state;
           },
       .apply =
           [&](const auto& lease, const auto& park) {
             // JSON objects by job id: the statements take a whole round each.
             Json leased = Json::object(), parked = Json::object();
             for (const auto& [id, gates] : lease) {
               leased[id] = gates.empty() ? Json(nullptr) : Json(gates);
             }
             for (const auto& [id, gate] : park) parked[id] = gate;
             if (!park.empty()) {
               c.Prepare("job_park", kJobPark).Bind(1, std::string_view(parked.dump())).Step();
             }
             int n = 0;
             if (lease.empty()) return std::pair(n, int64_t{0});
             std::string leased_text = leased.dump();
             c.Prepare("gate_take", kGateTake).Bind(1, std::string_view(leased_text)).Step();
             auto st = c.Prepare("job_lease", kJobLease);
             st.Bind(1, now)
                 .Bind(3, std::string_view(leased_text))
                 .Bind(4, std::string_view(p.worker_id))
                 .Bind(5, int64_t{p.lease.count()});
             while (st.Step()) {
               std::string problem;
               Job j = ReadJob(st, &problem);
               fetched.emplace_back(std::move(j), std::move(problem));
               ++n;
             }
             return std::pair(n, (now + 999) / 1000);  // the leases' start, in ms rounded up
           },
       .record =
           [&](const auto& rates) {
             Json updates = Json::array();
             for (const auto& u : rates) {
               updates.push_back({u.gate, u.log,
                                  u.opens_at ? Json(*u.opens_at * 1000) : Json(nullptr),
                                  u.idle_at * 1000});
             }
             c.Prepare("gate_rate_record", kGateRateRecord)
                 .Bind(1, std::string_view(updates.dump()))
                 .Step();
           },
       .rates = RateSteps(c, now)});
}

// The regulated fetch in one statement (job_fetch_within.sql), when the kind alone decides which
// gates a job takes (no key, no rate), the fetch is in plain order, and every gate has room for a
// whole batch: true when it leased jobs. Else the fetch decides job by job.
bool SqliteStore::FetchWithin(Conn& c, int64_t now, const JobFetchParams& p,
                              const std::string& kinds, const std::string& partitions,
                              std::vector<std::pair<Job, std::string>>& fetched) {
  if (p.fair || p.order != QueueOrder::kFifo) return false;
  auto by_kind = regulation::KindGates(p.limits, p.queue, p.kinds);
  if (!by_kind) return false;
  std::map<std::string, int64_t> need;  // the most units of each gate one job takes
  for (const auto& [kind, gates] : *by_kind) {
    std::map<std::string, int64_t> units;
    for (const auto& g : gates) ++units[g];
    for (const auto& [g, n] : units) need[g] = std::max(need[g], n);
  }
  Json all = Json::array();
  for (const auto& [g, n] : need) all.push_back(g);
  if (!need.empty()) {
    // Room for all, as the limits are recorded now (one recorded since as a rate: no), and no
    // job parked at any of the gates, which would be overtaken.
    std::string text = all.dump();
    auto st = c.Prepare("gate_held", kGateHeld);
    st.Bind(1, std::string_view(text));
    while (st.Step()) {
      if (!st.IsNull(3)) return false;
      if (!st.IsNull(2) && st.Int(1) + int64_t{p.limit} * need[st.Text(0)] > st.Int(2))
        return false;
    }
    auto parked = c.Prepare("gate_parked", kGateParked);
    parked.Bind(1, std::string_view(text)).Step();
    if (parked.Int(0) > 0) return false;
  }
  Json gates = Json::object();
  for (const auto& [kind, g] : *by_kind) gates[kind] = g.empty() ? Json(nullptr) : Json(g);
  auto st = c.Prepare("job_fetch_within", kJobFetchWithin);
  st.Bind(1, now)
      .Bind(2, std::string_view(p.queue))
      .Bind(3, int64_t{p.limit})
      .Bind(4, std::string_view(p.worker_id))
      .Bind(5, int64_t{p.lease.count()})
      .Bind(6, std::string_view(kinds))
      .Bind(7, int64_t{p.partition_count})
      .Bind(8, std::string_view(partitions))
      .Bind(9, int64_t{p.overdue.count()})
      .Bind(10, std::string_view(gates.dump()));
  std::map<std::string, int64_t> held;
  size_t before = fetched.size();
  while (st.Step()) {
    std::string problem;
    Job j = ReadJob(st, &problem);
    for (const auto& g : (*by_kind)[j.kind]) ++held[g];
    fetched.emplace_back(std::move(j), std::move(problem));
  }
  if (!held.empty())
    c.Prepare("gate_add", kGateAdd).Bind(1, std::string_view(Json(held).dump())).Step();
  return fetched.size() > before;
}

namespace {

// Opens every gate with parked jobs as far as it has room (gate_open.sql), commits, and wakes
// this process's workers of the queues of the jobs it let go. Returns how many it let go.
int64_t OpenGatesAndCommit(Conn& c, Write& w, LocalHub& hub) {
  c.Exec(kGateRecount);
  c.Prepare("gate_forget", kGateForget).Bind(1, w.now()).Step();
  int64_t opened = regulation::OpenRateGates(RateSteps(c, w.now()), true).opened;
  std::optional<std::string> gate;
  while (true) {
    {
      auto st = c.Prepare("gate_next", kGateNext);
      st.Bind(1, gate);
      st.Step();
      if (st.IsNull(0)) break;
      gate = st.Text(0);
    }
    auto st = c.Prepare("gate_open", kGateOpen);
    st.Bind(1, gate);
    while (st.Step()) ++opened;
  }
  std::set<std::string> due;
  std::vector<std::string> told;
  TakeNotices(c, due, told);  // the queues of the jobs it let go (migration 015's trigger)
  w.Commit();
  hub.Notify({.queues = {due.begin(), due.end()}, .workers = told});
  return opened;
}

}  // namespace

void SqliteStore::LimitRegister(const std::vector<Limit>& limits) {
  for (const auto& l : limits) l.Validate();
  if (limits.empty()) return;
  auto c = pool_.Acquire();
  Write w(*c, *clock_);
  for (const auto& l : limits) {
    c->Prepare("limit_upsert", kLimitUpsert)
        .Bind(1, std::string_view(l.name))
        .Bind(2, int64_t{l.capacity})
        .Bind(3, l.queue)
        .Bind(4, l.kind)
        .Bind(5, l.key)
        .Bind(6, w.now())
        .Bind(7, regulation::UnitsText(l))
        .Bind(8, l.per ? std::optional<int64_t>(l.per->count()) : std::nullopt)
        .Step();
  }
  OpenGatesAndCommit(*c, w, *hub_);
}

void SqliteStore::LimitRemove(const std::string& name) {
  auto c = pool_.Acquire();
  Write w(*c, *clock_);
  {
    auto st = c->Prepare("limit_remove", kLimitRemove);
    st.Bind(1, std::string_view(name));
    if (!st.Step()) throw Error(ErrorCode::kNotFound, fmt::format("no limit named '{}'", name));
  }
  OpenGatesAndCommit(*c, w, *hub_);
}

std::vector<LimitInfo> SqliteStore::LimitList(bool usage) {
  auto c = pool_.Acquire();
  auto st = c->Prepare("limit_list", kLimitList);
  int64_t now = Micros(clock_->Now());
  st.Bind(1, int64_t{usage}).Bind(2, now);
  std::vector<LimitInfo> out;
  while (st.Step()) {
    auto opt = [&](int col) { return st.IsNull(col) ? std::nullopt : std::optional(st.Text(col)); };
    LimitInfo info;
    info.limit = {st.Text(0), static_cast<int>(st.Int(1)), opt(2), opt(3), opt(4),
                  regulation::UnitsOf(opt(8))};
    if (!st.IsNull(9)) info.limit.per = Millis(st.Int(9));
    info.running = st.Int(5) + regulation::StartsWithin(opt(10), info.limit.per, now / 1000);
    info.waiting = st.Int(6);
    info.keys = st.Int(7);
    out.push_back(std::move(info));
  }
  return out;
}

int64_t SqliteStore::LimitSweep(bool /*recount: always*/) {
  auto c = pool_.Acquire();
  Write w(*c, *clock_);
  return OpenGatesAndCommit(*c, w, *hub_);
}

std::vector<std::string> SqliteStore::JobFinishMany(const std::string& worker_id,
                                                    const std::vector<JobOutcome>& outcomes) {
  if (outcomes.empty()) return {};
  std::vector<std::string> applied;
  std::set<std::string> due;
  std::vector<std::string> told;
  {
    auto c = pool_.Acquire();
    Write w(*c, *clock_);
    std::string now_text = core::FormatTimestamp(FromMicros(w.now()));
    // The places the attempts hold (docs/regulation.md), given back together once their finishes
    // have cleared them: one counter update per gate, not one per job.
    std::map<std::pair<std::string, int64_t>, Json> holds;
    {
      Json ids = Json::array();
      for (const auto& o : outcomes) ids.push_back(o.id);
      auto st = c->Prepare("job_gates", kJobGates);
      st.Bind(1, std::string_view(ids.dump()));
      while (st.Step()) holds[{st.Text(0), st.Int(1)}] = Json::parse(st.Text(2));
    }
    std::map<std::string, int64_t> released;
    for (const auto& o : outcomes) {
      std::optional<std::string> result;
      if (!o.result.is_null()) result = StorableJson(o.result);
      {
        auto st = c->Prepare("job_finish", kJobFinish);
        st.Bind(1, w.now())
            .Bind(2, std::string_view(worker_id))
            .Bind(3, std::string_view(o.id))
            .Bind(4, int64_t{o.attempt})
            .Bind(5, ToString(o.kind))
            .Bind(6, std::string_view(StorableText(o.message)))
            .Bind(7, int64_t{o.delay.count()})
            .Bind(8, std::string_view(now_text))
            .Bind(9, result);
        if (st.Step()) {
          applied.push_back(o.id);
          if (st.Text(1) == "available") due.insert(st.Text(0));
          if (auto h = holds.find({o.id, o.attempt}); h != holds.end()) {
            for (const auto& g : h->second) ++released[g.get<std::string>()];
          }
          continue;
        }
      }
      // Refused: a lease this attempt kept on a job taken from the worker ends.
      auto st = c->Prepare("job_lease_end", kJobLeaseEnd);
      st.Bind(1, std::string_view(worker_id))
          .Bind(2, std::string_view(o.id))
          .Bind(3, int64_t{o.attempt})
          .Bind(4, w.now());
      if (st.Step() && !st.IsNull(0)) due.insert(st.Text(0));
    }
    if (!released.empty()) {
      std::string text = Json(released).dump();
      c->Prepare("gates_give_back", kGatesGiveBack).Bind(1, std::string_view(text)).Step();
      c->Prepare("gates_wake", kGatesWake).Bind(1, std::string_view(text)).Step();
    }
    TakeNotices(*c, due, told);  // parents their last child made available; opened gates
    w.Commit();
  }
  hub_->Notify({.queues = {due.begin(), due.end()}, .workers = told});
  return applied;
}

Store::LeaseRenewal SqliteStore::JobLeaseRenew(const std::string& worker_id,
                                               const std::vector<JobRef>& held, Millis lease) {
  if (held.empty()) return {};
  LeaseRenewal out;
  auto c = pool_.Acquire();
  Write w(*c, *clock_);
  for (const auto& h : held) {
    {
      auto st = c->Prepare("job_lease_renew", kJobLeaseRenew);
      st.Bind(1, w.now())
          .Bind(2, std::string_view(worker_id))
          .Bind(3, int64_t{lease.count()})
          .Bind(4, std::string_view(h.id))
          .Bind(5, int64_t{h.attempt});
      st.Step();
      out.renewed += sqlite3_changes(c->raw());
    }
    auto st = c->Prepare("job_lease_give_up", kJobLeaseGiveUp);
    st.Bind(1, std::string_view(worker_id))
        .Bind(2, std::string_view(h.id))
        .Bind(3, int64_t{h.attempt});
    st.Step();
    if (st.Int(0) != 0) out.give_up.push_back(h);
  }
  w.Commit();
  return out;
}

int SqliteStore::JobExpire(int limit) {
  struct Due {
    std::string id, kind, why;
  };
  std::vector<Due> due;
  std::set<std::string> woken;  // parents their last child made available
  std::vector<std::string> told;
  int n = 0;
  {
    auto c = pool_.Acquire();
    Write w(*c, *clock_);
    {
      auto st = c->Prepare("job_expire", kJobExpire);
      st.Bind(1, w.now()).Bind(2, int64_t{limit});
      while (st.Step()) due.push_back({st.Text(0), st.Text(1), st.Text(2)});
    }
    std::map<std::string, int64_t> per_kind;
    for (const auto& d : due) {
      c->Prepare("job_expire_one", kJobExpireOne)
          .Bind(1, w.now())
          .Bind(2, std::string_view(d.id))
          .Step();
      if (sqlite3_changes(c->raw()) == 0) continue;
      c->Prepare("job_expire_detail", kJobExpireDetail)
          .Bind(1, std::string_view(d.id))
          .Bind(2, std::string_view(d.why))
          .Step();
      ++per_kind[d.kind];
      ++n;
    }
    for (const auto& [kind, count] : per_kind) {
      c->Prepare("kind_stats_expired", kKindStatsExpired)
          .Bind(1, w.now())
          .Bind(2, std::string_view(kind))
          .Bind(3, count)
          .Step();
    }
    TakeNotices(*c, woken, told);
    w.Commit();
  }
  hub_->Notify({.queues = {woken.begin(), woken.end()}, .workers = told});
  return n;
}

int SqliteStore::JobRescue(int limit) {
  int rescued = 0;
  std::set<std::string> due;
  std::vector<std::string> told;
  {
    auto c = pool_.Acquire();
    Write w(*c, *clock_);
    auto st = c->Prepare("job_rescue", kJobRescue);
    st.Bind(1, w.now())
        .Bind(2, std::string_view(core::FormatTimestamp(FromMicros(w.now()))))
        .Bind(3, int64_t{limit});
    while (st.Step()) {
      ++rescued;
      if (st.Text(1) == "retryable") due.insert(st.Text(0));
    }
    c->Prepare("job_lease_lapse", kJobLeaseLapse).Bind(1, w.now()).Step();
    TakeNotices(*c, due, told);  // parents their last child (failed) made available
    w.Commit();
  }
  hub_->Notify({.queues = {due.begin(), due.end()}, .workers = told});
  return rescued;
}

Job SqliteStore::ChangeOne(std::string_view name, std::string_view sql, const std::string& id,
                           std::string_view action) {
  std::optional<Job> changed;
  std::set<std::string> due;
  std::vector<std::string> told;
  {
    auto c = pool_.Acquire();
    Write w(*c, *clock_);
    try {
      auto st = c->Prepare(name, sql);
      st.Bind(1, w.now()).Bind(2, std::string_view(id));
      if (st.Step()) changed = ReadJob(st);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kIllegalTransition) throw;
      // A retry or resume would have given the job its unique key, which another job holds.
      auto held = c->Prepare("job_unique_conflict", kJobUniqueConflict);
      held.Bind(1, std::string_view(id));
      if (!held.Step()) throw;
      ThrowUniqueKeyTaken(id, action, held.Text(0), held.Text(1), held.Text(2));
    }
    // The workers of the running jobs a stop or cancel took (this one, its children), and the
    // parent a cancelled child's last sibling made available.
    TakeNotices(*c, due, told);
    w.Commit();
  }
  if (!changed) ThrowChangeRefused(*this, id, action);
  // Only this process hears it; a worker elsewhere learns it at its next lease renewal, or
  // finds a job made due (retry, resume, wake) at its next poll.
  if (changed->state == JobState::kAvailable) due.insert(changed->queue);
  hub_->Notify({.queues = {due.begin(), due.end()}, .workers = told});
  return *changed;
}

Job SqliteStore::JobCancel(const std::string& id) {
  return ChangeOne("job_cancel", kJobCancel, id, "cancel");
}

Job SqliteStore::JobRetry(const std::string& id) {
  return ChangeOne("job_retry", kJobRetry, id, "retry");
}

namespace {

// Deletes job `id` as job_delete.sql does, with its history. Returns it as it was.
std::optional<Job> DeleteJob(Conn& c, const std::string& id) {
  std::optional<Job> deleted;
  {
    auto st = c.Prepare("job_delete", kJobDelete);
    st.Bind(1, std::string_view(id));
    if (st.Step()) deleted = ReadJob(st);
  }
  if (deleted) c.Prepare("job_events_delete", kJobEventsDelete).Bind(1, std::string_view(id)).Step();
  return deleted;
}

}  // namespace

Job SqliteStore::JobDelete(const std::string& id) {
  std::optional<Job> deleted;
  {
    auto c = pool_.Acquire();
    Write w(*c, *clock_);
    deleted = DeleteJob(*c, id);
    w.Commit();
  }
  if (!deleted) ThrowDeleteRefused(*this, id);
  return *deleted;
}

Store::JobPage SqliteStore::ChangePage(
    const JobFilter& f, const std::function<bool(Conn&, int64_t, const std::string&,
                                                 std::set<std::string>&)>& change) {
  if (f.states.empty()) throw Error(ErrorCode::kInvalidArgument, "a bulk change needs states");
  // SQLite has one writer at a time, and its waiting writers poll: a page is kept small, and after
  // it this writer pauses as long as it held the lock, so that heartbeats, fetches and outcomes
  // of running workers get their turn however many pages follow.
  constexpr int64_t kMaxPage = 200;
  JobPage page;
  std::set<std::string> due;
  std::vector<std::string> told;
  auto held_since = std::chrono::steady_clock::now();
  {
    auto c = pool_.Acquire();
    Write w(*c, *clock_);
    held_since = std::chrono::steady_clock::now();
    std::vector<std::string> ids;
    {
      auto st = c->Prepare("job_page", kJobPage);
      st.Bind(1, States(f))
          .Bind(2, Opt(f.queue))
          .Bind(3, Opt(f.kind))
          .Bind(4, Opt(f.parent_id))
          .Bind(5, Opt(f.after_id))
          .Bind(6, std::min(int64_t{f.limit}, kMaxPage));
      while (st.Step()) ids.push_back(st.Text(0));
    }
    // In this transaction nothing else writes; only the changes of this page (a cancelled
    // parent's children) can move a later job of it on, and its single-job statement then
    // matches no row.
    for (const auto& id : ids) {
      if (change(*c, w.now(), id, due)) ++page.changed;
    }
    TakeNotices(*c, due, told);  // cancelled running jobs' workers, parents made available
    w.Commit();
    if (!ids.empty()) page.last_id = ids.back();
  }
  hub_->Notify({.queues = {due.begin(), due.end()}, .workers = told});
  if (!page.last_id.empty()) {
    std::this_thread::sleep_for(std::max(std::chrono::steady_clock::now() - held_since,
                                         std::chrono::steady_clock::duration(Millis(20))));
  }
  return page;
}

Store::JobPage SqliteStore::JobCancelPage(const JobFilter& f) {
  return ChangePage(f, [](Conn& c, int64_t now, const std::string& id, std::set<std::string>&) {
    auto st = c.Prepare("job_cancel", kJobCancel);
    st.Bind(1, now).Bind(2, std::string_view(id));
    return st.Step();
  });
}

Store::JobPage SqliteStore::JobRetryPage(const JobFilter& f) {
  return ChangePage(f, [](Conn& c, int64_t now, const std::string& id, std::set<std::string>& due) {
    auto st = c.Prepare("job_retry", kJobRetry);
    st.Bind(1, now).Bind(2, std::string_view(id));
    try {
      if (!st.Step()) return false;
    } catch (const Error& e) {  // another job holds its unique key: skipped, nothing changed
      if (e.code() != ErrorCode::kIllegalTransition) throw;
      return false;
    }
    due.insert(st.Text(2));  // its queue
    return true;
  });
}

Store::JobPage SqliteStore::JobDeletePage(const JobFilter& f) {
  return ChangePage(f, [](Conn& c, int64_t, const std::string& id, std::set<std::string>&) {
    return DeleteJob(c, id).has_value();
  });
}

int64_t SqliteStore::JobPruneState(JobState state, Millis age, int limit) {
  auto c = pool_.Acquire();
  Write w(*c, *clock_);
  std::vector<std::string> ids;
  {
    auto st = c->Prepare("job_prune", kJobPrune);
    st.Bind(1, w.now())
        .Bind(2, std::string_view(ToString(state)))
        .Bind(3, age.count())
        .Bind(4, int64_t{limit});
    while (st.Step()) ids.push_back(st.Text(0));
  }
  if (ids.empty()) return 0;
  std::string list = Json(ids).dump();
  c->Prepare("job_prune_events", kJobPruneEvents).Bind(1, std::string_view(list)).Step();
  c->Prepare("job_prune_delete", kJobPruneDelete).Bind(1, std::string_view(list)).Step();
  w.Commit();
  return static_cast<int64_t>(ids.size());
}

bool SqliteStore::JobSave(const std::string& worker_id, const JobRef& job,
                          const JobSaveParams& save) {
  std::set<std::string> due;
  {
    auto c = pool_.Acquire();
    Write w(*c, *clock_);
    {
      auto st = c->Prepare("job_save", kJobSave);
      st.Bind(1, w.now())
          .Bind(2, std::string_view(worker_id))
          .Bind(3, std::string_view(job.id))
          .Bind(4, int64_t{job.attempt})
          .Bind(5, save.step)
          .Bind(6, Dump(save.checkpoint))
          .Bind(7, Dump(save.progress))
          .Bind(8, static_cast<int64_t>(save.children.size()));
      if (!st.Step()) return false;  // the worker lost the job
    }
    // The children and the checkpoint they belong to commit together, or neither does.
    InsertJobs(*c, save.children, w.now(), job.id, due);
    w.Commit();
  }
  hub_->Notify({.queues = {due.begin(), due.end()}});
  return true;
}

Job SqliteStore::JobStop(const std::string& id) {
  return ChangeOne("job_stop", kJobStop, id, "stop");
}

Job SqliteStore::JobWake(const std::string& id) {
  return ChangeOne("job_wake", kJobWake, id, "wake");
}

Job SqliteStore::JobResume(const std::string& id) {
  return ChangeOne("job_resume", kJobResume, id, "resume");
}

void SqliteStore::QueuePause(const std::string& name, bool paused) {
  if (name.empty()) throw Error(ErrorCode::kInvalidArgument, "a queue needs a name");
  auto c = pool_.Acquire();
  Write w(*c, *clock_);
  c->Prepare("queue_pause", kQueuePause)
      .Bind(1, w.now())
      .Bind(2, std::string_view(name))
      .Bind(3, int64_t{paused})
      .Step();
  w.Commit();
  if (!paused) hub_->Notify({.queues = {name}});
}

// Nothing to fold: the row triggers keep the counts themselves. Zero counts stay (one row per
// queue and state ever used) and queue_list.sql reads past them, rather than take the write lock
// every second to delete rows the next job would write again.
void SqliteStore::JobCountsFold() {}

std::vector<QueueInfo> SqliteStore::QueueList() {
  auto c = pool_.Acquire();
  auto st = c->Prepare("queue_list", kQueueList);
  std::vector<QueueInfo> out;
  while (st.Step()) {
    std::string name = st.Text(0);
    if (out.empty() || out.back().name != name) {
      out.push_back({name});
      if (!st.IsNull(1)) out.back().paused_at = FromMicros(st.Int(1));
    }
    if (!st.IsNull(2)) out.back().jobs[st.Text(2)] = st.Int(3);
    if (!st.IsNull(8) && st.Text(2) == "available") {
      out.back().oldest_available = FromMicros(st.Int(8));
    }
    auto opt = [&](int col) {
      return st.IsNull(col) ? std::nullopt : std::optional(st.Text(col));
    };
    auto fair_key = opt(6), fair_weights = opt(7);
    out.back().settings = ReadQueueSettings(st.Text(4), st.Int(5) != 0, fair_key, fair_weights);
  }
  return out;
}

void SqliteStore::QueueRegister(const std::map<std::string, QueueSettings>& queues) {
  if (queues.empty()) return;
  auto c = pool_.Acquire();
  Write w(*c, *clock_);
  for (const auto& [name, q] : queues) {
    auto weights = FairWeightsJson(q);
    auto st = c->Prepare("queue_register", kQueueRegister);
    st.Bind(1, std::string_view(name)).Bind(2, ToString(q.order)).Bind(3, int64_t{q.shed});
    if (q.fair_key) st.Bind(4, std::string_view(*q.fair_key));
    if (weights) st.Bind(5, std::string_view(*weights));
    st.Step();
    if (q.fair_key) {
      c->Prepare("queue_fair_stamp", kQueueFairStamp).Bind(1, std::string_view(name)).Step();
    }
  }
  w.Commit();
}

int64_t SqliteStore::QueueRemove(const std::string& name) {
  auto c = pool_.Acquire();
  Write w(*c, *clock_);
  auto count = c->Prepare("queue_jobs", kQueueJobs);
  count.Bind(1, std::string_view(name)).Step();
  int64_t jobs = count.Int(0);
  if (jobs == 0) c->Prepare("queue_remove", kQueueRemove).Bind(1, std::string_view(name)).Step();
  w.Commit();
  return jobs;
}

ClusterState SqliteStore::ClusterGet() {
  auto c = pool_.Acquire();
  auto st = c->Prepare("cluster_get", kClusterGet);
  st.Step();
  return ReadCluster(st);
}

ClusterState SqliteStore::ClusterStop(const std::string& reason) {
  std::optional<ClusterState> stopped;
  std::vector<std::string> told;
  {
    auto c = pool_.Acquire();
    Write w(*c, *clock_);
    {
      auto st = c->Prepare("cluster_stop", kClusterStop);
      st.Bind(1, w.now()).Bind(2, std::string_view(reason));
      if (st.Step()) stopped = ReadCluster(st);
    }
    if (stopped) {
      {
        auto st = c->Prepare("cluster_stop_owners", kClusterStopOwners);
        while (st.Step()) told.push_back(st.Text(0));
      }
      c->Prepare("cluster_stop_release", kClusterStopRelease).Bind(1, w.now()).Step();
    }
    w.Commit();
  }
  if (!stopped) ThrowClusterChangeRefused(ClusterGet(), "stop");
  // As in ChangeOne: workers elsewhere learn it at their next lease renewal.
  hub_->Notify({.workers = told});
  return *stopped;
}

ClusterState SqliteStore::ClusterResume() {
  std::optional<ClusterState> resumed;
  std::vector<std::string> due;
  {
    auto c = pool_.Acquire();
    Write w(*c, *clock_);
    {
      auto st = c->Prepare("cluster_resume", kClusterResume);
      if (st.Step()) resumed = ReadCluster(st);
    }
    if (resumed) {
      auto st = c->Prepare("due_queues", kDueQueues);
      st.Bind(1, w.now());
      while (st.Step()) due.push_back(st.Text(0));
    }
    w.Commit();
  }
  if (!resumed) ThrowClusterChangeRefused(ClusterGet(), "resume");
  hub_->Notify({.queues = due});
  return *resumed;
}

namespace {

// The job of a schedule, from columns kind, args, queue, priority, max_attempts, timeout_ms
// (schedule_claim.sql, schedule_get.sql).
JobSpec ScheduleJob(const Statement& st, std::optional<SysTime> run_at) {
  JobSpec spec{.kind = st.Text(0), .args = Json::parse(st.Text(1)), .run_at = run_at};
  if (!st.IsNull(2)) spec.queue = st.Text(2);
  if (!st.IsNull(3)) spec.priority = static_cast<int>(st.Int(3));
  if (!st.IsNull(4)) spec.max_attempts = static_cast<int>(st.Int(4));
  if (!st.IsNull(5)) spec.timeout = Millis(st.Int(5));
  return spec;
}

}  // namespace

void SqliteStore::ScheduleSync(const std::vector<Schedule>& schedules, bool remove_others) {
  auto [rows, names] = ScheduleRows(schedules);
  auto c = pool_.Acquire();
  Write w(*c, *clock_);
  c->Prepare("schedule_sync", kScheduleSync).Bind(1, w.now()).Bind(2, std::string_view(rows)).Step();
  if (remove_others) {
    c->Prepare("schedule_remove_others", kScheduleRemoveOthers)
        .Bind(1, std::string_view(names))
        .Step();
  }
  w.Commit();
}

std::vector<ScheduleInfo> SqliteStore::ScheduleList() {
  auto c = pool_.Acquire();
  auto st = c->Prepare("schedule_list", kScheduleList);
  std::vector<ScheduleInfo> out;
  while (st.Step()) {
    ScheduleInfo info;
    Schedule& s = info.schedule;
    s.name = st.Text(0);
    s.cron = st.Text(1);
    s.zone = st.Text(2);
    s.kind = st.Text(3);
    s.args = Json::parse(st.Text(4));
    if (!st.IsNull(5)) s.queue = st.Text(5);
    if (!st.IsNull(6)) s.priority = static_cast<int>(st.Int(6));
    if (!st.IsNull(7)) s.max_attempts = static_cast<int>(st.Int(7));
    if (!st.IsNull(8)) s.timeout = Millis(st.Int(8));
    s.jitter = Millis(st.Int(9));
    s.overrun = ParseOverrun(st.Text(10)).value_or(Overrun::kSkip);
    s.catch_up = ParseCatchUp(st.Text(11)).value_or(CatchUp::kLatest);
    info.paused = st.Int(12) != 0;
    info.last_slot = FromMicros(st.Int(13));
    if (!st.IsNull(14)) info.last_job_id = st.Text(14);
    if (!st.IsNull(15)) info.last_enqueued_at = FromMicros(st.Int(15));
    info.created_at = FromMicros(st.Int(16));
    out.push_back(std::move(info));
  }
  return out;
}

void SqliteStore::SchedulePause(const std::string& name, bool paused) {
  auto c = pool_.Acquire();
  Write w(*c, *clock_);
  auto st = c->Prepare("schedule_pause", kSchedulePause);
  st.Bind(1, w.now()).Bind(2, std::string_view(name)).Bind(3, int64_t{paused});
  if (!st.Step()) throw Error(ErrorCode::kNotFound, "no schedule named '" + name + "'");
  st.Step();
  w.Commit();
}

ScheduleFired SqliteStore::ScheduleFire(const ScheduleFireParams& p) {
  ScheduleFired fired;
  std::set<std::string> due;
  std::vector<std::string> told;
  {
    auto c = pool_.Acquire();
    Write w(*c, *clock_);
    std::optional<JobSpec> spec;
    std::optional<std::string> previous, previous_state;
    Overrun overrun = Overrun::kSkip;
    {
      auto st = c->Prepare("schedule_claim", kScheduleClaim);
      st.Bind(1, std::string_view(p.name)).Bind(2, Micros(p.slot));
      if (!st.Step()) return fired;  // rolled back: nothing changed
      spec = ScheduleJob(st, p.run_at);
      overrun = ParseOverrun(st.Text(6)).value_or(Overrun::kSkip);
      if (!st.IsNull(7)) previous = st.Text(7);
      if (!st.IsNull(8)) previous_state = st.Text(8);
      st.Step();
    }
    fired.taken = true;
    if (!p.enqueue) {
      fired.skipped = "missed";
    } else if (ScheduleOverruns(previous_state) && overrun == Overrun::kSkip) {
      fired.skipped = "overrun";
    } else {
      if (ScheduleOverruns(previous_state) && overrun == Overrun::kReplace) {
        fired.replaced = *previous;
        auto st = c->Prepare("job_cancel", kJobCancel);
        st.Bind(1, w.now()).Bind(2, std::string_view(*previous));
        while (st.Step()) {
        }
        TakeNotices(*c, due, told);  // the cancelled job's worker, if it runs
      }
      fired.job_id = InsertJobs(*c, {*spec}, w.now(), std::nullopt, due)[0].id;
      c->Prepare("schedule_enqueued", kScheduleEnqueued)
          .Bind(1, w.now())
          .Bind(2, std::string_view(p.name))
          .Bind(3, std::string_view(fired.job_id))
          .Step();
    }
    w.Commit();
  }
  hub_->Notify({.queues = {due.begin(), due.end()}, .workers = told});
  return fired;
}

std::string SqliteStore::ScheduleRun(const std::string& name) {
  std::string id;
  std::set<std::string> due;
  {
    auto c = pool_.Acquire();
    Write w(*c, *clock_);
    std::optional<JobSpec> spec;
    {
      auto st = c->Prepare("schedule_get", kScheduleGet);
      st.Bind(1, std::string_view(name));
      if (!st.Step()) throw Error(ErrorCode::kNotFound, "no schedule named '" + name + "'");
      spec = ScheduleJob(st, std::nullopt);
      st.Step();
    }
    id = InsertJobs(*c, {*spec}, w.now(), std::nullopt, due)[0].id;
    c->Prepare("schedule_enqueued", kScheduleEnqueued)
        .Bind(1, w.now())
        .Bind(2, std::string_view(name))
        .Bind(3, std::string_view(id))
        .Step();
    w.Commit();
  }
  hub_->Notify({.queues = {due.begin(), due.end()}});
  return id;
}

// Membership changes reach only this process's listeners (the hub); other processes notice them
// by polling MemberList.
void SqliteStore::KindRegister(const std::string& worker_id,
                               const std::map<std::string, KindDefaults>& kinds) {
  if (kinds.empty()) return;
  for (const auto& [name, d] : kinds) d.Validate(name);
  auto c = pool_.Acquire();
  Write w(*c, *clock_);
  for (const auto& [name, d] : kinds) {
    c->Prepare("kind_register", kKindRegister)
        .Bind(1, w.now())
        .Bind(2, std::string_view(worker_id))
        .Bind(3, std::string_view(name))
        .Bind(4, d.queue)
        .Bind(5, OptInt(d.priority))
        .Bind(6, OptInt(d.max_attempts))
        .Bind(7, OptInt(d.timeout))
        .Bind(8, d.serial ? std::optional<std::string>(ToString(*d.serial)) : std::nullopt)
        .Step();
  }
  w.Commit();
}

std::vector<KindInfo> SqliteStore::KindList() {
  auto c = pool_.Acquire();
  auto st = c->Prepare("kind_list", kKindList);
  std::vector<KindInfo> out;
  while (st.Step()) {
    KindInfo k{.kind = st.Text(0), .worker = st.Text(5)};
    if (!st.IsNull(1)) k.defaults.queue = st.Text(1);
    if (!st.IsNull(2)) k.defaults.priority = static_cast<int>(st.Int(2));
    if (!st.IsNull(3)) k.defaults.max_attempts = static_cast<int>(st.Int(3));
    if (!st.IsNull(4)) k.defaults.timeout = Millis(st.Int(4));
    if (!st.IsNull(7)) k.defaults.serial = ParseSerialPolicy(st.Text(7));
    k.registered_at = FromMicros(st.Int(6));
    out.push_back(std::move(k));
  }
  return out;
}

void SqliteStore::KindStatsFlush(const std::map<std::string, KindRunSample>& samples) {
  if (samples.empty()) return;
  auto c = pool_.Acquire();
  Write w(*c, *clock_);
  for (const auto& [kind, s] : samples) {
    c->Prepare("kind_stats_flush", kKindStatsFlush)
        .Bind(1, w.now())
        .Bind(2, std::string_view(kind))
        .Bind(3, OptInt(s.estimate))
        .Bind(4, s.samples)
        .Bind(5, s.missed)
        .Step();
  }
  w.Commit();
}

std::vector<KindRunStats> SqliteStore::KindStatsList() {
  auto c = pool_.Acquire();
  auto st = c->Prepare("kind_stats_list", kKindStatsList);
  std::vector<KindRunStats> out;
  while (st.Step()) {
    KindRunStats k{.kind = st.Text(0)};
    if (!st.IsNull(1)) k.estimate = Millis(st.Int(1));
    k.samples = st.Int(2);
    k.missed = st.Int(3);
    k.expired = st.Int(4);
    k.updated_at = FromMicros(st.Int(5));
    out.push_back(std::move(k));
  }
  return out;
}

void SqliteStore::AuditAppend(const AuditEntry& e) {
  std::optional<std::string> error;
  if (!e.error.empty()) error = e.error;
  auto c = pool_.Acquire();
  Write w(*c, *clock_);
  c->Prepare("audit_append", kAuditAppend)
      .Bind(1, e.at ? Micros(*e.at) : w.now())
      .Bind(2, std::string_view(e.who))
      .Bind(3, std::string_view(e.method))
      .Bind(4, std::string_view(e.path))
      .Bind(5, int64_t{e.status})
      .Bind(6, error)
      .Step();
  w.Commit();
}

int64_t SqliteStore::AuditPrune(Millis age, int limit) {
  auto c = pool_.Acquire();
  Write w(*c, *clock_);
  int64_t n = 0;
  {
    auto st = c->Prepare("audit_prune", kAuditPrune);
    st.Bind(1, w.now()).Bind(2, age.count()).Bind(3, int64_t{limit});
    while (st.Step()) ++n;
  }
  w.Commit();
  return n;
}

void SqliteStore::ClusterEventAppend(const ClusterEvent& e) {
  auto c = pool_.Acquire();
  Write w(*c, *clock_);
  c->Prepare("cluster_event_append", kClusterEventAppend)
      .Bind(1, w.now())
      .Bind(2, std::string_view(e.kind))
      .Bind(3, std::string_view(e.worker))
      .Bind(4, std::string_view(e.detail))
      .Step();
  c->Prepare("cluster_event_forget", kClusterEventForget).Step();
  w.Commit();
}

std::vector<ClusterEvent> SqliteStore::ClusterEventList(int limit) {
  auto c = pool_.Acquire();
  auto st = c->Prepare("cluster_event_list", kClusterEventList);
  st.Bind(1, int64_t{limit});
  std::vector<ClusterEvent> out;
  while (st.Step()) {
    out.push_back({.id = st.Int(0),
                   .at = FromMicros(st.Int(1)),
                   .kind = st.Text(2),
                   .worker = st.Text(3),
                   .detail = st.Text(4)});
  }
  return out;
}

std::vector<AuditEntry> SqliteStore::AuditList(std::optional<int64_t> before, int limit) {
  auto c = pool_.Acquire();
  auto st = c->Prepare("audit_list", kAuditList);
  st.Bind(1, before).Bind(2, int64_t{limit});
  std::vector<AuditEntry> out;
  while (st.Step()) {
    out.push_back({.id = st.Int(0),
                   .at = FromMicros(st.Int(1)),
                   .who = st.Text(2),
                   .method = st.Text(3),
                   .path = st.Text(4),
                   .status = static_cast<int>(st.Int(5)),
                   .error = st.IsNull(6) ? "" : st.Text(6)});
  }
  return out;
}

Member SqliteStore::MemberRegister(const MemberInfo& info) {
  std::optional<int64_t> partition;
  if (info.partition) partition = *info.partition;
  Member m{.info = info};
  {
    auto c = pool_.Acquire();
    Write w(*c, *clock_);
    c->Prepare("membership_bump", kMembershipBump).Step();
    std::optional<std::string> dead;  // another incarnation of this id, silent past its timeout
    {
      auto st = c->Prepare("member_holder", kMemberHolder);
      st.Bind(1, w.now()).Bind(2, std::string_view(info.id));
      if (st.Step() && st.Text(0) != info.incarnation) {
        if (st.Int(3) == 0) ThrowWorkerIdInUse(info.id, st.Text(1), static_cast<int>(st.Int(2)));
        dead = info.id;
      }
    }
    // Evicted as MemberRemove evicts, in this transaction.
    if (dead) RemoveMembers(*c, w.now(), dead, /*expired_only=*/true);
    {
      auto st = c->Prepare("member_register", kMemberRegister);
      st.Bind(1, w.now())
          .Bind(2, std::string_view(info.id))
          .Bind(3, std::string_view(info.host))
          .Bind(4, int64_t{info.pid})
          .Bind(5, std::string_view(info.version))
          .Bind(6, std::string_view(Json(info.queues).dump()))
          .Bind(7, std::string_view(Json(info.roles).dump()))
          .Bind(8, partition)
          .Bind(9, int64_t{info.heartbeat_timeout.count()})
          .Bind(10, std::string_view(info.incarnation))
          .Bind(11, std::string_view(Json(info.kinds).dump()))
          .Bind(12, std::string_view(Json(info.concurrency).dump()));
      st.Step();
      if (!st.IsNull(0)) m.info.partition = static_cast<int>(st.Int(0));
      m.started_at = FromMicros(st.Int(1));
      m.heartbeat_at = FromMicros(st.Int(2));
    }
    w.Commit();
  }
  hub_->Notify({.members = true});
  return m;
}

bool SqliteStore::MemberHeartbeat(const std::string& id, int partition_count,
                                  const std::map<std::string, int>* concurrency) {
  auto c = pool_.Acquire();
  Write w(*c, *clock_);
  auto st = c->Prepare("member_heartbeat", kMemberHeartbeat);
  st.Bind(1, w.now()).Bind(2, std::string_view(id)).Bind(3, int64_t{partition_count});
  if (concurrency) st.Bind(4, std::string_view(Json(*concurrency).dump()));
  st.Step();
  bool found = sqlite3_changes(c->raw()) == 1;
  w.Commit();
  return found;
}

std::vector<std::string> SqliteStore::MemberRemove(const std::optional<std::string>& id,
                                                   bool expired_only) {
  std::vector<std::string> removed;
  {
    auto c = pool_.Acquire();
    Write w(*c, *clock_);
    removed = RemoveMembers(*c, w.now(), id, expired_only);
    if (removed.empty()) return {};
    w.Commit();
  }
  hub_->Notify({.members = true});
  return removed;
}

Membership SqliteStore::MemberList() {
  auto strings = [](const std::string& json) {
    return Json::parse(json).get<std::vector<std::string>>();
  };
  Membership ms;
  auto c = pool_.Acquire();
  auto st = c->Prepare("member_list", kMemberList);
  st.Bind(1, NowMicros());
  while (st.Step()) {
    ms.version = st.Int(0);
    if (st.IsNull(1)) continue;
    Member m;
    m.info.id = st.Text(1);
    m.info.host = st.Text(2);
    m.info.pid = static_cast<int>(st.Int(3));
    m.info.version = st.Text(4);
    m.info.queues = strings(st.Text(5));
    m.info.roles = strings(st.Text(6));
    if (!st.IsNull(7)) m.info.partition = static_cast<int>(st.Int(7));
    m.partition_count = static_cast<int>(st.Int(8));
    m.info.heartbeat_timeout = Millis(st.Int(9));
    m.started_at = FromMicros(st.Int(10));
    m.heartbeat_at = FromMicros(st.Int(11));
    m.silent_for = Millis(st.Int(12));
    m.leader = st.Int(13) != 0;
    m.info.incarnation = st.Text(14);
    m.info.kinds = strings(st.Text(15));
    m.info.concurrency = Json::parse(st.Text(16)).get<std::map<std::string, int>>();
    ms.members.push_back(std::move(m));
  }
  return ms;
}

std::optional<int64_t> SqliteStore::LeaderAcquire(const std::string& worker_id, Millis ttl) {
  std::optional<int64_t> term;
  auto c = pool_.Acquire();
  Write w(*c, *clock_);
  {
    auto st = c->Prepare("leader_acquire", kLeaderAcquire);
    st.Bind(1, w.now()).Bind(2, std::string_view(worker_id)).Bind(3, int64_t{ttl.count()});
    if (st.Step()) term = st.Int(0);
  }
  w.Commit();
  return term;
}

bool SqliteStore::AssignmentClaim(const std::string& name, const std::string& worker_id) {
  bool held = false;
  auto c = pool_.Acquire();
  Write w(*c, *clock_);
  {
    auto st = c->Prepare("assignment_claim", kAssignmentClaim);
    st.Bind(1, w.now()).Bind(2, std::string_view(name)).Bind(3, std::string_view(worker_id));
    held = st.Step();
  }
  w.Commit();
  return held;
}

void SqliteStore::AssignmentRelease(const std::string& name, const std::string& worker_id) {
  auto c = pool_.Acquire();
  Conn::Tx tx(*c);
  c->Prepare("assignment_release", kAssignmentRelease)
      .Bind(1, std::string_view(name))
      .Bind(2, std::string_view(worker_id))
      .Step();
  tx.Commit();
}

std::vector<ClaimedAssignment> SqliteStore::AssignmentList() {
  auto c = pool_.Acquire();
  auto st = c->Prepare("assignment_list", kAssignmentList);
  std::vector<ClaimedAssignment> out;
  while (st.Step()) out.push_back({st.Text(0), st.Text(1), FromMicros(st.Int(2))});
  return out;
}

namespace {

// This process's notifications (the hub), and one cheap read every kControlPoll: the control
// version, which grows whenever a running job is taken from its worker in any process (migration
// 010). When it moved, the listener says so (Notices::taken_elsewhere), and the worker asks which
// of its jobs to give up.
class SqliteListener final : public StoreListener {
 public:
  static constexpr Millis kControlPoll{250};

  SqliteListener(std::unique_ptr<StoreListener> hub, std::string path)
      : hub_(std::move(hub)), path_(std::move(path)) {}

  Notices Wait(Millis timeout) override {
    auto now = std::chrono::steady_clock::now();
    Notices n = hub_->Wait(std::max(Millis(0), std::min(timeout, std::chrono::duration_cast<Millis>(
                                                                      next_poll_ - now))));
    now = std::chrono::steady_clock::now();
    if (now < next_poll_) return n;
    next_poll_ = now + kControlPoll;
    try {
      if (!conn_) conn_ = Conn::Connect(path_);
      auto st = conn_->Prepare("control_version", kControlVersion);
      st.Step();
      int64_t version = st.Int(0);
      n.taken_elsewhere = seen_ && version != *seen_;
      seen_ = version;
    } catch (const Error&) {
      conn_.reset();
      throw;
    }
    return n;
  }

 private:
  std::unique_ptr<StoreListener> hub_;
  std::string path_;
  std::unique_ptr<Conn> conn_;
  std::optional<int64_t> seen_;
  std::chrono::steady_clock::time_point next_poll_;
};

}  // namespace

std::unique_ptr<StoreListener> SqliteStore::Listen() {
  return std::make_unique<SqliteListener>(hub_->Listen(), pool_.target());
}

}  // namespace spindle::sqlite
