// The SQLite backend of the storage seam: one file, any number of processes and threads on one
// host. Writers take the file's write lock with BEGIN IMMEDIATE (the SQLite stand-in for
// FOR UPDATE SKIP LOCKED); WAL mode lets readers go on meanwhile.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "store/local_hub.h"
#include "store/sqlite/sqlite_conn.h"
#include "store/pool.h"
#include "store/store.h"

namespace spindle::sqlite {

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(const StoreOptions& options);

  StoreCapabilities capabilities() const override { return {.notifies_other_processes = false}; }
  int Migrate() override;
  int SchemaVersion() override;
  int LatestVersion() const override;

  std::vector<EnqueueResult> JobInsert(const std::vector<JobSpec>& specs) override;
  std::optional<Job> JobGet(const std::string& id) override;
  std::vector<Job> JobList(const JobFilter& filter) override;
  int64_t JobCount(const JobFilter& filter) override;
  JobTally JobCountUpTo(const JobFilter& filter, int64_t cap) override;
  std::vector<JobEvent> JobEvents(const std::string& id) override;
  std::vector<Job> JobFetch(const JobFetchParams& params) override;
  std::vector<std::string> JobFinishMany(const std::string& worker_id,
                                         const std::vector<JobOutcome>& outcomes) override;
  LeaseRenewal JobLeaseRenew(const std::string& worker_id, const std::vector<JobRef>& held,
                             Millis lease) override;
  int JobRescue(int limit) override;
  int JobExpire(int limit) override;
  Job JobCancel(const std::string& id) override;
  Job JobRetry(const std::string& id) override;
  Job JobDelete(const std::string& id) override;
  JobPage JobCancelPage(const JobFilter& filter) override;
  JobPage JobRetryPage(const JobFilter& filter) override;
  JobPage JobDeletePage(const JobFilter& filter) override;
  int64_t JobPruneState(JobState state, Millis age, int limit) override;
  bool JobSave(const std::string& worker_id, const JobRef& job,
               const JobSaveParams& save) override;
  Job JobStop(const std::string& id) override;
  Job JobResume(const std::string& id) override;
  Job JobWake(const std::string& id) override;
  void QueuePause(const std::string& name, bool paused) override;
  std::vector<QueueInfo> QueueList() override;
  void JobCountsFold() override;
  int64_t QueueRemove(const std::string& name) override;
  ClusterState ClusterGet() override;
  ClusterState ClusterStop(const std::string& reason) override;
  ClusterState ClusterResume() override;

  void KindRegister(const std::string& worker_id,
                    const std::map<std::string, KindDefaults>& kinds) override;
  std::vector<KindInfo> KindList() override;
  void ScheduleSync(const std::vector<Schedule>& schedules, bool remove_others) override;
  std::vector<ScheduleInfo> ScheduleList() override;
  void SchedulePause(const std::string& name, bool paused) override;
  ScheduleFired ScheduleFire(const ScheduleFireParams& params) override;
  std::string ScheduleRun(const std::string& name) override;
  void KindStatsFlush(const std::map<std::string, KindRunSample>& samples) override;
  std::vector<KindRunStats> KindStatsList() override;
  void AuditAppend(const AuditEntry& entry) override;
  std::vector<AuditEntry> AuditList(std::optional<int64_t> before, int limit) override;
  int64_t AuditPrune(Millis age, int limit) override;
  void ClusterEventAppend(const ClusterEvent& event) override;
  std::vector<ClusterEvent> ClusterEventList(int limit) override;
  void QueueRegister(const std::map<std::string, QueueSettings>& queues) override;
  void LimitRegister(const std::vector<Limit>& limits) override;
  void LimitRemove(const std::string& name) override;
  std::vector<LimitInfo> LimitList(bool usage) override;
  int64_t LimitSweep(bool recount) override;
  Member MemberRegister(const MemberInfo& info) override;
  bool MemberHeartbeat(const std::string& id, int partition_count,
                       const std::map<std::string, int>* concurrency) override;
  std::vector<std::string> MemberRemove(const std::optional<std::string>& id,
                                        bool expired_only) override;
  Membership MemberList() override;
  std::optional<int64_t> LeaderAcquire(const std::string& worker_id, Millis ttl) override;
  bool AssignmentClaim(const std::string& name, const std::string& worker_id) override;
  void AssignmentRelease(const std::string& name, const std::string& worker_id) override;
  std::vector<ClaimedAssignment> AssignmentList() override;

  std::unique_ptr<StoreListener> Listen() override;

  // The file of a "sqlite:PATH" URL. Throws kInvalidArgument when PATH is empty.
  static std::string PathOf(const std::string& url);
  // The newest migration's version.
  static int Latest();

 private:
  // The store's clock, for reads. A write reads it once it holds the write lock (Write in
  // sqlite_store.cc).
  int64_t NowMicros() const;
  void BindFilter(Statement& st, const JobFilter& f) const;
  bool FetchWithin(Conn& c, int64_t now, const JobFetchParams& p, const std::string& kinds,
                   const std::string& partitions,
                   std::vector<std::pair<Job, std::string>>& fetched);
  std::optional<Millis> FetchRegulated(Conn& c, int64_t now, const JobFetchParams& p,
                                       std::vector<std::pair<Job, std::string>>& fetched);
  Job ChangeOne(std::string_view name, std::string_view sql, const std::string& id,
                std::string_view action);
  // One page of a bulk change: each job of the page changed by `change` (true: changed), all
  // in one write transaction.
  JobPage ChangePage(const JobFilter& filter,
                     const std::function<bool(Conn&, int64_t now, const std::string& id,
                                              std::set<std::string>& due)>& change);

  std::shared_ptr<Clock> clock_;
  Pool<Conn> pool_;
  std::shared_ptr<LocalHub> hub_;
};

}  // namespace spindle::sqlite
