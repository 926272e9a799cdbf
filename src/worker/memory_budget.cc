#include "worker/memory_budget.h"

#include <algorithm>
#include <charconv>
#include <fstream>

#include "worker/cgroup.h"

namespace vidproc::worker {
namespace {

std::optional<int64_t> Min(std::optional<int64_t> a, std::optional<int64_t> b) {
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

// The tightest memory limit from this process's cgroups up to the root, v2 and v1 alike.
std::optional<int64_t> CgroupMemoryLimit(const std::string& root, const std::string& self_cgroup) {
  std::optional<int64_t> limit;
  ForEachCgroupDir(root, self_cgroup, "memory", {"/memory"}, [&](const std::string& dir, bool v2) {
    const char* file = v2 ? "/memory.max" : "/memory.limit_in_bytes";
    if (auto text = ReadFirstLine(dir + file)) {
      limit = Min(limit, MemoryLimitFromText(*text));
    }
  });
  return limit;
}

}  // namespace

std::optional<int64_t> MemoryLimitFromText(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value <= 0) return std::nullopt;
  // v1 says "no limit" with the largest page-aligned number (about 2^63).
  if (value >= (int64_t{1} << 60)) return std::nullopt;
  return value;
}

int64_t AvailableMemoryBytes(const std::string& cgroup_root, const std::string& self_cgroup,
                             const std::string& meminfo) {
  std::optional<int64_t> total;
  std::ifstream in(meminfo);
  std::string key;
  int64_t kb = 0;
  std::string unit;
  while (in >> key >> kb) {
    std::getline(in, unit);
    if (key == "MemTotal:") {
      total = kb * 1024;
      break;
    }
  }
  total = Min(total, CgroupMemoryLimit(cgroup_root, self_cgroup));
  return total.value_or(int64_t{2} << 30);  // unreadable: assume the reference droplet
}

double DefaultMemoryBudgetMb(int64_t available_bytes) {
  return static_cast<double>(available_bytes) * 0.75 / 1e6;
}

bool MemoryLedger::TryBook(const std::string& id, double mb, const MachinePeers& peers) {
  std::lock_guard lock(mutex_);
  booked_.erase(id);
  double used = peers.memory_mb;
  for (const auto& [other, other_mb] : booked_) used += other_mb;
  if ((!booked_.empty() || peers.jobs > 0) && used + mb > budget_mb_) return false;
  booked_[id] = mb;
  return true;
}

void MemoryLedger::Release(const std::string& id) {
  std::lock_guard lock(mutex_);
  booked_.erase(id);
}

std::optional<double> MemoryLedger::AvailableMb(const MachinePeers& peers) const {
  std::lock_guard lock(mutex_);
  if (booked_.empty() && peers.jobs == 0) return std::nullopt;
  double used = peers.memory_mb;
  for (const auto& [id, mb] : booked_) used += mb;
  return std::max(0.0, budget_mb_ - used);
}

int MemoryLedger::jobs() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(booked_.size());
}

}  // namespace vidproc::worker
