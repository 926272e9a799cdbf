#include "cli/wiring.h"

#include <unistd.h>

#include <filesystem>

#include "core/clock.h"
#include "core/log.h"
#include "queue/postgres_store.h"
#include "queue/sqlite_store.h"
#include "storage/local_store.h"
#include "storage/s3_store.h"

namespace vidproc::cli {

Result<Config> LoadAndApplyConfig(const Environment& flags) {
  ASSIGN_OR_RETURN(Config config, LoadConfigFromProcess(flags));
  LogLevel level;
  if (ParseLogLevel(config.log_level, &level)) SetLogLevel(level);
  SetLogFormat(config.log_format == "json" ? LogFormat::kJson : LogFormat::kText);
  return config;
}

Result<std::unique_ptr<queue::JobStore>> OpenJobStore(const Config& config) {
  std::string path = config.SqlitePath();
  if (path.empty()) {
    ASSIGN_OR_RETURN(auto store,
                     queue::PostgresStore::Open(config.database_url, SystemClock::Default()));
    return std::unique_ptr<queue::JobStore>(std::move(store));
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  ASSIGN_OR_RETURN(auto store, queue::SqliteStore::Open(path, SystemClock::Default()));
  return std::unique_ptr<queue::JobStore>(std::move(store));
}

Result<std::unique_ptr<storage::BlobStore>> OpenBlobStore(const Config& config) {
  if (config.use_spaces) {
    storage::S3Options o;
    o.endpoint = config.spaces_endpoint;
    o.bucket = config.spaces_bucket;
    o.access_key = config.spaces_access_key;
    o.secret_key = config.spaces_secret_key;
    o.region = config.spaces_region;
    o.addressing = config.spaces_addressing;
    o.public_read = config.spaces_public_read;
    o.part_size = int64_t{config.s3_part_mb} << 20;
    o.multipart_threshold = 2 * o.part_size;
    o.parts_in_flight = config.s3_parts_in_flight;
    ASSIGN_OR_RETURN(auto s3, storage::S3Store::Create(o, SystemClock::Default()));
    // A wrong key or a missing bucket is a start-up error, not a failure of every job.
    Status reachable = s3->CheckBucket();
    if (reachable.code() == ErrorCode::kStorageAuthFailed ||
        reachable.code() == ErrorCode::kNotFound) {
      return reachable;
    }
    if (!reachable.ok()) LogWarning("storage not reachable yet", {{"reason", reachable.message()}});
    return std::unique_ptr<storage::BlobStore>(std::move(s3));
  }
  ASSIGN_OR_RETURN(auto store, storage::LocalStore::Open(config.data_dir + "/storage"));
  return std::unique_ptr<storage::BlobStore>(std::move(store));
}

std::string SelfPath() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "vidproc";
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace vidproc::cli
