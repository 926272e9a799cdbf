#include "worker/thread_budget.h"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <thread>
#include <vector>

#include "worker/cgroup.h"

namespace vidproc::worker {
namespace {

std::optional<long long> ParseInt(std::string_view text) {
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<int> Min(std::optional<int> a, std::optional<int> b) {
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

// The tightest quota on the way from this process's cgroups to the root, v2 and v1 alike.
std::optional<int> CgroupQuotaCores(const std::string& root, const std::string& self_cgroup) {
  std::optional<int> cores;
  ForEachCgroupDir(root, self_cgroup, "cpu", {"/cpu", "/cpu,cpuacct", "/cpuacct,cpu"},
                   [&](const std::string& dir, bool v2) {
                     if (v2) {
                       if (auto text = ReadFirstLine(dir + "/cpu.max")) {
                         cores = Min(cores, CoresFromCpuMax(*text));
                       }
                       return;
                     }
                     auto quota = ReadFirstLine(dir + "/cpu.cfs_quota_us");
                     auto period = ReadFirstLine(dir + "/cpu.cfs_period_us");
                     if (!quota || !period) return;
                     auto q = ParseInt(*quota);
                     auto p = ParseInt(*period);
                     if (q && p) cores = Min(cores, CoresFromCfsQuota(*q, *p));
                   });
  return cores;
}

}  // namespace

// A job claimed on an idle worker gets every core. One claimed while others run gets an equal
// share of the cores, but never fewer than 2 threads where there are 2 cores: with one thread the
// engine runs unpipelined (plan.cc, SplitThreads), and such a job becomes the tail that leaves a
// core idle once the other job ends. Measured on 2 cores, two 12 s 1080p jobs started together
// (docs/BENCHMARKS.md, "Thread budget"): 2+1 threads had both ready in 1.86x the time of 2+2, 1+1
// (the former fixed split) in 1.78x, for CPU-seconds within 2%. All cores for every job with the
// later one at a lower priority (nice) had the first ready soonest but starved the second behind
// any other load on the machine, and its timeout counts on: rejected.
int ThreadsForJob(int cores, int jobs_running) {
  cores = std::max(cores, 1);
  int share = cores / (std::max(jobs_running, 0) + 1);
  return std::clamp(share, std::min(cores, 2), cores);
}

std::optional<int> CoresFromCpuMax(std::string_view cpu_max) {
  auto space = cpu_max.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  std::string_view quota = cpu_max.substr(0, space);
  std::string_view period = cpu_max.substr(space + 1);
  while (!period.empty() && (period.back() == '\n' || period.back() == ' '))
    period.remove_suffix(1);
  if (quota == "max") return std::nullopt;
  auto q = ParseInt(quota);
  auto p = ParseInt(period);
  if (!q || !p) return std::nullopt;
  return CoresFromCfsQuota(*q, *p);
}

std::optional<int> CoresFromCfsQuota(long long quota_us, long long period_us) {
  if (quota_us <= 0 || period_us <= 0) return std::nullopt;  // -1: unlimited
  return std::max(1, static_cast<int>(std::ceil(static_cast<double>(quota_us) / period_us)));
}

int AvailableCores(const std::string& cgroup_root, const std::string& self_cgroup) {
  int cores = static_cast<int>(std::thread::hardware_concurrency());
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) cores = CPU_COUNT(&set);
  if (auto quota = CgroupQuotaCores(cgroup_root, self_cgroup)) cores = std::min(cores, *quota);
  return std::max(cores, 1);
}

}  // namespace vidproc::worker
