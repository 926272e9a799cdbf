#include "cli/wiring.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>

#include "core/clock.h"
#include "core/log.h"
#include "core/text.h"
#include "http/api.h"
#include "http/server.h"
#include "queue/postgres_store.h"
#include "queue/sqlite_store.h"
#include "storage/local_store.h"
#include "storage/s3_store.h"
#include "worker/job_runner.h"
#include "worker/memory_budget.h"
#include "worker/thread_budget.h"
#include "worker/webhook_dispatcher.h"

namespace vidproc::cli {

Result<Config> LoadAndApplyConfig(const Environment& flags, const std::string& env_file) {
  ASSIGN_OR_RETURN(Config config, LoadConfigFromProcess(flags, env_file));
  LogLevel level;
  if (ParseLogLevel(config.log_level, &level)) SetLogLevel(level);
  SetLogFormat(config.log_format == "json" ? LogFormat::kJson : LogFormat::kText);
  for (const std::string& note : config.startup_notes) LogWarning(note);
  return config;
}

Status CheckSqliteDatabaseExists(const Config& config) {
  const std::string path = config.SqlitePath();
  std::error_code ec;
  if (path.empty() || std::filesystem::exists(path, ec)) return Status::Ok();
  // Run from the wrong directory, a reader would otherwise create an empty queue and report it
  // as the truth.
  return Status(ErrorCode::kInvalidConfig,
                "No job database at " + std::filesystem::absolute(path, ec).string() +
                    " (data directory " + config.data_dir + ", env file " +
                    (config.env_file.empty() ? "none" : config.env_file) +
                    "). Run this where the service runs, or give --data-dir DIR or "
                    "--env-file FILE.");
}

Result<std::unique_ptr<queue::JobStore>> OpenJobStore(const Config& config, StoreOpening opening) {
  std::string path = config.SqlitePath();
  if (path.empty()) {
    ASSIGN_OR_RETURN(auto store,
                     queue::PostgresStore::Open(config.database_url, SystemClock::Default()));
    return std::unique_ptr<queue::JobStore>(std::move(store));
  }
  if (opening == StoreOpening::kExistingOnly) RETURN_IF_ERROR(CheckSqliteDatabaseExists(config));
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  ASSIGN_OR_RETURN(auto store, queue::SqliteStore::Open(path, SystemClock::Default()));
  return std::unique_ptr<queue::JobStore>(std::move(store));
}

storage::S3Options S3OptionsFrom(const Config& config) {
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
  return o;
}

Result<std::unique_ptr<storage::BlobStore>> OpenBlobStore(const Config& config) {
  if (config.use_spaces) {
    ASSIGN_OR_RETURN(auto s3,
                     storage::S3Store::Create(S3OptionsFrom(config), SystemClock::Default()));
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

namespace {

// "a, b,,c" -> {"a", "b", "c"}.
std::vector<std::string> CommaList(const std::string& text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(start, end - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) items.push_back(item);
    start = end + 1;
  }
  return items;
}

}  // namespace

worker::WorkerSettings WorkerSettingsFrom(const Config& config, unsigned cores,
                                          const std::string& transcoder_path) {
  worker::WorkerSettings s;
  s.worker_id = config.worker_id;
  s.transcoder_path = transcoder_path;
  s.scratch_dir = config.data_dir + "/scratch";
  s.max_tasks = config.max_tasks;
  s.machine_cores = static_cast<int>(std::max(1u, cores));
  s.memory_budget_mb = config.memory_budget_mb > 0
                           ? static_cast<double>(config.memory_budget_mb)
                           : worker::DefaultMemoryBudgetMb(worker::AvailableMemoryBytes());
  s.timeout_ms = int64_t{config.timeout_s} * 1000;
  s.kill_grace_ms = int64_t{config.kill_grace_s} * 1000;
  s.lease_ms = int64_t{config.lease_s} * 1000;
  s.max_attempts = config.max_attempts;
  s.timeout_retries = config.timeout_retries;
  s.retry_backoff_ms = int64_t{config.retry_backoff_s} * 1000;
  s.keep_original = config.keep_original;
  s.preset = config.preset;
  s.video_bitrate = config.video_bitrate;
  s.max_size = config.max_size;
  s.max_fps = config.max_fps;
  s.limits.address_space_bytes = config.child_memory_mb << 20;
  s.limits.file_size_bytes = int64_t{64} << 30;
  s.log_level = config.log_level;
  s.log_format = config.log_format;
  s.sandbox_skip = config.sandbox_skip;
  const std::vector<std::string> outputs = CommaList(config.outputs);
  s.mp4 = std::find(outputs.begin(), outputs.end(), "mp4") != outputs.end();
  s.hls = std::find(outputs.begin(), outputs.end(), "hls") != outputs.end();
  s.renditions = config.renditions;
  s.import.max_bytes = config.max_upload_bytes;
  s.import.allowed_hosts = CommaList(config.import_allowed_hosts);
  s.import.source_keys = config.use_spaces;
  return s;
}

http::MediaLinks MediaLinksFrom(const Config& config) {
  http::MediaLinks links;
  links.public_url = config.public_url;
  if (!config.use_spaces || !config.spaces_public_read) return links;
  if (!config.spaces_cdn_url.empty()) {
    links.public_objects_url = config.spaces_cdn_url;
    return links;
  }
  // A bad endpoint stops OpenBlobStore at start-up; until then the API's own links are right.
  auto bucket_url = storage::PublicBucketUrl(S3OptionsFrom(config));
  if (bucket_url.ok()) links.public_objects_url = bucket_url.value();
  return links;
}

worker::WebhookOptions WebhookOptionsFrom(const Config& config) {
  worker::WebhookOptions o;
  o.url = config.webhook_url;
  o.secret = config.webhook_secret;
  o.give_up_ms = int64_t{config.webhook_give_up_h} * 3'600'000;
  // The API's own renderer, with the API's signing key and public URL, so that a body carries
  // the video exactly as GET /api/v1/videos/{id} renders it.
  auto auth = std::make_shared<const http::Auth>(config.api_token, config.url_signing_secret,
                                                 config.signed_url_max_s);
  const http::MediaLinks links = MediaLinksFrom(config);
  o.render = [auth, links](nlohmann::json record, int64_t now_s) {
    return http::RenderVideo(std::move(record), *auth, links, now_s);
  };
  o.absolute_links = !links.public_url.empty() || !links.public_objects_url.empty();
  return o;
}

http::ApiOptions ApiOptionsFrom(const Config& config) {
  http::ApiOptions o;
  o.api_token = config.api_token;
  o.url_signing_secret = config.url_signing_secret;
  o.signed_url_max_s = config.signed_url_max_s;
  o.uploads.max_upload_bytes = config.max_upload_bytes;
  o.uploads.expiry_ms = int64_t{config.upload_expiry_h} * 3600 * 1000;
  o.admission.max_uploads = config.max_uploads;
  o.admission.max_uploads_per_client = config.max_uploads_per_client;
  o.admission.max_queued_videos = config.max_queued_videos;
  o.admission.max_reserved_upload_bytes = config.max_reserved_upload_bytes;
  o.admission.disk_reserve_bytes = config.disk_reserve_mb << 20;
  o.admission.disk_path = config.data_dir;
  o.allowed_hosts = CommaList(config.allowed_hosts);
  for (const std::string& origin : CommaList(config.cors_origins)) {
    // Checked by the configuration already (ParseOrigin or "*"): this is the stored form.
    o.cors_origins.push_back(origin == "*" ? origin : ParseOrigin(origin).value_or(origin));
  }
  o.direct_upload_max_ms = int64_t{config.direct_upload_max_s} * 1000;
  o.source_keys = config.use_spaces;
  // A specific address to listen on is a name browsers reach this server by.
  const std::string listen_host = ListenHost(config);
  if (listen_host != "0.0.0.0" && listen_host != "::" && listen_host != "[::]") {
    o.allowed_hosts.push_back(listen_host);
  }
  const http::MediaLinks links = MediaLinksFrom(config);
  o.public_url = links.public_url;
  o.public_objects_url = links.public_objects_url;
  return o;
}

int64_t RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  constexpr int64_t kCap = int64_t{1} << 30;  // RLIM_INFINITY, or absurdly high
  return limit.rlim_cur == RLIM_INFINITY
             ? kCap
             : std::min<int64_t>(static_cast<int64_t>(limit.rlim_cur), kCap);
}

int DefaultMaxConnections(const Config& config, int64_t file_limit) {
  const int64_t reserve = 128 + int64_t{16} * config.max_tasks + int64_t{2} * config.max_uploads;
  return static_cast<int>(std::clamp<int64_t>(file_limit - reserve, 16, 1'000'000));
}

std::string ListenHost(const Config& config) {
  return config.listen.substr(0, config.listen.rfind(':'));
}

http::ServerOptions ServerOptionsFrom(const Config& config) {
  // VIDPROC_LISTEN was checked to be HOST:PORT when the configuration was loaded.
  const std::string host = ListenHost(config);
  http::ServerOptions o;
  o.host = host == "localhost" ? "127.0.0.1" : host;
  o.port = std::stoi(config.listen.substr(config.listen.rfind(':') + 1));
  o.io_threads = config.http_threads;
  o.header_timeout_ms = int64_t{config.http_idle_timeout_s} * 1000;
  o.body_timeout_ms = int64_t{config.http_body_timeout_s} * 1000;
  o.write_timeout_ms = int64_t{config.http_body_timeout_s} * 1000;
  o.max_connections = config.max_connections;  // 0: serve decides from the descriptor limit
  o.max_connections_per_client = config.max_connections_per_client;
  o.min_body_bytes_per_s = config.min_upload_rate;
  o.body_rate_window_ms = int64_t{config.upload_rate_window_s} * 1000;
  return o;
}

unsigned MachineCores() { return static_cast<unsigned>(worker::AvailableCores()); }

std::string SelfPath() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "vidproc";
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace vidproc::cli
