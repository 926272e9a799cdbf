#include "core/config.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <functional>
#include <vector>

#include "core/log.h"
#include "core/units.h"

extern char** environ;

namespace vidproc {
namespace {

Status Invalid(const std::string& name, const std::string& value, const std::string& expected) {
  return Status(ErrorCode::kInvalidConfig,
                name + "='" + value + "' is not valid: expected " + expected + ".");
}

Status ParseBool(const std::string& name, const std::string& value, bool* out) {
  std::string v = value;
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  if (v == "true" || v == "1" || v == "yes" || v == "on") {
    *out = true;
  } else if (v == "false" || v == "0" || v == "no" || v == "off" || v.empty()) {
    *out = false;
  } else {
    return Invalid(name, value, "True or False");
  }
  return Status::Ok();
}

template <typename Int>
Status ParseInt(const std::string& name, const std::string& value, int64_t min, int64_t max,
                Int* out) {
  auto parsed = ParseInteger(value, min, max);
  if (!parsed.ok()) {
    return Invalid(name, value,
                   "a whole number from " + std::to_string(min) + " to " + std::to_string(max));
  }
  *out = static_cast<Int>(parsed.value());
  return Status::Ok();
}

Status OneOf(const std::string& name, const std::string& value,
             const std::vector<std::string>& allowed, std::string* out) {
  if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    return Invalid(name, value, "one of " + list);
  }
  *out = value;
  return Status::Ok();
}

struct Setting {
  const char* name;
  std::function<Status(Config*, const std::string&)> apply;
};

const std::vector<Setting>& Settings() {
  static const std::vector<Setting> settings = {
      {"MAX_VIDEO_PROCESSING_TASKS",
       [](Config* c, const std::string& v) {
         return ParseInt("MAX_VIDEO_PROCESSING_TASKS", v, 0, 64, &c->max_tasks);
       }},
      {"VIDEO_PROCESSING_TIMEOUT",
       [](Config* c, const std::string& v) {
         return ParseInt("VIDEO_PROCESSING_TIMEOUT", v, 1, 7 * 86400, &c->timeout_s);
       }},
      {"USE_SPACES",
       [](Config* c, const std::string& v) { return ParseBool("USE_SPACES", v, &c->use_spaces); }},
      {"SPACES_ACCESS_KEY",
       [](Config* c, const std::string& v) {
         c->spaces_access_key = v;
         return Status::Ok();
       }},
      {"SPACES_SECRET_KEY",
       [](Config* c, const std::string& v) {
         c->spaces_secret_key = v;
         return Status::Ok();
       }},
      {"SPACES_BUCKET_NAME",
       [](Config* c, const std::string& v) {
         c->spaces_bucket = v;
         return Status::Ok();
       }},
      {"SPACES_ENDPOINT_URL",
       [](Config* c, const std::string& v) {
         c->spaces_endpoint = v;
         return Status::Ok();
       }},
      {"SPACES_REGION",
       [](Config* c, const std::string& v) {
         c->spaces_region = v;
         return Status::Ok();
       }},
      {"SPACES_ADDRESSING",
       [](Config* c, const std::string& v) {
         return OneOf("SPACES_ADDRESSING", v, {"auto", "path", "virtual"}, &c->spaces_addressing);
       }},
      {"SPACES_PUBLIC_READ",
       [](Config* c, const std::string& v) {
         return ParseBool("SPACES_PUBLIC_READ", v, &c->spaces_public_read);
       }},
      {"VIDPROC_S3_PART_MB",
       [](Config* c, const std::string& v) {
         return ParseInt("VIDPROC_S3_PART_MB", v, 5, 5120, &c->s3_part_mb);
       }},
      {"VIDPROC_S3_PARTS_IN_FLIGHT",
       [](Config* c, const std::string& v) {
         return ParseInt("VIDPROC_S3_PARTS_IN_FLIGHT", v, 1, 32, &c->s3_parts_in_flight);
       }},
      {"VIDPROC_DATA_DIR",
       [](Config* c, const std::string& v) {
         if (v.empty()) return Invalid("VIDPROC_DATA_DIR", v, "a directory");
         c->data_dir = v;
         return Status::Ok();
       }},
      {"DATABASE_URL",
       [](Config* c, const std::string& v) {
         if (!v.empty() && v.rfind("sqlite://", 0) != 0 && v.rfind("postgres://", 0) != 0 &&
             v.rfind("postgresql://", 0) != 0) {
           return Invalid("DATABASE_URL", v, "sqlite://PATH or postgres://...");
         }
         c->database_url = v;
         return Status::Ok();
       }},
      {"KEEP_ORIGINAL",
       [](Config* c, const std::string& v) {
         return ParseBool("KEEP_ORIGINAL", v, &c->keep_original);
       }},
      {"LOG_FORMAT",
       [](Config* c, const std::string& v) {
         return OneOf("LOG_FORMAT", v, {"text", "json"}, &c->log_format);
       }},
      {"LOG_LEVEL",
       [](Config* c, const std::string& v) {
         return OneOf("LOG_LEVEL", v, {"debug", "info", "warning", "error"}, &c->log_level);
       }},
      {"VIDPROC_MAX_ATTEMPTS",
       [](Config* c, const std::string& v) {
         return ParseInt("VIDPROC_MAX_ATTEMPTS", v, 1, 100, &c->max_attempts);
       }},
      {"VIDPROC_TIMEOUT_RETRIES",
       [](Config* c, const std::string& v) {
         return ParseInt("VIDPROC_TIMEOUT_RETRIES", v, 0, 100, &c->timeout_retries);
       }},
      {"VIDPROC_RETRY_BACKOFF_SECONDS",
       [](Config* c, const std::string& v) {
         return ParseInt("VIDPROC_RETRY_BACKOFF_SECONDS", v, 0, 86400, &c->retry_backoff_s);
       }},
      {"VIDPROC_LEASE_SECONDS",
       [](Config* c, const std::string& v) {
         return ParseInt("VIDPROC_LEASE_SECONDS", v, 2, 3600, &c->lease_s);
       }},
      {"VIDPROC_SHUTDOWN_GRACE_SECONDS",
       [](Config* c, const std::string& v) {
         return ParseInt("VIDPROC_SHUTDOWN_GRACE_SECONDS", v, 0, 3600, &c->shutdown_grace_s);
       }},
      {"VIDPROC_KILL_GRACE_SECONDS",
       [](Config* c, const std::string& v) {
         return ParseInt("VIDPROC_KILL_GRACE_SECONDS", v, 0, 600, &c->kill_grace_s);
       }},
      {"VIDPROC_CHILD_MEMORY_MB",
       [](Config* c, const std::string& v) {
         return ParseInt("VIDPROC_CHILD_MEMORY_MB", v, 256, 1 << 20, &c->child_memory_mb);
       }},
      {"VIDPROC_PRESET",
       [](Config* c, const std::string& v) {
         return OneOf("VIDPROC_PRESET", v,
                      {"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                       "slower", "veryslow"},
                      &c->preset);
       }},
      {"VIDPROC_VIDEO_BITRATE",
       [](Config* c, const std::string& v) {
         if (!ParseBitrate(v).ok())
           return Invalid("VIDPROC_VIDEO_BITRATE", v, "a bitrate like 1500k");
         c->video_bitrate = v;
         return Status::Ok();
       }},
      {"VIDPROC_MAX_SIZE",
       [](Config* c, const std::string& v) {
         if (!ParseSize(v).ok()) return Invalid("VIDPROC_MAX_SIZE", v, "a size like 1280x720");
         c->max_size = v;
         return Status::Ok();
       }},
      {"VIDPROC_WORKER_ID",
       [](Config* c, const std::string& v) {
         c->worker_id = v;
         return Status::Ok();
       }},
      {"VIDPROC_LISTEN",
       [](Config* c, const std::string& v) {
         auto colon = v.rfind(':');
         if (colon == std::string::npos || colon == 0 ||
             !ParseInteger(v.substr(colon + 1), 0, 65535).ok()) {
           return Invalid("VIDPROC_LISTEN", v, "HOST:PORT, like 127.0.0.1:8080");
         }
         c->listen = v;
         return Status::Ok();
       }},
      {"VIDPROC_API_TOKEN",
       [](Config* c, const std::string& v) {
         if (!v.empty() && v.size() < 16) {
           return Invalid("VIDPROC_API_TOKEN", "****", "at least 16 characters");
         }
         c->api_token = v;
         return Status::Ok();
       }},
      {"MAX_UPLOAD_BYTES",
       [](Config* c, const std::string& v) {
         return ParseInt("MAX_UPLOAD_BYTES", v, 1, int64_t{1} << 50, &c->max_upload_bytes);
       }},
      {"VIDPROC_UPLOAD_EXPIRY_HOURS",
       [](Config* c, const std::string& v) {
         return ParseInt("VIDPROC_UPLOAD_EXPIRY_HOURS", v, 1, 24 * 365, &c->upload_expiry_h);
       }},
      {"VIDPROC_HTTP_THREADS",
       [](Config* c, const std::string& v) {
         return ParseInt("VIDPROC_HTTP_THREADS", v, 1, 64, &c->http_threads);
       }},
      {"VIDPROC_HTTP_IDLE_TIMEOUT_SECONDS",
       [](Config* c, const std::string& v) {
         return ParseInt("VIDPROC_HTTP_IDLE_TIMEOUT_SECONDS", v, 1, 3600, &c->http_idle_timeout_s);
       }},
      {"VIDPROC_HTTP_BODY_TIMEOUT_SECONDS",
       [](Config* c, const std::string& v) {
         return ParseInt("VIDPROC_HTTP_BODY_TIMEOUT_SECONDS", v, 1, 3600, &c->http_body_timeout_s);
       }},
      {"WEBHOOK_URL",
       [](Config* c, const std::string& v) {
         if (!v.empty() && v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0) {
           return Invalid("WEBHOOK_URL", v, "an http:// or https:// URL");
         }
         c->webhook_url = v;
         return Status::Ok();
       }},
      {"WEBHOOK_SECRET",
       [](Config* c, const std::string& v) {
         c->webhook_secret = v;
         return Status::Ok();
       }},
      {"VIDPROC_WEBHOOK_GIVE_UP_HOURS",
       [](Config* c, const std::string& v) {
         return ParseInt("VIDPROC_WEBHOOK_GIVE_UP_HOURS", v, 1, 24 * 365, &c->webhook_give_up_h);
       }},
  };
  return settings;
}

const Setting* FindSetting(const std::string& name) {
  for (const auto& s : Settings()) {
    if (name == s.name) return &s;
  }
  return nullptr;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::string Mask(const std::string& secret) {
  if (secret.empty()) return "";
  return secret.size() <= 4 ? "****" : secret.substr(0, 2) + "****";
}

}  // namespace

std::string Config::SqlitePath() const {
  std::string url = database_url.empty() ? "sqlite://" + data_dir + "/vidproc.db" : database_url;
  if (url.rfind("sqlite://", 0) != 0) return "";
  return url.substr(9);
}

nlohmann::json Config::ToJson() const {
  return {
      {"MAX_VIDEO_PROCESSING_TASKS", max_tasks},
      {"VIDEO_PROCESSING_TIMEOUT", timeout_s},
      {"USE_SPACES", use_spaces},
      {"SPACES_ACCESS_KEY", Mask(spaces_access_key)},
      {"SPACES_SECRET_KEY", Mask(spaces_secret_key)},
      {"SPACES_BUCKET_NAME", spaces_bucket},
      {"SPACES_ENDPOINT_URL", spaces_endpoint},
      {"SPACES_REGION", spaces_region},
      {"SPACES_ADDRESSING", spaces_addressing},
      {"SPACES_PUBLIC_READ", spaces_public_read},
      {"VIDPROC_S3_PART_MB", s3_part_mb},
      {"VIDPROC_S3_PARTS_IN_FLIGHT", s3_parts_in_flight},
      {"VIDPROC_DATA_DIR", data_dir},
      {"DATABASE_URL", SqlitePath().empty() ? "postgres://****" : "sqlite://" + SqlitePath()},
      {"KEEP_ORIGINAL", keep_original},
      {"LOG_FORMAT", log_format},
      {"LOG_LEVEL", log_level},
      {"VIDPROC_MAX_ATTEMPTS", max_attempts},
      {"VIDPROC_TIMEOUT_RETRIES", timeout_retries},
      {"VIDPROC_RETRY_BACKOFF_SECONDS", retry_backoff_s},
      {"VIDPROC_LEASE_SECONDS", lease_s},
      {"VIDPROC_SHUTDOWN_GRACE_SECONDS", shutdown_grace_s},
      {"VIDPROC_KILL_GRACE_SECONDS", kill_grace_s},
      {"VIDPROC_CHILD_MEMORY_MB", child_memory_mb},
      {"VIDPROC_PRESET", preset},
      {"VIDPROC_VIDEO_BITRATE", video_bitrate},
      {"VIDPROC_MAX_SIZE", max_size},
      {"VIDPROC_WORKER_ID", worker_id},
      {"VIDPROC_LISTEN", listen},
      {"VIDPROC_API_TOKEN", Mask(api_token)},
      {"MAX_UPLOAD_BYTES", max_upload_bytes},
      {"VIDPROC_UPLOAD_EXPIRY_HOURS", upload_expiry_h},
      {"VIDPROC_HTTP_THREADS", http_threads},
      {"VIDPROC_HTTP_IDLE_TIMEOUT_SECONDS", http_idle_timeout_s},
      {"VIDPROC_HTTP_BODY_TIMEOUT_SECONDS", http_body_timeout_s},
      {"WEBHOOK_URL", webhook_url},
      {"WEBHOOK_SECRET", Mask(webhook_secret)},
      {"VIDPROC_WEBHOOK_GIVE_UP_HOURS", webhook_give_up_h},
  };
}

Environment ProcessEnvironment() {
  Environment env;
  for (char** e = environ; e && *e; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return env;
}

Result<Environment> ReadDotEnv(const std::string& path) {
  Environment env;
  std::ifstream in(path);
  if (!in) return env;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::string t = Trim(line);
    if (t.empty() || t[0] == '#') continue;
    if (t.rfind("export ", 0) == 0) t = Trim(t.substr(7));
    auto eq = t.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status(ErrorCode::kInvalidConfig,
                    path + " line " + std::to_string(number) + " is not KEY=VALUE.");
    }
    std::string key = Trim(t.substr(0, eq));
    std::string value = Trim(t.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    } else if (auto hash = value.find(" #"); hash != std::string::npos) {
      value = Trim(value.substr(0, hash));  // an inline comment after an unquoted value
    }
    env[key] = value;
  }
  return env;
}

Result<Config> LoadConfig(const Environment& dotenv, const Environment& env,
                          const Environment& flags) {
  Environment merged = dotenv;
  for (const auto& [k, v] : env) merged[k] = v;
  for (const auto& [k, v] : flags) merged[k] = v;
  Config config;
  for (const auto& [name, value] : merged) {
    const Setting* setting = FindSetting(name);
    if (!setting) {
      // Other programs' variables are none of our business; a misspelt one of ours is.
      if (name.rfind("VIDPROC_", 0) == 0) {
        return Status(ErrorCode::kInvalidConfig,
                      "Unknown setting " + name + " (see `vidproc config --help`).");
      }
      continue;
    }
    RETURN_IF_ERROR(setting->apply(&config, value));
  }
  if (config.use_spaces) {
    for (const auto& [name, value] : {std::pair{"SPACES_ACCESS_KEY", config.spaces_access_key},
                                      std::pair{"SPACES_SECRET_KEY", config.spaces_secret_key},
                                      std::pair{"SPACES_BUCKET_NAME", config.spaces_bucket},
                                      std::pair{"SPACES_ENDPOINT_URL", config.spaces_endpoint}}) {
      if (value.empty()) {
        return Status(ErrorCode::kInvalidConfig,
                      std::string(name) + " must be set when USE_SPACES is True.");
      }
    }
  }
  if (config.use_spaces && config.spaces_endpoint.find("://") == std::string::npos) {
    return Status(ErrorCode::kInvalidConfig,
                  "SPACES_ENDPOINT_URL='" + config.spaces_endpoint +
                      "' needs a scheme, like https://nyc3.digitaloceanspaces.com.");
  }
  if (config.worker_id.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    config.worker_id = std::string(host) + ":" + std::to_string(getpid());
  }
  return config;
}

Result<Config> LoadConfigFromProcess(const Environment& flags) {
  ASSIGN_OR_RETURN(Environment dotenv, ReadDotEnv(".env"));
  return LoadConfig(dotenv, ProcessEnvironment(), flags);
}

}  // namespace vidproc
