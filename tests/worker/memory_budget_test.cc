// The memory budget: a cgroup's memory limit (v2 memory.max, v1 memory.limit_in_bytes) read from
// a fake hierarchy and /proc/meminfo's total, and the ledger that admits jobs by their predicted
// memory.
#include "worker/memory_budget.h"

#include <gtest/gtest.h>

#include "worker_test_util.h"

namespace vidproc::worker {
namespace {

TEST(MemoryBudgetTest, CgroupLimitTexts) {
  EXPECT_EQ(MemoryLimitFromText("max\n"), std::nullopt);
  EXPECT_EQ(MemoryLimitFromText("2147483648\n"), int64_t{2147483648});
  EXPECT_EQ(MemoryLimitFromText("9223372036854771712"), std::nullopt) << "v1's no limit";
  EXPECT_EQ(MemoryLimitFromText("12x"), std::nullopt);
  EXPECT_EQ(MemoryLimitFromText("-1"), std::nullopt);
}

class MemoryTreeTest : public testing::FakeCgroupTree {
 protected:
  int64_t Available() {
    return AvailableMemoryBytes(root_ + "/cg", root_ + "/self_cgroup", root_ + "/meminfo");
  }
};

TEST_F(MemoryTreeTest, TheMachinesMemoryWithoutALimit) {
  Write("/meminfo", "MemTotal:        2030000 kB\nMemFree:          100000 kB\n");
  Write("/self_cgroup", "0::/system.slice/vidproc.service\n");
  Write("/cg/system.slice/vidproc.service/memory.max", "max\n");
  EXPECT_EQ(Available(), int64_t{2030000} * 1024);
  EXPECT_NEAR(DefaultMemoryBudgetMb(Available()), 2030000 * 1024 * 0.75 / 1e6, 1e-6);
}

TEST_F(MemoryTreeTest, TheTightestLimitOnTheWayToTheRootV2) {
  Write("/meminfo", "MemTotal:        8000000 kB\n");
  Write("/self_cgroup", "0::/system.slice/vidproc.service\n");
  Write("/cg/system.slice/vidproc.service/memory.max", "max\n");
  Write("/cg/system.slice/memory.max", "1073741824\n");
  EXPECT_EQ(Available(), int64_t{1} << 30);
}

TEST_F(MemoryTreeTest, TheV1MemoryController) {
  Write("/meminfo", "MemTotal:        8000000 kB\n");
  Write("/self_cgroup", "5:cpu,cpuacct:/x\n4:memory:/docker/abc\n");
  Write("/cg/memory/docker/abc/memory.limit_in_bytes", "536870912\n");
  Write("/cg/memory/memory.limit_in_bytes", "9223372036854771712\n");
  EXPECT_EQ(Available(), int64_t{512} << 20);
}

TEST(MemoryLedgerTest, AJobStartsOnlyWhenItFitsNextToTheOthersButAloneAlways) {
  MemoryLedger ledger(1000);
  EXPECT_EQ(ledger.AvailableMb(), std::nullopt) << "nothing booked: anything fits";
  EXPECT_TRUE(ledger.TryBook("huge", 5000)) << "alone, waiting would not make room";
  EXPECT_FALSE(ledger.TryBook("small", 1));
  ledger.Release("huge");
  EXPECT_TRUE(ledger.TryBook("a", 600));
  EXPECT_EQ(ledger.AvailableMb(), 400);
  EXPECT_FALSE(ledger.TryBook("b", 401));
  EXPECT_TRUE(ledger.TryBook("b", 400));
  EXPECT_EQ(ledger.jobs(), 2);
  EXPECT_EQ(ledger.AvailableMb(), 0);
  EXPECT_TRUE(ledger.TryBook("a", 300)) << "booked again: replaced";
  EXPECT_EQ(ledger.AvailableMb(), 300);
  ledger.Release("a");
  ledger.Release("b");
  EXPECT_EQ(ledger.jobs(), 0);
}

}  // namespace
}  // namespace vidproc::worker
