#pragma once

#include <nlohmann/json.hpp>

#include "queue/job_store.h"

namespace vidproc::queue {

// The video resource of the HTTP API (docs/API.md), without the URLs the server adds.
nlohmann::json ToApiJson(const Video& video);
// A worker of the registry, as `vidproc status` and GET /api/v1/queue list it.
nlohmann::json ToApiJson(const WorkerInfo& worker);

}  // namespace vidproc::queue
