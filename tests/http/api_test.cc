// The HTTP API of docs/API.md over real HTTP: each test suite starts its own `vidproc serve` child
// process on a free loopback port with a fresh data directory (SetUpTestSuite), talks to it with
// libcurl and raw sockets, and checks at the end that SIGTERM stops it with exit code 0.
//
//   ApiTest         no authentication, one worker slot: uploads, processing, media, listing,
//                   deletion, retries, errors, the queue, events, metrics
//   ApiAuthTest     VIDPROC_API_TOKEN set, no worker slots (a `vidproc worker` is run when a
//                   processed video is needed): 401s, and signed media URLs
//   ApiLimitsTest   MAX_UPLOAD_BYTES=1000000, no worker slots (originals stay as uploaded): 413s
//                   and tus resumable uploads
//   ApiWebhookTest  WEBHOOK_URL to a receiver in this process: signed deliveries, and deliveries
//                   made while the receiver was down
#include <gtest/gtest.h>

#include <dirent.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <sqlite3.h>

#include "core/version.h"
#include "http/http_test_util.h"
#include "http/platform_ids.h"
#include "storage/blob_store.h"
#include "storage/storyboard_vtt.h"
#include "support/hls_playlists.h"
#include "support/http_receiver.h"
#include "support/shell.h"

namespace vidproc::http::testing {
namespace {

// Every test suite has one server; its options come from the suite (CRTP).
template <typename Suite>
class ServerTest : public OneServerPerSuite<Suite> {
 public:
  static void TearDownTestSuite() {
    OneServerPerSuite<Suite>::TearDownTestSuite();
    ready_id_.clear();
  }
  // No token; suites with one say so (OneServerPerSuite::Call sends it).
  static std::string Token() { return ""; }

 protected:
  using OneServerPerSuite<Suite>::server;
  using OneServerPerSuite<Suite>::WithAuth;
  using OneServerPerSuite<Suite>::Call;
  // The same without the suite's token.
  static Response CallWithout(const std::string& method, const std::string& path,
                              std::vector<std::string> headers = {},
                              std::optional<std::string> body = std::nullopt) {
    return Perform({.method = method,
                    .url = server().Url(path),
                    .headers = std::move(headers),
                    .body = std::move(body)});
  }

  // POST /api/v1/videos with the file's bytes as the body.
  static Response UploadRaw(const std::string& fixture, const std::string& filename,
                            const std::string& content_type = "video/mp4") {
    return Call("POST", "/api/v1/videos",
                {"Content-Type: " + content_type, "X-Filename: " + filename},
                ReadFile(Fixture(fixture)));
  }
  // POST /api/v1/videos as multipart/form-data (curl's mime), with a text field as well.
  static Response UploadForm(const std::string& fixture, const std::string& filename) {
    Request r;
    r.method = "POST";
    r.url = server().Url("/api/v1/videos");
    r.headers = WithAuth();
    r.form = {MimeField{"title", "My holiday", "", "", ""},
              MimeField{"file", "", Fixture(fixture), filename, "video/mp4"},
              MimeField{"note", "after the file", "", "", ""}};
    return Perform(r);
  }
  // Uploads and returns the new video's id ("" after a failure, which is reported).
  static std::string UploadId(const std::string& fixture) {
    Response r = UploadRaw(fixture, fixture);
    EXPECT_EQ(r.status, 201) << r;
    auto j = r.Json();
    return j.is_object() && j.contains("id") ? j["id"].get<std::string>() : "";
  }

  static nlohmann::json GetVideo(const std::string& id) {
    return Call("GET", "/api/v1/videos/" + id).Json();
  }
  // Polls the video until its status is one of `statuses`; the last resource seen.
  static nlohmann::json WaitForStatus(const std::string& id, std::set<std::string> statuses,
                                      std::chrono::milliseconds timeout = 120s) {
    nlohmann::json video;
    bool reached = WaitUntil(
        [&] {
          video = GetVideo(id);
          return video.is_object() && video.contains("status") &&
                 statuses.count(video["status"].get<std::string>()) > 0;
        },
        timeout, 100ms);
    EXPECT_TRUE(reached) << "video " << id << " is still " << video.dump() << "\n"
                         << server().LogTail();
    return video;
  }
  // A video of this suite's server that is ready (compliant_720p.mp4, uploaded once).
  static std::string ReadyVideo() {
    if (ready_id_.empty()) {
      std::string id = UploadId("compliant_720p.mp4");
      if (id.empty()) return "";
      if (WaitForStatus(id, {"ready", "failed"})["status"] != "ready") return "";
      ready_id_ = id;
    }
    return ready_id_;
  }

  // For servers without worker slots: a worker process on the same data directory runs the
  // queued job `id`; true once it is ready (a failure is reported).
  static bool ProcessWithAWorker(const std::string& id) {
    ChildProcess worker(server().dir(), "worker", {"worker", "--data-dir", server().data_dir()},
                        {{"MAX_VIDEO_PROCESSING_TASKS", "1"}});
    auto v = WaitForStatus(id, {"ready", "failed"});
    EXPECT_EQ(v["status"], "ready") << worker.LogTail();
    EXPECT_EQ(worker.Stop(), 0) << worker.LogTail();
    return v["status"] == "ready";
  }

  // How many videos the server has, in any status.
  static int VideoCount() {
    auto q = Call("GET", "/api/v1/queue").Json();
    int n = 0;
    for (const char* key : {"uploading", "queued", "processing", "ready", "failed"}) {
      n += q.value(key, 0);
    }
    return n;
  }

  // Waits until no video is queued or processing (earlier tests' jobs are done).
  static void WaitIdle() {
    nlohmann::json q;
    bool idle = WaitUntil(
        [&] {
          q = Call("GET", "/api/v1/queue").Json();
          return q.is_object() && q.value("queued", -1) == 0 && q.value("processing", -1) == 0;
        },
        120s, 100ms);
    EXPECT_TRUE(idle) << q.dump();
  }

  // The entries of `dir` (none if it does not exist).
  static std::vector<std::string> FilesIn(const std::string& dir) {
    std::vector<std::string> out;
    DIR* d = opendir(dir.c_str());
    if (!d) return out;
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") out.push_back(name);
    }
    closedir(d);
    std::sort(out.begin(), out.end());
    return out;
  }

