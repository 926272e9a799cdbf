// MatchRoute on the API's own route table: labels, Allow lists, {id} and what a client must
// show first, without a server.
#include "http/routes.h"

#include <gtest/gtest.h>

#include "http/api.h"
#include "http/errors.h"

namespace vidproc::http {
namespace {

using enum bhttp::verb;

RouteMatch Match(bhttp::verb method, std::string_view path) {
  return MatchRoute(ApiRoutes(), method, path);
}

// The handler a request reaches, or null.
RouteHandler HandlerOf(bhttp::verb method, std::string_view path) {
  const Route* route = Match(method, path).route;
  return route ? route->handler : nullptr;
}

TEST(RoutesTest, EveryRouteLabelIsItsPattern) {
  EXPECT_EQ(Match(get, "/").label, "/");
  EXPECT_EQ(Match(get, "/healthz").label, "/healthz");
  EXPECT_EQ(Match(get, "/api/v1/videos").label, "/api/v1/videos");
  EXPECT_EQ(Match(get, "/api/v1/videos/abc").label, "/api/v1/videos/{id}");
  EXPECT_EQ(Match(post, "/api/v1/videos/abc/retry").label, "/api/v1/videos/{id}/retry");
  EXPECT_EQ(Match(get, "/api/v1/videos/abc/video").label, "/api/v1/videos/{id}/video");
  EXPECT_EQ(Match(get, "/api/v1/videos/abc/thumbnail").label, "/api/v1/videos/{id}/thumbnail");
  EXPECT_EQ(Match(patch, "/api/v1/uploads/abc").label, "/api/v1/uploads/{id}");
  EXPECT_EQ(Match(get, "/api/v1/events").label, "/api/v1/events");
}

TEST(RoutesTest, ATrailingSlashIsTheSamePath) {
  EXPECT_EQ(Match(get, "/api/v1/videos/").label, "/api/v1/videos");
  EXPECT_EQ(Match(get, "/api/v1/videos/abc/").id, "abc");
}

TEST(RoutesTest, TheIdIsTheSegmentThatStoodForIt) {
  EXPECT_EQ(Match(delete_, "/api/v1/videos/0123456789abcdef").id, "0123456789abcdef");
  EXPECT_TRUE(HandlerOf(delete_, "/api/v1/videos/0123456789abcdef") == &DeleteVideo);
  EXPECT_TRUE(HandlerOf(get, "/api/v1/videos/0123456789abcdef") == &GetVideo);
  EXPECT_TRUE(HandlerOf(get, "/api/v1/videos/x/thumbnail") == &ServeThumbnail);
}

TEST(RoutesTest, GetAnswersHeadButNotTheOtherWayRound) {
  EXPECT_TRUE(HandlerOf(head, "/api/v1/queue") == &ServeQueue);
  EXPECT_TRUE(HandlerOf(head, "/api/v1/events") == &StreamEvents);
  EXPECT_TRUE(HandlerOf(head, "/api/v1/uploads/abc") == &TusHead);
  EXPECT_TRUE(HandlerOf(get, "/api/v1/uploads/abc") == nullptr);
}

TEST(RoutesTest, AllowListsThePathsMethodsInOrder) {
  EXPECT_EQ(Match(put, "/api/v1/videos").allow, "GET, HEAD, POST");
  EXPECT_EQ(Match(put, "/api/v1/videos/abc").allow, "GET, HEAD, DELETE");
  EXPECT_EQ(Match(get, "/api/v1/uploads").allow, "OPTIONS, POST");
  EXPECT_EQ(Match(post, "/api/v1/uploads/abc").allow, "OPTIONS, HEAD, PATCH, DELETE");
  EXPECT_EQ(Match(post, "/api/v1/events").allow, "GET");
  EXPECT_TRUE(HandlerOf(put, "/api/v1/videos") == nullptr);
}

TEST(RoutesTest, UnknownPathsHaveNoAllowAndTheLabelOther) {
  for (std::string_view path : {"/nothing", "/api/v1", "/api/v1/", "/api/v1/videos/a/b",
                                "/api/v2/videos", "//", "/api/v1/videos/abc/retry/x"}) {
    RouteMatch m = Match(get, path);
    EXPECT_TRUE(m.route == nullptr) << path;
    EXPECT_EQ(m.allow, "") << path;
    EXPECT_EQ(m.label, "other") << path;
  }
}

TEST(RoutesTest, AccessByRoute) {
  EXPECT_EQ(Match(get, "/").access, Access::kPublic);
  EXPECT_EQ(Match(get, "/readyz").access, Access::kPublic);
  EXPECT_EQ(Match(get, "/metrics").access, Access::kToken);
  EXPECT_EQ(Match(get, "/api/v1/videos/abc/video").access, Access::kSignedOrToken);
  EXPECT_EQ(Match(options, "/api/v1/uploads").access, Access::kPublic);
  EXPECT_EQ(Match(options, "/api/v1/uploads/abc").access, Access::kPublic);
  EXPECT_EQ(Match(post, "/api/v1/uploads").access, Access::kToken);
}

TEST(RoutesTest, AWrongMethodAsksWhatTheStrictestRouteOfThePathAsks) {
  EXPECT_EQ(Match(put, "/api/v1/uploads").access, Access::kToken);
  EXPECT_TRUE(Match(put, "/api/v1/uploads").tus);
  EXPECT_EQ(Match(post, "/api/v1/videos/abc/video").access, Access::kSignedOrToken);
  EXPECT_EQ(Match(post, "/").access, Access::kPublic);
}

TEST(RoutesTest, UnknownApiPathsAskForTheTokenFirst) {
  RouteMatch m = Match(get, "/api/v1/nothing");
  EXPECT_EQ(m.access, Access::kToken);
  EXPECT_EQ(m.refused_label, "/api/v1/nothing");
  EXPECT_EQ(m.label, "other");
  EXPECT_EQ(Match(get, "/nothing").access, Access::kPublic);
  EXPECT_EQ(Match(get, "/api/v1/").access, Access::kPublic);
}

TEST(RoutesTest, RefusalsOfTokenRoutesAreCountedUnderTheResource) {
  EXPECT_EQ(Match(get, "/api/v1/videos/abc").refused_label, "/api/v1/videos");
  EXPECT_EQ(Match(post, "/api/v1/videos/abc/retry").refused_label, "/api/v1/videos");
  EXPECT_EQ(Match(head, "/api/v1/uploads/abc").refused_label, "/api/v1/uploads");
  EXPECT_EQ(Match(get, "/metrics").refused_label, "/metrics");
  EXPECT_EQ(Match(get, "/api/v1/videos/abc/video").refused_label, "/api/v1/videos/{id}/video");
}

TEST(RoutesTest, TusRoutesAskForTheTusVersionButNotItsProbe) {
  EXPECT_TRUE(Match(post, "/api/v1/uploads").tus);
  EXPECT_TRUE(Match(patch, "/api/v1/uploads/abc").tus);
  EXPECT_FALSE(Match(options, "/api/v1/uploads/abc").tus);
  EXPECT_FALSE(Match(post, "/api/v1/videos").tus);
}

TEST(RoutesTest, IdsAreVidprocsOwn) {
  EXPECT_TRUE(IsId("0123456789abcdef"));
  EXPECT_TRUE(IsId("a-b_C"));
  EXPECT_FALSE(IsId(""));
  EXPECT_FALSE(IsId("a.b"));
  EXPECT_FALSE(IsId("%2e%2e"));
  EXPECT_FALSE(IsId(std::string(65, 'a')));
}

}  // namespace
}  // namespace vidproc::http

