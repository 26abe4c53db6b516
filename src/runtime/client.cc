#include "spindle/client.h"

#include <algorithm>
#include <cctype>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/time.h"
#include "core/uuid.h"
#include "spindle/error.h"
#include "spindle/version.h"
#include "store/store.h"

namespace spindle {

std::unique_ptr<Client> Client::Open(const ClientOptions& options, bool migrate) {
  auto store = OpenStore({options.database_url, options.pool_size, options.clock});
  if (migrate) {
    store->Migrate();
  } else if (int v = store->SchemaVersion(); v > store->LatestVersion()) {
    ThrowSchemaTooNew(v, store->LatestVersion());
  } else if (v == 0) {
    throw Error(ErrorCode::kNotFound,
                "the database has no Spindle schema yet: run 'spindle migrate' first");
  } else if (v < store->LatestVersion()) {
    throw Error(ErrorCode::kNotFound,
                fmt::format("the database's Spindle schema (version {}) is older than this "
                            "version's ({}): run 'spindle migrate' first",
                            v, store->LatestVersion()));
  }
  return std::unique_ptr<Client>(new Client(std::move(store)));
}

std::string Client::Version() { return SPINDLE_VERSION; }
int Client::KnownSchemaVersion() { return LatestSchemaVersion(); }

std::optional<std::string> Client::DatabaseFile(const std::string& database_url) {
  return SqliteFileOf(database_url);
}

Client::Client(std::unique_ptr<Store> store) : store_(std::move(store)) {}
Client::~Client() = default;

bool Client::NotifiesOtherProcesses() const {
  return store_->capabilities().notifies_other_processes;
}

int Client::Migrate() { return store_->Migrate(); }
int Client::SchemaVersion() { return store_->SchemaVersion(); }

std::string Client::Enqueue(const JobSpec& spec) { return store_->JobInsertMany({spec}).front(); }

EnqueueResult Client::Insert(const JobSpec& spec) { return store_->JobInsert({spec}).front(); }

std::vector<EnqueueResult> Client::InsertMany(const std::vector<JobSpec>& specs) {
  return store_->JobInsert(specs);
}

std::vector<std::string> Client::EnqueueMany(const std::vector<JobSpec>& specs) {
  return store_->JobInsertMany(specs);
}

namespace {
// Job ids as stored: UUIDs in lower case. People may paste them in any case.
std::string JobId(const std::string& id) {
  if (!core::IsUuid(id)) return id;
  std::string lower = id;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}
}  // namespace

Job Client::Get(const std::string& given) {
  std::string id = JobId(given);
  auto job = store_->JobGet(id);
  if (!job) throw Error(ErrorCode::kNotFound, "no job with id '" + id + "'");
  return *job;
}

std::vector<JobEvent> Client::History(const std::string& id) {
  Job job = Get(id);
  return JobTimeline(job, store_->JobEvents(job.id));
}

namespace {

// Checks a filter's ids and puts them in the stored (lower) case.
JobFilter CheckFilter(JobFilter filter) {
  if (!filter.parent_id.empty() && !core::IsUuid(filter.parent_id)) {
    throw Error(ErrorCode::kInvalidArgument,
                "'" + filter.parent_id + "' is not a job id (a UUID), so it has no children");
  }
  if (!filter.after_id.empty() && !core::IsUuid(filter.after_id)) {
    throw Error(ErrorCode::kInvalidArgument,
                "'" + filter.after_id + "' is not a job id (a UUID) to list after");
  }
  filter.parent_id = JobId(filter.parent_id);
  filter.after_id = JobId(filter.after_id);
  return filter;
}

}  // namespace

std::vector<Job> Client::List(const JobFilter& filter) {
  return store_->JobList(CheckFilter(filter));
}
int64_t Client::Count(const JobFilter& filter) { return store_->JobCount(CheckFilter(filter)); }

JobTally Client::CountUpTo(const JobFilter& filter, int64_t cap) {
  return store_->JobCountUpTo(CheckFilter(filter), std::max<int64_t>(cap, 1));
}

Job Client::Cancel(const std::string& id) { return store_->JobCancel(JobId(id)); }
Job Client::Retry(const std::string& id) { return store_->JobRetry(JobId(id)); }
Job Client::Delete(const std::string& id) { return store_->JobDelete(JobId(id)); }

JobFilter Client::BulkFilter(BulkAction action, JobFilter filter) {
  static const std::vector<JobState> kUnfinished = {
      JobState::kScheduled, JobState::kAvailable, JobState::kRunning,
      JobState::kRetryable, JobState::kStopped,   JobState::kWaiting};
  static const std::vector<JobState> kRetryable = {JobState::kCompleted, JobState::kFailed,
                                                   JobState::kCancelled};
  static const std::vector<JobState> kFinished = {JobState::kCompleted, JobState::kFailed,
                                                  JobState::kCancelled, JobState::kExpired};
  // An expired job is not retried: its firm expiry has passed, so it could never start again.
  const auto& legal = action == BulkAction::kCancel  ? kUnfinished
                      : action == BulkAction::kRetry ? kRetryable
                                                     : kFinished;
  const char* verb = action == BulkAction::kCancel  ? "cancel"
                     : action == BulkAction::kRetry ? "retry"
                                                    : "delete";
  // The page statements that change jobs select by the columns alone (listing is another path).
  if (!filter.args.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "bulk changes do not select jobs by args");
  }
  if (filter.priority || filter.created_after || filter.created_before ||
      filter.finished_after || filter.finished_before) {
    throw Error(ErrorCode::kInvalidArgument,
                "bulk changes do not select jobs by priority or by time");
  }
  // Retrying completed jobs in bulk is rarely meant: it takes their state by name.
  if (filter.states.empty()) {
    filter.states = action == BulkAction::kRetry ? std::vector{JobState::kFailed} : legal;
  }
  for (JobState s : filter.states) {
    if (std::find(legal.begin(), legal.end(), s) == legal.end()) {
      std::string names;
      for (JobState l : legal) names += (names.empty() ? "" : ", ") + std::string(ToString(l));
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("cannot {} {} jobs: {} applies to {} jobs only", verb, ToString(s),
                              verb, names));
    }
  }
  return filter;
}

