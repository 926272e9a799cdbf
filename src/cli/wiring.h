// The one place where configuration becomes components (only main-level code wires).
#pragma once

#include <memory>

#include "core/config.h"
#include "queue/job_store.h"
#include "storage/blob_store.h"

namespace vidproc::cli {

// Loads the configuration (.env < environment < flags), applies its logging settings, and
// prints a clear error naming the variable on failure.
Result<Config> LoadAndApplyConfig(const Environment& flags);
Result<std::unique_ptr<queue::JobStore>> OpenJobStore(const Config& config);
Result<std::unique_ptr<storage::BlobStore>> OpenBlobStore(const Config& config);
// The path of this vidproc binary (to run `vidproc transcode` children).
std::string SelfPath();

}  // namespace vidproc::cli
