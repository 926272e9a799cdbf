// vidproc's configuration: built-in defaults, overridden by a `.env` file in the working
// directory, overridden by the real environment, overridden by command-line flags. Every value is
// validated at start-up: an unknown VIDPROC_* variable or a bad value is an error that names the
// variable, never a surprise in the middle of a job.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace vidproc {

struct Config {
  // The public contract (names shared with existing deployments).
  int max_tasks = 2;              // MAX_VIDEO_PROCESSING_TASKS: jobs processed at once
  int timeout_s = 600;            // VIDEO_PROCESSING_TIMEOUT: a job running longer is killed
  bool use_spaces = false;        // USE_SPACES: S3-compatible storage instead of local disk
  std::string spaces_access_key;  // SPACES_ACCESS_KEY
  std::string spaces_secret_key;  // SPACES_SECRET_KEY
  std::string spaces_bucket;      // SPACES_BUCKET_NAME
  std::string spaces_endpoint;    // SPACES_ENDPOINT_URL
  std::string spaces_region;      // SPACES_REGION: default from the endpoint (nyc3)
  std::string spaces_addressing = "auto";  // SPACES_ADDRESSING: auto | path | virtual
  bool spaces_public_read = false;         // SPACES_PUBLIC_READ: x-amz-acl public-read
  int s3_part_mb = 8;                      // VIDPROC_S3_PART_MB: multipart part size
  int s3_parts_in_flight = 2;              // VIDPROC_S3_PARTS_IN_FLIGHT: parallel part uploads

  // vidproc's own.
  std::string data_dir = "data";    // VIDPROC_DATA_DIR: database, local blobs, scratch
  std::string database_url;         // DATABASE_URL: default sqlite://<data_dir>/vidproc.db
  bool keep_original = false;       // KEEP_ORIGINAL: keep the upload next to the processed video
  std::string log_format = "text";  // LOG_FORMAT: text | json
  std::string log_level = "info";   // LOG_LEVEL: debug | info | warning | error
  int max_attempts = 3;             // VIDPROC_MAX_ATTEMPTS: tries for transient failures
  int timeout_retries = 0;          // VIDPROC_TIMEOUT_RETRIES: extra tries after a timeout
  int retry_backoff_s = 15;         // VIDPROC_RETRY_BACKOFF_SECONDS: first retry delay, doubling
  int lease_s = 30;           // VIDPROC_LEASE_SECONDS: a silent worker's job is reclaimed after
  int shutdown_grace_s = 30;  // VIDPROC_SHUTDOWN_GRACE_SECONDS: running jobs get this on stop
  int kill_grace_s = 5;       // VIDPROC_KILL_GRACE_SECONDS: TERM to KILL for a child
  int64_t child_memory_mb = 2048;       // VIDPROC_CHILD_MEMORY_MB: address-space limit of a child
  std::string preset = "veryfast";      // VIDPROC_PRESET: x264 preset
  std::string video_bitrate = "1500k";  // VIDPROC_VIDEO_BITRATE
  std::string max_size = "1280x720";    // VIDPROC_MAX_SIZE
  std::string worker_id;                // VIDPROC_WORKER_ID: default <hostname>:<pid>

  // The HTTP service (`vidproc serve`).
  std::string listen = "127.0.0.1:8080";  // VIDPROC_LISTEN: HOST:PORT (port 0: any free one)
  std::string api_token;  // VIDPROC_API_TOKEN: bearer token for /api/ (none: no auth)
  int64_t max_upload_bytes = int64_t{10} << 30;  // MAX_UPLOAD_BYTES: larger uploads get 413
  int upload_expiry_h = 24;  // VIDPROC_UPLOAD_EXPIRY_HOURS: unfinished uploads are removed after
  int http_threads = 2;      // VIDPROC_HTTP_THREADS: threads serving connections
  // VIDPROC_HTTP_IDLE_TIMEOUT_SECONDS: an idle keep-alive connection, or one that has not sent a
  // whole request header, is closed after this (slowloris).
  int http_idle_timeout_s = 30;
  // VIDPROC_HTTP_BODY_TIMEOUT_SECONDS: an upload that sends no byte for this long is dropped
  // (also the limit for a client that takes no byte of a response).
  int http_body_timeout_s = 60;
  std::string webhook_url;     // WEBHOOK_URL: ready/failed videos are POSTed here
  std::string webhook_secret;  // WEBHOOK_SECRET: signs deliveries (X-Vidproc-Signature)
  int webhook_give_up_h = 72;  // VIDPROC_WEBHOOK_GIVE_UP_HOURS: stop retrying a delivery after

  // The SQLite path when database_url is sqlite://PATH (empty otherwise).
  std::string SqlitePath() const;
  // The effective configuration, secrets masked, for `vidproc config` and start-up logs.
  nlohmann::json ToJson() const;
};

using Environment = std::map<std::string, std::string>;

// The process environment.
Environment ProcessEnvironment();
// Parses a .env file: KEY=VALUE lines, `export ` prefixes, # comments, single or double quotes.
// A missing file is an empty environment; a malformed line is kInvalidConfig naming the line.
Result<Environment> ReadDotEnv(const std::string& path);
// Builds the configuration: `dotenv` < `env` < `flags` (each maps variable names to values).
Result<Config> LoadConfig(const Environment& dotenv, const Environment& env,
                          const Environment& flags);
// The usual start-up: ./.env, the process environment, and `flags`.
Result<Config> LoadConfigFromProcess(const Environment& flags);

}  // namespace vidproc
