#include "store/store.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/log.h"
#include "core/text.h"
#include "core/time.h"
#include "spindle/error.h"
#include "store/postgres/pg_store.h"
#include "store/sqlite/sqlite_store.h"

namespace spindle {

void Store::ClusterEventRecord(std::string kind, std::string worker,
                               std::string detail) noexcept {
  try {
    ClusterEventAppend({.kind = std::move(kind), .worker = std::move(worker),
                        .detail = std::move(detail)});
  } catch (const std::exception& e) {
    core::Log().warn("event=cluster_event_lost kind={} worker={} error={}", kind, worker,
                     e.what());
  }
}

std::unique_ptr<Store> OpenStore(const StoreOptions& options) {
  const std::string& url = options.url;
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    return std::make_unique<pg::PgStore>(options);
  }
  if (url.rfind("sqlite:", 0) == 0) return std::make_unique<sqlite::SqliteStore>(options);
  if (url.empty()) {
    throw Error(ErrorCode::kInvalidArgument,
                "no database configured: pass --database URL or set SPINDLE_DATABASE");
  }
  // Name only the scheme: the rest of a URL may hold a password.
  if (url.find(':') == std::string::npos) {  // a path, most likely
    throw Error(ErrorCode::kInvalidArgument,
                "database URL '" + url + "' has no scheme: for a SQLite file write sqlite:" + url +
                    "; for PostgreSQL, postgresql://...");
  }
  std::string scheme = url.substr(0, std::min(url.find(':'), size_t{32}));
  throw Error(ErrorCode::kInvalidArgument,
              "unsupported database URL scheme '" + scheme +
                  "': expected postgresql://... or sqlite:PATH");
}

int LatestSchemaVersion() { return sqlite::SqliteStore::Latest(); }

std::optional<std::string> SqliteFileOf(const std::string& url) {
  if (url.rfind("sqlite:", 0) != 0) return std::nullopt;
  return sqlite::SqliteStore::PathOf(url);
}

int PartitionOf(std::string_view job_id, int count) {
  if (count <= 0 || job_id.size() < 4) return 0;
  int h = std::stoi(std::string(job_id.substr(job_id.size() - 4)), nullptr, 16);
  return static_cast<int>(static_cast<int64_t>(h) * count / 65536);
}

std::string_view ToString(JobOutcome::Kind kind) {
  switch (kind) {
    case JobOutcome::Kind::kCompleted: return "completed";
    case JobOutcome::Kind::kError: return "error";
    case JobOutcome::Kind::kDiscard: return "discard";
    case JobOutcome::Kind::kRelease: return "release";
  }
  return "error";
}

namespace {

bool HasNul(const Json& j) {
  auto nul = [](const std::string& s) { return s.find('\0') != std::string::npos; };
  if (j.is_string()) return nul(j.get_ref<const std::string&>());
  if (j.is_array()) return std::any_of(j.begin(), j.end(), HasNul);
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      if (nul(key) || HasNul(value)) return true;
    }
  }
  return false;
}

std::string WithoutNul(std::string s) {
  static constexpr std::string_view kReplacement = "\xef\xbf\xbd";
  for (size_t pos = 0; (pos = s.find('\0', pos)) != std::string::npos; pos += kReplacement.size()) {
    s.replace(pos, 1, kReplacement);
  }
  return s;
}

Json WithoutNul(const Json& j) {
  if (j.is_string()) return WithoutNul(j.get<std::string>());
  if (j.is_array()) {
    Json out = Json::array();
    for (const auto& v : j) out.push_back(WithoutNul(v));
    return out;
  }
  if (j.is_object()) {
    Json out = Json::object();
    for (const auto& [key, value] : j.items()) out[WithoutNul(key)] = WithoutNul(value);
    return out;
  }
  return j;
}

}  // namespace

std::string StorableText(std::string_view text) {
  return core::CleanText(text, 3 * text.size() + 3);  // at most 3 bytes per byte: never cut
}

std::string StorableJson(const Json& json) {
  auto dump = [](const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); };
  return HasNul(json) ? dump(WithoutNul(json)) : dump(json);
}

