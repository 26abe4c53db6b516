// The storage conformance suite for cluster coordination (docs/coordination.md): membership,
// eviction, the leader term, assignments and partitioned fetching, run against every backend.
// Time is a FakeClock, so expiry is exact: "silent past its timeout" means strictly past it.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "store/store.h"
#include "testing.h"

namespace spindle {
namespace {

using namespace std::chrono_literals;
using testing::BackendKind;
using testing::TestBackend;

class ClusterStoreTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    store_ = Open();
    store_->Migrate();
  }

  std::unique_ptr<Store> Open() { return OpenStore({db_->url(), 4, clock_}); }

  Member Register(const std::string& id, std::optional<int> partition = std::nullopt,
                  Millis heartbeat_timeout = 10s, const std::string& incarnation = "",
                  int pid = 1) {
    return store_->MemberRegister({.id = id,
                                   .host = "host",
                                   .pid = pid,
                                   .version = "1.0",
                                   .queues = {"default"},
                                   .partition = partition,
                                   .heartbeat_timeout = heartbeat_timeout,
                                   .incarnation = incarnation});
  }
  std::vector<std::string> Remove(const std::optional<std::string>& id, bool expired_only) {
    auto ids = store_->MemberRemove(id, expired_only);
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  int64_t Version() { return store_->MemberList().version; }
  std::vector<std::string> MemberIds() {
    std::vector<std::string> ids;
    for (const auto& m : store_->MemberList().members) ids.push_back(m.info.id);
    return ids;
  }
  std::optional<Member> Find(const std::string& id) {
    for (auto& m : store_->MemberList().members) {
      if (m.info.id == id) return m;
    }
    return std::nullopt;
  }
  // (name, owner) of every claimed assignment, in the store's order.
  std::vector<std::pair<std::string, std::string>> Claims() {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& a : store_->AssignmentList()) out.emplace_back(a.name, a.owner);
    return out;
  }
  std::string Insert(JobSpec spec) { return store_->JobInsertMany({spec}).front(); }
  // Leases the next due job of kind "k" to `worker` for an hour.
  std::vector<Job> Fetch(const std::string& worker) {
    return store_->JobFetch(
        {.queue = "default", .limit = 1, .worker_id = worker, .lease = 1h, .kinds = {"k"}});
  }
  // A cluster table by its unqualified name, for changes no Store method makes.
  std::string Table(const std::string& name) const {
    return (GetParam() == BackendKind::kPostgres ? "spindle." : "spindle_") + name;
  }
  SysTime Now() const {
    return std::chrono::time_point_cast<std::chrono::microseconds>(clock_->Now());
  }

  std::unique_ptr<TestBackend> db_ = TestBackend::Make(GetParam());
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::unique_ptr<Store> store_;
};

// --- membership ---------------------------------------------------------------------------

TEST_P(ClusterStoreTest, RegisterResolvesAutomaticPartitionsAndReusesFreedOnes) {
  EXPECT_EQ(Register("a", kAutoPartition).info.partition, 1);
  EXPECT_EQ(Register("b", kAutoPartition).info.partition, 2);
  EXPECT_EQ(Register("c", kAutoPartition).info.partition, 3);
  EXPECT_EQ(Register("none").info.partition, std::nullopt);
  EXPECT_EQ(Register("fixed", 7).info.partition, 7);
  EXPECT_EQ(Register("d", kAutoPartition).info.partition, 4);
  // A member registering again keeps the lowest free number, which is its own.
  EXPECT_EQ(Register("a", kAutoPartition).info.partition, 1);

  ASSERT_EQ(Remove("b", false), std::vector<std::string>{"b"});
  EXPECT_EQ(Register("e", kAutoPartition).info.partition, 2) << "the freed number is reused";
  EXPECT_EQ(Register("f", kAutoPartition).info.partition, 5);

  auto none = Find("none");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->info.partition, std::nullopt);
  EXPECT_EQ(Find("e")->info.partition, 2);
  EXPECT_EQ(Find("fixed")->info.partition, 7);
}

