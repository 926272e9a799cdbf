// Direct uploads (docs/API.md, "Direct uploads"): the pure parts (the request body, origins,
// CORS, secrets, routing) as units, then the API over real HTTP against `vidproc serve`:
//
//   ApiDirectUploadTest        a token, one worker slot, VIDPROC_CORS_ORIGINS: creation, a PUT
//                              processed to ready, single use, max_bytes, tus through the URL
//                              with a cut connection, CORS, secrets kept out of the log
//   ApiDirectUploadExpiryTest  no token (loopback only), URLs that live 2 s, a webhook receiver:
//                              the URL from another origin and through a proxy, expiry (410),
//                              and the expired video's deletion with its video.deleted
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/text.h"
#include "http/api.h"
#include "http/direct_uploads.h"
#include "http/http_test_util.h"
#include "http/routes.h"
#include "support/http_receiver.h"
#include "support/shell.h"

namespace vidproc::http {
namespace {

TEST(DirectUploadsTest, BodyDefaultsAndChecks) {
  auto empty = ParseDirectUploadRequest("", 1000);
  ASSERT_TRUE(std::holds_alternative<DirectUploadRequest>(empty));
  EXPECT_EQ(std::get<DirectUploadRequest>(empty).max_bytes, 1000);
  EXPECT_TRUE(std::get<DirectUploadRequest>(empty).cors_origin.empty());

  auto full = ParseDirectUploadRequest(
      R"({"external_id": "order-1", "metadata": {"a": 1}, "max_bytes": 400,
          "cors_origin": "https://App.Example.com/"})",
      1000);
  ASSERT_TRUE(std::holds_alternative<DirectUploadRequest>(full));
  const auto& r = std::get<DirectUploadRequest>(full);
  EXPECT_EQ(r.ids.external_id, "order-1");
  EXPECT_EQ(r.ids.metadata["a"], 1);
  EXPECT_EQ(r.max_bytes, 400);
  EXPECT_EQ(r.cors_origin, "https://app.example.com");
  auto capped = ParseDirectUploadRequest(R"({"max_bytes": 5000})", 1000);
  EXPECT_EQ(std::get<DirectUploadRequest>(capped).max_bytes, 1000) << "capped by the server's";
  auto nulls = ParseDirectUploadRequest(R"({"external_id": null, "cors_origin": null})", 1000);
  EXPECT_TRUE(std::holds_alternative<DirectUploadRequest>(nulls));

