// This process's cgroups, as the resource budgets read them (thread_budget.h: the CPU quota,
// memory_budget.h: the memory limit): each directory from the process's own cgroup up to the
// root of the hierarchy, in the unified (v2) hierarchy or the v1 controller's, because a limit
// anywhere above a cgroup limits it too. Inside a container /proc/self/cgroup often says "/" and
// the container's own cgroup is mounted as the root, which the walk reads last.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace vidproc::worker {

// The first line of a file, without its newline; nullopt when it cannot be read.
std::optional<std::string> ReadFirstLine(const std::string& path);

// Calls `visit` with each cgroup directory of this process (as `self_cgroup` lists them, the
// format of /proc/self/cgroup) and each of its parents: in the v2 hierarchy at `cgroup_root`, and
// in the v1 hierarchy of `v1_controller` ("cpu", "memory") mounted at one of `v1_mounts` below
// the root ("/memory"). `v2` says which hierarchy a directory is in.
void ForEachCgroupDir(const std::string& cgroup_root, const std::string& self_cgroup,
                      const std::string& v1_controller, const std::vector<std::string>& v1_mounts,
                      const std::function<void(const std::string& dir, bool v2)>& visit);

}  // namespace vidproc::worker
