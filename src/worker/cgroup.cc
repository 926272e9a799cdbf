#include "worker/cgroup.h"

#include <fstream>

namespace vidproc::worker {
namespace {

// `path` and each of its parents up to the hierarchy's root, below `root`.
void SelfAndParents(const std::string& root, std::string path,
                    const std::function<void(const std::string&)>& visit) {
  while (!path.empty() && path.back() == '/') path.pop_back();
  for (;;) {
    visit(root + path);
    if (path.empty()) break;
    const size_t slash = path.rfind('/');
    path.resize(slash == std::string::npos ? 0 : slash);
  }
}

}  // namespace

std::optional<std::string> ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  return line;
}

void ForEachCgroupDir(const std::string& cgroup_root, const std::string& self_cgroup,
                      const std::string& v1_controller, const std::vector<std::string>& v1_mounts,
                      const std::function<void(const std::string& dir, bool v2)>& visit) {
  std::ifstream self(self_cgroup);
  std::string line;
  while (std::getline(self, line)) {
    const size_t first = line.find(':');
    const size_t second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    const std::string controllers = "," + line.substr(first + 1, second - first - 1) + ",";
    const std::string path = line.substr(second + 1);
    if (controllers == ",,") {
      SelfAndParents(cgroup_root, path, [&](const std::string& dir) { visit(dir, true); });
    } else if (controllers.find("," + v1_controller + ",") != std::string::npos) {
      for (const std::string& mount : v1_mounts) {
        SelfAndParents(cgroup_root + mount, path,
                       [&](const std::string& dir) { visit(dir, false); });
      }
    }
  }
}

}  // namespace vidproc::worker
