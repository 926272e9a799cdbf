// How many threads a job gets, decided when a worker slot claims it. The budget is the CPUs this
// process may use (its affinity mask, capped by a cgroup CPU quota, v2 `cpu.max` or v1
// `cpu.cfs_quota_us`), shared by the jobs running on this worker at that moment. A child's
// threads are fixed when its codecs open, so the decision is made once per job.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vidproc::worker {

// The threads of a job claimed while `jobs_running` other jobs run on this worker, on a machine
// (or cgroup) with `cores` CPUs. A lone job gets every core; later ones get an equal share, at
// least 2 threads (1 on a single core). See the .cc for the measurement behind it.
int ThreadsForJob(int cores, int jobs_running);

// The CPUs a cgroup quota allows, rounded up (a quota of 1.5 CPUs keeps 2 threads busy part of
// the time): nullopt when unlimited or unreadable.
//   v2: the content of cpu.max, "max 100000" or "150000 100000".
//   v1: cpu.cfs_quota_us (-1 = unlimited) and cpu.cfs_period_us.
std::optional<int> CoresFromCpuMax(std::string_view cpu_max);
std::optional<int> CoresFromCfsQuota(long long quota_us, long long period_us);

// The CPUs this process may use: its affinity mask, capped by the tightest quota on the way from
// its cgroups (as `self_cgroup` lists them, the format of /proc/self/cgroup) up to the root of
// the hierarchy mounted at `cgroup_root`. At least 1. The paths are parameters for the tests.
int AvailableCores(const std::string& cgroup_root = "/sys/fs/cgroup",
                   const std::string& self_cgroup = "/proc/self/cgroup");

}  // namespace vidproc::worker