  static inline std::string ready_id_;
};

std::string ErrorOf(const nlohmann::json& video) {
  return video.contains("error") && video["error"].is_object()
             ? video["error"].value("code", std::string())
             : "";
}

// =============================================================================================
// No authentication, one worker slot.

class ApiTest : public ServerTest<ApiTest> {
 public:
  static ServeOptions Options() { return {.workers = 1, .env = {}}; }
};

TEST_F(ApiTest, WebPageIsHtml) {
  Response r = Call("GET", "/");
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_EQ(r.header("Content-Type").rfind("text/html", 0), 0u) << r.header("Content-Type");
  EXPECT_NE(Lower(r.body).find("<!doctype html"), std::string::npos);
  EXPECT_NE(r.body.find("/api/v1"), std::string::npos);  // it talks to the API
  EXPECT_FALSE(r.header("Content-Security-Policy").empty());

  Response head = Call("HEAD", "/");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(head.header("Content-Length"), std::to_string(r.body.size()));
}

TEST_F(ApiTest, HealthzAndReadyzAnswer200) {
  Response health = Call("GET", "/healthz", {"X-Request-Id: my-request-42"});
  EXPECT_EQ(health.status, 200) << health;
  EXPECT_TRUE(health.Json().is_object());
  EXPECT_EQ(health.header("X-Request-Id"), "my-request-42");

  // Without a token (none exists here) only the verdict; the details are for operators.
  Response ready = Call("GET", "/readyz");
  ASSERT_EQ(ready.status, 200) << ready;
  EXPECT_EQ(ready.Json(), nlohmann::json({{"status", "ready"}}));
}

TEST_F(ApiTest, MetricsArePrometheusText) {
  ASSERT_EQ(Call("GET", "/healthz").status, 200);
  const std::string bytes = ReadFile(Fixture("text.mp4"));
  ASSERT_EQ(UploadRaw("text.mp4", "t.mp4").status, 201);

  Response r = Call("GET", "/metrics");
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_EQ(r.header("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u)
      << r.header("Content-Type");
  EXPECT_NE(r.body.find("# TYPE vidproc_queue_videos gauge"), std::string::npos);
  EXPECT_NE(r.body.find("# TYPE vidproc_http_requests_total counter"), std::string::npos);
  EXPECT_NE(r.body.find("# TYPE vidproc_job_processing_seconds histogram"), std::string::npos);
  auto m = ParseMetrics(r.body);
  for (const char* status : {"uploading", "queued", "processing", "ready", "failed"}) {
    EXPECT_TRUE(m.count(std::string("vidproc_queue_videos{status=\"") + status + "\"}")) << status;
  }
  double videos = 0;
  for (const char* status : {"queued", "processing", "ready", "failed"}) {
    videos += m[std::string("vidproc_queue_videos{status=\"") + status + "\"}"];
  }
  EXPECT_GE(videos, 1);
  EXPECT_GE((m["vidproc_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}"]),
            1);
  EXPECT_GE(
      (m["vidproc_http_requests_total{method=\"POST\",route=\"/api/v1/videos\",status=\"201\"}"]),
      1);
  EXPECT_GE(m["vidproc_upload_bytes_total"], static_cast<double>(bytes.size()));
  EXPECT_EQ(m["vidproc_database_up"], 1);

  // What an operator of a small box watches: the server process itself, and the build.
  EXPECT_GT(m["process_resident_memory_bytes"], 1 << 20);
  EXPECT_GE(m["process_virtual_memory_bytes"], m["process_resident_memory_bytes"]);
  EXPECT_GT(m["process_cpu_seconds_total"], 0);
  EXPECT_GE(m["process_open_fds"], 3);
  EXPECT_GE(m["process_max_fds"], m["process_open_fds"]);
  const double now_s = static_cast<double>(time(nullptr));
  EXPECT_LE(m["process_start_time_seconds"], now_s + 1);
  EXPECT_GT(m["process_start_time_seconds"], now_s - 3600);
  EXPECT_EQ(m[std::string("vidproc_build_info{version=\"") + vidproc::kVersion + "\"}"], 1)
      << r.body;
  EXPECT_TRUE(m.count("vidproc_queue_oldest_queued_seconds"));
  EXPECT_GE(m["vidproc_queue_oldest_queued_seconds"], 0);
  // The webhook backlog is read even with webhooks off (nothing is written to it then).
  for (const char* state : {"pending", "failed", "given_up"}) {
    const std::string name = std::string("vidproc_webhook_deliveries{state=\"") + state + "\"}";
    ASSERT_TRUE(m.count(name)) << name << "\n" << r.body;
    EXPECT_EQ(m[name], 0) << name;
  }
  EXPECT_NE(r.body.find("# TYPE vidproc_job_queue_wait_seconds histogram"), std::string::npos);
  // Durations by route; bucket bounds as written, not as float noise.
  EXPECT_GE(m["vidproc_http_request_duration_seconds_count{route=\"/healthz\"}"], 1);
  EXPECT_TRUE(
      m.count("vidproc_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.0025\"}"))
      << r.body;
  // Only the bounds: a sum of durations is a measured double and may need all 17 digits.
  for (size_t at = r.body.find("le=\""); at != std::string::npos;
       at = r.body.find("le=\"", at + 1)) {
    const std::string bound = r.body.substr(at + 4, r.body.find('"', at + 4) - (at + 4));
    EXPECT_LE(bound.size(), 6u) << "bucket bound written as float noise: " << bound;
  }

  // Prometheus' own linter accepts the exposition.
  const std::string file = server().dir() + "/metrics.txt";
  std::ofstream(file) << r.body;
  int code = -1;
  std::string lint = vidproc::testing::Shell("promtool check metrics < '" + file + "' 2>&1", &code);
  EXPECT_EQ(code, 0) << "promtool check metrics (scripts/install-promtool.sh installs it): "
                     << lint;
  WaitIdle();
}

TEST_F(ApiTest, MetricsHaveTheProcessingHistogramAfterAJob) {
  ASSERT_FALSE(ReadyVideo().empty());
  std::map<std::string, double> m;
  // The worker pool reports the job a moment after the database says ready.
  bool counted = WaitUntil(
      [&] {
        m = ParseMetrics(Call("GET", "/metrics").body);
        return m["vidproc_job_processing_seconds_count"] >= 1;
      },
      10s);
  ASSERT_TRUE(counted);
  // Its claim was counted before it ran: the wait from queued to claimed.
  EXPECT_GE(m["vidproc_job_queue_wait_seconds_count"], 1);
  EXPECT_EQ(m["vidproc_job_queue_wait_seconds_bucket{le=\"+Inf\"}"],
            m["vidproc_job_queue_wait_seconds_count"]);
  EXPECT_GE(m["vidproc_job_queue_wait_seconds_sum"], 0);
  EXPECT_TRUE(m.count("vidproc_job_queue_wait_seconds_bucket{le=\"0.1\"}"));
  EXPECT_EQ(m["vidproc_job_processing_seconds_bucket{le=\"+Inf\"}"],
            m["vidproc_job_processing_seconds_count"]);
  EXPECT_GT(m["vidproc_job_processing_seconds_sum"], 0);
  EXPECT_GE(m["vidproc_jobs_finished_total{outcome=\"ready\"}"], 1);
  int buckets = 0;
  for (const auto& [name, value] : m) {
    if (name.rfind("vidproc_job_processing_seconds_bucket{", 0) != 0) continue;
    ++buckets;
    EXPECT_LE(value, m["vidproc_job_processing_seconds_count"]) << name;  // cumulative
  }
  EXPECT_GE(buckets, 2);
}

TEST_F(ApiTest, MultipartUploadIsCreated) {
  const std::string bytes = ReadFile(Fixture("compliant_720p.mp4"));
  Response r = UploadForm("compliant_720p.mp4", "videos/holiday clip.mp4");
  ASSERT_EQ(r.status, 201) << r;
  EXPECT_EQ(r.header("Content-Type"), "application/json; charset=utf-8");
  auto v = r.Json();
  ASSERT_TRUE(v.is_object());
  const std::string id = v["id"];
  EXPECT_FALSE(id.empty());
  EXPECT_EQ(r.header("Location"), "/api/v1/videos/" + id);
  EXPECT_EQ(v["filename"], "holiday clip.mp4");  // the path is not kept
  EXPECT_TRUE(v["status"] == "queued" || v["status"] == "processing") << v.dump();
  EXPECT_TRUE(v["error"].is_null());
  EXPECT_TRUE(v.contains("created_at") && v.contains("updated_at") && v.contains("progress"));
  // What was stored is the file, not the form around it: it processes to a video of its size.
  auto done = WaitForStatus(id, {"ready", "failed"});
  ASSERT_EQ(done["status"], "ready") << done.dump();
  EXPECT_EQ(done["source"]["size_bytes"], bytes.size());
}

TEST_F(ApiTest, RawUploadIsCreated) {
  const std::string bytes = ReadFile(Fixture("compliant_720p.mp4"));
  Response r = UploadRaw("compliant_720p.mp4", "my%20clip%20%E2%9C%93.mp4");
  ASSERT_EQ(r.status, 201) << r;
  auto v = r.Json();
  const std::string id = v["id"];
  EXPECT_EQ(r.header("Location"), "/api/v1/videos/" + id);
  EXPECT_EQ(v["filename"], "my clip \xE2\x9C\x93.mp4");  // X-Filename is percent-decoded
  EXPECT_TRUE(v["status"] == "queued" || v["status"] == "processing") << v.dump();
  auto done = WaitForStatus(id, {"ready", "failed"});
  ASSERT_EQ(done["status"], "ready") << done.dump();
  EXPECT_EQ(done["source"]["size_bytes"], bytes.size());

  Response octets = UploadRaw("text.mp4", "t.bin", "application/octet-stream");
  EXPECT_EQ(octets.status, 201) << octets;
  WaitIdle();
}

TEST_F(ApiTest, TextPlainUploadIs415) {
  Response r = Call("POST", "/api/v1/videos", {"Content-Type: text/plain"}, "hello");
  EXPECT_EQ(r.status, 415) << r;
  EXPECT_EQ(r.ErrorCode(), "unsupported_media_type");
  EXPECT_FALSE(r.Json()["error"]["message"].get<std::string>().empty());
}

TEST_F(ApiTest, EmptyUploadIs422) {
  Response r = Call("POST", "/api/v1/videos", {"Content-Type: video/mp4"}, "");
  EXPECT_EQ(r.status, 422) << r;
  EXPECT_EQ(r.ErrorCode(), "empty_file");
}

TEST_F(ApiTest, MalformedFormsAre400) {
  const std::string type = "Content-Type: multipart/form-data; boundary=XyZ";
  Response no_file = Call("POST", "/api/v1/videos", {type},
                          "--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n"
                          "hi\r\n--XyZ--\r\n");
  EXPECT_EQ(no_file.status, 400) << no_file;
  EXPECT_EQ(no_file.ErrorCode(), "invalid_argument");

  Response unterminated = Call("POST", "/api/v1/videos", {type},
                               "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; "
                               "filename=\"a.mp4\"\r\n\r\nDATA DATA DATA");
  EXPECT_EQ(unterminated.status, 400) << unterminated;

  Response no_boundary = Call("POST", "/api/v1/videos", {"Content-Type: multipart/form-data"}, "x");
  EXPECT_EQ(no_boundary.status, 400) << no_boundary;

  // Nothing of these was recorded.
  auto list = Call("GET", "/api/v1/videos?limit=100").Json();
  for (const auto& v : list["videos"]) EXPECT_NE(v["filename"], "a.mp4");
}

// A real video processed to ready, then its MP4 served with Range support.
TEST_F(ApiTest, ProcessedVideoIsServedWithRanges) {
  const std::string id = UploadId("real_720p.mp4");
  ASSERT_FALSE(id.empty());
  auto v = WaitForStatus(id, {"ready", "failed"});
  ASSERT_EQ(v["status"], "ready") << v.dump();
  ASSERT_TRUE(v["video_url"].is_string());
  const std::string url = v["video_url"];
  EXPECT_EQ(url, "/api/v1/videos/" + id + "/video");  // unsigned: no auth on this server

  Response full = Call("GET", url);
  ASSERT_EQ(full.status, 200) << full;
  const std::string& bytes = full.body;
  const int64_t size = static_cast<int64_t>(bytes.size());
  ASSERT_GT(size, 10'000);
  EXPECT_EQ(v["output"]["size_bytes"], size);
  EXPECT_EQ(bytes.substr(4, 4), "ftyp");
  EXPECT_EQ(full.header("Content-Type"), "video/mp4");
  EXPECT_EQ(full.header("Accept-Ranges"), "bytes");
  EXPECT_EQ(full.header("Content-Length"), std::to_string(size));
  EXPECT_FALSE(full.has_header("Content-Range"));

  struct Case {
    std::string range;
    int64_t first, last;
  };
  const std::vector<Case> cases = {
      {"bytes=1000-1999", 1000, 1999},
      {"bytes=0-0", 0, 0},
      {"bytes=-500", size - 500, size - 1},
      {"bytes=" + std::to_string(size - 100) + "-", size - 100, size - 1},
      {"bytes=" + std::to_string(size - 10) + "-99999999", size - 10, size - 1}};
  for (const auto& c : cases) {
    Response part = Call("GET", url, {"Range: " + c.range});
    ASSERT_EQ(part.status, 206) << c.range << ": " << part;
    EXPECT_EQ(part.header("Content-Range"), "bytes " + std::to_string(c.first) + "-" +
                                                std::to_string(c.last) + "/" + std::to_string(size))
        << c.range;
    EXPECT_EQ(part.header("Content-Type"), "video/mp4");
    EXPECT_TRUE(part.body == bytes.substr(c.first, c.last - c.first + 1)) << c.range;
  }
  Response multi = Call("GET", url, {"Range: bytes=0-9,20-29"});
  EXPECT_EQ(multi.status, 200);
  EXPECT_TRUE(multi.body == bytes);
}

TEST_F(ApiTest, HeadConditionalAndUnsatisfiableRequestsOfTheVideo) {
  const std::string id = ReadyVideo();
  ASSERT_FALSE(id.empty());
  const std::string url = "/api/v1/videos/" + id + "/video";
  Response full = Call("GET", url);
  ASSERT_EQ(full.status, 200) << full;
  const std::string size = std::to_string(full.body.size());
  const std::string etag = full.header("ETag");
  ASSERT_FALSE(etag.empty());
  EXPECT_FALSE(full.header("Last-Modified").empty());

  Response head = Call("HEAD", url);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Content-Length"), size);
  EXPECT_EQ(head.header("ETag"), etag);
  EXPECT_TRUE(head.body.empty());

  Response not_modified = Call("GET", url, {"If-None-Match: " + etag});
  EXPECT_EQ(not_modified.status, 304) << not_modified;
  EXPECT_TRUE(not_modified.body.empty());
  EXPECT_EQ(not_modified.header("ETag"), etag);
  EXPECT_EQ(Call("GET", url, {"If-None-Match: \"something-else\""}).status, 200);

  // If-Range with a stale validator: the whole file; with the current one: the range.
  Response changed = Call("GET", url, {"Range: bytes=0-99", "If-Range: \"stale-etag\""});
  EXPECT_EQ(changed.status, 200) << changed;
  EXPECT_TRUE(changed.body == full.body);
  Response same = Call("GET", url, {"Range: bytes=0-99", "If-Range: " + etag});
  EXPECT_EQ(same.status, 206) << same;
  EXPECT_TRUE(same.body == full.body.substr(0, 100));

  for (const std::string& range :
       {"bytes=" + size + "-", "bytes=" + size + "-" + size + "0", std::string("bytes=-0")}) {
    Response r = Call("GET", url, {"Range: " + range});
    EXPECT_EQ(r.status, 416) << range << ": " << r;
    EXPECT_EQ(r.header("Content-Range"), "bytes */" + size) << range;
  }
}

// RFC 9110 13.1.2: If-None-Match carries a list of entity tags, or "*"; any match is a 304.
TEST_F(ApiTest, IfNoneMatchWithAListOfTagsOrAStarIs304) {
  const std::string id = ReadyVideo();
  ASSERT_FALSE(id.empty());
  const std::string url = "/api/v1/videos/" + id + "/video";
  Response head = Call("HEAD", url);
  const std::string etag = head.header("ETag");
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(Call("GET", url, {"If-None-Match: \"older\", " + etag}).status, 304);
  EXPECT_EQ(Call("GET", url, {"If-None-Match: W/" + etag}).status, 304);  // weak comparison
  EXPECT_EQ(Call("GET", url, {"If-None-Match: *"}).status, 304);
}

TEST_F(ApiTest, ThumbnailIsAJpeg) {
  const std::string id = ReadyVideo();
  ASSERT_FALSE(id.empty());
  auto v = GetVideo(id);
  ASSERT_TRUE(v["thumbnail_url"].is_string()) << v.dump();
  Response r = Call("GET", v["thumbnail_url"]);
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_EQ(r.header("Content-Type"), "image/jpeg");
  ASSERT_GT(r.body.size(), 100u);
  EXPECT_EQ(static_cast<unsigned char>(r.body[0]), 0xFF);
  EXPECT_EQ(static_cast<unsigned char>(r.body[1]), 0xD8);
  EXPECT_EQ(static_cast<unsigned char>(r.body[r.body.size() - 2]), 0xFF);
  EXPECT_EQ(static_cast<unsigned char>(r.body[r.body.size() - 1]), 0xD9);
}

// The width and height in a baseline JPEG's frame header (SOF0), or {0, 0}.
std::pair<int, int> JpegSize(const std::string& jpeg) {
  for (size_t i = 2; i + 9 < jpeg.size(); ++i) {
    if (static_cast<unsigned char>(jpeg[i]) == 0xFF &&
        static_cast<unsigned char>(jpeg[i + 1]) == 0xC0) {
      auto byte = [&](size_t k) { return static_cast<int>(static_cast<unsigned char>(jpeg[k])); };
      return {byte(i + 7) << 8 | byte(i + 8), byte(i + 5) << 8 | byte(i + 6)};
    }
  }
  return {0, 0};
}

// Fetches the storyboard at `storyboard_url` and every sheet its index names, with `call`
// (which decides whether the token goes along); checks the index against the sheets and the
// video's output record. Returns the sheets' URLs, in sheet order.
template <typename Call>
std::vector<std::string> ExpectStoryboardServed(const nlohmann::json& video, Call&& call) {
  std::vector<std::string> urls;
  const auto& made = video["output"]["storyboard"];
  EXPECT_TRUE(made.is_object()) << video.dump();
  EXPECT_TRUE(video["storyboard_url"].is_string()) << video.dump();
  if (!made.is_object() || !video["storyboard_url"].is_string()) return urls;
  Response index = call(video["storyboard_url"].get<std::string>());
  EXPECT_EQ(index.status, 200) << index;
  EXPECT_EQ(index.header("Content-Type"), "text/vtt; charset=utf-8");
  // Each sheet's URL is the same in every cue: parse with stand-in names, then read the URLs.
  std::vector<std::string> lines;
  for (size_t at = 0; at < index.body.size();) {
    const size_t end = index.body.find('\n', at);
    lines.push_back(index.body.substr(at, end - at));
    at = end == std::string::npos ? index.body.size() : end + 1;
  }
  std::string canonical;
  for (const std::string& line : lines) {
    const size_t hash = line.find("#xywh=");
    if (hash == std::string::npos) {
      canonical += line + "\n";
      continue;
    }
    const std::string url = line.substr(0, hash);
    auto known = std::find(urls.begin(), urls.end(), url);
    if (known == urls.end()) known = urls.insert(urls.end(), url);
    canonical += "storyboard-" + std::to_string(known - urls.begin() + 1) + ".jpg" +
                 line.substr(hash) + "\n";
  }
  auto cues = storage::ParseStoryboardIndex(canonical, storage::kMaxStoryboardSheets);
  EXPECT_TRUE(cues.ok()) << cues.status().ToString() << "\n" << index.body;
  if (!cues.ok()) return urls;
  EXPECT_EQ(static_cast<int>(cues->size()), made["tiles"].get<int>());
  EXPECT_EQ(static_cast<int>(urls.size()), made["sheets"].get<int>());
  EXPECT_EQ(cues->front().start_ms, 0);
  EXPECT_NEAR(cues->back().end_ms / 1000.0, video["output"]["duration_s"].get<double>(), 0.1);
  std::vector<std::pair<int, int>> sizes;
  for (const std::string& url : urls) {
    Response sheet = call(url);
    EXPECT_EQ(sheet.status, 200) << url << ": " << sheet;
    EXPECT_EQ(sheet.header("Content-Type"), "image/jpeg") << url;
    sizes.push_back(JpegSize(sheet.body));
    EXPECT_GT(sizes.back().first, 0) << url << " is not a JPEG";
  }
  for (const auto& c : *cues) {
    EXPECT_EQ(c.width, made["tile_width"].get<int>());
    EXPECT_EQ(c.height, made["tile_height"].get<int>());
    EXPECT_LE(c.x + c.width, sizes[c.sheet - 1].first) << "a tile outside its sheet";
    EXPECT_LE(c.y + c.height, sizes[c.sheet - 1].second) << "a tile outside its sheet";
  }
  return urls;
}

TEST_F(ApiTest, StoryboardIsAWebVttIndexOfJpegSheets) {
  const std::string id = ReadyVideo();  // 4 s, 1280x720
  ASSERT_FALSE(id.empty());
  auto v = GetVideo(id);
  const std::string base = "/api/v1/videos/" + id + "/storyboard/";
  EXPECT_EQ(v["storyboard_url"], base + "storyboard.vtt");
  EXPECT_EQ(v["output"]["storyboard"], nlohmann::json({{"sheets", 1},
                                                       {"tiles", 2},
                                                       {"interval_s", 2.0},
                                                       {"tile_width", 160},
                                                       {"tile_height", 90},
                                                       {"columns", 10},
                                                       {"rows", 10}}));
  auto urls = ExpectStoryboardServed(v, [](const std::string& url) { return Call("GET", url); });
  EXPECT_EQ(urls, std::vector<std::string>{base + "storyboard-1.jpg"});
  Response head = Call("HEAD", base + "storyboard.vtt");
  EXPECT_EQ(head.status, 200) << head;
  EXPECT_EQ(head.header("Content-Type"), "text/vtt; charset=utf-8");
  Response range = Call("GET", base + "storyboard-1.jpg", {"Range: bytes=0-1"});
  EXPECT_EQ(range.status, 206) << range;
  EXPECT_EQ(range.body, "\xFF\xD8");
  for (const char* bad :
       {"storyboard-2.jpg", "storyboard-0.jpg", "storyboard-01.jpg", "storyboard-11.jpg",
        "storyboard.jpg", "thumbnail.jpg", "other.vtt", "storyboard-1.jpg.partial"}) {
    Response r = Call("GET", base + bad);
    EXPECT_EQ(r.status, 404) << bad << ": " << r;
  }
  EXPECT_EQ(Call("GET", "/api/v1/videos/0123456789abcdef/storyboard/storyboard.vtt").status, 404);
}

TEST_F(ApiTest, ThumbnailSizesAreListedAndServedSmaller) {
  const std::string id = ReadyVideo();  // 1280x720
  ASSERT_FALSE(id.empty());
  auto v = GetVideo(id);
  ASSERT_TRUE(v["thumbnails"].is_array()) << v.dump();
  EXPECT_EQ(v["output"]["thumbnail_widths"], nlohmann::json({160, 320, 640})) << v.dump();
  Response full = Call("GET", v["thumbnail_url"]);
  ASSERT_EQ(full.status, 200) << full;
  EXPECT_EQ(JpegSize(full.body), std::pair(1280, 720));
  std::vector<int> listed;
  for (const auto& t : v["thumbnails"]) {
    const int w = t["width"];
    listed.push_back(w);
    EXPECT_EQ(t["url"], "/api/v1/videos/" + id + "/thumbnail?width=" + std::to_string(w));
    Response r = Call("GET", t["url"]);
    ASSERT_EQ(r.status, 200) << r;
    EXPECT_EQ(r.header("Content-Type"), "image/jpeg");
    EXPECT_EQ(JpegSize(r.body), std::pair(w, w * 9 / 16)) << w;  // 16:9 kept
    EXPECT_LT(r.body.size(), full.body.size()) << w;
  }
  EXPECT_EQ(listed, (std::vector<int>{160, 320, 640}));
  for (const char* bad : {"100", "0", "-160", "160px", "1280", "", "99999999999"}) {
    Response r = Call("GET", "/api/v1/videos/" + id + "/thumbnail?width=" + bad);
    EXPECT_EQ(r.status, 400) << bad << ": " << r;
    EXPECT_EQ(r.ErrorCode(), "invalid_thumbnail_width") << bad;
  }
}

TEST_F(ApiTest, GetVideoReturnsTheResource) {
  const std::string id = ReadyVideo();
  ASSERT_FALSE(id.empty());
  Response r = Call("GET", "/api/v1/videos/" + id);
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_EQ(r.header("Content-Type"), "application/json; charset=utf-8");
  auto v = r.Json();
  EXPECT_EQ(v["id"], id);
  EXPECT_EQ(v["status"], "ready");
  EXPECT_EQ(v["filename"], "compliant_720p.mp4");
  EXPECT_TRUE(v["error"].is_null());
  EXPECT_GE(v["attempts"].get<int>(), 1);
  for (const char* t : {"created_at", "updated_at"}) {
    std::string s = v[t];
    EXPECT_EQ(s.size(), 20u) << s;  // 2026-01-01T12:00:00Z
    EXPECT_EQ(s.back(), 'Z') << s;
  }
  ASSERT_TRUE(v["source"].is_object());
  EXPECT_EQ(v["source"]["width"], 1280);
  EXPECT_EQ(v["source"]["height"], 720);
  EXPECT_GT(v["source"]["duration_s"].get<double>(), 0);
  ASSERT_TRUE(v["output"].is_object());
  EXPECT_EQ(v["output"]["video_codec"], "h264");
  EXPECT_GT(v["output"]["size_bytes"].get<int64_t>(), 0);
  EXPECT_EQ(v["video_url"], "/api/v1/videos/" + id + "/video");
  EXPECT_EQ(v["thumbnail_url"], "/api/v1/videos/" + id + "/thumbnail");
}

TEST_F(ApiTest, ListIsNewestFirstWithCursorPagination) {
  std::vector<std::string> ours;
  for (int i = 0; i < 3; ++i) {
    ours.push_back(UploadId("text.mp4"));
    ASSERT_FALSE(ours.back().empty());
  }
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    Response r =
        Call("GET", "/api/v1/videos?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(r.status, 200) << r;
    auto page = r.Json();
    ASSERT_TRUE(page["videos"].is_array());
    EXPECT_LE(page["videos"].size(), 2u);
    for (const auto& v : page["videos"]) seen.push_back(v["id"].get<std::string>());
    ASSERT_TRUE(page.contains("next_cursor"));
    cursor = page["next_cursor"].is_null() ? "" : page["next_cursor"].get<std::string>();
    ASSERT_LT(++pages, 100);
  } while (!cursor.empty());
  EXPECT_GE(pages, 2);
  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size()) << "a video was listed twice";
  // Ours are there, newest first.
  std::vector<size_t> at;
  for (const auto& id : ours) {
    auto it = std::find(seen.begin(), seen.end(), id);
    ASSERT_NE(it, seen.end()) << id;
    at.push_back(static_cast<size_t>(it - seen.begin()));
  }
  EXPECT_GT(at[0], at[1]);
  EXPECT_GT(at[1], at[2]);
  WaitIdle();  // leave no work behind for other tests
}

TEST_F(ApiTest, ListFiltersByStatus) {
  std::vector<std::string> ours = {UploadId("text.mp4"), UploadId("text.mp4")};
  for (const auto& id : ours) {
    ASSERT_FALSE(id.empty());
    ASSERT_EQ(WaitForStatus(id, {"failed", "ready"})["status"], "failed");
  }
  Response failed = Call("GET", "/api/v1/videos?status=failed&limit=100");
  ASSERT_EQ(failed.status, 200) << failed;
  std::set<std::string> ids;
  const auto failed_list = failed.Json();
  for (const auto& v : failed_list["videos"]) {
    EXPECT_EQ(v["status"], "failed");
    ids.insert(v["id"].get<std::string>());
  }
  for (const auto& id : ours) EXPECT_TRUE(ids.count(id)) << id << " not in " << failed.body;

  Response ready = Call("GET", "/api/v1/videos?status=ready&limit=100");
  ASSERT_EQ(ready.status, 200);
  const auto ready_list = ready.Json();
  for (const auto& v : ready_list["videos"]) {
    EXPECT_EQ(v["status"], "ready");
    EXPECT_FALSE(v["id"] == ours[0] || v["id"] == ours[1]);
  }
}

TEST_F(ApiTest, ListRejectsABadStatusOrLimit) {
  for (const char* query : {"status=done", "status=READY", "limit=0", "limit=101", "limit=abc",
                            "limit=-1", "limit=2.5", "cursor=garbage"}) {
    Response r = Call("GET", std::string("/api/v1/videos?") + query);
    EXPECT_EQ(r.status, 400) << query << ": " << r;
    EXPECT_EQ(r.ErrorCode(), "invalid_argument") << query;
  }
  EXPECT_EQ(Call("GET", "/api/v1/videos?limit=100").status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/videos?limit=1&status=").status, 200);
}

TEST_F(ApiTest, DeleteRemovesTheVideoAndItsFiles) {
  const std::string id = UploadId("compliant_720p.mp4");
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(WaitForStatus(id, {"ready", "failed"})["status"], "ready");
  const std::string dir = server().BlobDir(id);
  auto before = FilesIn(dir);
  EXPECT_TRUE(std::count(before.begin(), before.end(), "video.mp4")) << dir;
  EXPECT_TRUE(std::count(before.begin(), before.end(), "thumbnail.jpg")) << dir;
  EXPECT_TRUE(std::count(before.begin(), before.end(), "thumbnail-160.jpg")) << dir;
  EXPECT_EQ(FilesIn(dir + "/storyboard"),
            (std::vector<std::string>{"storyboard-1.jpg", "storyboard.vtt"}));

  Response r = Call("DELETE", "/api/v1/videos/" + id);
  EXPECT_EQ(r.status, 204) << r;
  EXPECT_TRUE(r.body.empty());
  Response gone = Call("GET", "/api/v1/videos/" + id);
  EXPECT_EQ(gone.status, 404) << gone;
  EXPECT_EQ(gone.ErrorCode(), "not_found");
  EXPECT_EQ(Call("GET", "/api/v1/videos/" + id + "/video").status, 404);
  EXPECT_EQ(Call("GET", "/api/v1/videos/" + id + "/thumbnail").status, 404);
  EXPECT_EQ(Call("GET", "/api/v1/videos/" + id + "/storyboard/storyboard.vtt").status, 404);
  EXPECT_EQ(Call("GET", "/api/v1/videos/" + id + "/storyboard/storyboard-1.jpg").status, 404);
  EXPECT_TRUE(FilesIn(dir).empty()) << "left in " << dir << ": " << FilesIn(dir).size();
  EXPECT_EQ(Call("DELETE", "/api/v1/videos/" + id).status, 404);
  const auto all = Call("GET", "/api/v1/videos?limit=100").Json();
  for (const auto& v : all["videos"]) {
    EXPECT_NE(v["id"], id);
  }
}

TEST_F(ApiTest, FailedVideoCanBeRetried) {
  const std::string id = UploadId("text.mp4");
  ASSERT_FALSE(id.empty());
  auto failed = WaitForStatus(id, {"failed", "ready"});
  ASSERT_EQ(failed["status"], "failed");
  EXPECT_EQ(ErrorOf(failed), "not_a_video");
  EXPECT_FALSE(failed["error"]["message"].get<std::string>().empty());

  Response r = Call("POST", "/api/v1/videos/" + id + "/retry");
  ASSERT_EQ(r.status, 202) << r;
  auto v = r.Json();
  EXPECT_EQ(v["id"], id);
  // The one worker slot may have claimed it already.
  EXPECT_TRUE(v["status"] == "queued" || v["status"] == "processing") << v.dump();
  EXPECT_TRUE(v["error"].is_null()) << v.dump();
  // It really was queued: a worker runs it again, and it fails again.
  auto again = WaitForStatus(id, {"failed", "ready"});
  EXPECT_EQ(again["status"], "failed");
  EXPECT_EQ(ErrorOf(again), "not_a_video");
}

TEST_F(ApiTest, TruncatedUploadFailsWithItsCode) {
  const std::string id = UploadId("truncated.mp4");
  ASSERT_FALSE(id.empty());
  auto v = WaitForStatus(id, {"failed", "ready"});
  EXPECT_EQ(v["status"], "failed");
  EXPECT_EQ(ErrorOf(v), "truncated_input");
}

TEST_F(ApiTest, RetryOfAReadyVideoIs409) {
  const std::string id = ReadyVideo();
  ASSERT_FALSE(id.empty());
  Response r = Call("POST", "/api/v1/videos/" + id + "/retry");
  EXPECT_EQ(r.status, 409) << r;
  EXPECT_EQ(r.ErrorCode(), "invalid_state");
  EXPECT_EQ(GetVideo(id)["status"], "ready");
}

TEST_F(ApiTest, UnknownIdsAre404) {
  for (const std::string& id :
       std::vector<std::string>{"0123456789abcdef0123456789abcdef", "no-such-video", "bad.id",
                                "%2e%2e", std::string(65, 'a')}) {
    const std::string base = "/api/v1/videos/" + id;
    for (const auto& [method, path] :
         std::vector<std::pair<std::string, std::string>>{{"GET", base},
                                                          {"DELETE", base},
                                                          {"POST", base + "/retry"},
                                                          {"GET", base + "/video"},
                                                          {"GET", base + "/thumbnail"}}) {
      Response r = Call(method, path);
      EXPECT_EQ(r.status, 404) << method << " " << path << ": " << r;
      EXPECT_EQ(r.ErrorCode(), "not_found") << method << " " << path;
    }
  }
}

TEST_F(ApiTest, UnknownPathsAre404) {
  for (const char* path :
       {"/nope", "/api", "/api/v1", "/api/v2/videos", "/api/v1/nothing", "/api/v1/videos/abc/other",
        "/api/v1/videos/abc/video/extra", "/api/v1/queue/extra", "/healthz/x"}) {
    Response r = Call("GET", path);
    EXPECT_EQ(r.status, 404) << path << ": " << r;
    EXPECT_EQ(r.ErrorCode(), "not_found") << path;
  }
}

TEST_F(ApiTest, WrongMethodsAre405WithAllow) {
  const std::string id = "0123456789abcdef";
  const std::vector<std::string> tus = {"Tus-Resumable: 1.0.0"};
  struct Case {
    std::string method, path;
    std::vector<std::string> headers;
    std::string allow;
  };
  const std::vector<Case> cases = {
      {"POST", "/", {}, "GET, HEAD"},
      {"DELETE", "/healthz", {}, "GET, HEAD"},
      {"POST", "/readyz", {}, "GET, HEAD"},
      {"PUT", "/metrics", {}, "GET, HEAD"},
      {"PUT", "/api/v1/videos", {}, "GET, HEAD, POST"},
      {"DELETE", "/api/v1/videos", {}, "GET, HEAD, POST"},
      {"PATCH", "/api/v1/videos/" + id, {}, "GET, HEAD, DELETE"},
      {"POST", "/api/v1/videos/" + id, {}, "GET, HEAD, DELETE"},
      {"GET", "/api/v1/videos/" + id + "/retry", {}, "POST"},
      {"POST", "/api/v1/videos/" + id + "/video", {}, "GET, HEAD"},
      {"DELETE", "/api/v1/videos/" + id + "/thumbnail", {}, "GET, HEAD"},
      {"POST", "/api/v1/queue", {}, "GET, HEAD"},
      {"POST", "/api/v1/events", {}, "GET"},
      {"GET", "/api/v1/uploads", tus, "OPTIONS, POST"},
      {"POST", "/api/v1/uploads/" + id, tus, "OPTIONS, HEAD, PATCH, DELETE"},
  };
  for (const auto& c : cases) {
    Response r = Call(c.method, c.path, c.headers,
                      c.method == "GET" ? std::nullopt : std::optional<std::string>(""));
    EXPECT_EQ(r.status, 405) << c.method << " " << c.path << ": " << r;
    EXPECT_EQ(r.header("Allow"), c.allow) << c.method << " " << c.path;
    EXPECT_EQ(r.ErrorCode(), "method_not_allowed") << c.method << " " << c.path;
  }
}

TEST_F(ApiTest, QueueHasCountsSlotsAndWorkers) {
  nlohmann::json q;
  // The worker slot registers itself shortly after the server starts.
  bool registered = WaitUntil(
      [&] {
        Response r = Call("GET", "/api/v1/queue");
        q = r.Json();
        return r.status == 200 && q.is_object() && q["workers"].is_array() && !q["workers"].empty();
      },
      15s);
  ASSERT_TRUE(registered) << q.dump();
  for (const char* key : {"uploading", "queued", "processing", "ready", "failed", "slots"}) {
    ASSERT_TRUE(q.contains(key) && q[key].is_number_integer()) << key << " in " << q.dump();
    EXPECT_GE(q[key].get<int>(), 0) << key;
  }
  EXPECT_EQ(q["slots"], 1);
  ASSERT_EQ(q["workers"].size(), 1u) << q.dump();
  const auto& w = q["workers"][0];
  EXPECT_FALSE(w["id"].get<std::string>().empty());
  EXPECT_EQ(w["slots"], 1);
  EXPECT_EQ(w["pid"], server().pid());
  EXPECT_TRUE(w["last_seen"].is_string());

  // Counts follow the queue.
  WaitIdle();
  const int failed_before = Call("GET", "/api/v1/queue").Json()["failed"];
  const std::string id = UploadId("text.mp4");
  ASSERT_EQ(WaitForStatus(id, {"failed", "ready"})["status"], "failed");
  EXPECT_EQ(Call("GET", "/api/v1/queue").Json()["failed"], failed_before + 1);
}

// Statuses in the order a video goes through them.
int Rank(const std::string& status) {
  if (status == "uploading") return 0;
  if (status == "queued") return 1;
  if (status == "processing") return 2;
  return 3;
}

std::vector<nlohmann::json> VideoFrames(const std::vector<SseEvent>& events,
                                        const std::string& id) {
  std::vector<nlohmann::json> out;
  for (const auto& e : events) {
    if (e.event != "video") continue;
    auto j = e.Json();
    if (j.is_object() && j["id"] == id) out.push_back(j);
  }
  return out;
}

bool HasStatus(const std::vector<SseEvent>& events, const std::string& id,
               const std::string& status) {
  for (const auto& v : VideoFrames(events, id)) {
    if (v["status"] == status) return true;
  }
  return false;
}

TEST_F(ApiTest, EventsFollowAVideoFromQueuedToReadyAndItsDeletion) {
  SseClient sse(server().Url("/api/v1/events"));
  ASSERT_TRUE(sse.WaitConnected()) << sse.raw();
  EXPECT_EQ(sse.response().header("Content-Type"), "text/event-stream");
  EXPECT_EQ(sse.response().header("Cache-Control"), "no-store");
  // The first video keeps the one slot busy, so the second is seen waiting in the queue; the
  // second is real footage that takes a few seconds, so it is seen processing.
  const std::string first = UploadId("compliant_720p.mp4");
  const std::string second = UploadId("real_720p.mp4");
  ASSERT_FALSE(first.empty() || second.empty());
  ASSERT_TRUE(sse.WaitFor([&](const auto& e) { return HasStatus(e, second, "ready"); }, 120s))
      << sse.raw().substr(0, 3000);

  auto events = sse.events();
  std::vector<std::string> statuses;
  int64_t last_id = 0;
  for (const auto& e : events) {
    if (e.event != "video" || e.Json()["id"] != second) continue;
    statuses.push_back(e.Json()["status"].get<std::string>());
    int64_t frame_id = std::stoll(e.id);
    EXPECT_GE(frame_id, last_id) << "event ids go back";
    last_id = frame_id;
  }
  ASSERT_FALSE(statuses.empty());
  EXPECT_EQ(statuses.front(), "queued");
  EXPECT_EQ(statuses.back(), "ready");
  EXPECT_TRUE(std::count(statuses.begin(), statuses.end(), "processing"))
      << "never seen processing";
  for (size_t i = 1; i < statuses.size(); ++i) {
    EXPECT_LE(Rank(statuses[i - 1]), Rank(statuses[i]))
        << statuses[i - 1] << " then " << statuses[i];
  }
  // The frames carry the whole resource: the ready one has its URLs.
  auto frames = VideoFrames(events, second);
  EXPECT_EQ(frames.back()["video_url"], "/api/v1/videos/" + second + "/video");
  EXPECT_TRUE(HasStatus(events, first, "ready"));

  ASSERT_EQ(Call("DELETE", "/api/v1/videos/" + second).status, 204);
  ASSERT_TRUE(sse.WaitFor(
      [&](const auto& events) {
        for (const auto& e : events) {
          if (e.event == "deleted" && e.Json()["id"] == second) return true;
        }
        return false;
      },
      10s))
      << sse.raw().substr(sse.raw().size() > 2000 ? sse.raw().size() - 2000 : 0);
  EXPECT_FALSE(sse.ended());  // the stream stays open
}

TEST_F(ApiTest, EventsResumeFromLastEventId) {
  // One stream stays open throughout, so the server's poller has sent every change below: what a
  // new stream gets for them can only come from its Last-Event-ID catch-up.
  SseClient live(server().Url("/api/v1/events"));
  ASSERT_TRUE(live.WaitConnected());
  const std::string a = UploadId("compliant_720p.mp4");
  ASSERT_FALSE(a.empty());
  ASSERT_TRUE(live.WaitFor([&](const auto& e) { return HasStatus(e, a, "ready"); }, 60s));
  std::string earlier;
  for (const auto& e : live.events()) {
    if (e.event == "video" && e.Json()["id"] == a) {
      earlier = e.id;  // a's first frame
      break;
    }
  }
  ASSERT_FALSE(earlier.empty());
  const std::string b = UploadId("text.mp4");
  ASSERT_TRUE(live.WaitFor([&](const auto& e) { return HasStatus(e, b, "failed"); }, 60s));

  SseClient resumed(server().Url("/api/v1/events"), {"Last-Event-ID: " + earlier});
  SseClient fresh(server().Url("/api/v1/events"));
  ASSERT_TRUE(resumed.WaitFor(
      [&](const auto& e) { return HasStatus(e, a, "ready") && HasStatus(e, b, "failed"); }, 10s))
      << resumed.raw().substr(0, 3000);
  // The replay says where each change is in the feed: at or after the id given.
  for (const auto& e : resumed.events()) {
    if (e.event == "video") {
      EXPECT_GE(std::stoll(e.id), std::stoll(earlier));
    }
  }
  // A stream without Last-Event-ID gets only what changes after it opened: once it has seen a
  // new change, it had no replay of the earlier ones.
  ASSERT_TRUE(fresh.WaitConnected());
  const std::string c = UploadId("text.mp4");
  ASSERT_TRUE(fresh.WaitFor([&](const auto& e) { return HasStatus(e, c, "failed"); }, 60s));
  EXPECT_TRUE(VideoFrames(fresh.events(), a).empty());
  EXPECT_TRUE(VideoFrames(fresh.events(), b).empty());
}

TEST_F(ApiTest, RequestHeaderOver16KiBIs431) {
  RawConnection c(server().port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " +
                     std::string(17 * 1024, 'a') + "\r\n\r\n"));
  std::string response = c.ReadHead(10s);
  EXPECT_EQ(RawStatus(response), 431) << response.substr(0, 200);
  // The server is fine afterwards.
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
  // A header just under the limit is accepted.
  Response big = Call("GET", "/healthz", {"X-Big: " + std::string(12 * 1024, 'b')});
  EXPECT_EQ(big.status, 200) << big;
}

// =============================================================================================
// A bearer token, no worker slots.

constexpr char kToken[] = "test-token-0123456789abcdef";

class ApiAuthTest : public ServerTest<ApiAuthTest> {
 public:
  static ServeOptions Options() { return {.workers = 0, .env = {{"VIDPROC_API_TOKEN", kToken}}}; }
  static std::string Token() { return kToken; }
};

TEST_F(ApiAuthTest, ApiRequestsWithoutTheTokenAre401) {
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/v1/videos"},
           {"GET", "/api/v1/videos/0123456789abcdef"},
           {"DELETE", "/api/v1/videos/0123456789abcdef"},
           {"POST", "/api/v1/videos/0123456789abcdef/retry"},
           {"GET", "/api/v1/videos/0123456789abcdef/video"},
           {"GET", "/api/v1/videos/0123456789abcdef/thumbnail"},
           {"GET", "/api/v1/videos/0123456789abcdef/storyboard/storyboard.vtt"},
           {"GET", "/api/v1/videos/0123456789abcdef/storyboard/storyboard-1.jpg"},
           {"GET", "/api/v1/queue"},
           {"GET", "/api/v1/events"},
           {"GET", "/api/v1/nothing"},
       }) {
    Response r = CallWithout(method, path);
    EXPECT_EQ(r.status, 401) << method << " " << path << ": " << r;
    EXPECT_EQ(r.ErrorCode(), "unauthorized") << method << " " << path;
    EXPECT_EQ(r.header("WWW-Authenticate").rfind("Bearer", 0), 0u) << method << " " << path;
  }
  // An upload is refused before its body is read.
  const int videos = VideoCount();
  Response upload = CallWithout("POST", "/api/v1/videos", {"Content-Type: video/mp4"},
                                ReadFile(Fixture("compliant_720p.mp4")));
  EXPECT_EQ(upload.status, 401) << upload;
  EXPECT_EQ(VideoCount(), videos);
}

TEST_F(ApiAuthTest, ApiRequestsWithAWrongTokenAre401) {
  for (const std::string& header :
       std::vector<std::string>{"Authorization: Bearer wrong-token-0123456789ab",
                                "Authorization: Bearer " + std::string(kToken) + "x",
                                "Authorization: Bearer " + std::string(kToken).substr(0, 10),
                                "Authorization: Basic " + std::string(kToken),
                                "Authorization: " + std::string(kToken), "Authorization: Bearer"}) {
    Response r = CallWithout("GET", "/api/v1/videos", {header});
    EXPECT_EQ(r.status, 401) << header << ": " << r;
    EXPECT_EQ(r.ErrorCode(), "unauthorized");
  }
}

TEST_F(ApiAuthTest, ApiRequestsWithTheTokenAre200) {
  Response list = Call("GET", "/api/v1/videos");
  EXPECT_EQ(list.status, 200) << list;
  EXPECT_EQ(Call("GET", "/api/v1/queue").status, 200);
  Response upload = UploadRaw("text.mp4", "t.mp4");
  EXPECT_EQ(upload.status, 201) << upload;
  auto v = upload.Json();
  EXPECT_EQ(Call("GET", "/api/v1/videos/" + v["id"].get<std::string>()).status, 200);
  // Unknown things are 404 (not 401) once authenticated.
  EXPECT_EQ(Call("GET", "/api/v1/videos/0123456789abcdef").status, 404);
}

TEST_F(ApiAuthTest, HealthReadinessAndThePageNeedNoToken) {
  EXPECT_EQ(CallWithout("GET", "/healthz").status, 200);
  EXPECT_EQ(CallWithout("GET", "/readyz").status, 200);
  EXPECT_EQ(CallWithout("GET", "/").status, 200);
}

TEST_F(ApiAuthTest, MetricsNeedTheToken) {
  EXPECT_EQ(CallWithout("GET", "/metrics").status, 401);
  Response r = Call("GET", "/metrics");
  EXPECT_EQ(r.status, 200) << r;
  EXPECT_NE(r.body.find("vidproc_http_requests_total"), std::string::npos);
}

TEST_F(ApiAuthTest, TusOptionsNeedNoTokenButUploadsDo) {
  Response options = CallWithout("OPTIONS", "/api/v1/uploads");
  EXPECT_EQ(options.status, 204) << options;
  EXPECT_EQ(options.header("Tus-Version"), "1.0.0");
  Response create =
      CallWithout("POST", "/api/v1/uploads", {"Tus-Resumable: 1.0.0", "Upload-Length: 100"});
  EXPECT_EQ(create.status, 401) << create;
  Response allowed =
      Call("POST", "/api/v1/uploads", {"Tus-Resumable: 1.0.0", "Upload-Length: 100"});
  EXPECT_EQ(allowed.status, 201) << allowed;
}

TEST_F(ApiAuthTest, SignedMediaUrlsWorkWithoutTheHeaderUntilTampered) {
  const std::string id = UploadId("compliant_720p.mp4");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(ProcessWithAWorker(id));
  auto v = GetVideo(id);
  const std::string video_url = v["video_url"];
  const std::string thumbnail_url = v["thumbnail_url"];
  const std::string base = "/api/v1/videos/" + id;
  ASSERT_EQ(video_url.rfind(base + "/video?expires=", 0), 0u) << video_url;
  ASSERT_EQ(thumbnail_url.rfind(base + "/thumbnail?expires=", 0), 0u) << thumbnail_url;
  ASSERT_NE(video_url.find("&sig="), std::string::npos);

  Response video = CallWithout("GET", video_url);
  EXPECT_EQ(video.status, 200) << video;
  EXPECT_EQ(static_cast<int64_t>(video.body.size()), v["output"]["size_bytes"].get<int64_t>());
  Response range = CallWithout("GET", video_url, {"Range: bytes=0-99"});
  EXPECT_EQ(range.status, 206);
  EXPECT_TRUE(range.body == video.body.substr(0, 100));
  Response thumbnail = CallWithout("GET", thumbnail_url);
  EXPECT_EQ(thumbnail.status, 200) << thumbnail;
  EXPECT_EQ(thumbnail.header("Content-Type"), "image/jpeg");
  // The smaller copies ride on the thumbnail's signature: the width is beside it, not in it.
  ASSERT_EQ(v["thumbnails"].size(), 3u) << v.dump();
  for (const auto& t : v["thumbnails"]) {
    const std::string url = t["url"];
    EXPECT_EQ(url, thumbnail_url + "&width=" + std::to_string(t["width"].get<int>()));
    Response copy = CallWithout("GET", url);
    EXPECT_EQ(copy.status, 200) << url << ": " << copy;
    EXPECT_LT(copy.body.size(), thumbnail.body.size()) << url;
    EXPECT_EQ(CallWithout("GET", base + "/thumbnail?width=160").status, 401);
  }

  // The storyboard's index and each sheet in it are signed, each for its own path, and fetched
  // without the header; the index's signature opens neither a sheet nor the unsigned paths.
  const std::string storyboard_url = v["storyboard_url"];
  ASSERT_EQ(storyboard_url.rfind(base + "/storyboard/storyboard.vtt?expires=", 0), 0u)
      << storyboard_url;
  auto sheets =
      ExpectStoryboardServed(v, [](const std::string& url) { return CallWithout("GET", url); });
  ASSERT_EQ(sheets.size(), 1u);
  const std::string sheet_path = base + "/storyboard/storyboard-1.jpg";
  EXPECT_EQ(sheets[0].rfind(sheet_path + "?expires=", 0), 0u) << sheets[0];
  EXPECT_EQ(CallWithout("GET", sheet_path).status, 401);
  EXPECT_EQ(CallWithout("GET", base + "/storyboard/storyboard.vtt").status, 401);
  EXPECT_EQ(CallWithout("GET", sheet_path + storyboard_url.substr(storyboard_url.find('?'))).status,
            401);
  EXPECT_EQ(CallWithout("GET", base + "/storyboard/storyboard-2.jpg" +
                                   sheets[0].substr(sheets[0].find('?')))
                .status,
            401);

  // The same URL with a changed signature, or another path's signature, or a later expiry.
  std::string changed = video_url;
  changed.back() = changed.back() == '0' ? '1' : '0';
  EXPECT_EQ(CallWithout("GET", changed).status, 401);
  const std::string query = video_url.substr(video_url.find('?'));
  EXPECT_EQ(CallWithout("GET", base + "/thumbnail" + query).status, 401);
  std::string later = video_url;
  size_t e = later.find("expires=") + 8;
  later[e] = later[e] == '9' ? '8' : static_cast<char>(later[e] + 1);
  EXPECT_EQ(CallWithout("GET", later).status, 401);
  EXPECT_EQ(CallWithout("GET", base + "/video").status, 401);  // no signature at all
  // The signature opens only the media, not the API.
  EXPECT_EQ(CallWithout("GET", base + query).status, 401);
  // The header works without a signature.
  EXPECT_EQ(Call("GET", base + "/video", {"Range: bytes=0-9"}).status, 206);
}

// hls_url opens the master playlist without the header; every URI in the playlists served is a
// URL of its own, signed for its one path; the segments they lead to are the video, and a
// signature opens only the file it was made for.
TEST_F(ApiAuthTest, HlsPlaylistsAndSegmentsWorkThroughTheirOwnSignedUrls) {
  const std::string id = UploadId("landscape_1080p.mp4");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(ProcessWithAWorker(id));
  auto v = GetVideo(id);
  EXPECT_EQ(v["playable"], true);
  const std::string base = "/api/v1/videos/" + id + "/hls/";
  const std::string hls_url = v.value("hls_url", "");
  ASSERT_EQ(hls_url.rfind(base + "master.m3u8?expires=", 0), 0u) << v.dump();

  const auto uris = vidproc::testing::PlaylistUris;
  Response master = CallWithout("GET", hls_url);
  ASSERT_EQ(master.status, 200) << master;
  EXPECT_EQ(master.header("Content-Type"), "application/vnd.apple.mpegurl");
  EXPECT_EQ(master.header("Access-Control-Allow-Origin"), "*") << "hls.js reads it from scripts";
  const auto rungs = uris(master.body);
  ASSERT_EQ(rungs.size(), 1u) << master.body;
  ASSERT_EQ(rungs[0].rfind(base + "720p.m3u8?expires=", 0), 0u) << rungs[0];
  Response media = CallWithout("GET", rungs[0]);
  ASSERT_EQ(media.status, 200) << media;
  EXPECT_NE(media.body.find("#EXT-X-ENDLIST"), std::string::npos) << media.body;
  const auto files = uris(media.body);
  ASSERT_GE(files.size(), 2u) << media.body;  // the init segment and at least one segment
  EXPECT_EQ(files[0].rfind(base + "720p-init.mp4?expires=", 0), 0u) << files[0];
  std::string joined;
  for (const std::string& file : files) {
    Response got = CallWithout("GET", file);
    ASSERT_EQ(got.status, 200) << file << ": " << got;
    EXPECT_EQ(got.header("Content-Type"),
              file.find(".m4s?") != std::string::npos ? "video/iso.segment" : "video/mp4");
    joined += got.body;
  }
  // Played end to end, the segments hold the whole video: as many pictures as the MP4.
  const std::string path = server().dir() + "/joined.mp4";
  std::ofstream(path, std::ios::binary) << joined;
  auto frames = [](const std::string& file) {
    return vidproc::testing::Shell(
        "ffprobe -v error -select_streams v:0 -count_frames -show_entries stream=nb_read_frames "
        "-of csv=p=0 '" +
        file + "'");
  };
  const std::string mp4 = server().dir() + "/video.mp4";
  std::ofstream(mp4, std::ios::binary) << CallWithout("GET", v["video_url"]).body;
  EXPECT_EQ(frames(path), frames(mp4));
  EXPECT_NE(frames(path), "");

  // A signature opens its own path only: the master's query on the media playlist, a
  // segment's on another segment, none at all.
  const std::string query = hls_url.substr(hls_url.find('?'));
  EXPECT_EQ(CallWithout("GET", base + "720p.m3u8" + query).status, 401);
  EXPECT_EQ(CallWithout("GET", base + "720p-init.mp4").status, 401);
  EXPECT_EQ(CallWithout("GET", base + "master.m3u8").status, 401);
  // Names the engine never gives are not served, whoever asks.
  for (const char* name : {"original", "..%2Fvideo.mp4", "720p.m3u8.tmp", "x.m3u8"}) {
    EXPECT_EQ(Call("GET", base + name).status, 404) << name;
  }
}

// =============================================================================================
// MAX_UPLOAD_BYTES=1000000, no worker slots: uploads stay as they arrived.

constexpr int64_t kMaxUpload = 1'000'000;

class ApiLimitsTest : public ServerTest<ApiLimitsTest> {
 public:
  static ServeOptions Options() {
    return {.workers = 0,
            .env = {{"MAX_UPLOAD_BYTES", std::to_string(kMaxUpload)},
                    {"VIDPROC_HTTP_IDLE_TIMEOUT_SECONDS", "2"}}};
  }