TEST_P(ClusterStoreTest, RegisterReturnsTheStoredTimes) {
  Member first = Register("a");
  EXPECT_EQ(first.started_at, Now());
  EXPECT_EQ(first.heartbeat_at, Now());
  auto started = Now();

  clock_->Advance(5s);
  Member again = Register("a");
  EXPECT_EQ(again.started_at, started) << "registering again is not a restart";
  EXPECT_EQ(again.heartbeat_at, Now());

  ASSERT_EQ(Remove("a", false), std::vector<std::string>{"a"});
  EXPECT_FALSE(store_->MemberHeartbeat("a", 0));
  clock_->Advance(5s);
  Member rejoined = Register("a");
  EXPECT_EQ(rejoined.started_at, Now()) << "a removed member that registers again starts anew";
  EXPECT_TRUE(store_->MemberHeartbeat("a", 0));
  EXPECT_EQ(MemberIds(), std::vector<std::string>{"a"});
}

TEST_P(ClusterStoreTest, HeartbeatRecordsTimeAndPartitionCount) {
  Register("a");
  EXPECT_FALSE(store_->MemberHeartbeat("stranger", 3));
  clock_->Advance(3s);
  EXPECT_EQ(Find("a")->silent_for, 3s);
  EXPECT_TRUE(store_->MemberHeartbeat("a", 4));
  Member a = *Find("a");
  EXPECT_EQ(a.heartbeat_at, Now());
  EXPECT_EQ(a.partition_count, 4);
  EXPECT_EQ(a.silent_for, 0ms);
  clock_->Advance(1500ms + 700us);
  EXPECT_EQ(Find("a")->silent_for, 1500ms) << "whole milliseconds, truncated";
  EXPECT_EQ(MemberIds(), std::vector<std::string>{"a"}) << "a heartbeat registers nobody";
}

TEST_P(ClusterStoreTest, ListReportsEveryFieldOrderedById) {
  Membership empty = store_->MemberList();
  EXPECT_EQ(empty.version, 0);
  EXPECT_TRUE(empty.members.empty());

  Register("c");
  store_->MemberRegister({.id = "a",
                          .host = "box-1",
                          .pid = 4242,
                          .version = "0.9.1",
                          .queues = {"mail", "default"},
                          .concurrency = {{"mail", 2}, {"default", 10}},
                          .kinds = {"email", "sms"},
                          .roles = {"scheduler", "pruner"},
                          .partition = 3,
                          .heartbeat_timeout = 7s});
  Register("b");
  store_->MemberHeartbeat("a", 5);
  clock_->Advance(2s);

  Membership ms = store_->MemberList();
  EXPECT_EQ(ms.version, 3);
  ASSERT_EQ(ms.members.size(), 3u);
  EXPECT_EQ(ms.members[0].info.id, "a");
  EXPECT_EQ(ms.members[1].info.id, "b");
  EXPECT_EQ(ms.members[2].info.id, "c");
  const Member& a = ms.members[0];
  EXPECT_EQ(a.info.host, "box-1");
  EXPECT_EQ(a.info.pid, 4242);
  EXPECT_EQ(a.info.version, "0.9.1");
  EXPECT_EQ(a.info.queues, (std::vector<std::string>{"mail", "default"}));
  EXPECT_EQ(a.info.concurrency, (std::map<std::string, int>{{"mail", 2}, {"default", 10}}));
  EXPECT_EQ(a.info.kinds, (std::vector<std::string>{"email", "sms"}));
  EXPECT_EQ(a.info.roles, (std::vector<std::string>{"scheduler", "pruner"}));
  EXPECT_EQ(a.info.partition, 3);
  EXPECT_EQ(a.info.heartbeat_timeout, 7s);
  EXPECT_EQ(a.partition_count, 5);
  EXPECT_EQ(a.started_at, Now() - 2s);
  EXPECT_EQ(a.heartbeat_at, Now() - 2s);
  EXPECT_EQ(a.silent_for, 2s);
  EXPECT_FALSE(a.leader);
  EXPECT_TRUE(ms.members[1].info.roles.empty());
  EXPECT_EQ(ms.members[1].info.queues, std::vector<std::string>{"default"});
  EXPECT_TRUE(ms.members[1].info.kinds.empty());
  EXPECT_EQ(ms.members[1].partition_count, 0);
}

