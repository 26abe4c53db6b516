// The coordination decisions, driven directly: partition counts (the respirate rules),
// neighbours for eviction, and rendezvous placement of assignments.
#include <gtest/gtest.h>

#include <map>

#include "runtime/coordinator.h"

namespace spindle::runtime {
namespace {

using namespace std::chrono_literals;

Member Numbered(int partition, Millis silent = 0ms) {
  Member m;
  m.info.id = "w" + std::to_string(partition);
  m.info.partition = partition;
  m.silent_for = silent;
  return m;
}

Membership Of(std::vector<Member> members) { return {1, std::move(members)}; }

TEST(PartitionCountTest, FollowsTheHighestNumberHeardFromRecently) {
  // 1..4 running: 4 partitions.
  auto ms = Of({Numbered(1), Numbered(2), Numbered(3), Numbered(4)});
  EXPECT_EQ(PartitionCount(ms, 2, 4s), 4);
  // 5 and 6 start: 6 partitions.
  ms.members.push_back(Numbered(5));
  ms.members.push_back(Numbered(6));
  EXPECT_EQ(PartitionCount(ms, 2, 4s), 6);
  // 6 stops: still counted until silent for the partition timeout, then 5.
  ms.members.back().silent_for = 3900ms;
  EXPECT_EQ(PartitionCount(ms, 2, 4s), 6);
  ms.members.back().silent_for = 4000ms;
  EXPECT_EQ(PartitionCount(ms, 2, 4s), 5);
  // 4 stops while 5 runs: nothing changes.
  ms.members[3].silent_for = 60s;
  EXPECT_EQ(PartitionCount(ms, 2, 4s), 5);
  // A worker always counts its own number, even before it hears from anyone.
  EXPECT_EQ(PartitionCount(Of({}), 7, 4s), 7);
  // Unpartitioned workers see no partitions; unnumbered members do not count.
  EXPECT_EQ(PartitionCount(ms, std::nullopt, 4s), 0);
  Member plain;
  plain.info.id = "plain";
  EXPECT_EQ(PartitionCount(Of({plain}), 1, 4s), 1);
}

TEST(NeighbourTest, IsTheNextIdWrappingAround) {
  auto ms = Of({Numbered(1), Numbered(2), Numbered(3)});
  EXPECT_EQ(Neighbour(ms, "w1"), "w2");
  EXPECT_EQ(Neighbour(ms, "w2"), "w3");
  EXPECT_EQ(Neighbour(ms, "w3"), "w1");
  // Not (or no longer) in the list itself: still the next one.
  EXPECT_EQ(Neighbour(ms, "w25"), "w3");
  EXPECT_EQ(Neighbour(Of({Numbered(1)}), "w1"), std::nullopt);
}

Membership WithRole(int n, const std::string& role) {
  Membership ms;
  for (int i = 0; i < n; ++i) {
    Member m;
    m.info.id = "worker-" + std::to_string(i);
    m.info.roles = {role};
    ms.members.push_back(m);
  }
  return ms;
}

std::map<std::string, std::string> Place(const Membership& ms, int assignments) {
  std::map<std::string, std::string> owner;
  for (int i = 0; i < assignments; ++i) {
    std::string name = "a" + std::to_string(i);
    owner[name] = OwnerOf(name, "r", ms).value_or("");
  }
  return owner;
}

TEST(OwnerOfTest, SpreadsEvenlyAndMovesOnlyWhatMust) {
  auto three = WithRole(3, "r");
  auto before = Place(three, 600);
  std::map<std::string, int> load;
  for (const auto& [a, w] : before) ++load[w];
  ASSERT_EQ(load.size(), 3u);
  for (const auto& [w, n] : load) EXPECT_NEAR(n, 200, 50) << w;

  // A fourth member takes about a quarter, only from the others; nothing moves between them.
  auto four = WithRole(4, "r");
  auto after = Place(four, 600);
  int moved = 0;
  for (const auto& [a, w] : after) {
    if (w != before[a]) {
      ++moved;
      EXPECT_EQ(w, "worker-3") << a;
    }
  }
  EXPECT_NEAR(moved, 150, 50);

  // Removing it gives back exactly the same placement.
  EXPECT_EQ(Place(three, 600), before);
}

TEST(OwnerOfTest, OnlyMembersWithTheRole) {
  auto ms = WithRole(2, "r");
  ms.members[0].info.roles = {"other"};
  for (const auto& [a, w] : Place(ms, 50)) EXPECT_EQ(w, "worker-1");
  EXPECT_EQ(OwnerOf("a", "nobody", ms), std::nullopt);
}

}  // namespace
}  // namespace spindle::runtime
