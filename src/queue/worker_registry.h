// The worker registry: which worker processes are alive, behind `vidproc status` and the API's
// queue resource.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace vidproc::queue {

// A worker process as it reports itself.
struct WorkerInfo {
  std::string id;  // VIDPROC_WORKER_ID, <hostname>:<pid> by default
  std::string host;
  int pid = 0;
  int slots = 0;
  std::string version;
  int64_t started_at_ms = 0;
  int64_t last_seen_ms = 0;  // set by the store
};

class WorkerRegistry {
 public:
  virtual ~WorkerRegistry() = default;

  // Records (or refreshes) a worker as seen now.
  virtual Status Heartbeat(const WorkerInfo& worker) = 0;
  // Workers seen within `seen_within_ms`, by id.
  virtual Result<std::vector<WorkerInfo>> ListWorkers(int64_t seen_within_ms) = 0;
  // A worker that stops cleanly leaves the registry.
  virtual Status RemoveWorker(const std::string& id) = 0;
};

}  // namespace vidproc::queue
