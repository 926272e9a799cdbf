// The one place where configuration becomes components and their settings: modules receive
// settings structs and never read the configuration themselves (only main-level code wires).
#pragma once

#include <memory>
#include <string>

#include "core/config.h"
#include "queue/job_store.h"
#include "storage/blob_store.h"

namespace vidproc::worker {
struct WorkerSettings;
struct WebhookOptions;
}  // namespace vidproc::worker
namespace vidproc::storage {
struct S3Options;
}  // namespace vidproc::storage
namespace vidproc::http {
struct ApiOptions;
struct MediaLinks;
struct ServerOptions;
}  // namespace vidproc::http

namespace vidproc::cli {

// Loads the configuration (.env < environment < flags), applies its logging settings, and
// prints a clear error naming the variable on failure.
Result<Config> LoadAndApplyConfig(const Environment& flags, const std::string& env_file = "");
// kCreate: the database (and its directory) is made if missing, as a service does on its first
// start. kExistingOnly: a missing SQLite database is an error naming where it was looked for.
enum class StoreOpening { kCreate, kExistingOnly };
// kInvalidConfig naming where the SQLite database was looked for, if it is not there (always Ok
// for PostgreSQL).
Status CheckSqliteDatabaseExists(const Config& config);
Result<std::unique_ptr<queue::JobStore>> OpenJobStore(const Config& config,
                                                      StoreOpening opening = StoreOpening::kCreate);
storage::S3Options S3OptionsFrom(const Config& config);
Result<std::unique_ptr<storage::BlobStore>> OpenBlobStore(const Config& config);
// Where clients fetch media, for every rendering of a video (API, SSE, webhooks): the public
// object URLs (under SPACES_CDN_URL when set, else the bucket's URL) with USE_SPACES and
// SPACES_PUBLIC_READ, else the API's signed links on VIDPROC_PUBLIC_URL.
http::MediaLinks MediaLinksFrom(const Config& config);
// The worker slots of `vidproc worker` and `vidproc serve`, decided here only, from the final
// slot count: MAX_VIDEO_PROCESSING_TASKS, which `--workers`, `--max-tasks`, the environment and
// .env all set. The jobs' threads share `cores` (worker::ThreadsForJob, decided per claim); the
// CPU safety net counts all of them. `cores` is MachineCores(); a parameter for the tests.
worker::WorkerSettings WorkerSettingsFrom(const Config& config, unsigned cores,
                                          const std::string& transcoder_path);
worker::WebhookOptions WebhookOptionsFrom(const Config& config);
// `vidproc serve`'s HTTP side. ListenHost is VIDPROC_LISTEN's host as written ("localhost"),
// ServerOptionsFrom's host the address bound ("127.0.0.1").
http::ApiOptions ApiOptionsFrom(const Config& config);
http::ServerOptions ServerOptionsFrom(const Config& config);
std::string ListenHost(const Config& config);
// Raises the soft RLIMIT_NOFILE to the hard limit; the soft limit in force afterwards.
int64_t RaiseFileLimit();
// VIDPROC_MAX_CONNECTIONS when it is 0: what `file_limit` descriptors leave after the reserve
// for jobs (128 + 16 per slot), for uploads (a file or S3 connection each) and a floor of 16.
int DefaultMaxConnections(const Config& config, int64_t file_limit);
// The CPUs this process may use (at least 1): the affinity mask, capped by a cgroup CPU quota.
unsigned MachineCores();

// The path of this vidproc binary (to run `vidproc transcode` children).
std::string SelfPath();

}  // namespace vidproc::cli