 protected:
  std::string Original(const std::string& id) { return server().BlobDir(id) + "/original"; }
  static std::vector<std::string> Tus(std::vector<std::string> headers = {}) {
    headers.push_back("Tus-Resumable: 1.0.0");
    return headers;
  }
  // POST /api/v1/uploads: the new upload's path ("" after a failure, which is reported).
  std::string CreateUpload(int64_t length, const std::string& filename = "tus clip.mp4") {
    // Upload-Metadata values are base64.
    static const char* kChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string b64;
    size_t i = 0;
    for (; i + 2 < filename.size(); i += 3) {
      uint32_t n = (static_cast<uint8_t>(filename[i]) << 16) |
                   (static_cast<uint8_t>(filename[i + 1]) << 8) |
                   static_cast<uint8_t>(filename[i + 2]);
      for (int k = 18; k >= 0; k -= 6) b64 += kChars[(n >> k) & 63];
    }
    if (i < filename.size()) {
      uint32_t n = static_cast<uint8_t>(filename[i]) << 16;
      if (i + 1 < filename.size()) n |= static_cast<uint8_t>(filename[i + 1]) << 8;
      b64 += kChars[(n >> 18) & 63];
      b64 += kChars[(n >> 12) & 63];
      b64 += i + 1 < filename.size() ? kChars[(n >> 6) & 63] : '=';
      b64 += '=';
    }
    Response r = Call("POST", "/api/v1/uploads",
                      Tus({"Upload-Length: " + std::to_string(length),
                           "Upload-Metadata: filename " + b64 + ",filetype dmlkZW8vbXA0"}));
    EXPECT_EQ(r.status, 201) << r;
    EXPECT_EQ(r.header("Tus-Resumable"), "1.0.0");
    EXPECT_FALSE(r.header("Upload-Expires").empty());
    std::string location = r.header("Location");
    EXPECT_EQ(location.rfind("/api/v1/uploads/", 0), 0u) << location;
    return location;
  }
  Response Patch(const std::string& path, int64_t offset, const std::string& bytes,
                 const std::string& type = "application/offset+octet-stream") {
    return Call("PATCH", path,
                Tus({"Upload-Offset: " + std::to_string(offset), "Content-Type: " + type}), bytes);
  }
  static std::string IdOf(const std::string& upload_path) {
    return upload_path.substr(upload_path.rfind('/') + 1);
  }
};

TEST_F(ApiLimitsTest, DeclaredContentLengthOverTheLimitIs413) {
  const int videos = VideoCount();
  for (const std::string type : {"video/mp4", "multipart/form-data; boundary=abc"}) {
    RawConnection c(server().port());
    ASSERT_TRUE(c.Send("POST /api/v1/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + type +
                       "\r\nContent-Length: " + std::to_string(kMaxUpload + 1) + "\r\n\r\n"));
    std::string response = c.ReadUntilClosed(10s);
    EXPECT_EQ(RawStatus(response), 413) << type << ": " << response.substr(0, 300);
    EXPECT_NE(response.find("too_large_file"), std::string::npos);
  }
  // And from curl, with a body it offers after "Expect: 100-continue".
  Response r = Call("POST", "/api/v1/videos", {"Content-Type: video/mp4", "Expect: 100-continue"},
                    std::string(kMaxUpload + 1, 'x'));
  EXPECT_EQ(r.status, 413) << r;
  EXPECT_EQ(r.ErrorCode(), "too_large_file");
  EXPECT_EQ(VideoCount(), videos);
}

TEST_F(ApiLimitsTest, ChunkedBodyOverTheLimitIs413) {
  const int videos = VideoCount();
  const auto stored = FilesIn(server().data_dir() + "/storage/blobs/videos");
  RawConnection c(server().port());
  ASSERT_TRUE(
      c.Send("POST /api/v1/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
             "application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"));
  const std::string chunk(64 * 1024, 'v');
  int64_t sent = 0;
  // Send until the server answers (or 3 times the limit, which it must not take).
  while (sent < 3 * kMaxUpload && !c.Readable(0ms)) {
    if (!c.Send("10000\r\n" + chunk + "\r\n")) break;
    sent += static_cast<int64_t>(chunk.size());
  }
  std::string response = c.ReadHead(10s);
  EXPECT_EQ(RawStatus(response), 413) << "after " << sent << " bytes: " << response.substr(0, 300);
  EXPECT_GT(sent, kMaxUpload);  // it was refused for its size, not early
  EXPECT_EQ(VideoCount(), videos);
  EXPECT_EQ(FilesIn(server().data_dir() + "/storage/blobs/videos"), stored);
  // The partial original was abandoned, not left behind.
  EXPECT_TRUE(WaitUntil([&] { return FilesIn(server().data_dir() + "/storage/tmp").empty(); }, 5s));
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
}

TEST_F(ApiLimitsTest, UploadsUnderTheLimitAreStoredByteForByte) {
  const std::string bytes = ReadFile(Fixture("compliant_720p.mp4"));
  ASSERT_LT(static_cast<int64_t>(bytes.size()), kMaxUpload);
  Response raw = UploadRaw("compliant_720p.mp4", "raw.mp4");
  ASSERT_EQ(raw.status, 201) << raw;
  Response form = UploadForm("compliant_720p.mp4", "form.mp4");
  ASSERT_EQ(form.status, 201) << form;
  for (const auto& r : {raw, form}) {
    const std::string id = r.Json()["id"];
    EXPECT_EQ(r.Json()["status"], "queued");  // no worker slots here
    EXPECT_TRUE(ReadFile(Original(id)) == bytes) << "the original of " << id << " differs";
  }
}

TEST_F(ApiLimitsTest, MediaOfAQueuedVideoIs409) {
  const std::string id = UploadId("text.mp4");
  ASSERT_FALSE(id.empty());
  for (const char* what : {"video", "thumbnail", "hls/master.m3u8", "hls/720p-00000.m4s"}) {
    Response r = Call("GET", "/api/v1/videos/" + id + "/" + what);
    EXPECT_EQ(r.status, 409) << what << ": " << r;
    EXPECT_EQ(r.ErrorCode(), "invalid_state");
  }
  auto v = GetVideo(id);
  EXPECT_EQ(v["playable"], false);
  EXPECT_FALSE(v.contains("hls_url")) << v.dump();
}

TEST_F(ApiLimitsTest, AQueuedVideoShowsItsPlaceInTheQueue) {
  const std::string first = UploadId("text.mp4");
  const std::string second = UploadId("text.mp4");
  ASSERT_FALSE(first.empty());
  ASSERT_FALSE(second.empty());
  auto a = GetVideo(first);
  auto b = GetVideo(second);
  ASSERT_TRUE(a["queue"].is_object()) << a.dump();
  ASSERT_TRUE(b["queue"]["position"].is_number_integer()) << b.dump();
  EXPECT_GE(a["queue"]["position"].get<int>(), 1);
  EXPECT_EQ(b["queue"]["position"].get<int>(), a["queue"]["position"].get<int>() + 1)
      << "claimed in upload order";
  EXPECT_EQ(b["queue"]["waiting_for"], "worker");
  EXPECT_TRUE(b["queue"]["predicted_start_at"].is_null()) << "no worker is alive to start it";
  EXPECT_TRUE(b["estimate"].is_null()) << "no worker has probed it";
  // The list shows the same places.
  Response list = Call("GET", "/api/v1/videos?status=queued&limit=100");
  ASSERT_EQ(list.status, 200) << list;
  bool found = false;
  const nlohmann::json listed = list.Json();
  for (const auto& v : listed["videos"]) {
    if (v["id"] == second) {
      found = true;
      EXPECT_EQ(v["queue"]["position"], b["queue"]["position"]);
    }
  }
  EXPECT_TRUE(found) << list;
}

TEST_F(ApiLimitsTest, TusOptionsAdvertiseTheCapabilities) {
  Response r = Call("OPTIONS", "/api/v1/uploads");
  EXPECT_EQ(r.status, 204) << r;
  EXPECT_EQ(r.header("Tus-Resumable"), "1.0.0");
  EXPECT_EQ(r.header("Tus-Version"), "1.0.0");
  const std::string extensions = r.header("Tus-Extension");
  EXPECT_NE(extensions.find("creation"), std::string::npos) << extensions;
  EXPECT_NE(extensions.find("termination"), std::string::npos) << extensions;
  EXPECT_EQ(r.header("Tus-Max-Size"), std::to_string(kMaxUpload));
  EXPECT_EQ(Call("OPTIONS", "/api/v1/uploads/0123456789abcdef").status, 204);
}

TEST_F(ApiLimitsTest, TusRequestsWithoutTusResumableAre412) {
  const int videos = VideoCount();
  Response r = Call("POST", "/api/v1/uploads", {"Upload-Length: 100"});
  EXPECT_EQ(r.status, 412) << r;
  EXPECT_EQ(r.header("Tus-Version"), "1.0.0");
  Response old = Call("POST", "/api/v1/uploads", {"Upload-Length: 100", "Tus-Resumable: 0.2.2"});
  EXPECT_EQ(old.status, 412) << old;
  EXPECT_EQ(VideoCount(), videos);
}

TEST_F(ApiLimitsTest, TusCreateNeedsAValidLengthWithinTheLimit) {
  Response none = Call("POST", "/api/v1/uploads", Tus());
  EXPECT_EQ(none.status, 400) << none;
  Response zero = Call("POST", "/api/v1/uploads", Tus({"Upload-Length: 0"}));
  EXPECT_EQ(zero.status, 400) << zero;
  Response junk = Call("POST", "/api/v1/uploads", Tus({"Upload-Length: lots"}));
  EXPECT_EQ(junk.status, 400) << junk;
  Response big =
      Call("POST", "/api/v1/uploads", Tus({"Upload-Length: " + std::to_string(kMaxUpload + 1)}));
  EXPECT_EQ(big.status, 413) << big;
  EXPECT_EQ(big.ErrorCode(), "too_large_file");
}

TEST_F(ApiLimitsTest, TusUploadInTwoPiecesIsQueuedAndStoredByteForByte) {
  const std::string bytes = ReadFile(Fixture("compliant_720p.mp4"));
  const int64_t size = static_cast<int64_t>(bytes.size());
  const std::string path = CreateUpload(size);
  ASSERT_FALSE(path.empty());
  const std::string id = IdOf(path);
  auto created = GetVideo(id);
  EXPECT_EQ(created["status"], "uploading");
  EXPECT_EQ(created["filename"], "tus clip.mp4");

  Response head = Call("HEAD", path, Tus());
  EXPECT_EQ(head.status, 200) << head;
  EXPECT_EQ(head.header("Upload-Offset"), "0");
  EXPECT_EQ(head.header("Upload-Length"), std::to_string(size));
  EXPECT_EQ(head.header("Tus-Resumable"), "1.0.0");
  EXPECT_EQ(head.header("Cache-Control"), "no-store");

  const int64_t half = size / 2 + 123;
  Response first = Patch(path, 0, bytes.substr(0, half));
  EXPECT_EQ(first.status, 204) << first;
  EXPECT_EQ(first.header("Upload-Offset"), std::to_string(half));
  EXPECT_EQ(Call("HEAD", path, Tus()).header("Upload-Offset"), std::to_string(half));
  EXPECT_EQ(GetVideo(id)["status"], "uploading");

  Response second = Patch(path, half, bytes.substr(half));
  EXPECT_EQ(second.status, 204) << second;
  EXPECT_EQ(second.header("Upload-Offset"), std::to_string(size));
  auto v = GetVideo(id);
  EXPECT_EQ(v["status"], "queued");
  EXPECT_TRUE(ReadFile(Original(id)) == bytes) << "the assembled original differs";
  // Nothing more can be written to a finished upload.
  EXPECT_EQ(Patch(path, size, "x").status, 204);
  EXPECT_TRUE(ReadFile(Original(id)) == bytes);
}

TEST_F(ApiLimitsTest, TusPatchAtTheWrongOffsetIs409) {
  const std::string path = CreateUpload(1000);
  ASSERT_FALSE(path.empty());
  Response ahead = Patch(path, 10, std::string(100, 'a'));
  EXPECT_EQ(ahead.status, 409) << ahead;
  EXPECT_EQ(ahead.ErrorCode(), "offset_mismatch");
  ASSERT_EQ(Patch(path, 0, std::string(100, 'a')).status, 204);
  Response behind = Patch(path, 0, std::string(100, 'b'));
  EXPECT_EQ(behind.status, 409) << behind;
  EXPECT_EQ(Call("HEAD", path, Tus()).header("Upload-Offset"), "100");
  Response missing = Call("PATCH", path, Tus({"Content-Type: application/offset+octet-stream"}),
                          std::string(10, 'c'));
  EXPECT_EQ(missing.status, 400) << missing;  // no Upload-Offset
}

TEST_F(ApiLimitsTest, TusPatchWithTheWrongContentTypeIs415) {
  const std::string path = CreateUpload(1000);
  ASSERT_FALSE(path.empty());
  for (const char* type : {"application/octet-stream", "video/mp4", "text/plain"}) {
    Response r = Patch(path, 0, std::string(100, 'a'), type);
    EXPECT_EQ(r.status, 415) << type << ": " << r;
    EXPECT_EQ(r.ErrorCode(), "unsupported_media_type");
  }
  EXPECT_EQ(Call("HEAD", path, Tus()).header("Upload-Offset"), "0");
}

TEST_F(ApiLimitsTest, TusPatchPastUploadLengthIs413) {
  const std::string path = CreateUpload(100);
  ASSERT_FALSE(path.empty());
  Response r = Patch(path, 0, std::string(150, 'a'));
  EXPECT_EQ(r.status, 413) << r;
  EXPECT_EQ(Call("HEAD", path, Tus()).header("Upload-Offset"), "0");
}

TEST_F(ApiLimitsTest, TusPatchCutOffKeepsTheBytesReceivedAndResumes) {
  const std::string bytes = ReadFile(Fixture("compliant_720p.mp4"));
  const int64_t size = static_cast<int64_t>(bytes.size());
  const std::string path = CreateUpload(size);
  ASSERT_FALSE(path.empty());
  const int64_t sent = 200'000;
  {
    RawConnection c(server().port());
    ASSERT_TRUE(c.Send("PATCH " + path +
                       " HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: "
                       "0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: " +
                       std::to_string(size) + "\r\n\r\n"));
    ASSERT_TRUE(c.Send(std::string_view(bytes).substr(0, sent)));
    c.Close();  // the connection is cut part-way through the body
  }
  std::string offset;
  bool kept = WaitUntil(
      [&] {
        offset = Call("HEAD", path, Tus()).header("Upload-Offset");
        return !offset.empty() && offset != "0";
      },
      10s);
  ASSERT_TRUE(kept) << "offset " << offset << "\n" << server().LogTail();
  EXPECT_EQ(offset, std::to_string(sent));

  // Resume from there (the cut request may hold the upload's lock for a moment).
  Response rest;
  WaitUntil(
      [&] {
        rest = Patch(path, sent, bytes.substr(sent));
        return rest.ErrorCode() != "upload_locked";
      },
      10s);
  EXPECT_EQ(rest.status, 204) << rest;
  EXPECT_EQ(rest.header("Upload-Offset"), std::to_string(size));
  const std::string id = IdOf(path);
  EXPECT_EQ(GetVideo(id)["status"], "queued");
  EXPECT_TRUE(ReadFile(Original(id)) == bytes) << "the resumed upload's original differs";
}

TEST_F(ApiLimitsTest, TusDeleteThenHeadIs404) {
  const std::string path = CreateUpload(1000);
  ASSERT_FALSE(path.empty());
  ASSERT_EQ(Patch(path, 0, std::string(500, 'a')).status, 204);
  const std::string id = IdOf(path);
  Response r = Call("DELETE", path, Tus());
  EXPECT_EQ(r.status, 204) << r;
  EXPECT_EQ(r.header("Tus-Resumable"), "1.0.0");
  Response head = Call("HEAD", path, Tus());
  EXPECT_EQ(head.status, 404) << head;
  EXPECT_EQ(Call("GET", "/api/v1/videos/" + id).status, 404);
  EXPECT_TRUE(FilesIn(server().data_dir() + "/storage/blobs/uploads/" + id).empty());
  EXPECT_EQ(Call("DELETE", path, Tus()).status, 404);
  EXPECT_EQ(Patch(path, 500, "x").status, 404);
}

// A client may send its next PATCH as soon as it has the previous response, on another
// connection: the upload must not still be locked by the finished request.
TEST_F(ApiLimitsTest, TusPatchRightAfterAPatchResponseIsNotLocked) {
  const int kPieces = 300;
  const std::string path = CreateUpload(kPieces);
  ASSERT_FALSE(path.empty());
  int locked = 0;
  for (int i = 0; i < kPieces; ++i) {
    Response r = Patch(path, i, "x");  // each on a new connection
    if (r.ErrorCode() == "upload_locked") {
      ++locked;
      WaitUntil(
          [&] {
            r = Patch(path, i, "x");
            return r.ErrorCode() != "upload_locked";
          },
          5s, 1ms);
    }
    ASSERT_EQ(r.status, 204) << "piece " << i << ": " << r;
  }
  EXPECT_EQ(locked, 0) << "of " << kPieces << " PATCHes sent right after the previous response, "
                       << locked << " were refused with 409 upload_locked";
  EXPECT_EQ(GetVideo(IdOf(path))["status"], "queued");
}

TEST_F(ApiLimitsTest, TusHeadOfAnUnknownUploadIs404) {
  EXPECT_EQ(Call("HEAD", "/api/v1/uploads/0123456789abcdef", Tus()).status, 404);
  EXPECT_EQ(Call("HEAD", "/api/v1/uploads/bad.id", Tus()).status, 404);
}

// =============================================================================================
// Webhooks to a receiver in this process.

constexpr char kWebhookSecret[] = "whsec_api_test_0123456789";

class ApiWebhookTest : public ServerTest<ApiWebhookTest> {
 public:
  static void SetUpTestSuite() {
    port_ = vidproc::testing::FreePort();
    receiver_ = std::make_unique<vidproc::testing::Receiver>(port_);
    ServerTest<ApiWebhookTest>::SetUpTestSuite();
  }
  static void TearDownTestSuite() {
    ServerTest<ApiWebhookTest>::TearDownTestSuite();
    receiver_.reset();
  }
  static std::string Token() { return "webhook-suite-token-0123456789"; }
  static ServeOptions Options() {
    return {.workers = 1,
            .env = {{"WEBHOOK_URL", "http://127.0.0.1:" + std::to_string(port_) + "/hooks"},
                    {"WEBHOOK_SECRET", kWebhookSecret},
                    {"VIDPROC_API_TOKEN", Token()},
                    {"VIDPROC_PUBLIC_URL", kPublicUrl}}};
  }
  // vidproc as the platform mounts it: under a sub-path of another origin.
  static constexpr char kPublicUrl[] = "https://platform.example/media";