int64_t Client::ChangeAll(BulkAction action, const JobFilter& filter, int page_size,
                          const std::function<void(int64_t)>& progress) {
  if (!filter.serial_key.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "bulk changes do not select jobs by serial key");
  }
  JobFilter f = CheckFilter(BulkFilter(action, filter));
  f.limit = page_size;
  f.after_id.clear();
  int64_t changed = 0;
  for (;;) {
    Store::JobPage page = action == BulkAction::kCancel  ? store_->JobCancelPage(f)
                          : action == BulkAction::kRetry ? store_->JobRetryPage(f)
                                                         : store_->JobDeletePage(f);
    if (page.last_id.empty()) return changed;
    changed += page.changed;
    f.after_id = page.last_id;
    if (progress) progress(changed);
  }
}
Job Client::Stop(const std::string& id) { return store_->JobStop(JobId(id)); }
Job Client::Resume(const std::string& id) { return store_->JobResume(JobId(id)); }
Job Client::Wake(const std::string& id) { return store_->JobWake(JobId(id)); }

namespace {

// Throws kNotFound, listing the known queues, unless `name` is one of them.
void RequireKnownQueue(const std::string& name, const std::vector<std::string>& known) {
  if (name.empty()) throw Error(ErrorCode::kInvalidArgument, "a queue needs a name");
  if (std::find(known.begin(), known.end(), name) != known.end()) return;
  throw Error(ErrorCode::kNotFound,
              fmt::format("unknown queue '{}'; known queues: {}", name,
                          known.empty() ? "none" : fmt::format("{}", fmt::join(known, ", "))));
}

}  // namespace

