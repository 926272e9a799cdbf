// vidproc's configuration: built-in defaults, overridden by a `.env` file in the working
// directory, overridden by the real environment, overridden by command-line flags. Every value is
// validated at start-up: an unknown VIDPROC_* variable or a bad value is an error that names the
// variable, never a surprise in the middle of a job.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace vidproc {

// Each field is one setting of the table in config.cc, which holds its variable name, parser and
// range, default, whether it is a secret, and its documentation; parsing, `vidproc config`, its
// --help and the settings table of docs/CONFIGURATION.md all come from that table.
struct Config {
  Config();  // every setting at its default

  // The public contract (names shared with existing deployments).
  int max_tasks;                  // MAX_VIDEO_PROCESSING_TASKS (--workers, --max-tasks)
  int timeout_s;                  // VIDEO_PROCESSING_TIMEOUT
  bool use_spaces;                // USE_SPACES
  std::string spaces_access_key;  // SPACES_ACCESS_KEY
  std::string spaces_secret_key;  // SPACES_SECRET_KEY
  std::string spaces_bucket;      // SPACES_BUCKET_NAME
  std::string spaces_endpoint;    // SPACES_ENDPOINT_URL
  std::string spaces_region;      // SPACES_REGION
  std::string spaces_addressing;  // SPACES_ADDRESSING
  bool spaces_public_read;        // SPACES_PUBLIC_READ
  std::string spaces_cdn_url;     // SPACES_CDN_URL
  int s3_part_mb;                 // VIDPROC_S3_PART_MB
  int s3_parts_in_flight;         // VIDPROC_S3_PARTS_IN_FLIGHT

  // vidproc's own.
  std::string data_dir;              // VIDPROC_DATA_DIR
  std::string database_url;          // VIDPROC_DATABASE_URL
  bool keep_original;                // KEEP_ORIGINAL
  std::string log_format;            // LOG_FORMAT
  std::string log_level;             // LOG_LEVEL
  int max_attempts;                  // VIDPROC_MAX_ATTEMPTS
  int timeout_retries;               // VIDPROC_TIMEOUT_RETRIES
  int retry_backoff_s;               // VIDPROC_RETRY_BACKOFF_SECONDS
  int lease_s;                       // VIDPROC_LEASE_SECONDS
  int shutdown_grace_s;              // VIDPROC_SHUTDOWN_GRACE_SECONDS
  int kill_grace_s;                  // VIDPROC_KILL_GRACE_SECONDS
  int64_t child_memory_mb;           // VIDPROC_CHILD_MEMORY_MB
  int64_t memory_budget_mb = 0;      // VIDPROC_MEMORY_BUDGET_MB (0: from the machine)
  std::string sandbox_skip;          // VIDPROC_SANDBOX_SKIP
  std::string outputs = "mp4,hls";   // VIDPROC_OUTPUTS
  std::string renditions;            // VIDPROC_RENDITIONS
  std::string preset;                // VIDPROC_PRESET
  std::string video_bitrate;         // VIDPROC_VIDEO_BITRATE
  std::string max_size;              // VIDPROC_MAX_SIZE
  int max_fps = 60;                  // VIDPROC_MAX_FPS
  std::string worker_id;             // VIDPROC_WORKER_ID
  std::string import_allowed_hosts;  // VIDPROC_IMPORT_ALLOWED_HOSTS

  // The HTTP service (`vidproc serve`).
  std::string listen;              // VIDPROC_LISTEN
  std::string api_token;           // VIDPROC_API_TOKEN
  std::string url_signing_secret;  // VIDPROC_URL_SIGNING_SECRET
  int64_t signed_url_max_s;        // VIDPROC_SIGNED_URL_MAX_SECONDS
  int64_t max_upload_bytes;        // MAX_UPLOAD_BYTES
  int upload_expiry_h;             // VIDPROC_UPLOAD_EXPIRY_HOURS
  int http_threads;                // VIDPROC_HTTP_THREADS
  int http_idle_timeout_s;         // VIDPROC_HTTP_IDLE_TIMEOUT_SECONDS
  int http_body_timeout_s;         // VIDPROC_HTTP_BODY_TIMEOUT_SECONDS
  std::string public_url;          // VIDPROC_PUBLIC_URL
  std::string webhook_url;         // WEBHOOK_URL
  std::string webhook_secret;      // WEBHOOK_SECRET
  int webhook_give_up_h;           // VIDPROC_WEBHOOK_GIVE_UP_HOURS