 protected:
  // The first delivery of `event` for video `id` answered with a 2xx, if one arrived in time.
  static std::optional<vidproc::testing::Received> WaitForDelivery(
      const std::string& event, const std::string& id, std::chrono::milliseconds timeout) {
    std::optional<vidproc::testing::Received> found;
    WaitUntil(
        [&] {
          if (!receiver_) return false;
          for (const auto& r : receiver_->accepted()) {
            auto j = r.Json();
            if (j.is_object() && j["event"] == event && j["video"]["id"] == id) {
              found = r;
              return true;
            }
          }
          return false;
        },
        timeout, 100ms);
    return found;
  }

  // --- The platform's ids (external_id, metadata), as each upload path sends them.
  enum class UploadPath { kMultipart, kRaw, kTus };
  static const char* PathName(UploadPath p) {
    return p == UploadPath::kMultipart ? "multipart" : p == UploadPath::kRaw ? "raw" : "tus";
  }
  struct Uploaded {
    Response created;  // the answer of the request that created the video
    std::string id;    // "" when it was refused
  };
  // Uploads text.mp4 (refused by the transcoder at once: a quick video.failed) by `path`, with
  // `external_id` and `metadata` (JSON text) where that path carries them; "" sends none.
  static Uploaded UploadWithIds(UploadPath path, const std::string& external_id,
                                const std::string& metadata) {
    const std::string content = ReadFile(Fixture("text.mp4"));
    Uploaded u;
    if (path == UploadPath::kMultipart) {
      // The id before the file and the metadata after it, as a form may order them.
      const std::string b = "--vidproc-ids-0123456789";
      auto field = [&](const std::string& name, const std::string& value) {
        return b + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value +
               "\r\n";
      };
      std::string body = external_id.empty() ? "" : field("external_id", external_id);
      body += b + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"ids.mp4\"\r\n" +
              "Content-Type: video/mp4\r\n\r\n" + content + "\r\n";
      if (!metadata.empty()) body += field("metadata", metadata);
      body += b + "--\r\n";
      u.created =
          Call("POST", "/api/v1/videos",
               {"Content-Type: multipart/form-data; boundary=" + b.substr(2), "Expect:"}, body);
    } else if (path == UploadPath::kRaw) {
      std::string query;
      if (!external_id.empty()) query += "external_id=" + PercentEncode(external_id);
      if (!metadata.empty())
        query += (query.empty() ? "" : "&") + ("metadata=" + PercentEncode(metadata));
      u.created = Call("POST", "/api/v1/videos" + (query.empty() ? "" : "?" + query),
                       {"Content-Type: video/mp4", "X-Filename: ids.mp4", "Expect:"}, content);
    } else {
      std::string tus_metadata = "filename " + Base64("ids.mp4");
      if (!external_id.empty()) tus_metadata += ",external_id " + Base64(external_id);
      if (!metadata.empty()) tus_metadata += ",metadata " + Base64(metadata);
      u.created = Call("POST", "/api/v1/uploads",
                       {"Tus-Resumable: 1.0.0", "Upload-Length: " + std::to_string(content.size()),
                        "Upload-Metadata: " + tus_metadata});
      if (u.created.status != 201) return u;
      const std::string location = u.created.header("location");
      u.id = location.substr(location.rfind('/') + 1);
      Response patched = Call("PATCH", "/api/v1/uploads/" + u.id,
                              {"Tus-Resumable: 1.0.0", "Upload-Offset: 0",
                               "Content-Type: application/offset+octet-stream", "Expect:"},
                              content);
      EXPECT_EQ(patched.status, 204) << patched;
      return u;
    }
    auto j = u.created.Json();
    if (u.created.status == 201 && j.is_object()) u.id = j.value("id", "");
    return u;
  }