// A queue that only a worker's configuration names, with no jobs yet, counts as known: pausing
// it before its first job arrives is what an operator wants (docs/jobs.md).
void Client::PauseQueue(const std::string& name) {
  RequireKnownQueue(name, KnownQueues());
  store_->QueuePause(name, true);
}
void Client::ResumeQueue(const std::string& name) {
  RequireKnownQueue(name, KnownQueues());
  store_->QueuePause(name, false);
}
std::vector<QueueInfo> Client::Queues() {
  auto queues = store_->QueueList();
  auto members = store_->MemberList().members;
  // A queue that live workers consume is listed even before it has jobs.
  for (const auto& m : members) {
    if (!m.live()) continue;
    for (const auto& name : m.info.queues) {
      auto it = std::find_if(queues.begin(), queues.end(),
                             [&](const QueueInfo& q) { return q.name == name; });
      if (it == queues.end()) {
        it = queues.insert(std::upper_bound(queues.begin(), queues.end(), name,
                                            [](const std::string& n, const QueueInfo& q) {
                                              return n < q.name;
                                            }),
                           QueueInfo{.name = name});
      }
      ++it->consumers;
      if (auto c = m.info.concurrency.find(name); c != m.info.concurrency.end()) {
        it->concurrency += c->second;
      }
    }
  }
  return queues;
}
std::vector<KindInfo> Client::Kinds() { return store_->KindList(); }

std::vector<LimitInfo> Client::Limits() { return store_->LimitList(/*usage=*/true); }

void Client::RemoveLimit(const std::string& name) { store_->LimitRemove(name); }

std::vector<KindRunStats> Client::KindStats() { return store_->KindStatsList(); }

void Client::Audit(const AuditEntry& entry) { store_->AuditAppend(entry); }

std::vector<AuditEntry> Client::AuditList(std::optional<int64_t> before, int limit) {
  return store_->AuditList(before, limit);
}

std::vector<std::string> Client::KnownQueues() {
  std::set<std::string> names;
  for (const auto& q : store_->QueueList()) names.insert(q.name);
  for (const auto& m : store_->MemberList().members) {
    names.insert(m.info.queues.begin(), m.info.queues.end());
  }
  return {names.begin(), names.end()};
}

void Client::RemoveQueue(const std::string& name) {
  RequireKnownQueue(name, KnownQueues());
  if (int64_t jobs = store_->QueueRemove(name); jobs > 0) {
    throw Error(ErrorCode::kIllegalTransition,
                fmt::format("cannot remove queue '{}': it still has {} job{} (delete or wait for "
                            "them first)",
                            name, jobs, jobs == 1 ? "" : "s"));
  }
}
std::vector<ScheduleInfo> Client::Schedules() { return store_->ScheduleList(); }
void Client::PauseSchedule(const std::string& name) { store_->SchedulePause(name, true); }
void Client::ResumeSchedule(const std::string& name) { store_->SchedulePause(name, false); }
std::string Client::RunSchedule(const std::string& name) { return store_->ScheduleRun(name); }

ClusterState Client::Cluster() { return store_->ClusterGet(); }
ClusterState Client::StopCluster(const std::string& reason) { return store_->ClusterStop(reason); }
ClusterState Client::ResumeCluster() { return store_->ClusterResume(); }
Membership Client::Members() { return store_->MemberList(); }

std::vector<ClusterEvent> Client::ClusterEvents(int limit) {
  return store_->ClusterEventList(limit);
}
std::vector<ClaimedAssignment> Client::Assignments() { return store_->AssignmentList(); }

Json Client::Detail(const std::string& id) {
  Job job = Get(id);
  std::optional<Millis> estimate;  // its kind's run time, which makes a waiting job at risk
  for (const auto& k : KindStats()) {
    if (k.kind == job.kind) estimate = k.estimate;
  }
  Json out = job.ToJson();
  out["estimate_ms"] = estimate ? Json(estimate->count()) : Json(nullptr);
  out["at_risk"] = job.AtRisk(estimate, std::chrono::system_clock::now());
  auto effective = EffectiveTimeout(job, Kinds());
  out["effective_timeout_ms"] = effective ? Json(effective->count()) : Json(nullptr);
  out["history"] = Json::array();
  for (const auto& e : History(id)) out["history"].push_back(e.ToJson());
  out["children"] = Json::array();
  if (job.children_total > 0) {
    for (const auto& c : List(JobFilter{.parent_id = id, .limit = 100})) {
      out["children"].push_back({{"id", c.id}, {"kind", c.kind}, {"state", ToString(c.state)}});
    }
  }
  return out;
}