TEST_P(ClusterStoreTest, VersionCountsJoinsLeavesAndEvictionsOnly) {
  int64_t v = Version();
  Register("a", std::nullopt, 2s);
  EXPECT_EQ(Version(), v + 1);
  Register("b", std::nullopt, 2s);
  EXPECT_EQ(Version(), v + 2);
  Register("a", std::nullopt, 2s);
  EXPECT_EQ(Version(), v + 3) << "registering again is announced too";
  store_->MemberHeartbeat("a", 1);
  EXPECT_EQ(Version(), v + 3) << "a heartbeat changed the version";
  EXPECT_TRUE(Remove("stranger", false).empty());
  EXPECT_TRUE(Remove(std::nullopt, true).empty());
  EXPECT_EQ(Version(), v + 3) << "removing nobody changed the version";
  Register("c", std::nullopt, 2s);
  ASSERT_EQ(Remove("c", false), std::vector<std::string>{"c"});
  EXPECT_EQ(Version(), v + 5);
  clock_->Advance(3s);
  EXPECT_EQ(Remove(std::nullopt, true), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Version(), v + 6) << "one eviction of two members is one change";
}

// --- eviction -----------------------------------------------------------------------------

TEST_P(ClusterStoreTest, EvictionUsesEachMembersOwnTimeoutAndFreesWhatItHeld) {
  Register("short", std::nullopt, 2s);
  Register("long", std::nullopt, 10s);
  std::string short_job = Insert({.kind = "k", .priority = 0});
  std::string long_job = Insert({.kind = "k", .priority = 1});
  ASSERT_EQ(Fetch("short").at(0).id, short_job);
  ASSERT_EQ(Fetch("long").at(0).id, long_job);
  ASSERT_EQ(store_->LeaderAcquire("short", 1h), 1);
  ASSERT_TRUE(store_->AssignmentClaim("cron", "short"));
  ASSERT_TRUE(store_->AssignmentClaim("mail", "long"));

  clock_->Advance(2s);
  EXPECT_TRUE(Remove(std::nullopt, true).empty()) << "evicted at, not past, its timeout";
  EXPECT_TRUE(store_->MemberHeartbeat("long", 0));  // at 2 s: long is now due by 12 s
  clock_->Advance(1ms);
  EXPECT_EQ(Remove(std::nullopt, true), std::vector<std::string>{"short"});
  EXPECT_EQ(MemberIds(), std::vector<std::string>{"long"});

  // Its job is rescued at once though its lease had an hour left; long's job keeps running.
  EXPECT_EQ(store_->JobRescue(100), 1);
  EXPECT_EQ(store_->JobGet(short_job)->state, JobState::kRetryable);
  Job kept = store_->JobGet(long_job).value();
  EXPECT_EQ(kept.state, JobState::kRunning);
  EXPECT_EQ(kept.lease_owner, "long");
  // Its claims and its leadership are free.
  EXPECT_EQ(Claims(), (std::vector<std::pair<std::string, std::string>>{{"mail", "long"}}));
  EXPECT_EQ(store_->LeaderAcquire("long", 1h), 2);

  clock_->Advance(8s);  // 10.001 s: past long's first deadline, not its renewed one
  EXPECT_TRUE(Remove(std::nullopt, true).empty());
  clock_->Advance(2001ms);
  EXPECT_EQ(Remove("long", true), std::vector<std::string>{"long"});
  EXPECT_TRUE(MemberIds().empty());
  EXPECT_EQ(store_->JobRescue(100), 1);
  EXPECT_TRUE(Claims().empty());
  EXPECT_FALSE(store_->MemberHeartbeat("long", 0)) << "an evicted member must register again";
}

TEST_P(ClusterStoreTest, EvictionExpiresTheLeasesOfJobsTakenFromTheMemberToo) {
  Register("a", std::nullopt, 2s);
  Register("b", std::nullopt, 1h);
  std::string stopped = Insert({.kind = "k", .priority = 0});
  std::string cancelled = Insert({.kind = "k", .priority = 1});
  ASSERT_EQ(Fetch("a").at(0).id, stopped);
  ASSERT_EQ(Fetch("a").at(0).id, cancelled);
  store_->JobStop(stopped);
  store_->JobResume(stopped);
  store_->JobCancel(cancelled);
  EXPECT_TRUE(Fetch("b").empty()) << "ran beside the stopped attempt";

  clock_->Advance(2001ms);
  ASSERT_EQ(Remove(std::nullopt, true), std::vector<std::string>{"a"});
  for (const auto& id : {stopped, cancelled}) {
    Job j = store_->JobGet(id).value();
    EXPECT_LT(j.lease_expires_at, Now()) << ToString(j.state) << ": the lease did not expire";
  }
  // The evicted worker's renewal cannot revive them.
  EXPECT_EQ(store_->JobLeaseRenew("a", {{stopped, 1}, {cancelled, 1}}, 1h).renewed, 0);
  auto again = Fetch("b");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, stopped);
  EXPECT_EQ(again[0].attempt, 2);
  EXPECT_EQ(store_->JobGet(cancelled)->state, JobState::kCancelled);
}