std::string ReadJobJson(Job& job, const JobJsonText& text) {
  std::string problem;
  // The raw text, kept whole, made valid UTF-8: SQLite stores whatever text it was given.
  auto raw_string = [](std::string_view raw) { return StorableText(raw); };
  auto parse = [&](std::string_view raw, std::string_view column) -> Json {
    try {
      return Json::parse(raw);
    } catch (const Json::exception& e) {
      if (problem.empty()) {
        problem = core::CleanText(fmt::format("unreadable {}: {}", column, e.what()), 1024);
      }
      return Json(raw_string(raw));
    }
  };
  auto optional = [&](const std::optional<std::string_view>& raw, std::string_view column) {
    return raw ? parse(*raw, column) : Json();
  };
  job.args = parse(text.args, "args");
  Json errors = parse(text.errors, "errors");
  try {
    job.errors = errors.is_string() ? std::vector<JobError>{{.message = errors.get<std::string>()}}
                                    : core::ParseJobErrors(errors);
  } catch (const std::exception& e) {  // JSON, but not the shape Spindle writes
    if (problem.empty()) {
      problem = core::CleanText(fmt::format("unreadable errors: {}", e.what()), 1024);
    }
    job.errors = {{.message = raw_string(text.errors)}};
  }
  job.checkpoint = optional(text.checkpoint, "checkpoint");
  job.progress = optional(text.progress, "progress");
  job.result = optional(text.result, "result");
  return problem;
}

std::vector<Job> RunnableJobs(Store& store, const std::string& worker_id,
                              std::vector<std::pair<Job, std::string>> fetched) {
  std::vector<Job> jobs;
  std::vector<JobOutcome> unreadable;
  jobs.reserve(fetched.size());
  for (auto& [job, problem] : fetched) {
    if (problem.empty()) {
      jobs.push_back(std::move(job));
      continue;
    }
    core::Log().warn("event=unreadable_job job={} attempt={} worker={}", job.id, job.attempt,
                     worker_id);
    unreadable.push_back({.id = job.id,
                          .attempt = job.attempt,
                          .kind = JobOutcome::Kind::kDiscard,
                          .message = problem,
                          .parent_id = job.parent_id});
  }
  if (!unreadable.empty()) {
    try {
      store.JobFinishMany(worker_id, unreadable);
    } catch (const Error& e) {
      core::Log().warn("event=unreadable_job_not_failed jobs={} error={}", unreadable.size(),
                       core::LogValue(e.what()));
    }
  }
  return jobs;
}

QueueSettings ReadQueueSettings(std::string_view order, bool shed,
                                std::optional<std::string_view> fair_key,
                                std::optional<std::string_view> fair_weights) {
  QueueSettings q{.order = ParseQueueOrder(order).value_or(QueueOrder::kFifo), .shed = shed};
  if (fair_key) q.fair_key = std::string(*fair_key);
  if (fair_weights) {
    Json w = Json::parse(*fair_weights, nullptr, false);
    if (w.is_object()) {
      for (const auto& [tenant, v] : w.items()) {
        if (v.is_number()) q.fair_weights[tenant] = v.get<double>();
      }
    }
  }
  return q;
}

std::optional<std::string> FairWeightsJson(const QueueSettings& q) {
  if (q.fair_weights.empty()) return std::nullopt;
  return Json(q.fair_weights).dump();
}

std::pair<std::string, std::string> ScheduleRows(const std::vector<Schedule>& schedules) {
  Json rows = Json::array(), names = Json::array();
  for (const auto& sc : schedules) {
    sc.Validate();
    if (std::find(names.begin(), names.end(), sc.name) != names.end()) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("schedule '{}' is declared twice", sc.name));
    }
    names.push_back(sc.name);
    Json row = sc.ToJson();
    row["args"] = Json::parse(ValidatedArgs({.kind = sc.kind, .args = sc.args}));
    rows.push_back(std::move(row));
  }
  return {rows.dump(), names.dump()};
}

bool ScheduleOverruns(const std::optional<std::string>& state) {
  if (!state) return false;
  auto s = ParseJobState(*state);
  return s && !IsFinal(*s);
}

std::vector<std::string> Store::JobInsertMany(const std::vector<JobSpec>& specs) {
  std::vector<std::string> ids;
  ids.reserve(specs.size());
  for (auto& r : JobInsert(specs)) ids.push_back(std::move(r.id));
  return ids;
}

void ThrowUniqueKeyTaken(std::string_view id, std::string_view action, std::string_view key,
                         std::string_view holder, std::string_view holder_state) {
  throw Error(ErrorCode::kIllegalTransition,
              fmt::format("cannot {} job {}: job {} ({}) holds its unique key '{}'", action, id,
                          holder, holder_state, key));
}

void CheckChildren(const std::vector<JobSpec>& children) {
  for (const auto& c : children) {
    if (c.unique_key) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("child job of kind '{}' has a unique key: children cannot be "
                              "unique jobs (a parent waits for its own children only)",
                              c.kind));
    }
  }
}