  static inline int port_ = 0;
  static inline std::unique_ptr<vidproc::testing::Receiver> receiver_;
};

TEST_F(ApiWebhookTest, ReadyVideoIsDeliveredSigned) {
  const std::string id = UploadId("compliant_720p.mp4");
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(WaitForStatus(id, {"ready", "failed"})["status"], "ready");
  auto delivery = WaitForDelivery("video.ready", id, 20s);
  ASSERT_TRUE(delivery) << "no video.ready delivery (is the dispatcher wired into serve?)\n"
                        << server().LogTail();
  EXPECT_EQ(delivery->method, "POST");
  EXPECT_EQ(delivery->header("content-type"), "application/json");
  EXPECT_EQ(delivery->header("x-vidproc-event"), "video.ready");
  EXPECT_FALSE(delivery->header("x-vidproc-delivery").empty());
  EXPECT_TRUE(vidproc::testing::SignedWith(*delivery, kWebhookSecret));
  EXPECT_FALSE(vidproc::testing::SignedWith(*delivery, "another secret"));
  auto body = delivery->Json();
  EXPECT_EQ(body["video"]["status"], "ready");
  EXPECT_TRUE(body["video"]["output"].is_object());

  // A delivery id no other database repeats, the same in the header and the body.
  const std::string event_id = body.value("id", "");
  EXPECT_TRUE(std::regex_match(event_id, std::regex("evt_[0-9a-f]{32}"))) << event_id;
  EXPECT_EQ(delivery->header("x-vidproc-delivery"), event_id);

  // The video exactly as the API renders it, links absolute on VIDPROC_PUBLIC_URL; the
  // signatures' expiry is rounded to the hour, so only it may differ across an hour boundary.
  auto without_expiry = [](nlohmann::json v) {
    for (const char* link : {"video_url", "thumbnail_url"}) {
      if (v.contains(link))
        v[link] = v[link].get<std::string>().substr(0, v[link].get<std::string>().find('?'));
    }
    return v;
  };
  const nlohmann::json api = GetVideo(id);
  EXPECT_EQ(without_expiry(body["video"]), without_expiry(api));
  for (const char* link : {"video_url", "thumbnail_url"}) {
    const std::string url = body["video"].value(link, "");
    const std::string media = std::string(link) == "video_url" ? "/video?" : "/thumbnail?";
    ASSERT_EQ(url.rfind(std::string(kPublicUrl) + "/api/v1/videos/" + id + media, 0), 0u) << url;
    // Behind the platform's proxy (which strips the prefix) the signed link works with no token.
    Response fetched = CallWithout("HEAD", url.substr(std::strlen(kPublicUrl)));
    EXPECT_EQ(fetched.status, 200) << url << "\n" << fetched;
  }
}

TEST_F(ApiWebhookTest, DeletedVideoIsDeliveredAsItWas) {
  const std::string id = UploadId("compliant_720p.mp4");
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(WaitForStatus(id, {"ready", "failed"})["status"], "ready");
  auto ready = WaitForDelivery("video.ready", id, 20s);
  ASSERT_TRUE(ready) << server().LogTail();
  ASSERT_EQ(Call("DELETE", "/api/v1/videos/" + id).status, 204);
  auto deleted = WaitForDelivery("video.deleted", id, 20s);
  ASSERT_TRUE(deleted) << "no video.deleted delivery\n" << server().LogTail();
  EXPECT_EQ(deleted->header("x-vidproc-event"), "video.deleted");
  EXPECT_TRUE(vidproc::testing::SignedWith(*deleted, kWebhookSecret));
  auto body = deleted->Json();
  EXPECT_EQ(body["video"]["id"], id);
  EXPECT_EQ(body["video"]["status"], "ready");
  EXPECT_EQ(body["video"]["filename"], ready->Json()["video"]["filename"]);
  EXPECT_EQ(body["video"].value("video_url", "").rfind(kPublicUrl, 0), 0u);
  // Two events, two ids; the deleted video is gone from the API.
  EXPECT_NE(body["id"], ready->Json()["id"]);
  EXPECT_EQ(Call("GET", "/api/v1/videos/" + id).status, 404);
}

TEST_F(ApiWebhookTest, EventsWhileTheReceiverIsDownArriveAfterItComesUp) {
  auto failed_deliveries = [] {
    return ParseMetrics(
        Call("GET", "/metrics").body)["vidproc_webhook_deliveries{state=\"failed\"}"];
  };
  const double failed_before = failed_deliveries();
  receiver_.reset();  // down: connections to its port are refused
  const std::string id = UploadId("text.mp4");
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(WaitForStatus(id, {"ready", "failed"})["status"], "failed");
  // The server tried and failed while the receiver was down.
  bool attempted = WaitUntil(
      [&] {
        std::string log = server().Log();
        size_t at = 0;
        while ((at = log.find("webhook delivery failed", at)) != std::string::npos) {
          size_t end = log.find('\n', at);
          if (log.substr(at, end - at).find(id) != std::string::npos) return true;
          at = end;
        }
        return false;
      },
      15s, 100ms);
  ASSERT_TRUE(attempted) << server().LogTail();
  // The operator sees the backlog: a delivery that failed and will be retried.
  double failed = 0;
  EXPECT_TRUE(WaitUntil([&] { return (failed = failed_deliveries()) >= failed_before + 1; }, 10s))
      << "vidproc_webhook_deliveries{state=\"failed\"} stayed at " << failed;

  receiver_ = std::make_unique<vidproc::testing::Receiver>(port_);  // up again
  auto delivery = WaitForDelivery("video.failed", id, 30s);
  ASSERT_TRUE(delivery) << server().LogTail();
  // Accepted at last: no longer in the backlog (the receiver answers before the row is settled).
  EXPECT_TRUE(WaitUntil([&] { return (failed = failed_deliveries()) <= failed_before; }, 10s))
      << "vidproc_webhook_deliveries{state=\"failed\"} stayed at " << failed;
  EXPECT_TRUE(vidproc::testing::SignedWith(*delivery, kWebhookSecret));
  auto body = delivery->Json();
  EXPECT_EQ(body["video"]["status"], "failed");
  EXPECT_EQ(body["video"]["error"]["code"], "not_a_video");
  // The user's file: a retry cannot help, and the receiver is told so.
  EXPECT_EQ(body["video"]["error"]["retryable"], false);
}

// The platform's ids given on each upload path come back in the resource the upload answers, in
// GET, in the list filtered by external_id, in the event stream and in the webhook.
TEST_F(ApiWebhookTest, PlatformIdsOnEveryUploadPathAreEchoedListedStreamedAndDelivered) {
  SseClient sse(server().Url("/api/v1/events"), WithAuth());
  ASSERT_TRUE(sse.WaitConnected());
  struct Sent {
    UploadPath path;
    std::string id;
    std::string external_id;
    nlohmann::json metadata;
  };
  std::vector<Sent> sent;
  for (UploadPath path : {UploadPath::kMultipart, UploadPath::kRaw, UploadPath::kTus}) {
    // Characters each encoding must carry: a space, '&', '#', '+', '%', '=' and UTF-8.
    const std::string external_id = std::string("order ") + PathName(path) + " #1&2+3%=caf\xC3\xA9";
    const nlohmann::json metadata = {{"path", PathName(path)},
                                     {"user", 42},
                                     {"tags", {"a", "\xC3\xA9t\xC3\xA9"}},
                                     {"nested", {{"deep", {{"x", 1.5}, {"none", nullptr}}}}}};
    Uploaded u = UploadWithIds(path, external_id, metadata.dump());
    ASSERT_FALSE(u.id.empty()) << PathName(path) << ": " << u.created;
    if (path != UploadPath::kTus) {  // a tus creation answers without a body
      auto created = u.created.Json();
      EXPECT_EQ(created["external_id"], external_id) << PathName(path);
      EXPECT_EQ(created["metadata"], metadata) << PathName(path);
    }
    sent.push_back({path, u.id, external_id, metadata});
  }
  for (const Sent& s : sent) {
    const char* path = PathName(s.path);
    nlohmann::json video = WaitForStatus(s.id, {"failed", "ready"}, 60s);
    EXPECT_EQ(video["external_id"], s.external_id) << path;
    EXPECT_EQ(video["metadata"], s.metadata) << path;

    Response listed = Call("GET", "/api/v1/videos?external_id=" + PercentEncode(s.external_id));
    ASSERT_EQ(listed.status, 200) << listed;
    auto videos = listed.Json()["videos"];
    ASSERT_EQ(videos.size(), 1u) << path << ": " << listed;
    EXPECT_EQ(videos[0]["id"], s.id) << path;
    EXPECT_EQ(videos[0]["metadata"], s.metadata) << path;

    auto delivery = WaitForDelivery("video.failed", s.id, 30s);
    ASSERT_TRUE(delivery) << path << "\n" << server().LogTail();
    auto body = delivery->Json();
    EXPECT_EQ(body["video"]["external_id"], s.external_id) << path;
    EXPECT_EQ(body["video"]["metadata"], s.metadata) << path;

    bool streamed = sse.WaitFor(
        [&](const std::vector<SseEvent>& events) {
          for (const auto& e : events) {
            auto j = e.Json();
            if (j.is_object() && j.value("id", "") == s.id && j.value("status", "") == "failed" &&
                j["external_id"] == s.external_id && j["metadata"] == s.metadata) {
              return true;
            }
          }
          return false;
        },
        10s);
    EXPECT_TRUE(streamed) << path << ": no event carried the ids";
  }
  // Exact matches only; an id that cannot exist is refused like on upload.
  for (const char* near : {"order", "ORDER RAW #1&2+3%=CAF\xC3\x89", "order raw"}) {
    Response none = Call("GET", "/api/v1/videos?external_id=" + PercentEncode(near));
    ASSERT_EQ(none.status, 200) << none;
    EXPECT_TRUE(none.Json()["videos"].empty()) << near;
  }
  Response too_long =
      Call("GET", "/api/v1/videos?external_id=" + std::string(kMaxExternalIdBytes + 1, 'a'));
  EXPECT_EQ(too_long.status, 400) << too_long;
  EXPECT_EQ(too_long.Json()["error"]["code"], "invalid_external_id");
}

// Every class of invalid id or metadata is refused on every path with its code, before anything
// is recorded; a video stored earlier stays as it was.
TEST_F(ApiWebhookTest, InvalidPlatformIdsAreRefusedOnEveryPathWithTheirCodes) {
  Uploaded original = UploadWithIds(UploadPath::kRaw, "kept-1", R"({"kept":true})");
  ASSERT_FALSE(original.id.empty()) << original.created;
  WaitForStatus(original.id, {"failed", "ready"}, 60s);
  const int videos = VideoCount();
  std::string nested = "{}";
  for (int i = 1; i <= kMaxMetadataDepth; ++i) nested = "{\"a\":" + nested + "}";
  struct Case {
    std::string label;
    std::string external_id;
    std::string metadata;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"over-long id", std::string(kMaxExternalIdBytes + 1, 'a'), "", "invalid_external_id"},
      {"invalid UTF-8 id", "ab\xC3(", "", "invalid_external_id"},
      {"control character in the id", "a\x01z", "", "invalid_external_id"},
      {"escape sequence in the id", "a\x1b[31m", "", "invalid_external_id"},
      {"metadata an array", "", "[1,2]", "invalid_metadata"},
      {"metadata a string", "", "\"text\"", "invalid_metadata"},
      {"metadata not JSON", "", "{\"a\":", "invalid_metadata"},
      {"invalid UTF-8 in metadata", "", "{\"a\":\"\xC3(\"}", "invalid_metadata"},
      {"metadata too deep", "", nested, "invalid_metadata"},
      {"metadata too large", "", "{\"a\":\"" + std::string(kMaxMetadataBytes, 'x') + "\"}",
       "metadata_too_large"},
  };
  for (const Case& c : cases) {
    for (UploadPath path : {UploadPath::kMultipart, UploadPath::kRaw, UploadPath::kTus}) {
      const std::string context = c.label + " via " + PathName(path);
      Uploaded u = UploadWithIds(path, c.external_id, c.metadata);
      EXPECT_EQ(u.created.status, 400) << context << ": " << u.created;
      EXPECT_EQ(u.created.Json()["error"]["code"], c.code) << context << ": " << u.created;
      EXPECT_TRUE(u.id.empty()) << context;
    }
  }
  // Form fields belong in the form.
  Response mixed =
      Perform({.method = "POST",
               .url = server().Url("/api/v1/videos?external_id=x"),
               .headers = WithAuth(),
               .form = {MimeField{"file", "", Fixture("text.mp4"), "a.mp4", "video/mp4"}}});
  EXPECT_EQ(mixed.status, 400) << mixed;
  EXPECT_EQ(mixed.Json()["error"]["code"], "invalid_argument");