TEST_P(ClusterStoreTest, RemovingByIdIsACleanLeave) {
  Register("a");
  Register("b");
  std::string job = Insert({.kind = "k"});
  ASSERT_EQ(Fetch("a").size(), 1u);
  ASSERT_EQ(store_->LeaderAcquire("a", 1h), 1);
  ASSERT_TRUE(store_->AssignmentClaim("cron", "a"));

  EXPECT_TRUE(Remove("a", true).empty()) << "removed a live member as expired";
  EXPECT_EQ(Remove("a", false), std::vector<std::string>{"a"});
  EXPECT_EQ(MemberIds(), std::vector<std::string>{"b"});
  EXPECT_TRUE(Remove("a", false).empty());
  EXPECT_EQ(store_->JobRescue(100), 1);
  EXPECT_EQ(store_->JobGet(job)->state, JobState::kRetryable);
  EXPECT_TRUE(store_->AssignmentClaim("cron", "b"));
  EXPECT_EQ(store_->LeaderAcquire("b", 1h), 2);
  EXPECT_TRUE(Find("b")->leader);

  EXPECT_EQ(Remove(std::nullopt, false), std::vector<std::string>{"b"});
  EXPECT_TRUE(MemberIds().empty());
}

// --- incarnations --------------------------------------------------------------------------

TEST_P(ClusterStoreTest, AnotherIncarnationCannotTakeALiveMembersId) {
  Member first = Register("a", kAutoPartition, 10s, "first", 41);
  std::string job = Insert({.kind = "k"});
  ASSERT_EQ(Fetch("a").size(), 1u);
  ASSERT_EQ(store_->LeaderAcquire("a", 1h), 1);
  ASSERT_TRUE(store_->AssignmentClaim("cron", "a"));
  int64_t version = Version();

  auto refused = [&](const std::string& why) {
    SCOPED_TRACE(why);
    try {
      Register("a", kAutoPartition, 10s, "second", 42);
      ADD_FAILURE() << "a second process took a live worker's id";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kIllegalTransition);
      EXPECT_EQ(std::string(e.what()),
                "worker id 'a' is already in use by a live worker (host host, pid 41); give "
                "each worker its own id. If that worker has just died, its peers evict it once "
                "it has been silent for its heartbeat timeout: start again then");
    }
    Member kept = *Find("a");
    EXPECT_EQ(kept.info.incarnation, "first");
    EXPECT_EQ(kept.info.pid, 41);
    EXPECT_EQ(kept.started_at, first.started_at);
    EXPECT_EQ(Version(), version) << "a refused registration was announced";
    EXPECT_EQ(store_->JobGet(job)->lease_owner, "a");
    EXPECT_EQ(Claims(), (std::vector<std::pair<std::string, std::string>>{{"cron", "a"}}));
    EXPECT_TRUE(Find("a")->leader);
  };
  refused("live");
  clock_->Advance(10s);
  refused("silent for exactly its timeout");

  // The same incarnation registers again as before (a retry, or after an eviction).
  EXPECT_EQ(Register("a", kAutoPartition, 10s, "first", 41).started_at, first.started_at);
  EXPECT_EQ(Version(), ++version);

  // Silent past its timeout, the other incarnation is dead: evicted, and the new one registered.
  clock_->Advance(10001ms);
  Member second = Register("a", kAutoPartition, 10s, "second", 42);
  EXPECT_EQ(second.started_at, Now()) << "the new incarnation is a new member";
  EXPECT_EQ(second.info.partition, 1);
  Member listed = *Find("a");
  EXPECT_EQ(listed.info.incarnation, "second");
  EXPECT_EQ(listed.info.pid, 42);
  EXPECT_EQ(Version(), version + 2) << "an eviction and a join";
  EXPECT_TRUE(Claims().empty()) << "the dead incarnation's claims were kept";
  EXPECT_FALSE(Find("a")->leader) << "the dead incarnation's leader term was kept";
  EXPECT_EQ(store_->LeaderAcquire("a", 1h), 2) << "the dead incarnation's term went on";
  EXPECT_LT(store_->JobGet(job)->lease_expires_at, Now()) << "its leases did not expire";
  EXPECT_EQ(store_->JobLeaseRenew("a", {{job, 1}}, 1h).renewed, 0);
  EXPECT_EQ(store_->JobRescue(100), 1);
}