// With auth off (Api::Handle): the Host and Origin checks that keep other web pages out.
namespace vidproc::http {
namespace {

std::string Refusal(bhttp::verb method, std::string_view host, std::string_view origin = "",
                    std::string_view site = "", std::vector<std::string> allowed = {}) {
  auto refusal = BrowserRefusal(method, host, origin, site, allowed);
  return refusal ? refusal->code : "";
}

TEST(RoutesBrowserTest, OnlyLoopbackAndAllowedHostsAreServed) {
  using enum bhttp::verb;
  for (const char* host : {"localhost", "localhost:8080", "LocalHost.", "127.0.0.1", "127.9.9.9:1",
                           "[::1]", "[::1]:8080", "[::ffff:127.0.0.1]:80"}) {
    EXPECT_EQ(Refusal(get, host), "") << host;
  }
  for (const char* host : {"", "evil.example", "evil.example:8080", "127.0.0.1.nip.io",
                           "localhost.evil.example", "[::2]", "::1", "0.0.0.0", "192.168.1.2",
                           "127.0.0.1:x", "[::1]x", "localhost:8080:1", "[::1"}) {
    EXPECT_EQ(Refusal(get, host), "host_not_allowed") << host;
  }
  const std::vector<std::string> allowed = {"videos.example.com", "tv.local:8080"};
  EXPECT_EQ(Refusal(get, "videos.example.com", "", "", allowed), "");
  EXPECT_EQ(Refusal(get, "Videos.Example.com:443", "", "", allowed), "");
  EXPECT_EQ(Refusal(get, "tv.local:8080", "", "", allowed), "");
  EXPECT_EQ(Refusal(get, "tv.local:9090", "", "", allowed), "host_not_allowed");
  EXPECT_EQ(Refusal(get, "example.com", "", "", allowed), "host_not_allowed");
}

TEST(RoutesBrowserTest, ChangesFromOtherOriginsAreRefused) {
  using enum bhttp::verb;
  const std::string host = "127.0.0.1:8080";
  for (bhttp::verb method : {post, put, patch, delete_}) {
    EXPECT_EQ(Refusal(method, host), "");
    EXPECT_EQ(Refusal(method, host, "http://127.0.0.1:8080", "same-origin"), "");
    EXPECT_EQ(Refusal(method, host, "http://evil.example"), "cross_origin_refused");
    EXPECT_EQ(Refusal(method, host, "null"), "cross_origin_refused");
    EXPECT_EQ(Refusal(method, host, "http://127.0.0.1:9090"), "cross_origin_refused");
    EXPECT_EQ(Refusal(method, host, "", "cross-site"), "cross_origin_refused");
    EXPECT_EQ(Refusal(method, host, "http://127.0.0.1:8080", "same-site"), "cross_origin_refused");
  }
  // Reads are not changes (a browser keeps a cross-origin answer from the page without CORS).
  for (bhttp::verb method : {get, head, options}) {
    EXPECT_EQ(Refusal(method, host, "http://evil.example", "cross-site"), "");
  }
}

// With auth off: what keeps other machines out, a reverse proxy on this one included.
std::string Remote(std::string_view client, std::vector<std::string> headers = {}) {
  auto refusal = RemoteRefusal(client, headers);
  return refusal ? refusal->code : "";
}

TEST(RoutesRemoteTest, OnlyDirectLoopbackClientsAreServedWithoutAToken) {
  const std::vector<std::string> ordinary = {"Host",          "User-Agent",
                                             "Accept",        "Origin",
                                             "Referer",       "Cookie",
                                             "Authorization", "X-Request-Id",
                                             "Content-Type",  "Sec-Fetch-Site",
                                             "Tus-Resumable", "Upload-Metadata",
                                             "Connection",    "Forwarded-Ish-But-Not"};
  for (const char* client : {"127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"}) {
    EXPECT_EQ(Remote(client, ordinary), "") << client;
  }
  for (const char* client : {"10.0.0.2", "192.168.1.7", "203.0.113.9", "::2", "fe80::1",
                             "2001:db8::1", "::ffff:10.0.0.1", "0.0.0.0", "", "localhost.evil"}) {
    EXPECT_EQ(Remote(client), "remote_access_needs_token") << client;
  }
}

TEST(RoutesRemoteTest, EveryForwardingHeaderMakesARequestRemote) {
  // What proxies add: RFC 7239, Via, the X-Forwarded-* family (any member, any case), and the
  // client-address headers of the common proxies, CDNs and load balancers.
  for (const char* header : {"Forwarded",
                             "forwarded",
                             "Via",
                             "X-Forwarded-For",
                             "x-forwarded-for",
                             "X-FORWARDED-HOST",
                             "X-Forwarded-Proto",
                             "X-Forwarded-Port",
                             "X-Forwarded-Server",
                             "X-Forwarded-Ssl",
                             "X-Forwarded-Prefix",
                             "X-Forwarded",
                             "X-Original-Forwarded-For",
                             "X-Real-IP",
                             "X-Client-IP",
                             "Client-IP",
                             "True-Client-IP",
                             "CF-Connecting-IP",
                             "Fastly-Client-IP",
                             "X-Cluster-Client-IP",
                             "X-Originating-IP",
                             "X-Remote-IP",
                             "X-Remote-Addr",
                             "X-ProxyUser-Ip",
                             "X-Envoy-External-Address",
                             "X-AppEngine-User-IP",
                             "X-Azure-ClientIP"}) {
    EXPECT_EQ(Remote("127.0.0.1", {"Host", header}), "remote_access_needs_token") << header;
    auto refusal = RemoteRefusal("::1", {header});
    ASSERT_TRUE(refusal) << header;
    EXPECT_EQ(refusal->status, 403);
    EXPECT_NE(refusal->message.find(header), std::string::npos) << refusal->message;
    EXPECT_NE(refusal->message.find("VIDPROC_API_TOKEN"), std::string::npos) << refusal->message;
  }
}

// The one renderer of the video resource (API answers, SSE, webhooks): links only when ready,
// relative without VIDPROC_PUBLIC_URL, absolute on it (a sub-path and a trailing slash included),
// and signed over the path vidproc itself serves.
TEST(RenderVideoTest, LinksAreRelativeOrAbsoluteOnThePublicUrlAndSignedOverTheServedPath) {
  const Auth auth("render-test-token-0123456789");
  const int64_t now_s = 1'700'000'000;
  const nlohmann::json ready = {{"id", "AbC_12-x"}, {"status", "ready"}, {"filename", "a.mov"}};
  const nlohmann::json relative = RenderVideo(ready, auth, MediaLinks{}, now_s);
  const std::string path = "/api/v1/videos/AbC_12-x/video";
  ASSERT_EQ(relative.value("video_url", "").rfind(path + "?expires=", 0), 0u) << relative.dump();
  EXPECT_EQ(relative.value("thumbnail_url", "").rfind("/api/v1/videos/AbC_12-x/thumbnail?", 0), 0u);
  EXPECT_EQ(relative["filename"], "a.mov");
  for (const char* base : {"https://example.com/video", "https://example.com/video/"}) {
    const nlohmann::json absolute = RenderVideo(ready, auth, MediaLinks{base, ""}, now_s);
    const std::string url = absolute.value("video_url", "");
    ASSERT_EQ(url.rfind("https://example.com/video" + path + "?", 0), 0u) << url;
    // The same signature as the relative link: it covers what the server sees behind a proxy.
    EXPECT_EQ(url.substr(url.find('?')),
              relative["video_url"].get<std::string>().substr(path.size()));
  }
  const std::string query = relative["video_url"].get<std::string>().substr(path.size() + 1);
  const std::string expires = query.substr(8, query.find('&') - 8);
  const std::string sig = query.substr(query.find("sig=") + 4);
  EXPECT_TRUE(auth.VerifySignature(path, expires, sig, now_s));
  for (const char* status : {"queued", "processing", "failed", "uploading"}) {
    nlohmann::json other = ready;
    other["status"] = status;
    EXPECT_EQ(RenderVideo(other, auth, MediaLinks{"https://example.com", ""}, now_s), other)
        << status;
  }
}

// Public-read storage: the links are the objects' own URLs under the bucket's or the CDN's URL
// (a path prefix and a trailing slash included), unsigned, the same at every rendering and
// whatever VIDPROC_PUBLIC_URL says; still only when ready.
TEST(RenderVideoTest, PublicObjectsAreLinkedUnderTheBucketOrCdnUrlUnsigned) {
  const Auth auth("render-test-token-0123456789");
  const nlohmann::json ready = {{"id", "AbC_12-x"}, {"status", "ready"}};
  for (const std::string base :
       {"https://media.nyc3.cdn.digitaloceanspaces.com", "https://cdn.example.com/media/",
        "http://127.0.0.1:7480/bucket"}) {
    std::string trimmed = base;
    if (trimmed.back() == '/') trimmed.pop_back();
    const MediaLinks links{"https://platform.example/video", base};
    const nlohmann::json first = RenderVideo(ready, auth, links, 1'700'000'000);
    EXPECT_EQ(first.value("video_url", ""), trimmed + "/videos/AbC_12-x/video.mp4");
    EXPECT_EQ(first.value("thumbnail_url", ""), trimmed + "/videos/AbC_12-x/thumbnail.jpg");
    EXPECT_EQ(RenderVideo(ready, auth, links, 1'800'000'000), first) << "stable over time";
    nlohmann::json queued = ready;
    queued["status"] = "queued";
    EXPECT_EQ(RenderVideo(queued, auth, links, 1'700'000'000), queued);
  }
}

TEST(ErrorEnvelopeTest, RetryableComesFromTheCodeElseFromTheStatus) {
  EXPECT_TRUE(IsRetryableAnswer(503, "storage_unavailable"));
  EXPECT_TRUE(IsRetryableAnswer(503, "database_error"));
  EXPECT_FALSE(IsRetryableAnswer(422, "not_a_video"));
  EXPECT_FALSE(IsRetryableAnswer(413, "too_large_file"));
  EXPECT_FALSE(IsRetryableAnswer(503, "storage_auth_failed"));  // the code decides, not 503
  EXPECT_TRUE(IsRetryableAnswer(429, "queue_full"));
  EXPECT_TRUE(IsRetryableAnswer(503, "server_busy"));
  EXPECT_FALSE(IsRetryableAnswer(401, "unauthorized"));
  EXPECT_FALSE(IsRetryableAnswer(501, "unsupported_transfer_encoding"));
  const auto body = nlohmann::json::parse(ErrorBody(404, "not_found", "No such video.", "r1"));
  EXPECT_EQ(body["error"]["retryable"], false);
  EXPECT_EQ(body["error"]["request_id"], "r1");
}

}  // namespace
}  // namespace vidproc::http
