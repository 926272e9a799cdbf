// What a worker's transcoders may use together (VIDPROC_MEMORY_BUDGET_MB) and the ledger of the
// memory its running jobs are predicted to need (media/cost_model.h). A job starts only when its
// prediction fits next to the running jobs' predictions; a job alone always starts (waiting would
// not make room for it). Several workers on one machine share its memory: each counts the jobs
// the others run there (MachinePeers) as booked, and a job is alone only when no worker of the
// machine runs one.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace vidproc::worker {

// The memory limit of a cgroup, in bytes: v2 `memory.max` ("max" is none) or v1
// `memory.limit_in_bytes` (a huge number is none).
std::optional<int64_t> MemoryLimitFromText(std::string_view text);

// The memory this process may use, in bytes: the machine's (MemTotal of `meminfo`), capped by the
// tightest memory limit of its cgroups up to the root of the hierarchy at `cgroup_root`. The
// paths are parameters for the tests.
int64_t AvailableMemoryBytes(const std::string& cgroup_root = "/sys/fs/cgroup",
                             const std::string& self_cgroup = "/proc/self/cgroup",
                             const std::string& meminfo = "/proc/meminfo");

// The budget when VIDPROC_MEMORY_BUDGET_MB is not set: 3/4 of `available_bytes`, in MB. The rest
// is the server's, the page cache's and the system's (measured on a 2 GB droplet: the server
// idles at 42 MB; docs/BENCHMARKS.md).
double DefaultMemoryBudgetMb(int64_t available_bytes);

// The jobs that other workers run on this machine (the queue's running jobs whose worker's host
// is this one's), with what they were predicted to need: they share the machine's memory and
// cores with this worker's jobs. A job not predicted yet counts 0 MB.
struct MachinePeers {
  int jobs = 0;
  double memory_mb = 0;
};

class MemoryLedger {
 public:
  explicit MemoryLedger(double budget_mb) : budget_mb_(budget_mb) {}

  // Books `mb` for job `id` if it fits next to the jobs booked here and by `peers`, or if no job
  // runs on the machine: true. A job booked again replaces its booking.
  bool TryBook(const std::string& id, double mb, const MachinePeers& peers = {});
  void Release(const std::string& id);
  // What a job may need to fit now; nullopt while no job runs on the machine (any job fits alone).
  std::optional<double> AvailableMb(const MachinePeers& peers = {}) const;
  // Jobs booked, for the share of the cores a prediction assumes.
  int jobs() const;
  double budget_mb() const { return budget_mb_; }

 private:
  const double budget_mb_;
  mutable std::mutex mutex_;
  std::map<std::string, double> booked_;
};

}  // namespace vidproc::worker
