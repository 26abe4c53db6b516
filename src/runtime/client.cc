#include "spindle/client.h"

#include <algorithm>

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

Client::Client(std::unique_ptr<Store> store) : store_(std::move(store)) {}
Client::~Client() = default;

int Client::Migrate() { return store_->Migrate(); }
int Client::SchemaVersion() { return store_->SchemaVersion(); }

std::string Client::Enqueue(const JobSpec& spec) { return store_->JobInsertMany({spec}).front(); }

std::vector<std::string> Client::EnqueueMany(const std::vector<JobSpec>& specs) {
  return store_->JobInsertMany(specs);
}

Job Client::Get(const std::string& id) {
  auto job = store_->JobGet(id);
  if (!job) throw Error(ErrorCode::kNotFound, "no job with id '" + id + "'");
  return *job;
}

std::vector<JobEvent> Client::History(const std::string& id) {
  Job job = Get(id);
  return JobTimeline(job, store_->JobEvents(id));
}

std::vector<Job> Client::List(const JobFilter& filter) {
  if (!filter.parent_id.empty() && !core::IsUuid(filter.parent_id)) {
    throw Error(ErrorCode::kInvalidArgument,
                "'" + filter.parent_id + "' is not a job id (a UUID), so it has no children");
  }
  return store_->JobList(filter);
}
Job Client::Cancel(const std::string& id) { return store_->JobCancel(id); }
Job Client::Retry(const std::string& id) { return store_->JobRetry(id); }
Job Client::Stop(const std::string& id) { return store_->JobStop(id); }
Job Client::Resume(const std::string& id) { return store_->JobResume(id); }
Job Client::Wake(const std::string& id) { return store_->JobWake(id); }
void Client::PauseQueue(const std::string& name) { store_->QueuePause(name, true); }
void Client::ResumeQueue(const std::string& name) { store_->QueuePause(name, false); }
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
ClusterState Client::Cluster() { return store_->ClusterGet(); }
ClusterState Client::StopCluster(const std::string& reason) { return store_->ClusterStop(reason); }
ClusterState Client::ResumeCluster() { return store_->ClusterResume(); }
Membership Client::Members() { return store_->MemberList(); }
std::vector<ClaimedAssignment> Client::Assignments() { return store_->AssignmentList(); }

bool Member::Serves(const std::string& kind, const std::string& queue) const {
  return live() && std::find(info.kinds.begin(), info.kinds.end(), kind) != info.kinds.end() &&
         std::find(info.queues.begin(), info.queues.end(), queue) != info.queues.end();
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

}  // namespace spindle
