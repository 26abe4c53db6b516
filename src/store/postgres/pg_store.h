// The PostgreSQL backend of the storage seam.
#pragma once

#include <memory>

#include "regulation/admission.h"
#include "store/postgres/pg_conn.h"
#include "store/store.h"

namespace spindle::pg {

class PgStore final : public Store {
 public:
  explicit PgStore(const StoreOptions& options);

  StoreCapabilities capabilities() const override { return {.notifies_other_processes = true}; }
  int Migrate() override;
  int SchemaVersion() override;
  int LatestVersion() const override;

  std::vector<EnqueueResult> JobInsert(const std::vector<JobSpec>& specs) override;
  std::optional<Job> JobGet(const std::string& id) override;
  std::vector<Job> JobList(const JobFilter& filter) override;
  int64_t JobCount(const JobFilter& filter) override;
  JobTally JobCountUpTo(const JobFilter& filter, int64_t cap) override;
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
  std::vector<JobEvent> JobEvents(const std::string& id) override;
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

 private:
  // The pinned time as a parameter, or NULL to let the database's now() decide.
  std::optional<std::string> Now() const;
  Params FilterParams(const JobFilter& f, int limit) const;
  // Runs a state-changing statement on one job; maps "no row" to kNotFound or
  // kIllegalTransition.
  Job ChangeOne(const char* name, std::string_view sql, const std::string& id,
                std::string_view action);
  // Runs one page of a bulk change (job_*_page.sql); `with_now`: the statement takes the time
  // as $1 before the filter.
  JobPage ChangePage(const char* name, std::string_view sql, const JobFilter& filter,
                     bool with_now);
  std::optional<Millis> FetchRegulated(Conn& c, const JobFetchParams& p,
                                       const std::vector<std::optional<std::string>>& kinds,
                                       const std::vector<std::optional<std::string>>& partitions,
                                       std::vector<std::pair<Job, std::string>>& fetched);
  bool FetchWithin(Conn& c, const JobFetchParams& p,
                   const std::vector<std::optional<std::string>>& kinds,
                   const std::vector<std::optional<std::string>>& partitions,
                   std::vector<std::pair<Job, std::string>>& fetched);
  regulation::RateSteps RateSteps(Conn& c);
  int64_t OpenGates(Conn& c, bool recount = true);

  std::shared_ptr<Clock> clock_;
  Pool pool_;
};

// Shared by PgStore and the public spindle::pg::Enqueue (the application's connection).
std::vector<EnqueueResult> InsertJobs(Conn& conn, const std::vector<JobSpec>& specs,
                                    const std::optional<std::string>& now, bool prepared,
                                    const std::optional<std::string>& parent);

}  // namespace spindle::pg