bool Member::Serves(const std::string& kind, const std::string& queue) const {
  return live() && std::find(info.kinds.begin(), info.kinds.end(), kind) != info.kinds.end() &&
         std::find(info.queues.begin(), info.queues.end(), queue) != info.queues.end();
}

std::optional<std::string> Membership::Unserved(const std::string& kind,
                                              const std::string& queue) const {
  std::set<std::string> queues;  // where live workers serve the kind instead
  for (const auto& m : members) {
    if (m.Serves(kind, queue)) return std::nullopt;
    if (!m.live()) continue;
    if (std::find(m.info.kinds.begin(), m.info.kinds.end(), kind) != m.info.kinds.end()) {
      queues.insert(m.info.queues.begin(), m.info.queues.end());
    }
  }
  if (queues.empty()) {
    return fmt::format("no live worker serves kind '{}': the job waits in queue '{}' until one "
                       "does",
                       kind, queue);
  }
  return fmt::format("no live worker serves kind '{}' in queue '{}' (live workers serve it in "
                     "{}): the job waits until one does",
                     kind, queue, fmt::join(queues, ", "));
}

std::optional<Millis> EffectiveTimeout(const Job& job, const std::vector<KindInfo>& kinds) {
  if (job.timeout) return job.timeout;
  for (const auto& k : kinds) {
    if (k.kind == job.kind) return k.defaults.timeout;
  }
  return std::nullopt;
}

bool QueueInfo::unserved() const {
  auto it = jobs.find("available");
  return consumers == 0 && it != jobs.end() && it->second > 0;
}

Json ToJson(const Member& m) {
  Json j{{"id", m.info.id},
         {"host", m.info.host},
         {"pid", m.info.pid},
         {"version", m.info.version},
         {"queues", m.info.queues},
         {"concurrency", m.info.concurrency},
         {"kinds", m.info.kinds},
         {"roles", m.info.roles},
         {"partition", nullptr},
         {"partition_count", m.partition_count},
         {"heartbeat_timeout_ms", m.info.heartbeat_timeout.count()},
         {"started_at", core::FormatRfc3339(m.started_at)},
         {"heartbeat_at", core::FormatRfc3339(m.heartbeat_at)},
         {"silent_ms", m.silent_for.count()},
         {"leader", m.leader}};
  if (m.info.partition) j["partition"] = *m.info.partition;
  return j;
}

Json ToJson(const QueueInfo& q) {
  const QueueSettings& s = q.settings;
  return {{"name", q.name},
          {"paused", q.paused_at.has_value()},
          {"paused_at", core::Rfc3339OrNull(q.paused_at)},
          {"jobs", q.jobs},
          {"oldest_available_at", core::Rfc3339OrNull(q.oldest_available)},
          {"consumers", q.consumers},
          {"concurrency", q.concurrency},
          {"no_consumer", q.unserved()},
          {"order", s.fair_key ? "fair" : ToString(s.order)},
          {"shed", s.shed},
          {"fair_key", s.fair_key ? Json(*s.fair_key) : Json(nullptr)},
          {"fair_weights", Json(s.fair_weights)}};
}

Json ToJson(const ClusterEvent& e) {
  return {{"id", std::to_string(e.id)},
          {"at", core::FormatRfc3339(e.at)},
          {"kind", e.kind},
          {"worker", e.worker},
          {"detail", e.detail}};
}

const Member* Membership::Leader() const {
  for (const auto& m : members) {
    if (m.leader) return &m;
  }
  return nullptr;
}

Json ToJson(const ClusterState& c, const Membership& ms) {
  const Member* lead = ms.Leader();
  Json leader = lead ? Json(lead->info.id) : Json(nullptr);
  return {{"stopped", c.stopped_at.has_value()},
          {"stopped_at", core::Rfc3339OrNull(c.stopped_at)},
          {"reason", c.stop_reason},
          {"workers", ms.members.size()},
          {"leader", leader}};
}

}  // namespace spindle