  // The HTTP service's limits and browser checks.
  std::string allowed_hosts;          // VIDPROC_ALLOWED_HOSTS
  std::string cors_origins;           // VIDPROC_CORS_ORIGINS
  int direct_upload_max_s;            // VIDPROC_DIRECT_UPLOAD_MAX_SECONDS
  int max_connections;                // VIDPROC_MAX_CONNECTIONS (0: from RLIMIT_NOFILE)
  int max_connections_per_client;     // VIDPROC_MAX_CONNECTIONS_PER_CLIENT
  int max_uploads;                    // VIDPROC_MAX_UPLOADS
  int max_uploads_per_client;         // VIDPROC_MAX_UPLOADS_PER_CLIENT
  int64_t min_upload_rate;            // VIDPROC_MIN_UPLOAD_RATE (bytes/s)
  int upload_rate_window_s;           // VIDPROC_UPLOAD_RATE_WINDOW_SECONDS
  int64_t max_queued_videos;          // VIDPROC_MAX_QUEUED_VIDEOS
  int64_t max_reserved_upload_bytes;  // VIDPROC_MAX_RESERVED_UPLOAD_BYTES
  int64_t disk_reserve_mb;            // VIDPROC_DISK_RESERVE_MB

  // Not settings. The env file read (empty: none), and what LoadConfig noticed about the
  // environment that an operator should hear of (a name that looks like a mistyped setting, a web
  // framework's DATABASE_URL), logged once each as a warning at start-up (LoadAndApplyConfig).
  std::string env_file;
  std::vector<std::string> startup_notes;

  // The SQLite path when database_url is sqlite:///PATH (relative) or sqlite:////PATH
  // (absolute), or unset (the data directory's vidproc.db); empty for PostgreSQL.
  std::string SqlitePath() const;
  // The effective configuration, secrets masked, for `vidproc config` and start-up logs.
  nlohmann::json ToJson() const;
};

// Every setting for people, from the same table: `vidproc config --help` (plain text) and the
// settings tables of docs/CONFIGURATION.md (Markdown, between its marker comments).
std::string SettingsHelp();
// An env file listing every setting, commented out with its default and meaning, except those
// in `values`, which are set: the package's /etc/vidproc/vidproc.env.
std::string SettingsEnvFile(const std::map<std::string, std::string>& values);
std::string SettingsMarkdown();
// The default of setting `name` as written in the help ("2", "data"); empty for an unknown name.
std::string SettingDefaultText(const std::string& name);

using Environment = std::map<std::string, std::string>;

// The process environment.
Environment ProcessEnvironment();
// Parses a .env file: KEY=VALUE lines, `export ` prefixes, # comments, single or double quotes.
// A missing file is an empty environment; a malformed line is kInvalidConfig naming the line.
Result<Environment> ReadDotEnv(const std::string& path);
// Builds the configuration: `dotenv` < `env` < `flags` (each maps variable names to values).
Result<Config> LoadConfig(const Environment& dotenv, const Environment& env,
                          const Environment& flags);
// The env file of an installed package (the service's EnvironmentFile): read by every command
// run elsewhere, so `vidproc status` in a home directory sees what the service sees.
inline constexpr char kPackagedEnvFile[] = "/etc/vidproc/vidproc.env";

// The env file to read: `chosen` (--env-file) if given, which must exist; else ./.env if it
// exists; else kPackagedEnvFile if it exists; else none (empty).
Result<std::string> FindEnvFile(const std::string& chosen);

// The usual start-up: the env file (FindEnvFile), the process environment, and `flags`.
Result<Config> LoadConfigFromProcess(const Environment& flags, const std::string& env_file = "");

}  // namespace vidproc
