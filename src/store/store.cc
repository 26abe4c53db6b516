#include "store/store.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/time.h"
#include "spindle/error.h"
#include "store/postgres/pg_store.h"
#include "store/sqlite/sqlite_store.h"

namespace spindle {

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
  std::string scheme = url.substr(0, std::min(url.find(':'), size_t{32}));
  throw Error(ErrorCode::kInvalidArgument,
              "unsupported database URL scheme '" + scheme +
                  "': expected postgresql://... or sqlite:PATH");
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

std::string ValidatedArgs(const JobSpec& spec) {
  spec.Validate();
  std::string args = spec.args.dump();
  if (args.size() > kMaxArgsBytes) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("job args are {} bytes; at most {} are accepted", args.size(),
                            kMaxArgsBytes));
  }
  return args;
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

}  // namespace spindle

namespace spindle {

void ThrowClusterChangeRefused(const ClusterState& now, std::string_view action) {
  throw Error(ErrorCode::kIllegalTransition,
              now.stopped_at
                  ? fmt::format("cannot {} the cluster: it is stopped since {} ({})", action,
                                core::FormatTimestamp(*now.stopped_at),
                                now.stop_reason.empty() ? "no reason given" : now.stop_reason)
                  : fmt::format("cannot {} the cluster: it is running", action));
}

}  // namespace spindle