// --- leadership ---------------------------------------------------------------------------

TEST_P(ClusterStoreTest, LeaderTermsAreExclusiveRenewableAndExpire) {
  Register("a");
  Register("b");
  EXPECT_EQ(store_->LeaderAcquire("stranger", 10s), std::nullopt) << "a non-member leads";
  EXPECT_EQ(store_->LeaderAcquire("a", 10s), 1);
  EXPECT_EQ(store_->LeaderAcquire("b", 10s), std::nullopt);
  EXPECT_TRUE(Find("a")->leader);
  EXPECT_FALSE(Find("b")->leader);

  clock_->Advance(5s);
  EXPECT_EQ(store_->LeaderAcquire("a", 10s), 1) << "renewing starts no new term";
  clock_->Advance(9s);  // past the first expiry, before the renewed one
  EXPECT_EQ(store_->LeaderAcquire("b", 10s), std::nullopt);
  EXPECT_TRUE(Find("a")->leader);

  clock_->Advance(1s);  // the renewed term ends now
  EXPECT_FALSE(Find("a")->leader);
  EXPECT_EQ(store_->LeaderAcquire("b", 10s), 2);
  EXPECT_EQ(store_->LeaderAcquire("a", 10s), std::nullopt);
  EXPECT_TRUE(Find("b")->leader);
  EXPECT_FALSE(Find("a")->leader);

  clock_->Advance(11s);
  EXPECT_FALSE(Find("b")->leader) << "an expired term still shows as leading";
  EXPECT_EQ(store_->LeaderAcquire("stranger", 10s), std::nullopt);
  EXPECT_EQ(store_->LeaderAcquire("b", 10s), 3) << "its own expired term is a new term";

  ASSERT_EQ(Remove("b", false), std::vector<std::string>{"b"});
  EXPECT_EQ(store_->LeaderAcquire("a", 10s), 4) << "the removed leader's term was not freed";
}

// --- assignments --------------------------------------------------------------------------

TEST_P(ClusterStoreTest, AssignmentsAreClaimedExclusively) {
  Register("a");
  Register("b");
  EXPECT_FALSE(store_->AssignmentClaim("cron", "stranger")) << "a non-member claimed";
  EXPECT_TRUE(Claims().empty());

  EXPECT_TRUE(store_->AssignmentClaim("cron", "a"));
  EXPECT_FALSE(store_->AssignmentClaim("cron", "b"));
  EXPECT_FALSE(store_->AssignmentClaim("cron", "stranger"));
  EXPECT_TRUE(store_->AssignmentClaim("cron", "a")) << "claiming again is idempotent";
  auto listed = store_->AssignmentList();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].name, "cron");
  EXPECT_EQ(listed[0].owner, "a");
  EXPECT_EQ(listed[0].claimed_at, Now());

  store_->AssignmentRelease("cron", "b");
  EXPECT_EQ(Claims(), (std::vector<std::pair<std::string, std::string>>{{"cron", "a"}}))
      << "released by a member that does not hold it";
  store_->AssignmentRelease("cron", "a");
  EXPECT_TRUE(Claims().empty());
  EXPECT_TRUE(store_->AssignmentClaim("cron", "b"));
  EXPECT_TRUE(store_->AssignmentClaim("mail", "a"));
  EXPECT_TRUE(store_->AssignmentClaim("audit", "a"));
  EXPECT_EQ(Claims(), (std::vector<std::pair<std::string, std::string>>{
                          {"audit", "a"}, {"cron", "b"}, {"mail", "a"}}));

  ASSERT_EQ(Remove("b", false), std::vector<std::string>{"b"});
  EXPECT_TRUE(store_->AssignmentClaim("cron", "a"));

  // A claim left behind by a holder that is gone (its row deleted by hand) is free as well.
  Register("c");
  db_->Query("DELETE FROM " + Table("workers") + " WHERE id = 'a'");
  EXPECT_EQ(Claims().size(), 3u);
  EXPECT_TRUE(store_->AssignmentClaim("mail", "c"));
  EXPECT_EQ(Claims(), (std::vector<std::pair<std::string, std::string>>{
                          {"audit", "a"}, {"cron", "a"}, {"mail", "c"}}));
}

