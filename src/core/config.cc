#include "core/config.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string_view>
#include <vector>

#include "core/ids.h"
#include "core/log.h"
#include "core/redact.h"
#include "core/text.h"
#include "core/units.h"

extern char** environ;

namespace vidproc {
namespace {

Status Invalid(const std::string& name, const std::string& value, const std::string& expected) {
  // A URL in a bad value may still carry a password: the message is logged and printed.
  return Status(ErrorCode::kInvalidConfig, name + "='" + MaskUrlCredentials(value) +
                                               "' is not valid: expected " + expected + ".");
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

enum class Section { kContract, kOwn, kHttp, kWebhooks };

struct SectionInfo {
  Section section;
  const char* title;
};
constexpr SectionInfo kSections[] = {
    {Section::kContract, "The public contract"},
    {Section::kOwn, "vidproc's own"},
    {Section::kHttp, "The HTTP service (`vidproc serve`)"},
    {Section::kWebhooks, "Webhooks"},
};

// Nothing of a secret shows: not its first characters, not its length.
std::string Mask(const std::string& secret) { return MaskSecret(secret); }

// One setting, everything about it in one row: parsing, default, display and documentation come
// from here only.
struct Setting {
  const char* name = "";
  Section section = Section::kOwn;
  std::string values;        // what the parser accepts, for people
  std::string default_text;  // the default, for people
  const char* doc = "";
  bool secret = false;  // masked by ToJson
  std::function<Status(Config*, const std::string&)> parse;
  std::function<void(Config*)> set_default;
  std::function<nlohmann::json(const Config&)> show;

  Setting In(Section s) && {
    section = s;
    return std::move(*this);
  }
  Setting Doc(const char* text) && {
    doc = text;
    return std::move(*this);
  }
  Setting DefaultText(std::string text) && {
    default_text = std::move(text);
    return std::move(*this);
  }
  Setting Secret() && {
    secret = true;
    show = [previous = std::move(show)](const Config& c) {
      return nlohmann::json(Mask(previous(c).get<std::string>()));
    };
    return std::move(*this);
  }
  // For a value that is secret only in part (a database URL's password).
  Setting ShownAs(std::function<nlohmann::json(const Config&)> shown) && {
    secret = true;
    show = std::move(shown);
    return std::move(*this);
  }
};

template <typename Int>
Setting Integer(const char* name, Int Config::*field, Int fallback, int64_t min, int64_t max) {
  Setting s;
  s.name = name;
  s.values = std::to_string(min) + ".." + std::to_string(max);
  s.default_text = std::to_string(fallback);
  s.parse = [=](Config* c, const std::string& v) {
    return ParseInt(name, v, min, max, &(c->*field));
  };
  s.set_default = [=](Config* c) { c->*field = fallback; };
  s.show = [=](const Config& c) { return nlohmann::json(c.*field); };
  return s;
}

Setting Boolean(const char* name, bool Config::*field, bool fallback) {
  Setting s;
  s.name = name;
  s.values = "True, False";
  s.default_text = fallback ? "True" : "False";
  s.parse = [=](Config* c, const std::string& v) { return ParseBool(name, v, &(c->*field)); };
  s.set_default = [=](Config* c) { c->*field = fallback; };
  s.show = [=](const Config& c) { return nlohmann::json(c.*field); };
  return s;
}

Setting Choice(const char* name, std::string Config::*field, const char* fallback,
               std::vector<std::string> allowed) {
  Setting s;
  s.name = name;
  for (const auto& a : allowed) s.values += (s.values.empty() ? "" : ", ") + a;
  s.default_text = fallback;
  s.parse = [=](Config* c, const std::string& v) { return OneOf(name, v, allowed, &(c->*field)); };
  s.set_default = [=](Config* c) { c->*field = fallback; };
  s.show = [=](const Config& c) { return nlohmann::json(c.*field); };
  return s;
}

// A value that is checked by `check` (which names the variable on failure), or any text.
using Check = std::function<Status(const char* name, const std::string& value)>;

Setting Text(const char* name, std::string Config::*field, const char* fallback, std::string values,
             Check check = nullptr) {
  Setting s;
  s.name = name;
  s.values = std::move(values);
  s.default_text = fallback;
  s.parse = [=](Config* c, const std::string& v) {
    if (check) RETURN_IF_ERROR(check(name, v));
    c->*field = v;
    return Status::Ok();
  };
  s.set_default = [=](Config* c) { c->*field = fallback; };
  s.show = [=](const Config& c) { return nlohmann::json(c.*field); };
  return s;
}

bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

Status NotEmptyDirectory(const char* name, const std::string& v) {
  return v.empty() ? Invalid(name, v, "a directory") : Status::Ok();
}

// SQLite URLs are read as dj-database-url reads them (a Django `.env` and vidproc's may hold the
// same line): `sqlite:///` then the path, so `sqlite:///db.sqlite3` is relative to the working
// directory and `sqlite:////var/lib/x.db` absolute.
constexpr std::string_view kSqliteScheme = "sqlite:///";

Status DatabaseUrl(const char* name, const std::string& v) {
  if (StartsWith(v, "sqlite://")) {
    if (!StartsWith(v, kSqliteScheme.data()) || v.size() == kSqliteScheme.size()) {
      return Invalid(name, v,
                     "sqlite:///RELATIVE/PATH or sqlite:////ABSOLUTE/PATH (as dj-database-url)");
    }
    return Status::Ok();
  }
  if (!v.empty() && !StartsWith(v, "postgres://") && !StartsWith(v, "postgresql://")) {
    return Invalid(name, v, "sqlite:///PATH or postgres://...");
  }
  return Status::Ok();
}

Status Bitrate(const char* name, const std::string& v) {
  return ParseBitrate(v).ok() ? Status::Ok() : Invalid(name, v, "a bitrate like 1500k");
}

Status PictureSize(const char* name, const std::string& v) {
  return ParseSize(v).ok() ? Status::Ok() : Invalid(name, v, "a size like 1280x720");
}

Status HostPort(const char* name, const std::string& v) {
  auto colon = v.rfind(':');
  if (colon == std::string::npos || colon == 0 ||
      !ParseInteger(v.substr(colon + 1), 0, 65535).ok()) {
    return Invalid(name, v, "HOST:PORT, like 127.0.0.1:8080");
  }
  return Status::Ok();
}

Status Token(const char* name, const std::string& v) {
  // The value is a secret: the message shows it masked.
  if (!v.empty() && v.size() < 16) return Invalid(name, "****", "at least 16 characters");
  return Status::Ok();
}

Status HttpUrl(const char* name, const std::string& v) {
  if (!v.empty() && !StartsWith(v, "http://") && !StartsWith(v, "https://")) {
    return Invalid(name, v, "an http:// or https:// URL");
  }
  return Status::Ok();
}

// A base that links are made of by appending a path: an absolute http(s) URL with a host, an
// optional path prefix, and no query, fragment, credentials or spaces.
Status LinkBase(const char* name, const std::string& v, const char* example) {
  if (v.empty()) return Status::Ok();
  size_t scheme_end = v.find("://");
  if ((!StartsWith(v, "http://") && !StartsWith(v, "https://")) ||
      v.find_first_of("?#@ \t\r\n") != std::string::npos || scheme_end + 3 >= v.size() ||
      v[scheme_end + 3] == '/') {
    return Invalid(
        name, v,
        std::string("an http:// or https:// URL with no query, fragment or user, like ") + example);
  }
  return Status::Ok();
}

// The origin clients reach vidproc by, with an optional path prefix (vidproc mounted under a
// sub-path of the platform's site): links are this plus the API's path.
Status PublicUrl(const char* name, const std::string& v) {
  return LinkBase(name, v, "https://example.com/video");
}

// A CDN in front of the bucket (DigitalOcean's BUCKET.REGION.cdn.digitaloceanspaces.com, or a
// custom domain, with a path prefix if it maps one): media links are this plus the object key.
Status CdnUrl(const char* name, const std::string& v) {
  return LinkBase(name, v, "https://BUCKET.REGION.cdn.digitaloceanspaces.com");
}

// A comma list of web origins (ParseOrigin), or "*".
Status Origins(const char* name, const std::string& v) {
  size_t start = 0;
  while (start <= v.size() && !v.empty()) {
    size_t end = std::min(v.find(',', start), v.size());
    std::string origin = v.substr(start, end - start);
    while (!origin.empty() && origin.front() == ' ') origin.erase(0, 1);
    while (!origin.empty() && origin.back() == ' ') origin.pop_back();
    if (!origin.empty() && origin != "*" && !ParseOrigin(origin)) {
      return Invalid(name, v, "a comma list of origins (https://app.example.com) or *");
    }
    start = end + 1;
  }
  return Status::Ok();
}

// A comma list of URL hosts: names, IPv4 literals or bracketed IPv6 literals, no ports or paths.
Status HostList(const char* name, const std::string& v) {
  size_t start = 0;
  while (start <= v.size() && !v.empty()) {
    const size_t end = std::min(v.find(',', start), v.size());
    std::string host = v.substr(start, end - start);
    start = end + 1;
    while (!host.empty() && host.front() == ' ') host.erase(0, 1);
    while (!host.empty() && host.back() == ' ') host.pop_back();
    if (host.empty()) continue;  // "a,,b" and a trailing comma are harmless
    const bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
    const std::string bare = bracketed ? host.substr(1, host.size() - 2) : host;
    const bool fits = std::all_of(bare.begin(), bare.end(), [&](char c) {
      if (bracketed) return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
      return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
             c == ':';
    });
    if (bare.empty() || !fits) {
      return Invalid(name, v, "host names or addresses, comma-separated (no ports or paths)");
    }
  }
  return Status::Ok();
}

// A comma list of words, each one of `allowed` ("" is an empty list).
Status WordList(const char* name, const std::string& v,
                std::initializer_list<std::string_view> allowed, const std::string& expected) {
  size_t start = 0;
  while (start <= v.size() && !v.empty()) {
    size_t end = std::min(v.find(',', start), v.size());
    const std::string_view word = std::string_view(v).substr(start, end - start);
    if (std::find(allowed.begin(), allowed.end(), word) == allowed.end()) {
      return Invalid(name, v, expected);
    }
    start = end + 1;
  }
  return Status::Ok();
}

Status SandboxLayers(const char* name, const std::string& v) {
  return WordList(name, v, {"network", "files", "syscalls"},
                  "a comma list of network, files, syscalls");
}

Status RenditionList(const char* name, const std::string& v) {
  size_t start = 0;
  while (start <= v.size() && !v.empty()) {
    const size_t end = std::min(v.find(',', start), v.size());
    const std::string part = v.substr(start, end - start);
    char* stop = nullptr;
    const long n = std::strtol(part.c_str(), &stop, 10);
    if (part.empty() || *stop != '\0' || n < 64 || n > 4320 || n % 2 != 0) {
      return Invalid(name, v, "a comma list of even short sides from 64 to 4320, like 360");
    }
    start = end + 1;
  }
  return Status::Ok();
}

Status OutputList(const char* name, const std::string& v) {
  if (v.empty()) return Invalid(name, v, "mp4, hls or mp4,hls");
  return WordList(name, v, {"mp4", "hls"}, "mp4, hls or mp4,hls");
}

const std::vector<Setting>& Settings() {
  using S = Section;
  static const std::vector<Setting> settings = [] {
    std::vector<Setting> t;
    // The public contract.
    t.push_back(
        Integer("MAX_VIDEO_PROCESSING_TASKS", &Config::max_tasks, 2, 0, 64)
            .In(S::kContract)
            .Doc("jobs processed at once: the worker slots of `vidproc worker` and `vidproc serve` "
                 "(`--workers`, also spelt `--max-tasks`); a job gets every core when it starts "
                 "alone, an equal share (at least 2) when others run; 0 makes `serve` an API-only "
                 "node"));
    t.push_back(Integer("VIDEO_PROCESSING_TIMEOUT", &Config::timeout_s, 600, 1, 7 * 86400)
                    .In(S::kContract)
                    .Doc("seconds a job may take from its start: the download of the original and "
                         "the transcode must end within them or the video fails with `timeout` "
                         "(the transcoder is stopped, TERM then KILL, when they run out); an "
                         "upload of the results begun in time is finished (`--timeout`)"));
    t.push_back(Boolean("USE_SPACES", &Config::use_spaces, false)
                    .In(S::kContract)
                    .Doc("store files in an S3-compatible bucket (DigitalOcean Spaces) instead of "
                         "local disk"));
    t.push_back(Text("SPACES_ACCESS_KEY", &Config::spaces_access_key, "", "text")
                    .In(S::kContract)
                    .Secret()
                    .Doc("the bucket's access key; required when `USE_SPACES` is True"));
    t.push_back(Text("SPACES_SECRET_KEY", &Config::spaces_secret_key, "", "text")
                    .In(S::kContract)
                    .Secret()
                    .Doc("the bucket's secret key; required when `USE_SPACES` is True"));
    t.push_back(Text("SPACES_BUCKET_NAME", &Config::spaces_bucket, "", "text")
                    .In(S::kContract)
                    .Doc("the bucket; required when `USE_SPACES` is True"));
    t.push_back(
        Text("SPACES_ENDPOINT_URL", &Config::spaces_endpoint, "", "a URL")
            .In(S::kContract)
            .ShownAs([](const Config& c) {
              return nlohmann::json(MaskUrlCredentials(c.spaces_endpoint));
            })
            .Doc("the S3 endpoint, with its scheme (`https://nyc3.digitaloceanspaces.com`); "
                 "required when `USE_SPACES` is True"));
    t.push_back(Text("SPACES_REGION", &Config::spaces_region, "", "text")
                    .In(S::kContract)
                    .DefaultText("from the endpoint")
                    .Doc("the SigV4 region: `nyc3` for `https://nyc3.digitaloceanspaces.com`, "
                         "`eu-west-1` for `s3.eu-west-1.amazonaws.com`, else `us-east-1`"));
    t.push_back(
        Choice("SPACES_ADDRESSING", &Config::spaces_addressing, "auto", {"auto", "path", "virtual"})
            .In(S::kContract)
            .Doc("`virtual` (bucket.host), `path` (host/bucket); auto = virtual for "
                 "`*.digitaloceanspaces.com` and `*.amazonaws.com`, path otherwise"));
    t.push_back(Boolean("SPACES_PUBLIC_READ", &Config::spaces_public_read, false)
                    .In(S::kContract)
                    .Doc("upload the processed video and thumbnail with `x-amz-acl: public-read` "
                         "and `Cache-Control: public, max-age=86400`; originals and upload parts "
                         "stay private. A ready video's `video_url` and `thumbnail_url` are then "
                         "the objects' public URLs (addressed as `SPACES_ADDRESSING` says), or "
                         "under `SPACES_CDN_URL`"));
    t.push_back(
        Text("SPACES_CDN_URL", &Config::spaces_cdn_url, "", "an http:// or https:// URL", CdnUrl)
            .In(S::kContract)
            .DefaultText("(none: the bucket's URL)")
            .Doc("with `SPACES_PUBLIC_READ`, the base of media links instead of the "
                 "bucket's URL: the object key is appended. DigitalOcean's CDN endpoint "
                 "(`https://BUCKET.REGION.cdn.digitaloceanspaces.com`) or a custom domain "
                 "serving the bucket"));
    t.push_back(Integer("VIDPROC_S3_PART_MB", &Config::s3_part_mb, 8, 5, 5120)
                    .In(S::kContract)
                    .Doc("multipart part size in MiB; files under twice this go up in one PUT"));
    t.push_back(Integer("VIDPROC_S3_PARTS_IN_FLIGHT", &Config::s3_parts_in_flight, 2, 1, 32)
                    .In(S::kContract)
                    .Doc("parts uploaded at once; memory does not grow with it (parts stream from "
                         "disk)"));
    // vidproc's own.
    t.push_back(
        Text("VIDPROC_DATA_DIR", &Config::data_dir, "data", "a directory", NotEmptyDirectory)
            .Doc("the database (`vidproc.db`), local storage (`storage/`), scratch space "
                 "(`scratch/`) (`--data-dir`)"));
    t.push_back(Text("VIDPROC_DATABASE_URL", &Config::database_url, "",
                     "`sqlite:///relative/path`, `sqlite:////absolute/path`, `postgres://...`",
                     DatabaseUrl)
                    .DefaultText("`sqlite:///<data dir>/vidproc.db`")
                    .ShownAs([](const Config& c) {
                      // A PostgreSQL URL may hold a password (user:password@ or ?password=).
                      return nlohmann::json(c.SqlitePath().empty()
                                                ? MaskUrlCredentials(c.database_url)
                                                : std::string(kSqliteScheme) + c.SqlitePath());
                    })
                    .Doc("the job database. SQLite URLs as dj-database-url reads them. A "
                         "`DATABASE_URL` (a web framework's) is never read"));
    t.push_back(Boolean("KEEP_ORIGINAL", &Config::keep_original, false)
                    .Doc("keep the uploaded original next to the processed video instead of "
                         "replacing it"));
    t.push_back(
        Choice("LOG_LEVEL", &Config::log_level, "info", {"debug", "info", "warning", "error"})
            .Doc("the least severe messages logged"));
    t.push_back(Choice("LOG_FORMAT", &Config::log_format, "text", {"text", "json"})
                    .Doc("text, or json (one JSON object per line)"));
    t.push_back(
        Integer("VIDPROC_MAX_ATTEMPTS", &Config::max_attempts, 3, 1, 100)
            .Doc("attempts for transient failures (storage unavailable, a transcoder killed "
                 "by a signal vidproc did not send, a worker that died)"));
    t.push_back(Integer("VIDPROC_TIMEOUT_RETRIES", &Config::timeout_retries, 0, 0, 100)
                    .Doc("extra attempts after a timeout"));
    t.push_back(Integer("VIDPROC_RETRY_BACKOFF_SECONDS", &Config::retry_backoff_s, 15, 0, 86400)
                    .Doc("delay before the first retry; doubles at each attempt, ±25% jitter"));
    t.push_back(Integer("VIDPROC_LEASE_SECONDS", &Config::lease_s, 30, 2, 3600)
                    .Doc("a job whose worker stops renewing its lease for this long is given to "
                         "another worker"));
    t.push_back(Integer("VIDPROC_SHUTDOWN_GRACE_SECONDS", &Config::shutdown_grace_s, 30, 0, 3600)
                    .Doc("on SIGTERM/SIGINT, running jobs get this long to finish before they are "
                         "stopped and put back in the queue"));
    t.push_back(Integer("VIDPROC_KILL_GRACE_SECONDS", &Config::kill_grace_s, 5, 0, 600)
                    .Doc("between TERM and KILL for a transcoder being stopped"));
    t.push_back(Integer("VIDPROC_CHILD_MEMORY_MB", &Config::child_memory_mb, int64_t{2048}, 256,
                        int64_t{1} << 20)
                    .Doc("address-space limit of each transcoder process, in MiB"));
    t.push_back(
        Integer("VIDPROC_MEMORY_BUDGET_MB", &Config::memory_budget_mb, int64_t{0}, 0,
                int64_t{1} << 30)
            .DefaultText("3/4 of the machine's memory (or its cgroup limit)")
            .Doc("memory, in MB, that the transcoders of the machine may use together: a job "
                 "starts only when its predicted peak fits next to the running jobs' (it waits "
                 "otherwise, `queue.waiting_for` = `memory`); a job alone on the machine always "
                 "starts. The jobs of other workers on the same host (the worker registry) count "
                 "too"));
    t.push_back(Text("VIDPROC_SANDBOX_SKIP", &Config::sandbox_skip, "",
                     "a comma list of "
                     "`network`, `files`, `syscalls`",
                     SandboxLayers)
                    .DefaultText("(none: all layers)")
                    .Doc("layers of the transcoder's sandbox to leave out (no network, file "
                         "access only to its input and job directory, a system-call allowlist); "
                         "a layer the kernel lacks is skipped anyway, with a warning. For "
                         "diagnosis only"));
    t.push_back(Choice("VIDPROC_PRESET", &Config::preset, "veryfast",
                       {"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                        "slower", "veryslow"})
                    .Doc("x264 preset (see docs/BENCHMARKS.md for why veryfast)"));
    t.push_back(Text("VIDPROC_VIDEO_BITRATE", &Config::video_bitrate, "1500k",
                     "a bitrate like 1500k", Bitrate)
                    .Doc("target video bitrate"));
    t.push_back(Text("VIDPROC_MAX_SIZE", &Config::max_size, "1280x720", "WIDTHxHEIGHT", PictureSize)
                    .Doc("the box videos are fitted into, either orientation"));
    t.push_back(Integer("VIDPROC_MAX_FPS", &Config::max_fps, 60, 1, 240)
                    .Doc("frame-rate cap: a faster source keeps at most one frame per 1/N s "
                         "(docs/BENCHMARKS.md, \"Frame-rate policy\", for the default)"));
    t.push_back(Text("VIDPROC_OUTPUTS", &Config::outputs, "mp4,hls", "`mp4`, `hls` or `mp4,hls`",
                     OutputList)
                    .Doc("what a job stores: the progressive MP4 (`video_url`), HLS made from the "
                         "same encode (`hls_url`: CMAF segments of about 4 s and playlists, "
                         "published while the job runs so the video plays before it is ready), "
                         "or both"));
    t.push_back(Text("VIDPROC_RENDITIONS", &Config::renditions, "", "short sides, e.g. `360`",
                     RenditionList)
                    .DefaultText("(none: one rung)")
                    .Doc("extra HLS rungs below the main one (a 360 makes 640x360 from 1280x720), "
                         "listed in the master playlist so players adapt to slow networks; each "
                         "is encoded again from the same decoded pictures, in the same job "
                         "(docs/BENCHMARKS.md: a 360 rung costs about a quarter more CPU)"));
    t.push_back(Text("VIDPROC_WORKER_ID", &Config::worker_id, "", "text")
                    .DefaultText("`<hostname>:<pid>`")
                    .Doc("the name a worker claims jobs under"));
    t.push_back(
        Text("VIDPROC_IMPORT_ALLOWED_HOSTS", &Config::import_allowed_hosts, "",
             "host names or addresses, comma-separated", HostList)
            .DefaultText("(none: public addresses only)")
            .Doc("hosts an import's `source_url` may name even though they are at a loopback, "
                 "private, link-local or other non-public address (an internal media server: "
                 "`media.internal`, `10.0.0.5`, `[fd00::5]`), as written in URLs, matched "
                 "without case. Every other host, and every redirect, must be at a public "
                 "address (`source_refused`)"));
    // The HTTP service.
    t.push_back(Text("VIDPROC_LISTEN", &Config::listen, "127.0.0.1:8080", "HOST:PORT", HostPort)
                    .In(S::kHttp)
                    .Doc("where `vidproc serve` listens (`--listen`); port 0 picks a free one "
                         "(logged, and written to `--port-file`)"));
    t.push_back(Text("VIDPROC_API_TOKEN", &Config::api_token, "", "16+ characters", Token)
                    .In(S::kHttp)
                    .Secret()
                    .DefaultText("(none: no auth)")
                    .Doc("bearer token every `/api/` request and `/metrics` must send; required "
                         "for a non-loopback address unless `--insecure-no-auth`; without it only "
                         "requests made directly on this machine are served (no proxy)"));
    t.push_back(
        Text("VIDPROC_URL_SIGNING_SECRET", &Config::url_signing_secret, "", "16+ characters", Token)
            .In(S::kHttp)
            .Secret()
            .DefaultText("(none: a key derived from the token)")
            .Doc("the key of signed media URLs (`video_url`, `thumbnail_url`); without "
                 "it the key is derived from `VIDPROC_API_TOKEN` (PBKDF2), never the "
                 "token itself. Set a random one to rotate URLs without the token"));
    t.push_back(Integer("VIDPROC_SIGNED_URL_MAX_SECONDS", &Config::signed_url_max_s,
                        int64_t{86'400}, 60, int64_t{30} * 86'400)
                    .In(S::kHttp)
                    .Doc("the longest a signed media URL lives (rounded up to the hour); a URL "
                         "whose expiry lies further ahead is refused"));
    t.push_back(Integer("MAX_UPLOAD_BYTES", &Config::max_upload_bytes, int64_t{10} << 30, 1,
                        int64_t{1} << 50)
                    .In(S::kHttp)
                    .DefaultText("10737418240 (10 GiB)")
                    .Doc("larger uploads get `413 too_large_file` (checked from Content-Length / "
                         "Upload-Length, and while streaming)"));
    t.push_back(Integer("VIDPROC_UPLOAD_EXPIRY_HOURS", &Config::upload_expiry_h, 24, 1, 24 * 365)
                    .In(S::kHttp)
                    .Doc("unfinished tus uploads are removed this long after they were created"));
    t.push_back(Integer("VIDPROC_HTTP_THREADS", &Config::http_threads, 2, 1, 64)
                    .In(S::kHttp)
                    .Doc("threads serving connections (database and storage calls run on a "
                         "separate pool of 8)"));
    t.push_back(
        Integer("VIDPROC_HTTP_IDLE_TIMEOUT_SECONDS", &Config::http_idle_timeout_s, 30, 1, 3600)
            .In(S::kHttp)
            .Doc("an idle keep-alive connection, or one still sending its request header, "
                 "is closed after this (slowloris)"));
    t.push_back(
        Integer("VIDPROC_HTTP_BODY_TIMEOUT_SECONDS", &Config::http_body_timeout_s, 60, 1, 3600)
            .In(S::kHttp)
            .Doc("an upload that sends no byte for this long is dropped; so is a client "
                 "that takes no byte of a response"));
    t.push_back(
        Text("VIDPROC_ALLOWED_HOSTS", &Config::allowed_hosts, "", "host names, comma-separated")
            .In(S::kHttp)
            .DefaultText("(none: loopback only)")
            .Doc("with auth off, the `Host` names (`name` or `name:port`) accepted besides "
                 "`localhost`, 127.0.0.0/8 and `[::1]`: the name browsers use to reach this "
                 "server (a specific `VIDPROC_LISTEN` address counts too); any other `Host` "
                 "gets `403 host_not_allowed`, which stops DNS rebinding"));
    t.push_back(
        Text("VIDPROC_CORS_ORIGINS", &Config::cors_origins, "",
             "origins (https://app.example.com), comma-separated, or *", Origins)
            .In(S::kHttp)
            .DefaultText("(none)")
            .Doc("web pages allowed to use direct upload URLs from the browser (CORS), besides "
                 "each upload's own `cors_origin`; `*` allows any page (the URL itself is the "
                 "credential). Only the direct upload URLs answer CORS"));
    t.push_back(Integer("VIDPROC_DIRECT_UPLOAD_MAX_SECONDS", &Config::direct_upload_max_s, 3600, 1,
                        7 * 24 * 3600)
                    .In(S::kHttp)
                    .Doc("how long a direct upload URL (`POST /api/v1/direct-uploads`) can be "
                         "used; a video whose upload has not begun by then is deleted "
                         "(`video.deleted` webhook)"));
    t.push_back(
        Integer("VIDPROC_MAX_CONNECTIONS", &Config::max_connections, 0, 0, 1'000'000)
            .In(S::kHttp)
            .DefaultText("0 (from the descriptor limit)")
            .Doc("connections at once; more get `503 server_busy` with `Retry-After`, then wait "
                 "in the backlog. 0 = the file descriptor limit (raised to its hard limit at "
                 "start) less a reserve for the workers, the database and storage (128 + 16 "
                 "per slot) and for uploads (2 each), so a flood never starves a job"));
    t.push_back(Integer("VIDPROC_MAX_CONNECTIONS_PER_CLIENT", &Config::max_connections_per_client,
                        256, 0, 1'000'000)
                    .In(S::kHttp)
                    .Doc("connections at once from one IP address (`429 too_many_connections`); "
                         "room for a busy office behind one NAT, not for one client to take "
                         "all; 0 = no cap"));
    t.push_back(Integer("VIDPROC_MAX_UPLOADS", &Config::max_uploads, 64, 0, 100'000)
                    .In(S::kHttp)
                    .Doc("upload bodies (POST and tus PATCH) received at once; more get `429 "
                         "too_many_uploads`. Each holds a file or an S3 part buffer; 0 = no cap"));
    t.push_back(
        Integer("VIDPROC_MAX_UPLOADS_PER_CLIENT", &Config::max_uploads_per_client, 8, 0, 100'000)
            .In(S::kHttp)
            .Doc("upload bodies at once from one IP address (`429 too_many_uploads`); 0 = no cap"));
    t.push_back(Integer("VIDPROC_MIN_UPLOAD_RATE", &Config::min_upload_rate, int64_t{1024}, 0,
                        int64_t{1} << 30)
                    .In(S::kHttp)
                    .Doc("bytes per second a request body must average over each window, or it "
                         "is cut like a dropped connection (a tus upload keeps what arrived and "
                         "resumes); 1 KiB/s is far below any real uplink. 0 = off"));
    t.push_back(
        Integer("VIDPROC_UPLOAD_RATE_WINDOW_SECONDS", &Config::upload_rate_window_s, 60, 1, 3600)
            .In(S::kHttp)
            .Doc("the window of `VIDPROC_MIN_UPLOAD_RATE`: long enough for a network "
                 "stall, short enough that a trickle frees its upload slot"));
    t.push_back(Integer("VIDPROC_MAX_QUEUED_VIDEOS", &Config::max_queued_videos, int64_t{10000}, 0,
                        int64_t{1} << 40)
                    .In(S::kHttp)
                    .Doc("new uploads get `429 queue_full` while this many videos wait to be "
                         "processed (a backlog nobody will see done soon); 0 = no cap"));
    t.push_back(Integer("VIDPROC_MAX_RESERVED_UPLOAD_BYTES", &Config::max_reserved_upload_bytes,
                        int64_t{1} << 40, 0, int64_t{1} << 50)
                    .In(S::kHttp)
                    .DefaultText("1099511627776 (1 TiB)")
                    .Doc("the `Upload-Length`s of unfinished tus uploads together; a new one "
                         "over it gets `429 upload_quota_exceeded` (lengths are promises anyone "
                         "can make); 0 = no cap"));
    t.push_back(Integer("VIDPROC_DISK_RESERVE_MB", &Config::disk_reserve_mb, int64_t{1024}, 0,
                        int64_t{1} << 30)
                    .In(S::kHttp)
                    .Doc("free space (MiB) kept on the data directory's disk for running jobs' "
                         "scratch files; below it new uploads get `507 storage_full` with "
                         "`Retry-After`; 0 = not checked"));
    t.push_back(
        Text("VIDPROC_PUBLIC_URL", &Config::public_url, "", "an http:// or https:// URL", PublicUrl)
            .In(S::kHttp)
            .DefaultText("(none: relative links)")
            .Doc("the URL clients reach vidproc at, a path prefix included when it is "
                 "mounted under one (`https://example.com/video`): the base of every "
                 "absolute link (`video_url`, `thumbnail_url` in responses, events and "
                 "webhooks, unless `SPACES_PUBLIC_READ` makes them public object URLs). Unset, "
                 "links are paths relative to the server's origin and "
                 "webhooks carry them so (logged at start)"));
    // Webhooks.
    t.push_back(Text("WEBHOOK_URL", &Config::webhook_url, "", "an http:// or https:// URL", HttpUrl)
                    .In(S::kWebhooks)
                    .ShownAs([](const Config& c) {
                      return nlohmann::json(MaskUrlCredentials(c.webhook_url));
                    })
                    .DefaultText("(none: off)")
                    .Doc("each video that becomes `ready` or `failed`, and each deletion, is "
                         "POSTed there"));
    t.push_back(Text("WEBHOOK_SECRET", &Config::webhook_secret, "", "text")
                    .In(S::kWebhooks)
                    .Secret()
                    .DefaultText("(none)")
                    .Doc("the HMAC-SHA256 key of the `X-Vidproc-Signature` header; without it "
                         "deliveries are sent unsigned (a warning is logged at start)"));
    t.push_back(
        Integer("VIDPROC_WEBHOOK_GIVE_UP_HOURS", &Config::webhook_give_up_h, 72, 1, 24 * 365)
            .In(S::kWebhooks)
            .Doc("a delivery not accepted (2xx) this long after its event is given up, "
                 "with a warning in the log"));
    return t;
  }();
  return settings;
}

const Setting* FindSetting(const std::string& name) {
  for (const auto& s : Settings()) {
    if (name == s.name) return &s;
  }
  return nullptr;
}

const std::vector<std::string>& SettingNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& s : Settings()) n.emplace_back(s.name);
    return n;
  }();
  return names;
}

// Shorter names outside our namespace (HOME, LANG, TERM) are left alone: too many near-misses.
constexpr size_t kMinSuggestedNameLength = 6;

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

}  // namespace

std::string Config::SqlitePath() const {
  if (database_url.empty()) return data_dir + "/vidproc.db";
  if (!StartsWith(database_url, kSqliteScheme.data())) return "";
  return database_url.substr(kSqliteScheme.size());
}

Config::Config() {
  for (const auto& s : Settings()) s.set_default(this);
}

nlohmann::json Config::ToJson() const {
  nlohmann::json shown = nlohmann::json::object();
  for (const auto& s : Settings()) shown[s.name] = s.show(*this);
  return shown;
}

namespace {

std::string DocText(const Setting& s) {
  std::string text = s.doc;
  if (s.secret) text += " (masked by `vidproc config`)";
  return text;
}

std::string WithoutBackticks(std::string text) {
  text.erase(std::remove(text.begin(), text.end(), '`'), text.end());
  return text;
}

// `text` in lines of at most `width` characters, each after `indent`.
std::string Wrap(const std::string& text, const std::string& indent, size_t width) {
  std::string out, line;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    std::string word = text.substr(start, end - start);
    if (!line.empty() && indent.size() + line.size() + 1 + word.size() > width) {
      out += indent + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    start = end + 1;
  }
  if (!line.empty()) out += indent + line + "\n";
  return out;
}

}  // namespace

std::string SettingsMarkdown() {
  std::string out;
  for (const auto& section : kSections) {
    out += std::string(out.empty() ? "" : "\n") + "### " + section.title + "\n\n";
    out += "| variable | default | values | meaning |\n| --- | --- | --- | --- |\n";
    for (const auto& s : Settings()) {
      if (s.section != section.section) continue;
      out += "| `" + std::string(s.name) + "` | " + s.default_text + " | " + s.values + " | " +
             DocText(s) + " |\n";
    }
  }
  return out;
}

std::string SettingsEnvFile(const Environment& values) {
  std::string out =
      "# vidproc's settings, read by the service (systemd's EnvironmentFile=) and by every "
      "vidproc\n"
      "# command run on this machine. Comments only on lines of their own: systemd keeps a\n"
      "# trailing \"# ...\" as part of the value. Each setting is shown with its default; remove "
      "the\n"
      "# \"#\" in front of a line to set it. docs/CONFIGURATION.md explains them all.\n";
  for (const auto& section : kSections) {
    out += "\n# ---- " + WithoutBackticks(section.title) + "\n";
    for (const auto& s : Settings()) {
      if (s.section != section.section) continue;
      std::string shown_default = s.default_text.empty() ? "empty" : s.default_text;
      out += "\n" + Wrap(WithoutBackticks(DocText(s)) + " (" + WithoutBackticks(s.values) +
                             "; default " + WithoutBackticks(shown_default) + ")",
                         "# ", 96);
      auto set = values.find(s.name);
      out += set != values.end() ? std::string(s.name) + "=" + set->second + "\n"
                                 : "#" + std::string(s.name) + "=\n";
    }
  }
  return out;
}

std::string SettingsHelp() {
  std::string out =
      "Settings (environment variables, also read from ./.env; docs/CONFIGURATION.md has more):\n";
  for (const auto& section : kSections) {
    out += "\n" + WithoutBackticks(section.title) + ":\n";
    for (const auto& s : Settings()) {
      if (s.section != section.section) continue;
      std::string shown_default = s.default_text.empty() ? "empty" : s.default_text;
      out += "  " + std::string(s.name) + " (default " + WithoutBackticks(shown_default) + "; " +
             WithoutBackticks(s.values) + ")\n";
      out += Wrap(WithoutBackticks(DocText(s)), "      ", 96);
    }
  }
  return out;
}

std::string SettingDefaultText(const std::string& name) {
  const Setting* s = FindSetting(name);
  return s ? WithoutBackticks(s->default_text) : "";
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
      // Other programs' variables are none of our business; a misspelt one of ours is: an
      // error in our namespace, a warning elsewhere (the environment is shared with others).
      std::string suggestion = ClosestName(name, SettingNames());
      std::string hint = suggestion.empty() ? "" : " (did you mean " + suggestion + "?)";
      if (name.rfind("VIDPROC_", 0) == 0) {
        return Status(ErrorCode::kInvalidConfig,
                      "Unknown setting " + name + hint + "; `vidproc config --help` lists them.");
      }
      if (!suggestion.empty() && name.size() >= kMinSuggestedNameLength) {
        config.startup_notes.push_back(name + " is not a vidproc setting" + hint + ".");
      }
      continue;
    }
    RETURN_IF_ERROR(setting->parse(&config, value));
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
  if (!config.spaces_cdn_url.empty() && config.use_spaces && !config.spaces_public_read) {
    // A CDN serves only what the bucket lets anyone read: every link would be a 403.
    return Status(ErrorCode::kInvalidConfig,
                  "SPACES_CDN_URL is set but SPACES_PUBLIC_READ is False: a CDN can serve only "
                  "public objects. Set SPACES_PUBLIC_READ=True, or unset SPACES_CDN_URL.");
  }
  if (!config.spaces_cdn_url.empty() && !config.use_spaces) {
    config.startup_notes.push_back(
        "SPACES_CDN_URL is set but USE_SPACES is False: files are on local disk, media links "
        "stay the API's signed links.");
  }
  if (config.use_spaces && config.spaces_endpoint.find("://") == std::string::npos) {
    return Status(ErrorCode::kInvalidConfig,
                  "SPACES_ENDPOINT_URL='" + config.spaces_endpoint +
                      "' needs a scheme, like https://nyc3.digitaloceanspaces.com.");
  }
  // The most common line of a web framework's .env: another program's database, never ours
  // (vidproc would create its tables in it). Said once, since a deployment may expect it read.
  if (merged.count("DATABASE_URL") && !merged.count("VIDPROC_DATABASE_URL")) {
    config.startup_notes.push_back(
        "DATABASE_URL is set but is not vidproc's setting (VIDPROC_DATABASE_URL is): the job "
        "database is " +
        (config.SqlitePath().empty() ? std::string("PostgreSQL")
                                     : std::string(kSqliteScheme) + config.SqlitePath()));
  }
  if (config.worker_id.empty()) {
    config.worker_id = HostName() + ":" + std::to_string(getpid());
  }
  return config;
}

Result<std::string> FindEnvFile(const std::string& chosen) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!chosen.empty()) {
    if (!fs::exists(chosen, ec) || fs::is_directory(chosen, ec)) {  // /dev/null is fine
      return Status(ErrorCode::kInvalidConfig, "No env file at " + chosen + ".");
    }
    return chosen;
  }
  if (fs::exists(".env", ec)) return std::string(".env");
  if (fs::exists(kPackagedEnvFile, ec)) return std::string(kPackagedEnvFile);
  return std::string();
}

Result<Config> LoadConfigFromProcess(const Environment& flags, const std::string& env_file) {
  ASSIGN_OR_RETURN(std::string path, FindEnvFile(env_file));
  Environment dotenv;
  if (!path.empty()) {
    // A file that is there but unreadable is a configuration we would silently miss.
    if (::access(path.c_str(), R_OK) != 0) {
      return Status(ErrorCode::kInvalidConfig,
                    "Cannot read the env file " + path + ": " + std::strerror(errno) +
                        " (run as its owner or the service's user, or give --env-file).");
    }
    ASSIGN_OR_RETURN(dotenv, ReadDotEnv(path));
  }
  ASSIGN_OR_RETURN(Config config, LoadConfig(dotenv, ProcessEnvironment(), flags));
  config.env_file = path;
  return config;
}

}  // namespace vidproc
