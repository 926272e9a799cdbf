#include "cli/wiring.h"

#include <unistd.h>

#include <filesystem>

#include "core/clock.h"
#include "core/log.h"
#include "queue/sqlite_store.h"
#include "storage/local_store.h"

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
    return Status(
        ErrorCode::kInvalidConfig,
        "DATABASE_URL: PostgreSQL is not supported by this build yet; use sqlite://PATH.");
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  ASSIGN_OR_RETURN(auto store, queue::SqliteStore::Open(path, SystemClock::Default()));
  return std::unique_ptr<queue::JobStore>(std::move(store));
}

Result<std::unique_ptr<storage::BlobStore>> OpenBlobStore(const Config& config) {
  if (config.use_spaces) {
    return Status(ErrorCode::kInvalidConfig,
                  "USE_SPACES=True: S3-compatible storage is not supported by this build yet.");
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