  EXPECT_EQ(VideoCount(), videos) << "a refused upload was recorded";
  Response kept = Call("GET", "/api/v1/videos/" + original.id);
  ASSERT_EQ(kept.status, 200) << kept;
  EXPECT_EQ(kept.Json()["external_id"], "kept-1");
  EXPECT_EQ(kept.Json()["metadata"], nlohmann::json({{"kept", true}}));
  Response listed = Call("GET", "/api/v1/videos?external_id=kept-1");
  ASSERT_EQ(listed.status, 200) << listed;
  ASSERT_EQ(listed.Json()["videos"].size(), 1u);
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
}

// ---------------------------------------------------------------------------------------------
// Hostile names (every class of bad text) through every upload path, with an SSE client attached
// and webhooks on: the process lives, every document is valid JSON, the name is shown cleaned.

const std::string kFFFD = "\xEF\xBF\xBD";

struct HostileName {
  std::string label;
  std::string bytes;  // as the client sends it (after its path's own encoding is undone)
  std::string shown;  // as every answer, event and webhook must show it
};

std::vector<HostileName> HostileNames() {
  return {
      {"latin-1", "caf\xE9.mov", "caf" + kFFFD + ".mov"},
      {"stray continuation bytes",
       "a\x80\xBF"
       "b.mp4",
       "a" + kFFFD + kFFFD + "b.mp4"},
      {"overlong ../",
       "\xC0\xAE\xC0\xAE\xC0\xAF"
       "etc.mp4",
       kFFFD + kFFFD + kFFFD + kFFFD + kFFFD + kFFFD + "etc.mp4"},
      {"surrogates", "\xED\xA0\x80\xED\xB0\x80.mp4",
       kFFFD + kFFFD + kFFFD + kFFFD + kFFFD + kFFFD + ".mp4"},
      {"truncated sequences", "clip\xF0\x9F\x8E.mp4\xE2\x82", "clip" + kFFFD + ".mp4" + kFFFD},
      {"bytes F5-FF and past U+10FFFF", "\xF5\xFE\xFF\xF4\x90\x80\x80x.mp4",
       kFFFD + kFFFD + kFFFD + kFFFD + kFFFD + kFFFD + kFFFD + "x.mp4"},
      {"NUL", std::string("nul\0byte.mp4", 12), "nulbyte.mp4"},
      {"ESC, CR, LF, TAB, DEL", "\x1b[31mred\rline\n\tx\x7f.mp4", "[31mredlinex.mp4"},
      {"C1 controls",
       "a\xC2\x9B"
       "b\xC2\x85.mp4",
       "ab.mp4"},
      {"bidi override", "evil\xE2\x80\xAEvom.exe", "evilvom.exe"},
      {"bidi isolates", "\xE2\x81\xA6x\xE2\x81\xA9.mp4\xE2\x80\x8F", "x.mp4"},
      {"10 KB", std::string(254, 'n') + "\xC3\xA9" + std::string(10'000, 'x'),
       std::string(254, 'n')},
      {"path-like", "../../etc/passwd", "passwd"},
      {"Windows-like", "C:\\Users\\me\\Videos\\trip.mov", "trip.mov"},
      {"log fields", "x.mp4 video=AAAA level=error", "x.mp4 video=AAAA level=error"},
      {"JSON and SSE syntax", "\"},{\"id\":\"x\n\ndata: {}\n\nevent: deleted",
       "\"},{\"id\":\"xdata: {}event: deleted"},
      {"only controls", "\r\t\n\x1b", "upload"},
      {"valid UTF-8 stays", "f\xC3\xBCr \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x8E\xAC.mov",
       "f\xC3\xBCr \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x8E\xAC.mov"},
  };
}

// True if `pid` still runs.
bool Alive(pid_t pid) { return ::kill(pid, 0) == 0; }

// A row written straight into SQLite, as a vidproc from before names were cleaned stored it:
// a failed video with a bad name and message, and its webhook delivery due now.
void InsertBadRow(const std::string& db_path, const std::string& id, const std::string& filename,
                  const std::string& message) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 10'000);
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "INSERT INTO videos (id, status, filename, created_at, updated_at, "
                               "size_bytes, attempts, error_code, error_message) VALUES (?1, "
                               "'failed', ?2, ?3, ?3, 10, 1, 'not_a_video', ?4)",
                               -1, &st, nullptr),
            SQLITE_OK);
  sqlite3_bind_text(st, 1, id.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, filename.data(), static_cast<int>(filename.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 3, now);
  sqlite3_bind_text(st, 4, message.data(), static_cast<int>(message.size()), SQLITE_TRANSIENT);
  EXPECT_EQ(sqlite3_step(st), SQLITE_DONE) << sqlite3_errmsg(db);
  sqlite3_finalize(st);
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "INSERT INTO webhook_outbox (video_id, event, created_at, "
                               "next_attempt_at) VALUES (?1, 'video.failed', ?2, ?2)",
                               -1, &st, nullptr),
            SQLITE_OK);
  sqlite3_bind_text(st, 1, id.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 2, now);
  EXPECT_EQ(sqlite3_step(st), SQLITE_DONE) << sqlite3_errmsg(db);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