std::string ValidatedArgs(const JobSpec& spec) {
  spec.Validate();
  std::string args = StorableJson(spec.args);
  if (args.size() > kMaxArgsBytes) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("job args are {} bytes; at most {} are accepted", args.size(),
                            kMaxArgsBytes));
  }
  return args;
}

int64_t Store::JobPrune(const PruneAges& ages, int limit) {
  int64_t pruned = 0;
  for (auto [state, age] : {std::pair{JobState::kCompleted, ages.completed},
                            {JobState::kFailed, ages.failed},
                            {JobState::kCancelled, ages.cancelled},
                            {JobState::kExpired, ages.expired}}) {
    if (age.count() > 0 && pruned < limit) {
      pruned += JobPruneState(state, age, static_cast<int>(limit - pruned));
    }
  }
  return pruned;
}

std::vector<JobEvent> JobTimeline(const Job& job, std::vector<JobEvent> stored) {
  std::vector<JobEvent> t;
  t.reserve(stored.size() + 3);
  t.push_back({job.created_at, "enqueued", "queue " + job.queue});
  t.insert(t.end(), std::make_move_iterator(stored.begin()),
           std::make_move_iterator(stored.end()));
  bool ran = job.state == JobState::kRunning || job.state == JobState::kCompleted;
  if (ran && job.started_at) {
    t.push_back({*job.started_at, "running",
                 fmt::format("attempt {}{}", job.attempt,
                             job.lease_owner.empty() ? "" : " on " + job.lease_owner)});
  }
  if (job.state == JobState::kCompleted && job.finished_at) {
    t.push_back({*job.finished_at, "completed", ""});
  }
  std::stable_sort(t.begin(), t.end(), [](const auto& a, const auto& b) { return a.at < b.at; });
  if (t.size() > kHistoryLimit) t.erase(t.begin(), t.end() - kHistoryLimit);
  return t;
}

void ThrowSchemaTooNew(int database_version, int binary_version) {
  throw Error(ErrorCode::kSchemaTooNew,
              fmt::format("the database has Spindle schema version {}, newer than this binary's "
                          "{}: upgrade Spindle",
                          database_version, binary_version));
}

void ThrowChangeRefused(Store& store, const std::string& id, std::string_view action) {
  auto job = store.JobGet(id);
  if (!job) throw Error(ErrorCode::kNotFound, "no job with id '" + id + "'");
  throw Error(ErrorCode::kIllegalTransition,
              fmt::format("cannot {} job {}: it is {}", action, id, ToString(job->state)));
}

void ThrowDeleteRefused(Store& store, const std::string& id) {
  auto job = store.JobGet(id);
  if (!job) throw Error(ErrorCode::kNotFound, "no job with id '" + id + "'");
  if (!IsFinal(job->state)) {
    throw Error(ErrorCode::kIllegalTransition,
                fmt::format("cannot delete job {}: it is {} (only completed, failed, cancelled "
                            "and expired jobs can be deleted)",
                            id, ToString(job->state)));
  }
  if (job->children_pending > 0) {
    throw Error(ErrorCode::kIllegalTransition,
                fmt::format("cannot delete job {}: it has {} unfinished children", id,
                            job->children_pending));
  }
  throw Error(ErrorCode::kIllegalTransition,
              fmt::format("cannot delete job {}: its parent {} has not finished and may still "
                          "read it",
                          id, job->parent_id));
}

}  // namespace spindle

namespace spindle {

void ThrowWorkerIdInUse(std::string_view id, std::string_view host, int pid) {
  throw Error(ErrorCode::kIllegalTransition,
              fmt::format("worker id '{}' is already in use by a live worker (host {}, pid {}); "
                          "give each worker its own id. If that worker has just died, its peers "
                          "evict it once it has been silent for its heartbeat timeout: start "
                          "again then",
                          id, host, pid));
}

void ThrowClusterChangeRefused(const ClusterState& now, std::string_view action) {
  throw Error(ErrorCode::kIllegalTransition,
              now.stopped_at
                  ? fmt::format("cannot {} the cluster: it is stopped since {} ({})", action,
                                core::FormatRfc3339(*now.stopped_at),
                                now.stop_reason.empty() ? "no reason given" : now.stop_reason)
                  : fmt::format("cannot {} the cluster: it is running", action));
}

std::optional<std::string> ArgsParam(const JobFilter& filter) {
  if (filter.args.empty()) return std::nullopt;
  Json pairs = Json::array();
  for (const auto& [path, value] : filter.args) pairs.push_back({path, value});
  return pairs.dump();
}

bool StillLocked(const Error& e) {
  return e.code() == ErrorCode::kUnavailable &&
         std::string_view(e.what()).find(kStillLocked) != std::string_view::npos;
}

}  // namespace spindle