  auto code = [](std::string_view body) {
    auto out = ParseDirectUploadRequest(body, 1000);
    return std::holds_alternative<HttpError>(out) ? std::get<HttpError>(out).code : "";
  };
  EXPECT_EQ(code("not json"), "invalid_argument");
  EXPECT_EQ(code("[1]"), "invalid_argument");
  EXPECT_EQ(code(R"({"max_bytes": 0})"), "invalid_argument");
  EXPECT_EQ(code(R"({"max_bytes": -5})"), "invalid_argument");
  EXPECT_EQ(code(R"({"max_bytes": 1.5})"), "invalid_argument");
  EXPECT_EQ(code(R"({"max_bytes": "9"})"), "invalid_argument");
  EXPECT_EQ(code(R"({"cors_origin": "ftp://a.example"})"), "invalid_argument");
  EXPECT_EQ(code(R"({"cors_origin": "https://a.example/upload"})"), "invalid_argument");
  EXPECT_EQ(code(R"({"cors_origin": 7})"), "invalid_argument");
  EXPECT_EQ(code(R"({"max_byte": 9})"), "invalid_argument") << "a typo is not ignored";
  EXPECT_EQ(code(R"({"external_id": 5})"), "invalid_external_id");
  EXPECT_EQ(code(R"({"external_id": ")" + std::string(256, 'x') + "\"}"), "invalid_external_id");
  EXPECT_EQ(code(R"({"metadata": [1]})"), "invalid_metadata");
}

TEST(DirectUploadsTest, OriginsAreSchemeHostAndPortOnly) {
  EXPECT_EQ(ParseOrigin("https://app.example.com").value_or(""), "https://app.example.com");
  EXPECT_EQ(ParseOrigin("HTTP://LOCALHOST:5173").value_or(""), "http://localhost:5173");
  EXPECT_EQ(ParseOrigin("http://[::1]:8000").value_or(""), "http://[::1]:8000");
  for (const char* bad :
       {"", "null", "app.example.com", "https://", "https://a.example/x", "https://user@a.example",
        "https://a.example:", "https://a.example:x", "https://a.example?x", "https://a b",
        "javascript:alert(1)", "https://a.example:123456"}) {
    EXPECT_FALSE(ParseOrigin(bad).has_value()) << bad;
  }
}

TEST(DirectUploadsTest, CorsAllowsListedOriginsTheUploadsOwnOrAny) {
  const std::vector<std::string> allowed = {"https://app.example.com"};
  EXPECT_TRUE(CorsAllows("https://app.example.com", allowed, ""));
  EXPECT_FALSE(CorsAllows("https://evil.example", allowed, ""));
  EXPECT_FALSE(CorsAllows("https://app.example.com.evil.example", allowed, ""));
  EXPECT_TRUE(CorsAllows("https://shop.example:8443", allowed, "https://shop.example:8443"));
  EXPECT_FALSE(CorsAllows("https://shop.example", allowed, "https://shop.example:8443"));
  EXPECT_FALSE(CorsAllows("null", {"*"}, "")) << "an opaque origin is never allowed";
  EXPECT_TRUE(CorsAllows("https://any.example", {"*"}, ""));
  HeaderList preflight = CorsHeaders("https://app.example.com", true);
  auto value = [&](const std::string& name) {
    for (const auto& [n, v] : preflight) {
      if (n == name) return v;
    }
    return std::string();
  };
  EXPECT_EQ(value("Access-Control-Allow-Origin"), "https://app.example.com");
  EXPECT_NE(value("Access-Control-Allow-Methods").find("PATCH"), std::string::npos);
  EXPECT_NE(value("Access-Control-Allow-Headers").find("Upload-Offset"), std::string::npos);
  EXPECT_NE(value("Access-Control-Expose-Headers").find("Location"), std::string::npos);
  EXPECT_EQ(CorsHeaders("https://app.example.com", false).size(), 2u);
}

TEST(DirectUploadsTest, SecretsAreLongRandomAndComparedByHash) {
  const std::string a = NewUploadSecret();
  const std::string b = NewUploadSecret();
  EXPECT_EQ(a.size(), 44u);
  EXPECT_NE(a, b);
  const std::string hash = HashUploadSecret(a);
  EXPECT_EQ(hash.size(), 64u);
  EXPECT_EQ(hash.find(a), std::string::npos);
  EXPECT_TRUE(SecretMatches(a, hash));
  EXPECT_FALSE(SecretMatches(b, hash));
  EXPECT_FALSE(SecretMatches("", hash));
  EXPECT_FALSE(SecretMatches(a, ""));
  EXPECT_EQ(SecretOfPath("/api/v1/direct-uploads/ID/" + a), a);
  EXPECT_EQ(SecretOfPath("/api/v1/direct-uploads/ID/" + a + "/"), a);
}

TEST(DirectUploadsTest, TheUrlRoutesToCapabilityHandlers) {
  const auto& routes = ApiRoutes();
  RouteMatch put = MatchRoute(routes, bhttp::verb::put, "/api/v1/direct-uploads/abc/s3cret");
  ASSERT_NE(put.route, nullptr);
  EXPECT_EQ(put.access, Access::kCapability);
  EXPECT_EQ(put.id, "abc");
  EXPECT_EQ(put.label, "/api/v1/direct-uploads/{id}/{secret}") << "the secret is never a label";
  RouteMatch get = MatchRoute(routes, bhttp::verb::get, "/api/v1/direct-uploads/abc/s3cret");
  EXPECT_EQ(get.route, nullptr);
  EXPECT_EQ(get.access, Access::kCapability) << "a 405, not a 401";
  RouteMatch create = MatchRoute(routes, bhttp::verb::post, "/api/v1/direct-uploads");
  EXPECT_EQ(create.access, Access::kToken);
  RouteMatch short_path = MatchRoute(routes, bhttp::verb::put, "/api/v1/direct-uploads/abc");
  EXPECT_EQ(short_path.route, nullptr);
  EXPECT_EQ(short_path.access, Access::kToken) << "no such path: the token, as under /api/v1/";
}

}  // namespace

namespace testing {
namespace {

constexpr char kAppOrigin[] = "https://app.example.com";

template <typename Suite>
class DirectUploadServer : public OneServerPerSuite<Suite> {
 protected:
  using OneServerPerSuite<Suite>::server;

  using OneServerPerSuite<Suite>::WithAuth;
  using OneServerPerSuite<Suite>::Call;
  // A request to an absolute URL with only `headers`: never the token.
  static Response Bare(const std::string& method, const std::string& url,
                       std::vector<std::string> headers = {},
                       std::optional<std::string> body = std::nullopt) {
    return Perform(
        {.method = method, .url = url, .headers = std::move(headers), .body = std::move(body)});
  }

  struct Created {
    Response response;
    std::string id;
    std::string url;   // absolute
    std::string path;  // /api/v1/direct-uploads/{id}/{secret}
  };
  static Created Create(const std::string& body = "") {
    Created c;
    c.response = Call("POST", "/api/v1/direct-uploads", {"Content-Type: application/json"},
                      body.empty() ? std::optional<std::string>() : body);
    auto j = c.response.Json();
    if (c.response.status != 201 || !j.is_object()) return c;
    c.id = j.value("id", "");
    c.url = j.value("upload_url", "");
    const std::string origin = "http://127.0.0.1:" + std::to_string(server().port());
    if (c.url.rfind(origin, 0) == 0) c.path = c.url.substr(origin.size());
    return c;
  }
  static nlohmann::json GetVideo(const std::string& id) {
    return Call("GET", "/api/v1/videos/" + id).Json();
  }
  static std::string WaitForStatus(const std::string& id, std::set<std::string> statuses,
                                   std::chrono::milliseconds timeout = 120s) {
    std::string status;
    WaitUntil(
        [&] {
          auto v = GetVideo(id);
          status = v.is_object() ? v.value("status", "") : "";
          return statuses.count(status) > 0;
        },
        timeout, 100ms);
    return status;
  }
  static std::vector<std::string> Tus(std::vector<std::string> headers = {}) {
    headers.push_back("Tus-Resumable: 1.0.0");
    return headers;
  }
};

class ApiDirectUploadTest : public DirectUploadServer<ApiDirectUploadTest> {
 public:
  static std::string Token() { return "direct-upload-suite-token-0123456789"; }
  static ServeOptions Options() {
    return {.workers = 1,
            .env = {{"VIDPROC_API_TOKEN", Token()},
                    {"VIDPROC_CORS_ORIGINS", std::string(kAppOrigin) + ", http://localhost:5173"},
                    {"MAX_UPLOAD_BYTES", "50000000"}}};
  }
};

TEST_F(ApiDirectUploadTest, CreatingNeedsTheTokenAndMakesAWaitingVideo) {
  Response anonymous = Perform({.method = "POST", .url = server().Url("/api/v1/direct-uploads")});
  EXPECT_EQ(anonymous.status, 401) << anonymous;

  Created c = Create(R"({"external_id": "order-7", "metadata": {"user": 42}})");
  ASSERT_EQ(c.response.status, 201) << c.response;
  ASSERT_FALSE(c.path.empty()) << "upload_url is not absolute on this server: " << c.url;
  EXPECT_EQ(c.path.rfind("/api/v1/direct-uploads/" + c.id + "/", 0), 0u) << c.path;
  const std::string expires = c.response.Json().value("expires_at", "");
  EXPECT_EQ(expires.size(), 20u) << expires;  // RFC 3339, seconds, Z
  EXPECT_EQ(c.response.header("Location"), "/api/v1/videos/" + c.id);

  auto video = GetVideo(c.id);
  EXPECT_EQ(video["status"], "waiting_for_upload") << video;
  EXPECT_EQ(video["external_id"], "order-7");
  EXPECT_EQ(video["metadata"]["user"], 42);
  auto listed = Call("GET", "/api/v1/videos?status=waiting_for_upload&limit=100").Json();
  bool found = false;
  for (const auto& v : listed["videos"]) found = found || v["id"] == c.id;
  EXPECT_TRUE(found) << listed;
  EXPECT_GE(Call("GET", "/api/v1/queue").Json().value("waiting_for_upload", 0), 1);
  // Nothing about the video is reachable with the URL but the upload itself.
  Response get = Bare("GET", c.url, Tus());
  EXPECT_EQ(get.status, 405) << get;
  EXPECT_EQ(get.header("Allow"), "OPTIONS, POST, HEAD, PATCH, PUT");
}

TEST_F(ApiDirectUploadTest, InvalidBodiesAreRefusedAndRecordNothing) {
  const int64_t before = Call("GET", "/api/v1/queue").Json().value("waiting_for_upload", 0);
  for (const auto& [body, code] : std::vector<std::pair<std::string, std::string>>{
           {"{", "invalid_argument"},
           {R"({"max_bytes": 0})", "invalid_argument"},
           {R"({"cors_origin": "https://app.example.com/page"})", "invalid_argument"},
           {R"({"colour": "red"})", "invalid_argument"},
           {R"({"external_id": ")" + std::string(300, 'x') + "\"}", "invalid_external_id"},
           {R"({"metadata": "text"})", "invalid_metadata"}}) {
    Created c = Create(body);
    EXPECT_EQ(c.response.status, 400) << body << ": " << c.response;
    EXPECT_EQ(c.response.ErrorCode(), code) << body;
  }
  EXPECT_EQ(Call("GET", "/api/v1/queue").Json().value("waiting_for_upload", 0), before);
}

TEST_F(ApiDirectUploadTest, AWholeFilePutWithoutTheTokenIsProcessedAndTheUrlIsUsedUp) {
  Created c = Create(R"({"external_id": "put-1"})");
  ASSERT_EQ(c.response.status, 201) << c.response;
  const std::string bytes = ReadFile(Fixture("compliant_720p.mp4"));
  Response put =
      Bare("PUT", c.url, {"Content-Type: video/mp4", "X-Filename: beach%20day.mp4"}, bytes);
  ASSERT_EQ(put.status, 201) << put << "\n" << server().LogTail();
  auto video = put.Json();
  EXPECT_EQ(video["id"], c.id);
  EXPECT_TRUE(video["status"] == "queued" || video["status"] == "processing") << video;
  EXPECT_EQ(video["filename"], "beach day.mp4");
  EXPECT_EQ(video["external_id"], "put-1");
  EXPECT_EQ(WaitForStatus(c.id, {"ready", "failed"}), "ready") << server().LogTail();

  Response again = Bare("PUT", c.url, {"Content-Type: video/mp4"}, bytes);
  EXPECT_EQ(again.status, 410) << again;
  EXPECT_EQ(again.ErrorCode(), "upload_url_used");
  Response tus = Bare("POST", c.url, Tus({"Upload-Length: 100"}));
  EXPECT_EQ(tus.status, 410) << tus;
  EXPECT_EQ(tus.ErrorCode(), "upload_url_used");
}

TEST_F(ApiDirectUploadTest, TwoPutsAtOnceOneWins) {
  Created c = Create();
  ASSERT_EQ(c.response.status, 201) << c.response;
  const std::string bytes(300'000, 'v');
  std::atomic<int> created{0};
  std::atomic<int> used{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      Response r = Bare("PUT", c.url, {"Content-Type: application/octet-stream"}, bytes);
      if (r.status == 201) ++created;
      if (r.status == 410 && r.ErrorCode() == "upload_url_used") ++used;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(used.load(), 3);
}

TEST_F(ApiDirectUploadTest, MoreThanMaxBytesIs413) {
  Created c = Create(R"({"max_bytes": 1000})");
  ASSERT_EQ(c.response.status, 201) << c.response;
  Response big = Bare("PUT", c.url, {"Content-Type: video/mp4"}, std::string(1001, 'x'));
  EXPECT_EQ(big.status, 413) << big;
  EXPECT_EQ(big.ErrorCode(), "too_large_file");
  Response tus = Bare("POST", c.url, Tus({"Upload-Length: 1001"}));
  EXPECT_EQ(tus.status, 413) << tus;
  // Refused before a byte was read: the URL is still unused.
  Response fits = Bare("PUT", c.url, {"Content-Type: video/mp4"}, std::string(1000, 'x'));
  EXPECT_EQ(fits.status, 201) << fits;

  // Chunked, so that only the count while streaming can tell.
  Created chunked = Create(R"({"max_bytes": 1000})");
  ASSERT_EQ(chunked.response.status, 201);
  RawConnection raw(server().port());
  ASSERT_TRUE(raw.Send("PUT " + chunked.path +
                       " HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "7d0\r\n" +
                       std::string(2000, 'y') + "\r\n0\r\n\r\n"));
  const std::string head = raw.ReadHead(10s);
  EXPECT_EQ(head.rfind("HTTP/1.1 413", 0), 0u) << head;
}

TEST_F(ApiDirectUploadTest, AWrongSecretOrIdIs404AndChangesNothing) {
  Created c = Create();
  ASSERT_EQ(c.response.status, 201);
  std::string wrong = c.url;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(Bare("PUT", wrong, {}, "x").status, 404);
  EXPECT_EQ(Bare("POST", wrong, Tus({"Upload-Length: 10"})).status, 404);
  EXPECT_EQ(Bare("PUT", server().Url("/api/v1/direct-uploads/nosuchvideo/abc"), {}, "x").status,
            404);
  EXPECT_EQ(GetVideo(c.id)["status"], "waiting_for_upload");
  EXPECT_EQ(Bare("PUT", c.url, {}, std::string(100, 'x')).status, 201) << "still unused";
}

TEST_F(ApiDirectUploadTest, TusThroughTheUrlResumesAfterACutConnectionWithoutTheToken) {
  Created c = Create();
  ASSERT_EQ(c.response.status, 201) << c.response;
  const std::string bytes = ReadFile(Fixture("compliant_720p.mp4"));
  const int64_t size = static_cast<int64_t>(bytes.size());
  Response options = Bare("OPTIONS", c.url);
  EXPECT_EQ(options.status, 204) << options;
  EXPECT_EQ(options.header("Tus-Version"), "1.0.0");
  EXPECT_EQ(Bare("HEAD", c.url, Tus()).status, 404) << "nothing created yet";

  Response created = Bare("POST", c.url,
                          Tus({"Upload-Length: " + std::to_string(size),
                               "Upload-Metadata: filename " + Base64("from the browser.mp4")}));
  ASSERT_EQ(created.status, 201) << created;
  const std::string location = created.header("Location");
  EXPECT_EQ(location, c.path) << "the same URL continues the upload";
  EXPECT_EQ(GetVideo(c.id)["status"], "uploading");
  EXPECT_EQ(GetVideo(c.id)["filename"], "from the browser.mp4");

  const int64_t sent = 200'000;
  {
    RawConnection raw(server().port());
    ASSERT_TRUE(raw.Send("PATCH " + location +
                         " HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: "
                         "0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: " +
                         std::to_string(size) + "\r\n\r\n"));
    ASSERT_TRUE(raw.Send(std::string_view(bytes).substr(0, sent)));
    raw.Close();  // cut part-way through the body
  }
  std::string offset;
  ASSERT_TRUE(WaitUntil(
      [&] {
        offset = Bare("HEAD", c.url, Tus()).header("Upload-Offset");
        return !offset.empty() && offset != "0";
      },
      10s))
      << offset << "\n"
      << server().LogTail();
  EXPECT_EQ(offset, std::to_string(sent));
  Response rest;
  WaitUntil(
      [&] {
        rest = Bare("PATCH", c.url,
                    Tus({"Upload-Offset: " + offset,
                         "Content-Type: application/offset+octet-stream", "Expect:"}),
                    bytes.substr(sent));
        return rest.ErrorCode() != "upload_locked";
      },
      10s);
  EXPECT_EQ(rest.status, 204) << rest;
  EXPECT_EQ(rest.header("Upload-Offset"), std::to_string(size));
  EXPECT_EQ(WaitForStatus(c.id, {"ready", "failed"}), "ready") << server().LogTail();
  Response second = Bare("POST", c.url, Tus({"Upload-Length: 10"}));
  EXPECT_EQ(second.status, 410) << second;
  EXPECT_EQ(second.ErrorCode(), "upload_url_used");
  EXPECT_EQ(Bare("PUT", c.url, {}, "x").ErrorCode(), "upload_url_used");
}

TEST_F(ApiDirectUploadTest, PreflightsAnswerAllowedOriginsOnly) {
  Created c = Create(R"({"cors_origin": "https://shop.example:8443"})");
  ASSERT_EQ(c.response.status, 201) << c.response;
  Created other = Create();
  ASSERT_EQ(other.response.status, 201);
  auto preflight = [](const std::string& url, const std::string& origin) {
    return Bare("OPTIONS", url,
                {"Origin: " + origin, "Access-Control-Request-Method: PATCH",
                 "Access-Control-Request-Headers: tus-resumable, upload-offset, content-type"});
  };
  Response listed = preflight(c.url, kAppOrigin);
  EXPECT_EQ(listed.status, 204) << listed;
  EXPECT_EQ(listed.header("Access-Control-Allow-Origin"), kAppOrigin);
  EXPECT_NE(listed.header("Access-Control-Allow-Methods").find("PATCH"), std::string::npos);
  EXPECT_NE(listed.header("Access-Control-Allow-Methods").find("PUT"), std::string::npos);
  const std::string allowed_headers = Lower(listed.header("Access-Control-Allow-Headers"));
  for (const char* h :
       {"tus-resumable", "upload-offset", "upload-length", "upload-metadata", "content-type"}) {
    EXPECT_NE(allowed_headers.find(h), std::string::npos) << h << " in " << allowed_headers;
  }
  EXPECT_NE(Lower(listed.header("Vary")).find("origin"), std::string::npos);

  Response own = preflight(c.url, "https://shop.example:8443");
  EXPECT_EQ(own.header("Access-Control-Allow-Origin"), "https://shop.example:8443") << own;
  Response not_its_own = preflight(other.url, "https://shop.example:8443");
  EXPECT_FALSE(not_its_own.has_header("Access-Control-Allow-Origin")) << "another URL's origin";
  Response refused = preflight(c.url, "https://evil.example");
  EXPECT_FALSE(refused.has_header("Access-Control-Allow-Origin"));
  EXPECT_FALSE(refused.has_header("Access-Control-Allow-Methods"));
  // The token's own routes answer no CORS at all.
  Response api = Perform(
      {.method = "OPTIONS",
       .url = server().Url("/api/v1/direct-uploads"),
       .headers = {"Origin: " + std::string(kAppOrigin), "Access-Control-Request-Method: POST"}});
  EXPECT_FALSE(api.has_header("Access-Control-Allow-Origin")) << api;
}

TEST_F(ApiDirectUploadTest, ErrorsCarryCorsHeadersSoAPageCanReadThem) {
  Created c = Create(R"({"max_bytes": 500})");
  ASSERT_EQ(c.response.status, 201);
  const std::string origin = "Origin: " + std::string(kAppOrigin);
  auto readable = [](const Response& r) {
    return r.header("Access-Control-Allow-Origin") == kAppOrigin &&
           r.header("Access-Control-Expose-Headers").find("Upload-Offset") != std::string::npos &&
           r.header("Access-Control-Expose-Headers").find("Location") != std::string::npos;
  };
  Response no_version = Bare("POST", c.url, {origin, "Upload-Length: 10"});
  EXPECT_EQ(no_version.status, 412) << no_version;
  EXPECT_TRUE(readable(no_version)) << "412 without CORS headers";
  Response too_big = Bare("POST", c.url, Tus({origin, "Upload-Length: 501"}));
  EXPECT_EQ(too_big.status, 413) << too_big;
  EXPECT_TRUE(readable(too_big)) << "413 without CORS headers";
  Response created = Bare("POST", c.url, Tus({origin, "Upload-Length: 400"}));
  EXPECT_EQ(created.status, 201) << created;
  EXPECT_TRUE(readable(created));
  Response used = Bare("PUT", c.url, {origin}, "x");
  EXPECT_EQ(used.status, 410) << used;
  EXPECT_EQ(used.ErrorCode(), "upload_url_used");
  EXPECT_TRUE(readable(used)) << "410 without CORS headers";
  std::string wrong = c.url;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  Response unknown = Bare("PUT", wrong, {origin}, "x");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_TRUE(readable(unknown));
}

TEST_F(ApiDirectUploadTest, SecretsNeverReachTheLog) {
  Created c = Create();
  ASSERT_EQ(c.response.status, 201);
  const std::string secret = c.path.substr(c.path.rfind('/') + 1);
  ASSERT_EQ(Bare("PUT", c.url, {}, std::string(100, 'x')).status, 201);
  ASSERT_EQ(Bare("PUT", c.url, {}, "x").status, 410);
  // The access log writes from a thread of its own: wait for the PUT's line.
  ASSERT_TRUE(WaitUntil(
      [&] {
        return server().Log().find("/api/v1/direct-uploads/{id}/{secret}") != std::string::npos;
      },
      10s))
      << server().LogTail();
  EXPECT_EQ(server().Log().find(secret), std::string::npos) << "the URL's secret was logged";
}

class ApiDirectUploadExpiryTest : public DirectUploadServer<ApiDirectUploadExpiryTest> {
 public:
  static void SetUpTestSuite() {
    receiver_ = std::make_unique<vidproc::testing::Receiver>(0);
    port_ = receiver_->port();
    DirectUploadServer<ApiDirectUploadExpiryTest>::SetUpTestSuite();
  }
  static void TearDownTestSuite() {
    DirectUploadServer<ApiDirectUploadExpiryTest>::TearDownTestSuite();
    receiver_.reset();
  }
  static std::string Token() { return ""; }
  static ServeOptions Options() {
    return {.workers = 0,
            .env = {{"WEBHOOK_URL", "http://127.0.0.1:" + std::to_string(port_) + "/hooks"},
                    {"WEBHOOK_SECRET", "expiry-suite-webhook-secret"},
                    {"VIDPROC_CORS_ORIGINS", kAppOrigin},
                    {"VIDPROC_DIRECT_UPLOAD_MAX_SECONDS", "2"},
                    {"VIDPROC_MAX_RESERVED_UPLOAD_BYTES", "1000"}}};
  }

 protected:
  static inline int port_ = 0;
  static inline std::unique_ptr<vidproc::testing::Receiver> receiver_;
};

TEST_F(ApiDirectUploadExpiryTest, TheUrlServesOtherOriginsAndProxiesWhileTheApiRefusesThem) {
  Created c = Create();
  ASSERT_EQ(c.response.status, 201) << c.response;
  const std::vector<std::string> browser = {"Origin: " + std::string(kAppOrigin),
                                            "Sec-Fetch-Site: cross-site", "Host: vidproc.example",
                                            "X-Forwarded-For: 203.0.113.9"};
  // Without a token the API serves only this machine's own pages and clients...
  Response api = Call(
      "POST", "/api/v1/videos",
      [&] {
        auto h = browser;
        h.push_back("Content-Type: video/mp4");
        return h;
      }(),
      "x");
  EXPECT_EQ(api.status, 403) << api;
  // ...but the URL carries its own credential.
  Response put = Bare("PUT", c.url, browser, std::string(100, 'x'));
  EXPECT_EQ(put.status, 201) << put;
  EXPECT_EQ(put.header("Access-Control-Allow-Origin"), kAppOrigin);
}

TEST_F(ApiDirectUploadExpiryTest, TheUploadLimitsApplyToTheUrl) {
  Created c = Create();
  ASSERT_EQ(c.response.status, 201) << c.response;
  // VIDPROC_MAX_RESERVED_UPLOAD_BYTES=1000: a tus upload of more is refused, readable by the page.
  Response quota =
      Bare("POST", c.url, Tus({"Origin: " + std::string(kAppOrigin), "Upload-Length: 1001"}));
  EXPECT_EQ(quota.status, 429) << quota;
  EXPECT_EQ(quota.ErrorCode(), "upload_quota_exceeded");
  EXPECT_FALSE(quota.header("Retry-After").empty());
  EXPECT_EQ(quota.header("Access-Control-Allow-Origin"), kAppOrigin);
  // Refused before the URL was used: a smaller one fits.
  Response fits = Bare("POST", c.url, Tus({"Upload-Length: 1000"}));
  EXPECT_EQ(fits.status, 201) << fits;
}

TEST_F(ApiDirectUploadExpiryTest, AnExpiredUrlIs410AndItsVideoIsDeletedWithAWebhook) {
  Created c = Create(R"({"external_id": "expiring"})");
  ASSERT_EQ(c.response.status, 201) << c.response;
  EXPECT_EQ(GetVideo(c.id)["status"], "waiting_for_upload");
  // `vidproc status` counts it (another process, on the same database).
  const std::string json = vidproc::testing::Shell(
      "cd '" + server().dir() + "' && VIDPROC_DATA_DIR='" + server().data_dir() +
      "' LOG_LEVEL=warning '" + Bin() + "' status --json");
  EXPECT_GE(nlohmann::json::parse(json, nullptr, false).value("waiting_for_upload", 0), 1) << json;
  std::this_thread::sleep_for(2100ms);  // the URL's whole (test) lifetime
  Response late = Bare("PUT", c.url, {"Origin: " + std::string(kAppOrigin)}, "x");
  EXPECT_EQ(late.status, 410) << late;
  EXPECT_EQ(late.ErrorCode(), "upload_url_expired");
  EXPECT_EQ(late.header("Access-Control-Allow-Origin"), kAppOrigin);
  Response tus = Bare("POST", c.url, Tus({"Upload-Length: 10"}));
  EXPECT_EQ(tus.ErrorCode(), "upload_url_expired");

  std::optional<vidproc::testing::Received> deleted;
  WaitUntil(
      [&] {
        for (const auto& r : receiver_->accepted()) {
          auto j = r.Json();
          if (j.is_object() && j["event"] == "video.deleted" && j["video"]["id"] == c.id) {
            deleted = r;
            return true;
          }
        }
        return false;
      },
      20s, 100ms);
  ASSERT_TRUE(deleted) << "no video.deleted for the expired upload\n" << server().LogTail();
  auto body = deleted->Json();
  EXPECT_EQ(body["video"]["status"], "waiting_for_upload");
  EXPECT_EQ(body["video"]["external_id"], "expiring");
  EXPECT_EQ(Call("GET", "/api/v1/videos/" + c.id).status, 404);
  // The URL still says why it does not work.
  EXPECT_EQ(Bare("PUT", c.url, {}, "x").ErrorCode(), "upload_url_expired");
}

}  // namespace
}  // namespace testing
}  // namespace vidproc::http