class ApiHostileNameTest : public ApiWebhookTest {
 protected:
  enum class Path { kMultipart, kRaw, kTus };
  static const char* Name(Path p) {
    return p == Path::kMultipart ? "multipart" : p == Path::kRaw ? "raw" : "tus";
  }

  // Uploads text.mp4 (refused by the transcoder at once: a quick video.failed) under `name`;
  // the new video's id, "" after a failure (reported).
  static std::string Upload(Path path, const std::string& name) {
    const std::string content = ReadFile(Fixture("text.mp4"));
    Response r;
    if (path == Path::kMultipart) {
      std::string quoted;
      for (char c : name) {
        if (c == '"' || c == '\\') quoted += '\\';
        quoted += c;
      }
      const std::string boundary = "vidproc-hostile-0123456789";
      std::string body = "--" + boundary +
                         "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + quoted +
                         "\"\r\nContent-Type: video/mp4\r\n\r\n" + content + "\r\n--" + boundary +
                         "--\r\n";
      r = Call("POST", "/api/v1/videos",
               {"Content-Type: multipart/form-data; boundary=" + boundary, "Expect:"}, body);
    } else if (path == Path::kRaw) {
      r = Call("POST", "/api/v1/videos",
               {"Content-Type: video/mp4", "X-Filename: " + PercentEncode(name), "Expect:"},
               content);
    } else {
      Response created =
          Call("POST", "/api/v1/uploads",
               {"Tus-Resumable: 1.0.0", "Upload-Length: " + std::to_string(content.size()),
                "Upload-Metadata: filename " + Base64(name) + ",filetype " +
                    Base64(std::string("video/mp4\x1b\0", 11))});
      EXPECT_EQ(created.status, 201) << created;
      std::string location = created.header("location");
      std::string id = location.substr(location.rfind('/') + 1);
      if (id.empty()) return "";
      Response patched = Call("PATCH", "/api/v1/uploads/" + id,
                              {"Tus-Resumable: 1.0.0", "Upload-Offset: 0",
                               "Content-Type: application/offset+octet-stream", "Expect:"},
                              content);
      EXPECT_EQ(patched.status, 204) << patched;
      return id;
    }
    EXPECT_EQ(r.status, 201) << r;
    auto j = r.Json();
    EXPECT_TRUE(j.is_object()) << "not valid JSON: " << r.body;
    return j.is_object() ? j.value("id", "") : "";
  }

