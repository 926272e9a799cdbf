// The thread budget: the policy that shares the cores between the jobs running at claim time,
// and the CPU count a cgroup quota allows (v2 cpu.max, v1 cfs quota), read from a fake hierarchy.
#include "worker/thread_budget.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <filesystem>
#include <fstream>

#include "worker_test_util.h"

namespace vidproc::worker {
namespace {

TEST(ThreadBudgetTest, ALoneJobGetsEveryCore) {
  for (int cores : {1, 2, 4, 16}) EXPECT_EQ(ThreadsForJob(cores, 0), cores) << cores;
}

TEST(ThreadBudgetTest, LaterJobsGetAnEqualShareButStayPipelined) {
  for (int cores : {2, 3, 4, 8, 16}) {
    for (int running = 1; running < 8; ++running) {
      int threads = ThreadsForJob(cores, running);
      EXPECT_GE(threads, 2) << cores << " cores, " << running << " running: unpipelined";
      EXPECT_LE(threads, std::max(2, cores / (running + 1))) << cores << " cores, " << running;
    }
  }
  EXPECT_EQ(ThreadsForJob(2, 1), 2);
  EXPECT_EQ(ThreadsForJob(8, 1), 4);
  EXPECT_EQ(ThreadsForJob(8, 3), 2);
  EXPECT_EQ(ThreadsForJob(16, 2), 5);
  for (int running = 0; running < 4; ++running) EXPECT_EQ(ThreadsForJob(1, running), 1);
}

TEST(ThreadBudgetTest, NonsenseInputsStillGiveOneThread) {
  EXPECT_EQ(ThreadsForJob(0, 0), 1);
  EXPECT_EQ(ThreadsForJob(-3, 2), 1);
  EXPECT_EQ(ThreadsForJob(4, -1), 4);
}

TEST(ThreadBudgetTest, CpuMaxQuotasRoundUp) {
  EXPECT_EQ(CoresFromCpuMax("max 100000"), std::nullopt);
  EXPECT_EQ(CoresFromCpuMax("200000 100000"), 2);
  EXPECT_EQ(CoresFromCpuMax("150000 100000\n"), 2);
  EXPECT_EQ(CoresFromCpuMax("50000 100000"), 1);
  EXPECT_EQ(CoresFromCpuMax("garbage"), std::nullopt);
  EXPECT_EQ(CoresFromCpuMax("12x 100000"), std::nullopt);
  EXPECT_EQ(CoresFromCfsQuota(-1, 100000), std::nullopt);
  EXPECT_EQ(CoresFromCfsQuota(400000, 100000), 4);
  EXPECT_EQ(CoresFromCfsQuota(100000, 0), std::nullopt);
}

class CgroupTreeTest : public testing::FakeCgroupTree {
 protected:
  static int Affinity() {
    cpu_set_t set;
    CPU_ZERO(&set);
    return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  }
};

TEST_F(CgroupTreeTest, TheTightestV2QuotaOnTheWayUpCounts) {
  Write("/self", "0::/jobs/one\n");
  Write("/fs/jobs/cpu.max", "100000 100000\n");  // the parent: 1 CPU
  Write("/fs/jobs/one/cpu.max", "max 100000\n");
  EXPECT_EQ(AvailableCores(root_ + "/fs", root_ + "/self"), 1);
}

TEST_F(CgroupTreeTest, AV1CfsQuotaCounts) {
  Write("/self", "4:memory:/x\n3:cpu,cpuacct:/x\n");
  Write("/fs/cpu,cpuacct/x/cpu.cfs_quota_us", "100000\n");
  Write("/fs/cpu,cpuacct/x/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(AvailableCores(root_ + "/fs", root_ + "/self"), 1);
}

TEST_F(CgroupTreeTest, NoQuotaLeavesTheAffinityMask) {
  Write("/self", "0::/\n3:cpu:/\n");
  Write("/fs/cpu.max", "max 100000\n");
  Write("/fs/cpu/cpu.cfs_quota_us", "-1\n");
  Write("/fs/cpu/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(AvailableCores(root_ + "/fs", root_ + "/self"), Affinity());
  EXPECT_EQ(AvailableCores(root_ + "/missing", root_ + "/missing"), Affinity());
}

TEST_F(CgroupTreeTest, AQuotaAboveTheMaskDoesNotRaiseIt) {
  Write("/self", "0::/\n");
  Write("/fs/cpu.max", "6400000 100000\n");  // 64 CPUs
  EXPECT_EQ(AvailableCores(root_ + "/fs", root_ + "/self"), Affinity());
}

}  // namespace
}  // namespace vidproc::worker
