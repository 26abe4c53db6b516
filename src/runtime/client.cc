#include "spindle/client.h"

#include <cctype>

#include "core/time.h"
#include "core/uuid.h"
#include "spindle/error.h"
#include "store/store.h"

namespace spindle {

std::unique_ptr<Client> Client::Open(const ClientOptions& options, bool migrate) {
  auto store = OpenStore({options.database_url, options.pool_size, options.clock});
  if (migrate) {
    store->Migrate();
  } else if (int v = store->SchemaVersion(); v > store->LatestVersion()) {
    ThrowSchemaTooNew(v, store->LatestVersion());
  } else if (v == 0) {
    throw Error(ErrorCode::kInvalidArgument,
                "the database has no Spindle schema yet: run 'spindle migrate' first");
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

int Client::Migrate() { return store_->Migrate(); }
int Client::SchemaVersion() { return store_->SchemaVersion(); }

std::string Client::Enqueue(const JobSpec& spec) { return store_->JobInsertMany({spec}).front(); }

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

std::vector<Job> Client::List(const JobFilter& given) {
  JobFilter filter = given;
  if (!filter.parent_id.empty() && !core::IsUuid(filter.parent_id)) {
    throw Error(ErrorCode::kInvalidArgument,
                "'" + filter.parent_id + "' is not a job id (a UUID), so it has no children");
  }
  filter.parent_id = JobId(filter.parent_id);
  return store_->JobList(filter);
}
Job Client::Cancel(const std::string& id) { return store_->JobCancel(JobId(id)); }
Job Client::Retry(const std::string& id) { return store_->JobRetry(JobId(id)); }
Job Client::Stop(const std::string& id) { return store_->JobStop(JobId(id)); }
Job Client::Resume(const std::string& id) { return store_->JobResume(JobId(id)); }
Job Client::Wake(const std::string& id) { return store_->JobWake(JobId(id)); }
void Client::PauseQueue(const std::string& name) { store_->QueuePause(name, true); }
void Client::ResumeQueue(const std::string& name) { store_->QueuePause(name, false); }
std::vector<QueueInfo> Client::Queues() { return store_->QueueList(); }
ClusterState Client::Cluster() { return store_->ClusterGet(); }
ClusterState Client::StopCluster(const std::string& reason) { return store_->ClusterStop(reason); }
ClusterState Client::ResumeCluster() { return store_->ClusterResume(); }
Membership Client::Members() { return store_->MemberList(); }
std::vector<ClaimedAssignment> Client::Assignments() { return store_->AssignmentList(); }

Json ToJson(const Member& m) {
  Json j{{"id", m.info.id},
         {"host", m.info.host},
         {"pid", m.info.pid},
         {"version", m.info.version},
         {"queues", m.info.queues},
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

}  // namespace spindle