  // The process is alive and answers.
  static void ExpectAlive(const std::string& context) {
    EXPECT_TRUE(Alive(server().pid())) << context << "\n" << server().LogTail();
    EXPECT_EQ(Call("GET", "/healthz").status, 200) << context;
  }
};

TEST_F(ApiHostileNameTest, EveryHostileNameThroughEveryUploadPathIsServedCleaned) {
  SseClient sse(server().Url("/api/v1/events"), WithAuth());
  ASSERT_TRUE(sse.WaitConnected());
  struct Sent {
    std::string context;
    std::string id;
    std::string shown;
  };
  std::vector<Sent> sent;
  for (const HostileName& name : HostileNames()) {
    for (Path path : {Path::kMultipart, Path::kRaw, Path::kTus}) {
      const std::string context = name.label + " via " + Name(path);
      std::string id = Upload(path, name.bytes);
      EXPECT_FALSE(id.empty()) << context;
      ExpectAlive(context);
      if (!id.empty()) sent.push_back({context, id, name.shown});
    }
  }

  for (const Sent& s : sent) {
    // The video: valid JSON (the client's parser refuses bad UTF-8), the name cleaned.
    nlohmann::json video = WaitForStatus(s.id, {"failed", "ready"}, 60s);
    ASSERT_TRUE(video.is_object()) << s.context;
    EXPECT_EQ(video["filename"], s.shown) << s.context;
    // The webhook: a valid JSON body with the name cleaned.
    auto delivery = WaitForDelivery("video.failed", s.id, 30s);
    ASSERT_TRUE(delivery) << s.context << "\n" << server().LogTail();
    auto body = delivery->Json();
    ASSERT_TRUE(body.is_object()) << s.context << ": " << delivery->body;
    EXPECT_EQ(body["video"]["filename"], s.shown) << s.context;
  }
  // The list: valid JSON, every name cleaned.
  Response list = Call("GET", "/api/v1/videos?limit=100");
  ASSERT_EQ(list.status, 200) << list;
  auto page = list.Json();
  ASSERT_TRUE(page.is_object()) << "not valid JSON: " << list.body.substr(0, 300);
  std::map<std::string, std::string> listed;
  for (const auto& v : page["videos"]) listed[v["id"]] = v["filename"];
  for (const Sent& s : sent) EXPECT_EQ(listed[s.id], s.shown) << s.context;
  // The event stream: every frame valid JSON, each video's last event shows its name cleaned.
  for (const Sent& s : sent) {
    bool seen = sse.WaitFor(
        [&](const std::vector<SseEvent>& events) {
          for (const auto& e : events) {
            auto j = e.Json();
            if (j.is_object() && j.value("id", "") == s.id && j.value("status", "") == "failed") {
              return true;
            }
          }
          return false;
        },
        10s);
    EXPECT_TRUE(seen) << s.context;
  }
  for (const auto& e : sse.events()) {
    auto j = e.Json();
    ASSERT_TRUE(j.is_object()) << "an SSE frame is not valid JSON: " << e.data;
    for (const Sent& s : sent) {
      if (j.value("id", "") == s.id) {
        EXPECT_EQ(j["filename"], s.shown) << s.context;
      }
    }
  }
  EXPECT_FALSE(sse.ended()) << "the event stream ended";
  ExpectAlive("after every upload");
  // The log: one line per record, values quoted, no raw control bytes.
  const std::string log = server().Log();
  EXPECT_EQ(log.find('\x1b'), std::string::npos);
  EXPECT_EQ(log.find(std::string(1, '\0')), std::string::npos);
  EXPECT_NE(log.find("filename=\"x.mp4 video=AAAA level=error\""), std::string::npos);
  EXPECT_EQ(log.find(" level=error"), log.find("filename=\"x.mp4 video=AAAA level=error\"") + 26)
      << "a log field was forged";
  // Refused uploads are the users' problem: warnings, never errors that page an operator.
  EXPECT_NE(log.find(" warning failed "), std::string::npos);
  EXPECT_EQ(log.find("Z error "), std::string::npos) << server().LogTail();
}

TEST_F(ApiHostileNameTest, ABadNameStoredBeforeTheFixIsServedCleanedEverywhere) {
  SseClient sse(server().Url("/api/v1/events"), WithAuth());
  ASSERT_TRUE(sse.WaitConnected());
  const std::string id = "before-the-fix-0001";
  const std::string bad_name = "caf\xE9 \x1b[31m\xED\xA0\x80\xE2\x80\xAE.mov";
  const std::string shown = "caf" + kFFFD + " [31m" + kFFFD + kFFFD + kFFFD + ".mov";
  InsertBadRow(server().data_dir() + "/vidproc.db", id, bad_name, "bad \xFF\x1b message");

  // The video and the list.
  Response one = Call("GET", "/api/v1/videos/" + id);
  ASSERT_EQ(one.status, 200) << one;
  ASSERT_TRUE(one.Json().is_object()) << one.body;
  EXPECT_EQ(one.Json()["filename"], shown);
  EXPECT_EQ(one.Json()["error"]["message"], "bad " + kFFFD + " message");
  Response list = Call("GET", "/api/v1/videos?limit=100");
  ASSERT_EQ(list.status, 200) << list;
  ASSERT_TRUE(list.Json().is_object()) << list.body.substr(0, 300);
  // SSE: the change feed has the row; its frame is valid JSON.
  bool seen = sse.WaitFor(
      [&](const std::vector<SseEvent>& events) {
        for (const auto& e : events) {
          auto j = e.Json();
          if (j.is_object() && j.value("id", "") == id) return j["filename"] == shown;
        }
        return false;
      },
      10s);
  EXPECT_TRUE(seen) << sse.raw().substr(0, 2000);
  // The webhook dispatcher sends it, cleaned, and lives on.
  auto delivery = WaitForDelivery("video.failed", id, 30s);
  ASSERT_TRUE(delivery) << server().LogTail();
  ASSERT_TRUE(delivery->Json().is_object()) << delivery->body;
  EXPECT_EQ(delivery->Json()["video"]["filename"], shown);
  // `vidproc status` and `vidproc status ID` on the same database.
  for (const std::string& arg : {std::string(""), id}) {
    int code = -1;
    std::string out = vidproc::testing::Shell(
        "cd '" + server().dir() + "' && env -i PATH=/usr/bin:/bin '" + Bin() + "' status " + arg +
            " --data-dir '" + server().data_dir() + "' 2>/dev/null",
        &code);
    EXPECT_EQ(code, 0) << "vidproc status " << arg << ": " << out;
    auto j = nlohmann::json::parse(out, nullptr, false);
    ASSERT_TRUE(j.is_object()) << "vidproc status " << arg << ": " << out.substr(0, 500);
    if (arg.empty()) {
      bool found = false;
      for (const auto& v : j["videos"]) {
        if (v["id"] == id) found = (v["filename"] == shown);
      }
      EXPECT_TRUE(found) << out.substr(0, 2000);
    } else {
      EXPECT_EQ(j["filename"], shown);
    }
  }
  EXPECT_TRUE(Alive(server().pid())) << server().LogTail();
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
}

TEST_F(ApiLimitsTest, SlowlorisHeaderIsClosedByTheServer) {
  // VIDPROC_HTTP_IDLE_TIMEOUT_SECONDS=2 for this server: half a header, then silence.
  RawConnection c(server().port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a"));
  auto started = std::chrono::steady_clock::now();
  bool closed = false;
  c.ReadUntilClosed(10s, &closed);
  auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(closed) << "the server kept a half-sent header open for 10 s";
  EXPECT_GE(waited, 1500ms);
  EXPECT_LT(waited, 6s);
  EXPECT_EQ(Call("GET", "/healthz").status, 200);  // and it still serves others
}

}  // namespace
}  // namespace vidproc::http::testing
