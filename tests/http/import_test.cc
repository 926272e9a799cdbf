// Imports over real HTTP (POST /api/v1/videos with a JSON body naming source_url), against
// `vidproc serve` children with local storage and one worker slot, from an HTTP server in this
// process (tests/support/http_receiver.h):
//   ApiImportTest             VIDPROC_IMPORT_ALLOWED_HOSTS=127.0.0.1, MAX_UPLOAD_BYTES=1000000,
//                             2 s leases: an import processed to ready, a fetch longer than a
//                             lease, a redirect to a private address, an oversized source, a
//                             source answering 404, bad bodies
//   ApiImportNoAllowlistTest  no allowlist: the same loopback URL is refused before any request
// Imports by source_key need a bucket: tests/worker/s3_pipeline_test.cc.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "http/http_test_util.h"
#include "support/http_receiver.h"

namespace vidproc::http::testing {
namespace {

using vidproc::testing::Received;
using vidproc::testing::Receiver;

constexpr char kSecret[] = "s3cr3t-signature-value";

std::string Ok(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

std::string ErrorOf(const nlohmann::json& video) {
  return video.contains("error") && video["error"].is_object()
             ? video["error"].value("code", std::string())
             : "";
}

template <typename Suite>
class ImportTest : public OneServerPerSuite<Suite> {
 protected:
  using OneServerPerSuite<Suite>::server;

  static Response PostJson(const std::string& body) {
    return Perform({.method = "POST",
                    .url = server().Url("/api/v1/videos"),
                    .headers = {"Content-Type: application/json"},
                    .body = body});
  }
  static nlohmann::json GetVideo(const std::string& id) {
    return Perform({.method = "GET", .url = server().Url("/api/v1/videos/" + id)}).Json();
  }
  static nlohmann::json WaitForStatus(const std::string& id, std::set<std::string> statuses) {
    nlohmann::json video;
    bool reached = WaitUntil(
        [&] {
          video = GetVideo(id);
          return video.is_object() && statuses.count(video.value("status", "")) > 0;
        },
        120s, 100ms);
    EXPECT_TRUE(reached) << video.dump() << "\n" << server().LogTail();
    return video;
  }
  // Posts an import of `url` (202 expected) and waits for it to end: the final resource.
  static nlohmann::json ImportAndWait(const std::string& url) {
    Response r = PostJson(nlohmann::json({{"source_url", url}}).dump());
    EXPECT_EQ(r.status, 202) << r;
    const std::string id = r.Json().value("id", "");
    if (id.empty()) return nullptr;
    return WaitForStatus(id, {"ready", "failed"});
  }
  static int VideoCount() {
    auto q = Perform({.method = "GET", .url = server().Url("/api/v1/queue")}).Json();
    int n = 0;
    for (const char* key : {"uploading", "queued", "processing", "ready", "failed"}) {
      n += q.value(key, 0);
    }
    return n;
  }
};

class ApiImportTest : public ImportTest<ApiImportTest> {
 public:
  static ServeOptions Options() {
    return {.workers = 1,
            .env = {{"VIDPROC_IMPORT_ALLOWED_HOSTS", "127.0.0.1"},
                    {"MAX_UPLOAD_BYTES", "1000000"},
                    {"VIDPROC_LEASE_SECONDS", "2"}}};
  }

 protected:
  std::string Base() const { return "http://127.0.0.1:" + std::to_string(source_.port()); }
  Receiver source_;
};

TEST_F(ApiImportTest, AUrlImportIsProcessedToReadyWithItsIdsAndNoSecretShown) {
  const std::string video = ReadFile(Fixture("compliant_720p.mp4"));
  ASSERT_LT(video.size(), 1'000'000u);
  source_.set_responder([&](const Received& r) {
    return r.target.rfind("/media/clip.mp4?", 0) == 0 ? Ok(video)
                                                      : "HTTP/1.1 404 Not Found\r\n\r\n";
  });
  const std::string url = Base() + "/media/clip.mp4?X-Amz-Signature=" + kSecret;
  Response r = PostJson(nlohmann::json({{"source_url", url},
                                        {"external_id", "post-17"},
                                        {"metadata", {{"user", 42}, {"kind", "story"}}}})
                            .dump());
  ASSERT_EQ(r.status, 202) << r;
  nlohmann::json created = r.Json();
  const std::string id = created.value("id", "");
  ASSERT_FALSE(id.empty()) << r;
  EXPECT_EQ(r.header("Location"), "/api/v1/videos/" + id);
  // Read back after it was recorded: a free worker may have claimed it already.
  EXPECT_TRUE(created["status"] == "queued" || created["status"] == "processing") << r;
  EXPECT_EQ(created["filename"], "clip.mp4");
  EXPECT_EQ(created["import"],
            nlohmann::json({{"source_key", nullptr},
                            {"source_host", "127.0.0.1:" + std::to_string(source_.port())},
                            {"replace_source", false}}));
  EXPECT_EQ(r.body.find(kSecret), std::string::npos) << "the URL's query was shown: " << r.body;

  nlohmann::json ready = WaitForStatus(id, {"ready", "failed"});
  ASSERT_EQ(ready["status"], "ready") << ready.dump();
  EXPECT_EQ(ready["external_id"], "post-17");
  EXPECT_EQ(ready["metadata"], nlohmann::json({{"kind", "story"}, {"user", 42}}));
  EXPECT_EQ(ready["source"].value("size_bytes", int64_t{0}), static_cast<int64_t>(video.size()));
  EXPECT_GT(ready["output"].value("height", 0), 0);
  Response played = Perform({.method = "GET", .url = server().Url(ready.value("video_url", ""))});
  EXPECT_EQ(played.status, 200);
  EXPECT_EQ(played.body.substr(4, 4), "ftyp") << "an MP4 is served";
  ASSERT_EQ(source_.count(), 1u) << "fetched once";
  EXPECT_EQ(source_.requests()[0].method, "GET");

  Response listed =
      Perform({.method = "GET", .url = server().Url("/api/v1/videos?external_id=post-17")});
  EXPECT_EQ(listed.Json()["videos"].size(), 1u) << listed;
  EXPECT_EQ(listed.body.find(kSecret), std::string::npos);
  // Never logged whole either.
  EXPECT_EQ(server().Log().find(kSecret), std::string::npos) << server().LogTail();
  EXPECT_NE(server().Log().find("/media/clip.mp4?****"), std::string::npos) << server().LogTail();
}

// A source that takes three leases to answer: the worker renews the lease while it waits, so the
// job is not presumed dead, recovered and run a second time.
TEST_F(ApiImportTest, AFetchLongerThanALeaseKeepsItsLease) {
  const std::string video = ReadFile(Fixture("compliant_720p.mp4"));
  source_.set_responder([&](const Received&) { return Ok(video); });
  source_.set_delay_ms(6'000);
  nlohmann::json ready = ImportAndWait(Base() + "/slow.mp4");
  EXPECT_EQ(ready["status"], "ready") << ready.dump();
  EXPECT_EQ(ready["attempts"], 1) << "the lease expired during the fetch";
  EXPECT_EQ(source_.count(), 1u);
}

TEST_F(ApiImportTest, ARedirectToAPrivateAddressIsRefused) {
  for (const std::string& location :
       {std::string("http://169.254.169.254/latest/meta-data/"), std::string("http://10.0.0.1/v"),
        "http://[::1]:" + std::to_string(source_.port()) + "/v"}) {
    source_.set_responder([&](const Received&) {
      return "HTTP/1.1 302 Found\r\nLocation: " + location +
             "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    });
    const size_t before = source_.count();
    nlohmann::json video = ImportAndWait(Base() + "/start");
    EXPECT_EQ(video["status"], "failed") << location;
    EXPECT_EQ(ErrorOf(video), "source_refused") << location << ": " << video.dump();
    EXPECT_FALSE(video["error"].value("retryable", true));
    EXPECT_EQ(source_.count(), before + 1) << "only the first hop was requested";
  }
}

TEST_F(ApiImportTest, AnOversizedSourceIsRefused) {
  const std::string big(1'200'000, 'v');
  source_.set_responder([&](const Received&) { return Ok(big); });
  nlohmann::json video = ImportAndWait(Base() + "/big.mp4");
  EXPECT_EQ(video["status"], "failed");
  EXPECT_EQ(ErrorOf(video), "too_large_file") << video.dump();
}

TEST_F(ApiImportTest, ASourceAnswering404FailsWithoutARetry) {
  source_.set_status(404);
  nlohmann::json gone = ImportAndWait(Base() + "/gone.mp4");
  EXPECT_EQ(gone["status"], "failed");
  EXPECT_EQ(ErrorOf(gone), "source_failed") << gone.dump();
  EXPECT_EQ(gone["attempts"], 1) << "a 404 is not retried";
}

TEST_F(ApiImportTest, BadBodiesAre400AndRecordNothing) {
  const int before = VideoCount();
  const std::string url = Base() + "/v.mp4";
  for (const auto& [body, code] : std::vector<std::pair<std::string, std::string>>{
           {"not json", "invalid_import"},
           {"[]", "invalid_import"},
           {"{}", "invalid_import"},
           {nlohmann::json({{"source_url", url}, {"source_key", "media/a.mov"}}).dump(),
            "invalid_import"},
           {nlohmann::json({{"source_url", url}, {"unknown", 1}}).dump(), "invalid_import"},
           {nlohmann::json({{"source_url", 5}}).dump(), "invalid_import"},
           {nlohmann::json({{"source_url", "file:///etc/passwd"}}).dump(), "source_refused"},
           {nlohmann::json({{"source_url", "https://u:p@example.com/v.mp4"}}).dump(),
            "source_refused"},
           {nlohmann::json({{"source_url", url}, {"replace_source", true}}).dump(),
            "replace_source_needs_key"},
           {nlohmann::json({{"source_key", "../etc/passwd"}}).dump(), "invalid_source_key"},
           {nlohmann::json({{"source_key", "videos/abc/video.mp4"}}).dump(), "invalid_source_key"},
           // Local storage: there is no bucket a key could name.
           {nlohmann::json({{"source_key", "media/a.mov"}}).dump(), "source_key_unsupported"},
           {nlohmann::json({{"source_url", url}, {"external_id", std::string(300, 'x')}}).dump(),
            "invalid_external_id"},
           {nlohmann::json({{"source_url", url}, {"metadata", "x"}}).dump(), "invalid_metadata"},
           {"{\"source_url\": \"" + url + "\", \"filename\": \"" + std::string(40'000, 'a') + "\"}",
            "invalid_import"}}) {
    Response r = PostJson(body);
    EXPECT_EQ(r.status, 400) << body.substr(0, 200) << "\n" << r;
    EXPECT_EQ(r.ErrorCode(), code) << body.substr(0, 200) << "\n" << r;
  }
  Response in_query = Perform({.method = "POST",
                               .url = server().Url("/api/v1/videos?external_id=x"),
                               .headers = {"Content-Type: application/json"},
                               .body = nlohmann::json({{"source_url", url}}).dump()});
  EXPECT_EQ(in_query.status, 400) << in_query;
  EXPECT_EQ(VideoCount(), before) << "a refused import records nothing";
  EXPECT_EQ(source_.count(), 0u);
}

class ApiImportNoAllowlistTest : public ImportTest<ApiImportNoAllowlistTest> {
 public:
  static ServeOptions Options() { return {.workers = 1, .env = {}}; }
};

TEST_F(ApiImportNoAllowlistTest, ALoopbackSourceIsRefusedAndNeverRequested) {
  Receiver source;
  source.set_responder([&](const Received&) { return Ok("secret"); });
  const std::string port = std::to_string(source.port());
  for (const std::string& url :
       {"http://127.0.0.1:" + port + "/v.mp4", "http://localhost:" + port + "/v.mp4",
        "http://[::1]:" + port + "/v.mp4",
        std::string("http://169.254.169.254/latest/meta-data/")}) {
    nlohmann::json video = ImportAndWait(url);
    EXPECT_EQ(video["status"], "failed") << url;
    EXPECT_EQ(ErrorOf(video), "source_refused") << url << ": " << video.dump();
    EXPECT_NE(video["error"].value("message", "").find("VIDPROC_IMPORT_ALLOWED_HOSTS"),
              std::string::npos)
        << video.dump();
  }
  EXPECT_EQ(source.count(), 0u) << "a refused address was connected to";
}

}  // namespace
}  // namespace vidproc::http::testing
