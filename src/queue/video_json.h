#pragma once

#include <nlohmann/json.hpp>

#include "queue/job_store.h"

namespace vidproc::queue {

// The video resource of the HTTP API (../shared/API.md), without the URLs the server adds.
nlohmann::json ToApiJson(const Video& video);

}  // namespace vidproc::queue