// --- notifications ------------------------------------------------------------------------

TEST_P(ClusterStoreTest, ListenersHearMembershipChanges) {
  auto other = Open();  // another store on the database, as another worker's would be
  auto listener = other->Listen();
  EXPECT_FALSE(listener->Wait(10ms).members);  // connects
  Register("a");
  Notices n = listener->Wait(10s);
  EXPECT_TRUE(n.members) << "no notice of a registration";
  EXPECT_TRUE(n.queues.empty());
  store_->MemberHeartbeat("a", 1);
  EXPECT_FALSE(listener->Wait(300ms).members) << "a heartbeat was announced";
  ASSERT_EQ(Remove("a", false), std::vector<std::string>{"a"});
  EXPECT_TRUE(listener->Wait(10s).members) << "no notice of a removal";
}

// --- partitioned fetching -----------------------------------------------------------------

TEST_P(ClusterStoreTest, PartitionsSplitTheJobsAsPartitionOfDoes) {
  std::vector<JobSpec> specs(400, JobSpec{.kind = "k"});
  store_->JobInsertMany(specs);
  std::set<std::string> all;
  for (int index = 0; index < 4; ++index) {
    auto jobs = store_->JobFetch({.queue = "default",
                                  .limit = 1000,
                                  .worker_id = "w" + std::to_string(index),
                                  .kinds = {"k"},
                                  .partition_count = 4,
                                  .partitions = {index}});
    EXPECT_GT(jobs.size(), 50u) << "partition " << index;  // about 100 of 400 random ids each
    int misplaced = 0, twice = 0;
    for (const auto& j : jobs) {
      misplaced += PartitionOf(j.id, 4) != index;
      twice += !all.insert(j.id).second;
    }
    EXPECT_EQ(misplaced, 0) << "partition " << index << ": ids PartitionOf puts elsewhere";
    EXPECT_EQ(twice, 0) << "partition " << index << ": ids another partition fetched";
  }
  EXPECT_EQ(all.size(), 400u);
}

TEST_P(ClusterStoreTest, APartitionSetFetchesEachOfItsPartitions) {
  std::vector<JobSpec> specs(400, JobSpec{.kind = "k"});
  store_->JobInsertMany(specs);
  auto fetch = [&](std::vector<int> partitions) {
    return store_->JobFetch({.queue = "default",
                             .limit = 1000,
                             .worker_id = "w",
                             .kinds = {"k"},
                             .partition_count = 4,
                             .partitions = std::move(partitions)});
  };
  EXPECT_TRUE(fetch({}).empty()) << "an empty set fetched";
  std::map<int, int> by_partition;
  for (const auto& j : fetch({0, 2})) ++by_partition[PartitionOf(j.id, 4)];
  EXPECT_EQ(by_partition.size(), 2u);
  EXPECT_GT(by_partition[0], 50);  // about 100 of 400 random ids each
  EXPECT_GT(by_partition[2], 50);
  by_partition.clear();
  for (const auto& j : fetch({3, 1, 5})) ++by_partition[PartitionOf(j.id, 4)];
  EXPECT_EQ(by_partition.size(), 2u);
  EXPECT_GT(by_partition[1], 50);
  EXPECT_GT(by_partition[3], 50);
  EXPECT_TRUE(fetch({0, 1, 2, 3}).empty());
  EXPECT_EQ(store_->JobList({.states = {JobState::kRunning}, .limit = 1000}).size(), 400u);
}

TEST_P(ClusterStoreTest, OverdueFetchesOnlyJobsDueLongEnoughAgo) {
  std::string old = Insert({.kind = "k", .run_at = clock_->Now() - 10s});
  std::string due_now = Insert({.kind = "k"});
  JobFetchParams overdue{
      .queue = "default", .limit = 10, .worker_id = "w", .kinds = {"k"}, .overdue = 5s};
  auto jobs = store_->JobFetch(overdue);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, old);
  clock_->Advance(4s);
  EXPECT_TRUE(store_->JobFetch(overdue).empty()) << "fetched a job due only 4 s ago";
  clock_->Advance(2s);
  jobs = store_->JobFetch(overdue);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, due_now);
}

auto BackendName = [](const auto& info) { return testing::Name(info.param); };

INSTANTIATE_TEST_SUITE_P(Backends, ClusterStoreTest, ::testing::ValuesIn(testing::kAllBackends),
                         BackendName);

}  // namespace
}  // namespace spindle
